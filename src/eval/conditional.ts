/**
 * Figures and checks of conditional and streamline models, from a trained `Trainer`:
 *
 * - per-class samples of a label-conditioned model, checked by nearest-class-mean classifiers
 *   fitted on the training images (the fraction that agrees with the asked class, beside the
 *   classifier's accuracy on real test images);
 * - for streamlines: originals against reconstructions in millimetres (two views), prior
 *   samples, an interpolation between two test streamlines, and the mean point-wise
 *   reconstruction distance over the held-out set, per bundle against the bundle's width;
 * - for a length-conditioned model: samples at asked lengths and the correlation between
 *   asked and produced arc length.
 */

import type { Dataset } from "../data/datasets.ts";
import { scatterPlot } from "./svg.ts";
import {
  arcLength,
  coarseLength,
  denormalize,
  meanPointDistance,
  reversed,
} from "../data/streamlines.ts";
import type { Trainer } from "../train/trainer.ts";
import {
  agreement,
  type ClassCheckResult,
  fitNearestMean,
  type NearestMeanClassifier,
} from "./classify.ts";
import type { ClassSamplesInput, StreamlinesInput } from "./report.ts";
import { CLASS_COLORS } from "./figures.ts";
import { interpolationSvg, streamlinesSvg } from "./streamline_svg.ts";

/** A nearest-class-mean classifier of the class check with its accuracy on real test images. */
export interface ClassChecker {
  /** The fitted classifier. */
  model: NearestMeanClassifier;
  /** Fraction of the test images it gives their own label: what samples like the data score. */
  testAccuracy: number;
}

/**
 * The class check's classifiers, fitted on a labelled dataset's training split and scored on
 * its test split: the pooled-covariance distance first (the figure the report leads with),
 * then the Euclidean pixel distance. They depend only on the data: fit them once per run.
 */
export function fitClassCheckers(data: Dataset): ClassChecker[] {
  const { train, test, classes, features } = data;
  // Samples are in [0, 1] for pixels and in the data's own units for streamlines.
  const scale = test.images instanceof Uint8Array ? 1 / 255 : 1;
  const real = Float32Array.from(test.images, (v) => v * scale);
  return (["pooled", "euclidean"] as const).map((metric) => {
    const model = fitNearestMean(train.images, train.labels!, classes, features, { metric });
    return { model, testAccuracy: agreement(model, real, test.labels!).fraction };
  });
}

/**
 * Per-class samples and each classifier's agreement with the asked class; `checkers` from
 * {@linkcode fitClassCheckers}. For streamlines the classes are the bundles: the names are
 * the dataset's bundle names (whatever `names` says), the classifiers are nearest-bundle
 * classifiers on the normalized coordinates, and `svg` draws the samples in millimetres,
 * one colour per asked bundle (the report shows it where image data shows a grid).
 */
export async function classSampleCheck(
  trainer: Trainer,
  data: Dataset,
  names: string[],
  checkers: ClassChecker[],
  { perClass = 20, seed = 0 } = {},
): Promise<ClassSamplesInput & { checks: ClassCheckResult[] }> {
  const K = data.classes;
  const asked = Array.from({ length: K * perClass }, (_, i) => Math.floor(i / perClass));
  const images = await trainer.samples(asked.length, seed, asked);
  const checks = checkers.map(({ model, testAccuracy }) => {
    const a = agreement(model, images, asked);
    return { metric: model.metric, fraction: a.fraction, perClass: a.perClass, testAccuracy };
  });
  const info = data.streamlines;
  if (!info) return { classNames: names.slice(0, K), perClass, images, checks };
  const classNames = info.bundles.slice(0, K);
  const svg = bundleSamplesSvg(images, perClass, classNames, data);
  return { classNames, perClass, images, checks, svg };
}

/**
 * Samples asked for each bundle ([bundles * perClass, points * 3] normalized, rows
 * c * perClass ... asked for bundle c) drawn in millimetres, one colour per bundle.
 */
export function bundleSamplesSvg(
  samples: Float32Array,
  perClass: number,
  bundles: string[],
  data: Dataset,
): string {
  const F = data.features, norm = data.streamlines!.normalization;
  const all = rows(samples, bundles.length * perClass, F).map((s) => denormalize(s, norm));
  return streamlinesSvg(
    bundles.map((name, c) => ({
      label: `asked ${name}`,
      color: CLASS_COLORS[c % CLASS_COLORS.length],
      streamlines: all.slice(c * perClass, (c + 1) * perClass),
    })),
    { title: `${perClass} samples asked for each bundle` },
  );
}

