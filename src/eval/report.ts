/**
 * The run report: `report.html` in the run folder, one self-contained page (images inlined
 * as data URLs, plots as inline SVG; it opens offline) with the config, the metrics table, the
 * loss curves, reconstructions and samples from the prior, and, when the trainer supplies
 * them, the KL weight schedule, the collapse diagnostics per epoch (mu/sigma ranges, KL per
 * latent dimension, active units) and the latent-space figures (2-D manifold, scatter of mu by
 * label, an interpolation, latent traversals), samples per class of a conditional model, and
 * streamline figures of a streamline model (whose report has no image sections). Every image
 * and plot is also written as a file beside it. Rewritten at every epoch.
 */

import { encodeBase64 } from "./base64.ts";
import { classCheckLine, type ClassCheckResult } from "./classify.ts";
import {
  type Decode,
  type ImageShape,
  imageSize,
  interpolationFigure,
  klHeatmapFigure,
  klWeightFigure,
  manifoldFigure,
  type PngFigure,
  rangeFigure,
  scatterFigure,
  traversalFigure,
} from "./figures.ts";

import { encodePng, imageGrid } from "./png.ts";
import { esc, linePlot } from "./svg.ts";
import { ACTIVE_VARIANCE, type FactorLatentTable, factorTableMarkdown } from "./factors.ts";
import { writeFileAtomic, writeTextAtomic } from "../io/atomic.ts";
import type { EpochRecord } from "../train/records.ts";
import type { EpochDiagnostics } from "./diagnostics.ts";
import type { KlSchedule } from "../train/schedule.ts";

export type { EpochDiagnostics };

/** An epoch's metrics as the report reads them: the trainer's record, diagnostics optional. */
export type ReportRecord = EpochRecord & { diagnostics?: EpochDiagnostics };

/**
 * What the latent-space figures need. Row i of `mu` must be test image i, as row i of
 * `ReportInput.originals` is: the interpolation runs between test image 0 and the first of
 * the shown originals with another label (image 1 without labels), framed by the two
 * originals, and the traversals vary each dimension around mu of test image 0.
 */
export interface LatentInput {
  /** Z, latent dimensions. */
  z: number;
  /**
   * The decoder alone: z [n, Z] to Bernoulli means [n, rows * cols] (n up to 400). Without
   * it, or without `ReportInput.rows`/`cols` (a model of other data than images), only the
   * scatter is drawn.
   */
  decode?: Decode;
  /** Posterior means of the first n >= 2 test images, in test-set order: [n, Z]. */
  mu: Float32Array;
  /** Their labels [n], indices into `classNames`; the scatter is drawn only with both. */
  labels?: ArrayLike<number>;
  /** Class names for the scatter's legend (e.g. Fashion-MNIST's ten). */
  classNames?: readonly string[];
  /**
   * For data with known generative factors (the `shapes` datasets): the factor-vs-latent
   * table of the same test images (src/eval/factors.ts). Shown as a table, and the traversals
   * then show the active dimensions (most spread first, at most 32), each row labelled by
   * the factor its dimension follows most.
   */
  factors?: FactorLatentTable;
}

/**
 * Samples of a conditional model, `perClass` asked for each class, shown one row per class
 * with the class name at its left.
 */
export interface ClassSamplesInput {
  /** Class names, one per row. */
  classNames: string[];
  /** Samples asked for each class: the columns. */
  perClass: number;
  /**
   * [classes * perClass, rows * cols] in [0, 1]; rows c * perClass to (c + 1) * perClass - 1
   * were asked for class c. Drawn as a grid when the report has an image shape.
   */
  images: Float32Array;
  /**
   * For data that are not images (streamline bundles): the samples drawn as one SVG document
   * (no XML declaration), shown instead of the grid and written as class_samples.svg.
   */
  svg?: string;
  /**
   * Nearest-class-mean classifiers' checks (src/eval/classify.ts), one line each: the
   * fraction of the samples given the class they were asked for, and the classifier's
   * accuracy on real test images.
   */
  checks?: ClassCheckResult[];
}

/** Streamline figures of a model of streamlines (SVG documents, e.g. from streamline_svg.ts). */
export interface StreamlinesInput {
  /**
   * Each figure with its title, in page order: an SVG document (no XML declaration), inlined
   * in the page and written beside it as streamlines_1.svg, streamlines_2.svg, ...
   */
  views: { title: string; svg: string }[];
  /** Mean point-wise distance between test streamlines and their reconstructions, mm. */
  distanceMm?: number;
  /** Width of the bundle, mm, to put the distance in proportion. */
  widthMm?: number;
  /** More lines of text under the heading (plain text, escaped). */
  lines?: string[];
}

