/**
 * The run report: `report.html` in the run folder, one self-contained page (images inlined
 * as data URLs, plots as inline SVG; it opens offline) with the config, the metrics table, the
 * loss curves, reconstructions and samples from the prior, and, when the trainer supplies
 * them, the KL weight schedule, the collapse diagnostics per epoch (mu/sigma ranges, KL per
 * latent dimension, active units) and the latent-space figures (2-D manifold, scatter of mu by
 * label, an interpolation, latent traversals). Every image and plot is also written as a file
 * beside it. Rewritten at every epoch.
 */

import { encodeBase64 } from "./base64.ts";
import {
  type Decode,
  interpolationFigure,
  klHeatmapFigure,
  klWeightFigure,
  manifoldFigure,
  type PngFigure,
  type Range,
  rangeFigure,
  scatterFigure,
  traversalFigure,
} from "./figures.ts";
import { encodePng, imageGrid } from "./png.ts";
import { esc, linePlot } from "./svg.ts";
import { writeFileAtomic, writeTextAtomic } from "../train/atomic.ts";
import type { EpochRecord } from "../train/trainer.ts";
import type { KlSchedule } from "../train/schedule.ts";

/**
 * Collapse diagnostics of one epoch, over the test set after the epoch's training (to be
 * stored in EpochRecord as `diagnostics?: EpochDiagnostics`, so it lands in metrics.jsonl).
 * src/eval/metrics.ts's `LatentStats` is one (the same fields).
 */
export interface EpochDiagnostics {
  /** Mean over the test set of each latent dimension's KL term, nats: [Z]. */
  klPerDim: number[];
  /** Dimensions whose posterior mean varies over the test set (Var_x mu_d > 0.01). */
  activeUnits: number;
  /** Min, mean and max of mu over the test set and all dimensions. */
  mu: Range;
  /** Min, mean and max of sigma = exp(logvar / 2) over the test set and all dimensions. */
  sigma: Range;
  /** Variance over the test set of each dimension's posterior mean: [Z] (not plotted). */
  muVariance?: number[];
}

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
  /** The decoder alone: z [n, Z] to Bernoulli means [n, rows * cols] (n up to 400). */
  decode: Decode;
  /** Posterior means of the first n >= 2 test images, in test-set order: [n, Z]. */
  mu: Float32Array;
  /** Their labels [n], indices into `classNames`; the scatter is drawn only with both. */
  labels?: ArrayLike<number>;
  /** Class names for the scatter's legend (e.g. Fashion-MNIST's ten). */
  classNames?: readonly string[];
}

/**
 * What the report shows. The trainer supplies:
 * - always: `config`, `records` (metrics.jsonl so far), `rows`, `cols`, `originals`,
 *   `reconstructions`, `samples` (as before);
 * - `records[i].diagnostics` ({@linkcode EpochDiagnostics}) to get the mu/sigma range plot, the
 *   KL-per-dimension heat map and the active-units plot and table column;
 * - `klSchedule` (the run's schedule and its total optimizer steps) to plot the weight ramp
 *   over steps, with each epoch's `beta` (the weight at its last step, step - 1 counted from
 *   0) marked on it;
 * - `latent` ({@linkcode LatentInput}) for the latent-space figures: the manifold when Z = 2,
 *   the scatter of mu by label (with `labels` and `classNames`), an interpolation and the
 *   traversals.
 */
export interface ReportInput {
  /** The resolved config (shown as a table). */
  config: Record<string, unknown>;
  /** metrics.jsonl so far. */
  records: ReportRecord[];
  /** Image height and width (1 x F data is shown as a row of F pixels). */
  rows: number;
  cols: number;
  /** First test images and their reconstructions, [n, rows * cols] in [0, 1]. */
  originals: Float32Array;
  reconstructions: Float32Array;
  /** Samples from the prior, [m, rows * cols] in [0, 1]. */
  samples: Float32Array;
  /** The KL weight schedule and the run's total optimizer steps. */
  klSchedule?: { schedule: KlSchedule; totalSteps: number };
  /** Decoder and test-set posterior means for the latent-space figures. */
  latent?: LatentInput;
}