/** Pearson correlation of two equally long series. */
export function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0, mb = 0;
  for (let i = 0; i < n; i++) (ma += a[i] / n), (mb += b[i] / n);
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

/** What the streamline evaluation measured (also written to metrics.jsonl). */
export interface StreamlineStats {
  /** Mean point-wise distance, test streamline to its reconstruction, mm (all bundles). */
  distanceMm: number;
  /** The same per bundle, with the bundle's width and held-out count. */
  bundles: { name: string; distanceMm: number; widthMm: number; count: number }[];
  /** Length-conditioned models: asked vs produced sample lengths and their correlation. */
  length?: LengthCheck;
  /** How near the prior samples come to real streamlines ({@linkcode priorNearness}). */
  prior?: PriorNearness;
  /** A regression VAE: its predicted lengths against the true ones on the test split. */
  regression?: RegressionScores;
}

/** Predicted against true values: {@linkcode regressionScores}. */
export interface RegressionScores {
  /** Mean squared error, mm^2. */
  mse: number;
  /** Coefficient of determination 1 - SS_res / SS_tot (1: perfect; 0: the mean's score). */
  r2: number;
  /** Examples scored. */
  count: number;
}

/** MSE and R^2 of `predicted` against `truth` (equally long, at least one value). */
export function regressionScores(
  truth: ArrayLike<number>,
  predicted: ArrayLike<number>,
): RegressionScores {
  const n = truth.length;
  if (n < 1 || predicted.length !== n) {
    throw new RangeError(`regressionScores: ${n} true and ${predicted.length} predicted values`);
  }
  let mean = 0;
  for (let i = 0; i < n; i++) mean += truth[i] / n;
  let res = 0, tot = 0;
  for (let i = 0; i < n; i++) {
    res += (predicted[i] - truth[i]) ** 2;
    tot += (truth[i] - mean) ** 2;
  }
  return { mse: res / n, r2: tot > 0 ? 1 - res / tot : NaN, count: n };
}

/** What {@linkcode priorNearness} measured, mm. */
export interface PriorNearness {
  /** Median over prior samples of the distance to the nearest reference training streamline. */
  samplesMm: number;
  /** The same for held-out (real) test streamlines: what samples like the data would score. */
  heldOutMm: number;
  /** Training streamlines the distances were measured to. */
  reference: number;
}

function _median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Distance (mm) from a streamline to the nearest of `reference`: the smallest mean
 * point-wise distance over the references, either way round.
 */
export function nearestDistance(s: Float32Array, reference: Float32Array[]): number {
  const r = reversed(s);
  let best = Infinity;
  for (const t of reference) {
    best = Math.min(best, meanPointDistance(s, t), meanPointDistance(r, t));
  }
  return best;
}

/**
 * How far prior samples lie from real streamlines: the median distance from each sample to
 * its nearest training streamline (up to `reference` of them, evenly picked), beside the same
 * median for held-out test streamlines. Samples that look like bundles score near the
 * held-out figure; tangles score several times more.
 */
export function priorNearness(
  samplesMm: Float32Array[],
  heldOutMm: Float32Array[],
  data: Dataset,
  reference = 400,
): PriorNearness {
  const F = data.features, n = data.train.count, norm = data.streamlines!.normalization;
  const k = Math.min(reference, n);
  const ref = Array.from({ length: k }, (_, i) => {
    const j = Math.floor((i * n) / k);
    return denormalize(data.train.images.slice(j * F, (j + 1) * F) as Float32Array, norm);
  });
  return {
    samplesMm: _median(samplesMm.map((s) => nearestDistance(s, ref))),
    heldOutMm: _median(heldOutMm.map((s) => nearestDistance(s, ref))),
    reference: k,
  };
}

function rows(flat: Float32Array, n: number, F: number): Float32Array[] {
  return Array.from({ length: n }, (_, i) => flat.slice(i * F, (i + 1) * F));
}

/**
 * The streamline report: figures in millimetres and the measured distances (see the module
 * comment). `mu` holds posterior means [>= 2, Z] of the first test streamlines (for the
 * interpolation).
 */