/**
 * What the report shows. The trainer supplies:
 * - always: `config`, `records` (metrics.jsonl so far);
 * - for an image model: `rows`, `cols`, `originals`, `reconstructions`, `samples` (each
 *   image section is left out when its images are absent);
 * - `records[i].diagnostics` ({@linkcode EpochDiagnostics}) to get the mu/sigma range plot, the
 *   KL-per-dimension heat map and the active-units plot and table column;
 * - `klSchedule` (the run's schedule and its total optimizer steps) to plot the weight ramp
 *   over steps, with each epoch's `beta` (the weight at its last step, step - 1 counted from
 *   0) marked on it;
 * - `latent` ({@linkcode LatentInput}) for the latent-space figures: the manifold when Z = 2,
 *   the scatter of mu by label (with `labels` and `classNames`), an interpolation and the
 *   traversals;
 * - `classSamples` ({@linkcode ClassSamplesInput}) for a conditional model's samples per class;
 * - `streamlines` ({@linkcode StreamlinesInput}) for a streamline model's figures.
 */
export interface ReportInput {
  /** The resolved config (shown as a table). */
  config: Record<string, unknown>;
  /** metrics.jsonl so far. */
  records: ReportRecord[];
  /** Image height (1 for 1 x F data, shown as a row of F pixels); needed for images. */
  rows?: number;
  /** Image width; needed for images. */
  cols?: number;
  /** Channels per pixel, stored last (HWC): 1 grey (the default) or 3 RGB. */
  channels?: 1 | 3;
  /** First test images, [n, rows * cols] in [0, 1]. */
  originals?: Float32Array;
  /** Their reconstructions, [n, rows * cols] in [0, 1]. */
  reconstructions?: Float32Array;
  /** Samples from the prior, [m, rows * cols] in [0, 1]. */
  samples?: Float32Array;
  /** The KL weight schedule and the run's total optimizer steps. */
  klSchedule?: { schedule: KlSchedule; totalSteps: number };
  /** Decoder and test-set posterior means for the latent-space figures. */
  latent?: LatentInput;
  /** A conditional model's samples per class. */
  classSamples?: ClassSamplesInput;
  /** A streamline model's figures and reconstruction distance. */
  streamlines?: StreamlinesInput;
}

/** The image shape, or undefined when the report has no images. */
function imageShape(r: ReportInput): ImageShape | undefined {
  if (r.rows === undefined || r.cols === undefined) return undefined;
  const channels = r.channels ?? 1;
  if (channels !== 1 && channels !== 3) throw new Error(`report: ${channels} channels`);
  return { rows: r.rows, cols: r.cols, channels };
}

/** The image shape, which `what` needs. */
function needShape(r: ReportInput, what: string): ImageShape {
  const shape = imageShape(r);
  if (!shape) throw new Error(`report: ${what} needs rows and cols`);
  return shape;
}

/** `count` images of `shape` as a grey or RGB PNG grid `gridCols` wide. */
function gridPng(
  images: Float32Array,
  count: number,
  shape: ImageShape,
  gridCols: number,
): PngFigure {
  const ch = shape.channels ?? 1;
  const g = imageGrid(images, count, shape.rows, shape.cols, gridCols, 1, ch);
  return { png: encodePng(g.width, g.height, g.pixels, ch), ...g };
}

/** Originals in the top row(s), their reconstructions below, 8 per row. */
function reconstructionGrid(
  shape: ImageShape,
  originals: Float32Array,
  reconstructions: Float32Array,
): PngFigure {
  const size = imageSize(shape);
  const n = Math.min(8, Math.floor(originals.length / size));
  const both = new Float32Array(2 * n * size);
  both.set(originals.subarray(0, n * size));
  both.set(reconstructions.subarray(0, n * size), n * size);
  return gridPng(both, 2 * n, shape, n);
}

/** A figure of the page: a file beside report.html and its HTML. */
interface Section {
  heading: string;
  text: string;
  file: string;
  png?: PngFigure;
  svg?: string;
  /** Display scale of a PNG (pixelated). */
  scale?: number;
  /** A name at the left of each row of images of the PNG (a grid with a 1-pixel border). */
  rowLabels?: string[];
  /** An HTML body (a table) instead of an image; `text` is then written as `file`. */
  html?: string;
  /** The file's text when `html` is given. */
  fileText?: string;
}