/** Originals in the top row(s), their reconstructions below, 8 per row. */
function reconstructionGrid(r: ReportInput) {
  const size = r.rows * r.cols;
  const n = Math.min(8, Math.floor(r.originals.length / size));
  const both = new Float32Array(2 * n * size);
  both.set(r.originals.subarray(0, n * size));
  both.set(r.reconstructions.subarray(0, n * size), n * size);
  return imageGrid(both, 2 * n, r.rows, r.cols, n);
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
  const shape = { rows: r.rows, cols: r.cols }, size = r.rows * r.cols;
  const n = Math.floor(l.mu.length / l.z);
  const out: Section[] = [];
  if (l.z === 2) {
    const f = await manifoldFigure(l.decode, shape);
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
  if (n >= 2) {
    const shown = Math.min(n, Math.floor(r.originals.length / size));
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
      ? [r.originals.subarray(0, size), r.originals.subarray(b * size, (b + 1) * size)]
      : undefined;
    const f = await interpolationFigure(l.decode, shape, row(0), row(b), { ends });
    out.push({
      heading: "Interpolation",
      text: `Decoded means along the line from mu of test image 0 to mu of test image ${b}` +
        (ends ? " (the two originals at the ends)." : "."),
      file: "interpolation.png",
      png: f,
      scale: fit(f.width),
    });
  }
  if (n >= 1) {
    const f = await traversalFigure(l.decode, shape, l.mu.subarray(0, l.z));
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

function renderSection(s: Section): string {
  const body = s.png ? img(s.png, s.heading, s.scale ?? 1) : s.svg!;
  return `<h2>${esc(s.heading)}</h2>\n<p>${s.text}</p>\n${body}`;
}

/**
 * Write report.html, loss.svg, kl.svg, reconstructions.png and samples.png into `dir`, and
 * the optional figures (kl_weight.svg, mu_sigma.svg, kl_per_dim.svg, active_units.svg,
 * manifold.png, latent_scatter.svg, interpolation.png, traversals.png) when their inputs are
 * given. Returns the names of the files written besides report.html.
 */
export async function writeReport(dir: string, r: ReportInput): Promise<string[]> {
  const epochs = r.records.map((x) => x.epoch);
  const col = (f: (x: ReportRecord) => number) => r.records.map(f);
  const loss = linePlot("loss (nats per image)", "epoch", epochs, [
    { name: "train total", color: "#1f77b4", values: col((x) => x.train.total) },
    { name: "test total", color: "#d62728", values: col((x) => x.test.total) },
    { name: "test recon", color: "#ff7f0e", values: col((x) => x.test.recon) },
  ]);
  const kl = linePlot("KL and its weight", "epoch", epochs, [
    { name: "train KL", color: "#2ca02c", values: col((x) => x.train.kl) },
    { name: "test KL", color: "#9467bd", values: col((x) => x.test.kl) },
    {
      name: "weight x 10",
      color: "#7f7f7f",
      values: col((x) => 10 * x.beta),
    },
  ]);
  const rec = reconstructionGrid(r);
  const size = r.rows * r.cols;
  const m = Math.floor(r.samples.length / size);
  const smp = imageGrid(r.samples, m, r.rows, r.cols, 8);
  const recPng: PngFigure = { png: encodePng(rec.width, rec.height, rec.pixels), ...rec };
  const smpPng: PngFigure = { png: encodePng(smp.width, smp.height, smp.pixels), ...smp };
  const diagnostics = diagnosticSections(r);
  const latent = r.latent ? await latentSections(r, r.latent) : [];

  const files = ["loss.svg", "kl.svg", "reconstructions.png", "samples.png"];
  await writeTextAtomic(`${dir}/loss.svg`, loss);
  await writeTextAtomic(`${dir}/kl.svg`, kl);
  await writeFileAtomic(`${dir}/reconstructions.png`, recPng.png);
  await writeFileAtomic(`${dir}/samples.png`, smpPng.png);
  for (const s of [...diagnostics, ...latent]) {
    if (s.png) await writeFileAtomic(`${dir}/${s.file}`, s.png.png);
    else await writeTextAtomic(`${dir}/${s.file}`, s.svg!);
    files.push(s.file);
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
    return `<tr><td>${x.epoch}</td><td>${x.train.total.toFixed(2)}</td><td>${
      x.test.total.toFixed(2)
    }</td>` +
      `<td>${x.test.recon.toFixed(2)}</td><td>${x.test.kl.toFixed(2)}</td><td>${
        x.test.elbo.toFixed(2)
      }</td>` +
      `<td>${+x.beta.toPrecision(4)}</td>${au}<td>${x.imagesPerSecond.toFixed(0)}</td></tr>`;
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
    last ? last.test.elbo.toFixed(2) : "-"
  }</b> nats per image
(reconstruction ${last ? last.test.recon.toFixed(2) : "-"} + KL ${
    last ? last.test.kl.toFixed(2) : "-"
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
<h2>Reconstructions</h2>
<p>Test images (top) and their reconstructions (bottom).</p>
${img(recPng, "reconstructions", 3)}
<h2>Samples from the prior</h2>
${img(smpPng, "samples", 3)}
${latent.map(renderSection).join("\n")}
<h2>Configuration</h2>
<table>${cfg}</table>
</body></html>
`;
  await writeTextAtomic(`${dir}/report.html`, html);
  return files;
}