export async function streamlineReport(
  trainer: Trainer,
  data: Dataset,
  mu: Float32Array,
  { shown = 12, samples = 24, seed = 0 } = {},
): Promise<{ input: StreamlinesInput; stats: StreamlineStats }> {
  const info = data.streamlines!;
  const F = data.features, Z = trainer.model.z;
  const mm = (s: Float32Array) => denormalize(s, info.normalization);
  const test = await trainer.reconstructions();
  const n = data.test.count;
  const orig = rows(test.originals, n, F).map(mm), rec = rows(test.means, n, F).map(mm);
  const sums = new Array(info.bundles.length).fill(0),
    counts = new Array(info.bundles.length)
      .fill(0);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const d = meanPointDistance(orig[i], rec[i]);
    total += d;
    sums[data.test.labels![i]] += d;
    counts[data.test.labels![i]]++;
  }
  const bundles = info.bundles.map((name, k) => ({
    name,
    distanceMm: counts[k] ? sums[k] / counts[k] : NaN,
    widthMm: info.widths[k],
    count: counts[k],
  }));
  const stats: StreamlineStats = { distanceMm: total / n, bundles };
  const k = Math.min(shown, n);
  const views = [{
    title: `${k} held-out streamlines and their reconstructions`,
    svg: streamlinesSvg([
      { label: "original", color: "#1f77b4", streamlines: orig.slice(0, k) },
      { label: "reconstruction", color: "#d62728", streamlines: rec.slice(0, k), dashed: true },
    ]),
  }];
  const cond = trainer.model.condition;
  const prior = await trainer.samples(samples, seed);
  views.push({
    title: `${samples} samples from the prior` +
      (cond?.kind === "length" ? ` (at the mean length, ${cond.mean.toFixed(1)} mm)` : ""),
    svg: streamlinesSvg([{
      label: "sample",
      color: "#2ca02c",
      streamlines: rows(prior, samples, F).map(mm),
    }]),
  });
  stats.prior = priorNearness(rows(prior, samples, F).map(mm), orig.slice(0, 48), data);
  if (mu.length >= 2 * Z) {
    const steps = 8, path = new Float32Array(steps * Z);
    for (let s = 0; s < steps; s++) {
      for (let j = 0; j < Z; j++) {
        path[s * Z + j] = mu[j] + (s / (steps - 1)) * (mu[Z + j] - mu[j]);
      }
    }
    const asked = cond?.kind === "length"
      ? Array.from(
        { length: steps },
        (_, s) =>
          data.test.lengths![0] +
          (s / (steps - 1)) * (data.test.lengths![1] - data.test.lengths![0]),
      )
      : undefined;
    const decoded = rows(await trainer.decode(path, steps, asked), steps, F).map(mm);
    views.push({
      title: "interpolation between the posterior means of test streamlines 1 and 2",
      svg: interpolationSvg(decoded),
    });
  }
  const lines = bundles.map((b) =>
    `${b.name}: ${b.distanceMm.toFixed(2)} mm over ${b.count} held-out streamlines, width ` +
    `${b.widthMm.toFixed(1)} mm (${(100 * b.distanceMm / b.widthMm).toFixed(1)}%)`
  );
  const p = stats.prior;
  const far = p.samplesMm > 2 * p.heldOutMm;
  lines.unshift(
    `${far ? "WARNING: " : ""}prior samples lie a median ${p.samplesMm.toFixed(1)} mm from the ` +
      `nearest of ${p.reference} training streamlines; held-out streamlines ` +
      `${p.heldOutMm.toFixed(1)} mm` +
      (far
        ? `: the samples do not look like the bundles (tangles; try a larger --beta` +
          (trainer.model.prior ? ")" : " or --condition with --prior learned)")
        : ""),
  );
  if (cond?.kind === "length") {
    stats.length = await lengthCheck(trainer, data, { seed });
    const l = stats.length;
    lines.push(
      `length conditioning: correlation ${l.correlation.toFixed(3)} between ${l.asked.length} ` +
        `asked lengths (${Math.min(...l.asked).toFixed(0)}-${
          Math.max(...l.asked).toFixed(0)
        } mm) and the lengths of the samples (${
          l.correlationAtMean.toFixed(3)
        } for the prior mean decoded at the same lengths)`,
    );
    const few = [0.1, 0.5, 0.9].map((q) => Math.round(q * (l.asked.length - 1)));
    const decoded = await trainer.samples(few.length, seed + 1, few.map((i) => l.asked[i]));
    const title = `samples asked for ${few.map((i) => `${l.asked[i].toFixed(0)} mm`).join(", ")}`;
    views.push({
      title,
      svg: askedLengthSvg(rows(decoded, few.length, F).map(mm), few.map((i) => l.asked[i]), title),
    });
  }
  const predicted = await trainer.predictedLengths();
  if (predicted) {
    const truth = data.test.lengths!.subarray(0, predicted.length);
    const r = stats.regression = regressionScores(truth, predicted);
    const title = `length predicted from the streamline alone vs its true length, ` +
      `${r.count} test streamlines: R^2 ${r.r2.toFixed(3)}, MSE ${r.mse.toFixed(2)} mm^2`;
    views.push({
      title,
      svg: scatterPlot(
        "regression VAE: predicted vs true length (test split)",
        { x: "true length (mm)", y: "predicted length (mm)" },
        truth,
        predicted,
        new Uint8Array(r.count),
        [{ name: "test streamline", color: "#1f77b4" }],
      ),
    });
  }
  const meanWidth = bundles.reduce((a, b) => a + b.widthMm * b.count, 0) / n;
  return { input: { views, distanceMm: stats.distanceMm, widthMm: meanWidth, lines }, stats };
}