function img(f: PngFigure, alt: string, scale: number): string {
  return `<img alt="${esc(alt)}" width="${f.width * scale}" height="${f.height * scale}" ` +
    `style="image-rendering: pixelated" src="data:image/png;base64,${encodeBase64(f.png)}">`;
}

/** Scale that shows an image at about `target` pixels wide, 1 to 4 times its size. */
function fit(width: number, target = 480): number {
  return Math.max(1, Math.min(4, Math.floor(target / width)));
}

async function latentSections(r: ReportInput, l: LatentInput): Promise<Section[]> {
  const n = Math.floor(l.mu.length / l.z);
  const out: Section[] = [];
  const shape = imageShape(r), decode = l.decode;
  const images = shape && decode;
  if (images && l.z === 2) {
    const f = await manifoldFigure(decode, shape);
    out.push({
      heading: "Latent manifold",
      text: "Decoded means over a 20 x 20 grid of z in [-3, 3]^2; z1 grows to the right, " +
        "z2 upwards.",
      file: "manifold.png",
      png: f,
      scale: fit(f.width, 560),
    });
  }
  if (l.labels && l.classNames) {
    out.push({
      heading: "Latent space by label",
      text: `Posterior means of ${
        Math.min(n, l.labels.length, 5000)
      } test images, coloured by label.`,
      file: "latent_scatter.svg",
      svg: scatterFigure(l.mu, l.z, l.labels, l.classNames),
    });
  }
  if (!images) return out;
  const size = imageSize(shape);
  const originals = r.originals ?? new Float32Array(0);
  if (n >= 2) {
    const shown = Math.min(n, Math.floor(originals.length / size));
    let b = 1;
    if (l.labels) {
      for (let i = 1; i < shown; i++) {
        if (l.labels[i] !== l.labels[0]) {
          b = i;
          break;
        }
      }
    }
    const row = (i: number) => l.mu.subarray(i * l.z, (i + 1) * l.z);
    const ends: [Float32Array, Float32Array] | undefined = b < shown
      ? [originals.subarray(0, size), originals.subarray(b * size, (b + 1) * size)]
      : undefined;
    const f = await interpolationFigure(decode, shape, row(0), row(b), { ends });
    out.push({
      heading: "Interpolation",
      text: `Decoded means along the line from mu of test image 0 to mu of test image ${b}` +
        (ends ? " (the two originals at the ends)." : "."),
      file: "interpolation.png",
      png: f,
      scale: fit(f.width),
    });
  }
  if (n >= 1 && l.factors) {
    const t = l.factors;
    const active = t.spread.map((sd, j) => ({ sd, j })).filter((d) => d.sd ** 2 > ACTIVE_VARIANCE)
      .sort((a, b) => b.sd - a.sd || a.j - b.j).slice(0, 32).map((d) => d.j);
    const dims = active.length ? active : [...Array(Math.min(l.z, 32)).keys()];
    const f = await traversalFigure(decode, shape, l.mu.subarray(0, l.z), { dims });
    out.push({
      heading: "Latent traversals",
      text: `Each row: mu of test image 0 with one dimension z_j set to -3 ... 3, the others ` +
        `kept; ${
          active.length
            ? `the ${active.length} active dimensions of ${l.z}, most spread first`
            : `no dimension is active; the first ${dims.length}`
        }, each named by the factor it follows most (its r or eta in brackets).`,
      file: "traversals.png",
      png: f,
      scale: fit(f.width),
      rowLabels: dims.map((j) => {
        const w = t.follows[j];
        return `z${j}: ${w.name}` + (w.factor >= 0 ? ` (${w.score.toFixed(2)})` : "");
      }),
    });
  } else if (n >= 1) {
    const f = await traversalFigure(decode, shape, l.mu.subarray(0, l.z));
    out.push({
      heading: "Latent traversals",
      text: "Row d: mu of test image 0 with z_d set to -3 ... 3, the other dimensions kept" +
        (l.z > 32 ? " (first 32 dimensions)." : "."),
      file: "traversals.png",
      png: f,
      scale: fit(f.width),
    });
  }
  return out;
}

/**
 * The factor-vs-latent table as a section: one row per factor, one column per active latent
 * dimension (all of them when none is active), the entry each dimension follows most in bold.
 */
