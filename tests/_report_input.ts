/**
 * Synthetic report inputs for the report tests (no training): a few epochs of made-up
 * metrics and diagnostics, a linear KL warm-up, a smooth stand-in decoder, samples per class
 * of a made-up conditional model, and a made-up bundle of streamlines with reconstructions.
 */
import type { Decode } from "../src/eval/figures.ts";
import type { ReportInput, ReportRecord, StreamlinesInput } from "../src/eval/report.ts";
import { interpolationSvg, streamlinesSvg } from "../src/eval/streamline_svg.ts";
import { type KlSchedule, klWeight } from "../src/train/schedule.ts";
import { Rng } from "./_helpers.ts";

/** Fashion-MNIST's class names. */
export const CLASSES = [
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
];

/** Image size of the synthetic data. */
export const ROWS = 12, COLS = 10;

/** A decoder smooth in z: a blob whose position follows z_0, z_1 and whose size follows the rest. */
export function blobDecoder(z: number): Decode {
  return (codes, n) => {
    const out = new Float32Array(n * ROWS * COLS);
    for (let i = 0; i < n; i++) {
      const c = codes.subarray(i * z, (i + 1) * z);
      const cx = (COLS - 1) / 2 + c[0] * 1.2, cy = (ROWS - 1) / 2 - (c[1] ?? 0) * 1.5;
      let size = 2;
      for (let j = 2; j < z; j++) size += 0.3 * c[j];
      for (let r = 0; r < ROWS; r++) {
        for (let col = 0; col < COLS; col++) {
          const d2 = (r - cy) ** 2 + (col - cx) ** 2;
          out[i * ROWS * COLS + r * COLS + col] = Math.exp(-d2 / (2 * Math.max(0.5, size) ** 2));
        }
      }
    }
    return Promise.resolve(out);
  };
}

/** Samples shown per class by the synthetic conditional model. */
export const PER_CLASS = 6;

/** A fan of `count` arcs of `points` points (mm), each bent by `bend`. */
function arcs(count: number, points: number, bend: number): Float32Array[] {
  return Array.from({ length: count }, (_, k) => {
    const line = new Float32Array(points * 3);
    for (let i = 0; i < points; i++) {
      const t = i / (points - 1);
      line.set(
        [-40 + 80 * t, 8 * Math.sin(Math.PI * t) * bend + k, 10 + 25 * t * t + 0.5 * k],
        3 * i,
      );
    }
    return line;
  });
}

/**
 * A streamline model's report input: originals against reconstructions, and an interpolation
 * of 8 steps, as two figures; the distance and width lines.
 */
export function syntheticStreamlines(): StreamlinesInput {
  const originals = arcs(12, 21, 1), reconstructions = arcs(12, 21, 1.1);
  return {
    views: [
      {
        title: "Test bundle and its reconstruction",
        svg: streamlinesSvg([
          { label: "original", color: "#1f77b4", streamlines: originals },
          { label: "reconstruction", color: "#d62728", streamlines: reconstructions, dashed: true },
        ], { title: "test streamlines" }),
      },
      {
        title: "Latent interpolation",
        svg: interpolationSvg(Array.from({ length: 8 }, (_, i) => arcs(1, 21, 0.2 * i)[0])),
      },
    ],
    distanceMm: 0.42,
    widthMm: 6.1,
    lines: ["12 test streamlines of 21 points <resampled>"],
  };
}

/**
 * `epochs` epochs of metrics for a Z-dimensional model under a linear warm-up. `images`:
 * the image inputs (shape, reconstructions, samples; without them `latent` has no decoder);
 * `classSamples`: PER_CLASS samples per class with an agreement of 0.84; `streamlines`:
 * {@linkcode syntheticStreamlines}.
 */
export function syntheticInput(
  {
    z = 2,
    epochs = 5,
    latent = true,
    diagnostics = true,
    testImages = 400,
    images = true,
    classSamples = false,
    streamlines = false,
  } = {},
): ReportInput {
  const rng = new Rng(17);
  const stepsPerEpoch = 100, totalSteps = epochs * stepsPerEpoch;
  const schedule: KlSchedule = { kind: "linear", beta: 1, start: 0, length: 250 };
  const records: ReportRecord[] = [];
  for (let e = 1; e <= epochs; e++) {
    const step = e * stepsPerEpoch;
    const w = klWeight(schedule, step - 1);
    const kl = 5 + 3 * Math.log(e), recon = 300 / (1 + 0.2 * e);
    records.push({
      epoch: e,
      step,
      train: { recon: recon + 2, kl: kl + 0.5, total: recon + 2 + w * (kl + 0.5) },
      test: { recon, kl, total: recon + w * kl, elbo: recon + kl },
      beta: w,
      betaMean: w,
      seconds: 1.5,
      imagesPerSecond: 40000,
      ...(diagnostics
        ? {
          diagnostics: {
            klPerDim: Array.from({ length: z }, (_, d) => d % 3 === 2 ? 0.001 : (d + 1) * e * 0.2),
            activeUnits: z - Math.floor(z / 3),
            mu: { min: -1 - e * 0.3, mean: 0.01 * e, max: 1 + e * 0.3 },
            sigma: { min: 0.05, mean: 0.4 - 0.02 * e, max: 0.99 },
          },
        }
        : {}),
    });
  }
  const size = ROWS * COLS;
  const decode = blobDecoder(z);
  const mu = Float32Array.from(rng.normal(testImages * z));
  const labels = Uint8Array.from({ length: testImages }, () => Math.floor(rng.next() * 10));
  const originals = new Float32Array(8 * size), reconstructions = new Float32Array(8 * size);
  for (let i = 0; i < 8; i++) {
    for (let p = 0; p < size; p++) {
      originals[i * size + p] = rng.next() < 0.3 ? 1 : 0.2 * rng.next();
      reconstructions[i * size + p] = 0.8 * originals[i * size + p] + 0.1;
    }
  }
  const samples = Float32Array.from(rng.uniform(32 * size, 0, 1));
  return {
    config: { out: "runs/synthetic", model: "mlp", z, epochs, "kl-schedule": "linear:0:250" },
    records,
    ...(images ? { rows: ROWS, cols: COLS, originals, reconstructions, samples } : {}),
    klSchedule: { schedule, totalSteps },
    ...(latent
      ? { latent: { z, ...(images ? { decode } : {}), mu, labels, classNames: CLASSES } }
      : {}),
    ...(classSamples
      ? {
        classSamples: {
          classNames: CLASSES,
          perClass: PER_CLASS,
          // Class c's row: blobs moving right with c, so every row differs.
          images: Float32Array.from({ length: CLASSES.length * PER_CLASS * size }, (_, i) => {
            const c = Math.floor(i / (PER_CLASS * size)), p = i % size;
            const r = Math.floor(p / COLS), col = p % COLS;
            return Math.exp(-((r - 5) ** 2 + (col - c) ** 2) / 6) * (0.6 + 0.4 * rng.next());
          }),
          checks: [
            { metric: "pooled", fraction: 0.84, perClass: [], testAccuracy: 0.815 },
            { metric: "euclidean", fraction: 0.695, perClass: [], testAccuracy: 0.677 },
          ],
        },
      }
      : {}),
    ...(streamlines ? { streamlines: syntheticStreamlines() } : {}),
  };
}