/** `n` lengths, mm, spread evenly over the 5th to 95th percentile of the training lengths. */
export function askedLengths(data: Dataset, n: number): number[] {
  const sorted = [...data.train.lengths!].sort((a, b) => a - b);
  const q = (p: number) => sorted[Math.round(p * (sorted.length - 1))];
  const lo = q(0.05), hi = q(0.95);
  return Array.from({ length: n }, (_, i) => lo + (i / (n - 1)) * (hi - lo));
}

/**
 * Lengths in mm of `n` decoded streamlines in normalized units: the arc length through all
 * their points ({@linkcode arcLength}), as dipy's `length()` measures a streamline.
 */
export function decodedLengths(decoded: Float32Array, n: number, data: Dataset): number[] {
  const norm = data.streamlines!.normalization;
  return rows(decoded, n, data.features).map((s) => arcLength(denormalize(s, norm)));
}

/**
 * Streamlines (mm) sampled at asked lengths, one colour each, each labelled with the length
 * asked and the length produced ({@linkcode arcLength}): a figure of the condition, not of a
 * path through latent space.
 */
export function askedLengthSvg(lines: Float32Array[], asked: number[], title: string): string {
  return streamlinesSvg(
    lines.map((s, i) => ({
      label: `asked ${asked[i].toFixed(0)} mm, got ${arcLength(s).toFixed(0)} mm`,
      color: CLASS_COLORS[i % CLASS_COLORS.length],
      streamlines: [s],
    })),
    { title },
  );
}

/** What {@linkcode lengthCheck} measured. */
export interface LengthCheck {
  /** Asked lengths, mm. */
  asked: number[];
  /**
   * Lengths of the samples, mm: the arc length through every decoded point, as dipy's
   * `length()` measures them (and as the training lengths were measured).
   */
  produced: number[];
  /**
   * Lengths through 32 evenly spaced points ({@linkcode coarseLength}), mm: shorter than
   * `produced` by the point-wise jitter a decoder leaves and by the corners it cuts; kept to
   * show that gap.
   */
  producedCoarse: number[];
  /** Pearson correlation of asked and produced. */
  correlation: number;
  /** The same correlation for the decoded prior mean (z = 0, or mp(c)) at each asked length. */
  correlationAtMean: number;
}

/**
 * Samples at `n` asked lengths spread evenly over the 5th to 95th percentile of the training
 * lengths, each from its own prior draw. The produced length is the arc length in mm through
 * every point of the decoded streamline, as dipy measures it (and as the asked lengths, the
 * training streamlines' own, were measured); `producedCoarse` is the 32-point length. The
 * prior mean (z = 0, or mp(c) for a learned prior) decoded at the same lengths shows how far
 * the decoder follows the condition when z is not in the way.
 */
export async function lengthCheck(
  trainer: Trainer,
  data: Dataset,
  { n = 100, seed = 0 } = {},
): Promise<LengthCheck> {
  const asked = askedLengths(data, n);
  const F = data.features;
  const out = await trainer.samples(n, seed, asked);
  const mm = rows(out, n, F).map((s) => denormalize(s, data.streamlines!.normalization));
  const produced = mm.map(arcLength);
  const atMean = await trainer.samples(n, seed, asked, 0);
  return {
    asked,
    produced,
    producedCoarse: mm.map((s) => coarseLength(s)),
    correlation: correlation(asked, produced),
    correlationAtMean: correlation(asked, decodedLengths(atMean, n, data)),
  };
}