function factorSection(t: FactorLatentTable, n: number): Section {
  const z = t.spread.length;
  const active = [...Array(z).keys()].filter((j) => t.spread[j] ** 2 > ACTIVE_VARIANCE);
  const cols = active.length ? active : [...Array(z).keys()];
  const head = cols.map((j) => `<th>z${j}</th>`).join("");
  const body = t.factors.map((name, f) =>
    `<tr><td>${esc(name)} (${t.measures[f]})</td>${
      cols.map((j) => {
        const v = t.table[f][j].toFixed(2);
        return `<td>${t.follows[j].factor === f ? `<b>${v}</b>` : v}</td>`;
      }).join("")
    }</tr>`
  ).join("\n");
  const sd = cols.map((j) => `<td>${t.spread[j].toFixed(2)}</td>`).join("");
  const follows = cols.map((j) => `<td>${esc(t.follows[j].name)}</td>`).join("");
  return {
    heading: "Latent dimensions and the known factors",
    text: `How each latent dimension's posterior mean follows each generative factor over ${n} ` +
      `test images: Pearson's r for a continuous factor, the correlation ratio eta for a ` +
      `categorical one; in bold, the factor each dimension follows most (|entry| >= 0.2). ` +
      (active.length
        ? `The ${active.length} active dimensions of ${z} are shown (variance of mu > 0.01).`
        : `No dimension is active (variance of mu > 0.01); all ${z} are shown.`),
    file: "factors.md",
    fileText: factorTableMarkdown(t) + "\n",
    html: `<table><tr><th>factor</th>${head}</tr>\n${body}\n<tr><td>sd of mu</td>${sd}</tr>\n` +
      `<tr><td>follows</td>${follows}</tr></table>`,
  };
}

function diagnosticSections(r: ReportInput): Section[] {
  const withDiag = r.records.filter((x) => x.diagnostics);
  const out: Section[] = [];
  if (r.klSchedule) {
    const { schedule, totalSteps } = r.klSchedule;
    const perEpoch = {
      step: r.records.map((x) => Math.max(0, x.step - 1)),
      weight: r.records.map((x) => x.beta),
    };
    out.push({
      heading: "KL weight",
      text: `Schedule ${esc(schedule.kind)}; dots: the weight at each epoch's last step.`,
      file: "kl_weight.svg",
      svg: klWeightFigure(schedule, totalSteps, perEpoch),
    });
  }
  if (!withDiag.length) return out;
  const epochs = withDiag.map((x) => x.epoch);
  const d = withDiag.map((x) => x.diagnostics!);
  out.push({
    heading: "mu and sigma ranges",
    text: "Min, mean and max over the test set and all dimensions, after each epoch.",
    file: "mu_sigma.svg",
    svg: rangeFigure(epochs, d.map((x) => x.mu), d.map((x) => x.sigma)),
  }, {
    heading: "KL per latent dimension",
    text: "Mean test-set KL of each dimension after each epoch; dark rows are collapsed.",
    file: "kl_per_dim.svg",
    svg: klHeatmapFigure(epochs, d.map((x) => x.klPerDim)),
  }, {
    heading: "Active units",
    text: "Latent dimensions whose posterior mean varies over the test set (variance > 0.01).",
    file: "active_units.svg",
    svg: linePlot("active units", "epoch", epochs, [
      { name: "active", color: "#2ca02c", values: d.map((x) => x.activeUnits), markers: true },
      { name: "of Z", color: "#7f7f7f", values: d.map((x) => x.klPerDim.length), dash: "4 3" },
    ], { yRange: [0, Math.max(1, ...d.map((x) => x.klPerDim.length))] }),
  });
  return out;
}

/** The per-class samples as one grid: row c holds the samples asked for class c. */
function classSamplesFigure(r: ReportInput, c: ClassSamplesInput): PngFigure {
  const shape = needShape(r, "classSamples");
  const { rows, cols } = shape, size = imageSize(shape);
  const classes = c.classNames.length;
  if (!(Number.isInteger(c.perClass) && c.perClass >= 1 && classes >= 1)) {
    throw new Error(`report: classSamples has ${classes} classes, ${c.perClass} per class`);
  }
  if (c.images.length !== classes * c.perClass * size) {
    throw new Error(
      `report: classSamples has ${c.images.length} values for ${classes} classes x ` +
        `${c.perClass} images of ${rows}x${cols}x${shape.channels}`,
    );
  }
  return gridPng(c.images, classes * c.perClass, shape, c.perClass);
}

/**
 * The grid with each class name at the left of its row: a column of names whose boxes have
 * the height of an image row (the grid has a 1-pixel border above and between rows).
 */
function classSamplesHtml(c: ClassSamplesInput, f: PngFigure): string {
  const scale = fit(f.width);
  const rowPx = ((f.height - 1) / c.classNames.length - 1) * scale;
  const names = c.classNames.map((name) =>
    `<div style="height: ${rowPx}px; line-height: ${rowPx}px; margin-bottom: ${scale}px">${
      esc(name)
    }</div>`
  ).join("\n");
  const agree = (c.checks ?? []).map((k) =>
    `\n<p>${
      classCheckLine(k.metric, k.fraction, k.testAccuracy, c.classNames.length * c.perClass)
    }</p>`
  ).join("");
  return `<h2>Samples per class</h2>
<p>Each row: ${c.perClass} samples asked for the class named at its left.</p>${agree}
<div style="display: flex; align-items: flex-start">
<div class="class-names" style="padding-top: ${scale}px; padding-right: 8px; text-align: right; white-space: nowrap">
${names}
</div>
${img(f, "samples per class", scale)}
</div>
`;
}

/**
 * Per-class samples of non-image data (streamline bundles): the classifiers' agreement with
 * the asked class, overall and per class (so a bundle the model cannot make stands out),
 * then the figure.
 */
function classSamplesSvgHtml(c: ClassSamplesInput): string {
  const n = c.classNames.length * c.perClass;
  const agree = (c.checks ?? []).map((k) =>
    `<p>${classCheckLine(k.metric, k.fraction, k.testAccuracy, n)}</p>\n`
  ).join("");
  const head = (c.checks ?? []).map((k) => `<th>${esc(k.metric)}</th>`).join("");
  const body = c.classNames.map((name, i) =>
    `<tr><td>${esc(name)}</td>${
      (c.checks ?? []).map((k) => `<td>${(100 * (k.perClass[i] ?? NaN)).toFixed(0)}%</td>`)
        .join("")
    }</tr>`
  ).join("\n");
  const table = c.checks?.length
    ? `<table><tr><th>asked for</th>${head}</tr>\n${body}\n</table>\n`
    : "";
  return `<h2>Samples per bundle</h2>
<p>${c.perClass} samples asked for each of ${c.classNames.length} bundles, drawn in the colour of the bundle asked for. A nearest-bundle classifier (fitted on the training streamlines) names the bundle each sample is closest to; the share that matches the bundle asked for:</p>
${agree}${table}${c.svg}
`;
}

/** The streamline section: the distance line, further lines, each figure under its title. */
function streamlinesHtml(s: StreamlinesInput): string {
  const lines: string[] = [];
  if (s.distanceMm !== undefined) {
    const width = s.widthMm !== undefined && s.widthMm > 0
      ? ` (bundle width ${s.widthMm.toFixed(1)} mm, ${
        (100 * s.distanceMm / s.widthMm).toFixed(1)
      }%)`
      : "";
    lines.push(`mean point-wise reconstruction distance ${s.distanceMm.toFixed(2)} mm${width}`);
  }
  lines.push(...(s.lines ?? []));
  return `<h2>Streamlines</h2>\n` + lines.map((l) => `<p>${esc(l)}</p>\n`).join("") +
    s.views.map((v) => `<h3>${esc(v.title)}</h3>\n${v.svg}\n`).join("");
}

/**
 * The power of ten that puts the KL weight on the KL's scale in one plot: 10 when the weight
 * is about a tenth of the KL (beta near 1), 10^5 for beta = 0.001 and a KL near 100, so a
 * small weight is not drawn flat along zero. 10 when either series has no positive value.
 */
export function klWeightScale(kl: number[], weight: number[]): number {
  const k = Math.max(0, ...kl.filter(Number.isFinite));
  const w = Math.max(0, ...weight.filter(Number.isFinite));
  if (!(k > 0 && w > 0)) return 10;
  return 10 ** Math.max(0, Math.round(Math.log10(k / w)));
}

/** A PNG grid with `labels` at the left of its rows (1-pixel border above and between rows). */
function labelledImg(f: PngFigure, alt: string, scale: number, labels: string[]): string {
  const rowPx = ((f.height - 1) / labels.length - 1) * scale;
  const names = labels.map((name) =>
    `<div style="height: ${rowPx}px; line-height: ${rowPx}px; margin-bottom: ${scale}px">${
      esc(name)
    }</div>`
  ).join("\n");
  return `<div style="display: flex; align-items: flex-start">
<div class="row-names" style="padding-top: ${scale}px; padding-right: 8px; text-align: right; white-space: nowrap">
${names}
</div>
${img(f, alt, scale)}
</div>`;
}

function renderSection(s: Section): string {
  const body = s.png
    ? (s.rowLabels
      ? labelledImg(s.png, s.heading, s.scale ?? 1, s.rowLabels)
      : img(s.png, s.heading, s.scale ?? 1))
    : s.html ?? s.svg!;
  return `<h2>${esc(s.heading)}</h2>\n<p>${s.text}</p>\n${body}`;
}

/** Whether `v` is a finite number (metrics.jsonl writes NaN and Infinity as null). */
function finite(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v);
}

/** `v` to `digits` decimals; a value that is not a finite number is shown as it is, never thrown on. */
function fixed(v: unknown, digits: number): string {
  return finite(v) ? v.toFixed(digits) : esc(String(v));
}

/**
 * Write report.html, loss.svg and kl.svg into `dir`, and the optional figures
 * (reconstructions.png, samples.png, kl_weight.svg, mu_sigma.svg, kl_per_dim.svg,
 * active_units.svg, manifold.png, latent_scatter.svg, factors.md, interpolation.png, traversals.png,
 * class_samples.png, streamlines_1.svg, ...) when their inputs are given. Returns the names
 * of the files written besides report.html.
 *
 * @throws Error when images are given without `rows` and `cols`, or `classSamples` has the
 *   wrong number of values.
 */
export async function writeReport(dir: string, r: ReportInput): Promise<string[]> {
  const epochs = r.records.map((x) => x.epoch);
  const col = (f: (x: ReportRecord) => number) => r.records.map(f);
  const loss = linePlot("loss (nats per image)", "epoch", epochs, [
    { name: "train total", color: "#1f77b4", values: col((x) => x.train.total) },
    { name: "test total", color: "#d62728", values: col((x) => x.test.total) },
    { name: "test recon", color: "#ff7f0e", values: col((x) => x.test.recon) },
  ]);
  const weightScale = klWeightScale(col((x) => x.test.kl), col((x) => x.beta));
  const kl = linePlot("KL and its weight", "epoch", epochs, [
    { name: "train KL", color: "#2ca02c", values: col((x) => x.train.kl) },
    { name: "test KL", color: "#9467bd", values: col((x) => x.test.kl) },
    {
      name: `weight x ${weightScale}`,
      color: "#7f7f7f",
      values: col((x) => weightScale * x.beta),
    },
  ]);
  let recPng: PngFigure | undefined, smpPng: PngFigure | undefined;
  if (r.originals && r.reconstructions) {
    recPng = reconstructionGrid(needShape(r, "originals"), r.originals, r.reconstructions);
  }
  if (r.samples) {
    const shape = needShape(r, "samples");
    smpPng = gridPng(r.samples, Math.floor(r.samples.length / imageSize(shape)), shape, 8);
  }
  const diagnostics = diagnosticSections(r);
  const latent = r.latent ? await latentSections(r, r.latent) : [];
  if (r.latent?.factors) {
    const n = Math.floor(r.latent.mu.length / r.latent.z);
    latent.unshift(factorSection(r.latent.factors, n));
  }
  // Image data gets a grid of samples; other data (streamlines) its own figure, when given.
  const perClass = r.classSamples && (imageShape(r) || !r.classSamples.svg)
    ? classSamplesFigure(r, r.classSamples)
    : undefined;
  const streamlineFiles = (r.streamlines?.views ?? []).map((_, i) => `streamlines_${i + 1}.svg`);

  const files = ["loss.svg", "kl.svg"];
  await writeTextAtomic(`${dir}/loss.svg`, loss);
  await writeTextAtomic(`${dir}/kl.svg`, kl);
  const pngs: [string, PngFigure | undefined][] = [
    ["reconstructions.png", recPng],
    ["samples.png", smpPng],
  ];
  for (const [name, f] of pngs) {
    if (!f) continue;
    await writeFileAtomic(`${dir}/${name}`, f.png);
    files.push(name);
  }
  for (const s of [...diagnostics, ...latent]) {
    if (s.png) await writeFileAtomic(`${dir}/${s.file}`, s.png.png);
    else await writeTextAtomic(`${dir}/${s.file}`, s.html ? s.fileText! : s.svg!);
    files.push(s.file);
  }
  if (perClass) {
    await writeFileAtomic(`${dir}/class_samples.png`, perClass.png);
    files.push("class_samples.png");
  } else if (r.classSamples?.svg) {
    await writeTextAtomic(`${dir}/class_samples.svg`, r.classSamples.svg);
    files.push("class_samples.svg");
  }
  for (const [i, v] of (r.streamlines?.views ?? []).entries()) {
    await writeTextAtomic(`${dir}/${streamlineFiles[i]}`, v.svg);
    files.push(streamlineFiles[i]);
  }

  const last = r.records.at(-1);
  const hasDiag = r.records.some((x) => x.diagnostics);
  const rows = r.records.map((x) => {
    const au = x.diagnostics
      ? `<td${
        x.diagnostics.activeUnits === 0 ? ' class="warn"' : ""
      }>${x.diagnostics.activeUnits}/${x.diagnostics.klPerDim.length}</td>`
      : hasDiag
      ? "<td>-</td>"
      : "";
    return `<tr><td>${x.epoch}</td><td>${fixed(x.train.total, 2)}</td><td>${
      fixed(x.test.total, 2)
    }</td>` +
      `<td>${fixed(x.test.recon, 2)}</td><td>${fixed(x.test.kl, 2)}</td><td>${
        fixed(x.test.elbo, 2)
      }</td>` +
      `<td>${finite(x.beta) ? +x.beta.toPrecision(4) : fixed(x.beta, 0)}</td>${au}<td>${
        fixed(x.imagesPerSecond, 0)
      }</td></tr>`;
  }).join("\n");
  const cfg = Object.entries(r.config).map(([k, v]) =>
    `<tr><td>${esc(k)}</td><td>${esc(JSON.stringify(v) ?? "")}</td></tr>`
  ).join("\n");
  const collapsed = last?.diagnostics?.activeUnits === 0
    ? `\n<p class="warn">No active latent units after epoch ${last.epoch}: the posterior ` +
      `has collapsed onto the prior.</p>`
    : "";
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>webgpu-vae run ${
    esc(String(r.config.out ?? ""))
  }</title>
<style>
body { font-family: sans-serif; margin: 2em; max-width: 60em; }
table { border-collapse: collapse; margin: 1em 0; } td, th { border: 1px solid #ccc; padding: 2px 8px; text-align: right; }
td:first-child { text-align: left; }
.warn { color: #b00; font-weight: bold; }
svg { display: block; max-width: 100%; height: auto; }
</style></head><body>
<h1>Run ${esc(String(r.config.out ?? ""))}</h1>
<p>After epoch ${last?.epoch ?? 0}: test negative ELBO <b>${
    last ? fixed(last.test.elbo, 2) : "-"
  }</b> nats per image
(reconstruction ${last ? fixed(last.test.recon, 2) : "-"} + KL ${
    last ? fixed(last.test.kl, 2) : "-"
  }).</p>${collapsed}
<h2>Loss curves</h2>
${loss}
${kl}
${diagnostics.map(renderSection).join("\n")}
<h2>Metrics per epoch</h2>
<table><tr><th>epoch</th><th>train loss</th><th>test loss</th><th>test recon</th><th>test KL</th><th>test -ELBO</th><th>KL weight</th>${
    hasDiag ? "<th>active units</th>" : ""
  }<th>img/s</th></tr>
${rows}
</table>
${r.streamlines ? streamlinesHtml(r.streamlines) : ""}${
    recPng
      ? `<h2>Reconstructions</h2>
<p>Test images (top) and their reconstructions (bottom).</p>
${img(recPng, "reconstructions", 3)}
`
      : ""
  }${smpPng ? `<h2>Samples from the prior</h2>\n${img(smpPng, "samples", 3)}\n` : ""}${
    perClass && r.classSamples
      ? classSamplesHtml(r.classSamples, perClass)
      : r.classSamples?.svg
      ? classSamplesSvgHtml(r.classSamples)
      : ""
  }${latent.map(renderSection).join("\n")}
<h2>Configuration</h2>
<table>${cfg}</table>
</body></html>
`;
  await writeTextAtomic(`${dir}/report.html`, html);
  return files;
}
