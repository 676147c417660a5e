/**
 * The figures that show what a VAE learned, as pure functions of plain arrays or of a decoder
 * callback: PNG images (the 2-D manifold, interpolations, latent traversals) and SVG plots (the
 * 2-D latent scatter by label, mu/sigma ranges per epoch, per-dimension KL over epochs, the KL
 * weight). Nothing here touches the GPU or the file system.
 *
 * Dimensions: n codes or images, Z latent, R x C image rows x columns (1 x F for flat data).
 */

import { encodePng, imageGrid } from "./png.ts";
import { type Group, heatMap, linePlot, scatterPlot } from "./svg.ts";
import { type KlSchedule, klWeight } from "../train/schedule.ts";

/**
 * A decoder: codes z [n, Z] to images [n, R * C] with values in [0, 1] (Bernoulli means).
 * The figures call it once per figure, with n up to a few hundred; see
 * {@linkcode batchedDecode} to adapt a decoder built for a fixed batch.
 */
export type Decode = (z: Float32Array, n: number) => Promise<Float32Array>;

/** An encoded PNG and its size in pixels. */
export interface PngFigure {
  /** The PNG file. */
  png: Uint8Array;
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
}

/** Size of one image. */
export interface ImageShape {
  /** R, pixel rows. */
  rows: number;
  /** C, pixel columns. */
  cols: number;
  /** Channels per pixel, stored last (HWC): 1 grey (the default), 3 RGB. */
  channels?: 1 | 3;
}

/** Values in one image of `shape`. */
export function imageSize(shape: ImageShape): number {
  return shape.rows * shape.cols * (shape.channels ?? 1);
}

/** Min, mean and max of a quantity over the test set (and latent dimensions). */
export interface Range {
  /** Smallest value. */
  min: number;
  /** Mean value. */
  mean: number;
  /** Largest value. */
  max: number;
}

/** Ten distinguishable colours (Tableau 10), reused cyclically beyond ten classes. */
export const CLASS_COLORS: readonly string[] = [
  "#4e79a7",
  "#f28e2b",
  "#e15759",
  "#76b7b2",
  "#59a14f",
  "#edc948",
  "#b07aa1",
  "#ff9da7",
  "#9c755f",
  "#bab0ac",
];

/** `count` evenly spaced values from lo to hi inclusive. */
export function linspace(lo: number, hi: number, count: number): number[] {
  if (count === 1) return [(lo + hi) / 2];
  return Array.from({ length: count }, (_, i) => lo + ((hi - lo) * i) / (count - 1));
}

function checkPositive(where: string, values: Record<string, number>): void {
  for (const [k, v] of Object.entries(values)) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${where}: ${k} = ${v} is not >= 1`);
  }
}

async function decodeChecked(
  where: string,
  decode: Decode,
  z: Float32Array,
  n: number,
  shape: ImageShape,
): Promise<Float32Array> {
  const images = await decode(z, n);
  if (images.length !== n * imageSize(shape)) {
    throw new Error(
      `${where}: decode returned ${images.length} values for ${n} images of ` +
        `${shape.rows}x${shape.cols}x${shape.channels ?? 1}`,
    );
  }
  return images;
}

/** A grid of `count` images of `shape`, `gridCols` wide, as a grey or RGB PNG. */
function png(
  images: ArrayLike<number>,
  count: number,
  shape: ImageShape,
  gridCols: number,
  pad = 1,
): PngFigure {
  const ch = shape.channels ?? 1;
  const g = imageGrid(images, count, shape.rows, shape.cols, gridCols, pad, ch);
  return { png: encodePng(g.width, g.height, g.pixels, ch), ...g };
}

/**
 * Adapt a decoder built for a fixed batch (`run` maps z [batch, Z] to images [batch, F]) to
 * any n: codes are decoded `batch` at a time, the last batch padded with zeros.
 */
export function batchedDecode(
  batch: number,
  z: number,
  features: number,
  run: (z: Float32Array) => Promise<Float32Array>,
): Decode {
  checkPositive("batchedDecode", { batch, z, features });
  return async (codes, n) => {
    const out = new Float32Array(n * features);
    for (let i = 0; i < n; i += batch) {
      const k = Math.min(batch, n - i);
      const part = new Float32Array(batch * z);
      part.set(codes.subarray(i * z, (i + k) * z));
      const images = await run(part);
      out.set(images.subarray(0, k * features), i * features);
    }
    return out;
  };
}

/**
 * The decoded 2-D latent manifold (Z = 2 only): a `steps` x `steps` grid over
 * [-range, range]^2, z1 growing to the right and z2 growing upwards, each cell the decoded
 * image, tiled into one gray PNG of steps * C by steps * R pixels (no borders, so neighbouring
 * cells read as one picture).
 */
export async function manifoldFigure(
  decode: Decode,
  shape: ImageShape,
  { steps = 20, range = 3 } = {},
): Promise<PngFigure> {
  checkPositive("manifold", { steps, rows: shape.rows, cols: shape.cols });
  const n = steps * steps;
  const z = new Float32Array(2 * n);
  const grid = linspace(-range, range, steps);
  for (let r = 0; r < steps; r++) {
    for (let c = 0; c < steps; c++) {
      z[2 * (r * steps + c)] = grid[c];
      z[2 * (r * steps + c) + 1] = grid[steps - 1 - r];
    }
  }
  const images = await decodeChecked("manifold", decode, z, n, shape);
  return png(images, n, shape, steps, 0);
}

/**
 * Which two latent dimensions a scatter shows: 0 and 1 when Z <= 2, else the two with the
 * largest variance of mu over the n points (the first of equals).
 */
export function scatterDims(mu: ArrayLike<number>, n: number, z: number): [number, number] {
  if (z <= 2) return [0, z === 2 ? 1 : 0];
  const mean = new Float64Array(z), sq = new Float64Array(z);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < z; j++) {
      const v = mu[i * z + j];
      mean[j] += v;
      sq[j] += v * v;
    }
  }
  const variance = [...mean].map((s, j) => sq[j] / n - (s / n) ** 2);
  const order = [...variance.keys()].sort((a, b) => variance[b] - variance[a] || a - b);
  return [order[0], order[1]].sort((a, b) => a - b) as [number, number];
}

/**
 * The test set's posterior means mu [n, Z] as points coloured by `labels[i]` (an index into
 * `classNames`), with a legend: dimensions 0 and 1 when Z = 2, the two highest-variance
 * dimensions when Z > 2 (Z = 1 plots mu_0 against itself). At most `maxPoints` points (the
 * first ones) keep the SVG small.
 */
export function scatterFigure(
  mu: ArrayLike<number>,
  z: number,
  labels: ArrayLike<number>,
  classNames: readonly string[],
  { maxPoints = 5000 } = {},
): string {
  checkPositive("scatter", { z });
  const n = Math.min(labels.length, Math.floor(mu.length / z), maxPoints);
  const [a, b] = scatterDims(mu, n, z);
  const x = new Float64Array(n), y = new Float64Array(n);
  for (let i = 0; i < n; i++) x[i] = mu[i * z + a], y[i] = mu[i * z + b];
  const groups: Group[] = classNames.map((name, k) => ({
    name,
    color: CLASS_COLORS[k % CLASS_COLORS.length],
  }));
  const title = z > 2
    ? `test-set mu, the two highest-variance of ${z} dimensions`
    : "test-set mu by label";
  return scatterPlot(title, { x: `mu[${a}]`, y: `mu[${b}]` }, x, y, labels, groups);
}

/**
 * A row of `steps` images decoded from codes evenly spaced on the line from muA to muB (both
 * [Z], endpoints included); when `ends` (the two original images, [R * C * channels] each) are
 * given they frame the row, left and right.
 */
export async function interpolationFigure(
  decode: Decode,
  shape: ImageShape,
  muA: ArrayLike<number>,
  muB: ArrayLike<number>,
  { steps = 10, ends }: { steps?: number; ends?: [ArrayLike<number>, ArrayLike<number>] } = {},
): Promise<PngFigure> {
  const z = muA.length;
  checkPositive("interpolation", { steps, z, rows: shape.rows, cols: shape.cols });
  if (muB.length !== z) throw new Error(`interpolation: muA has ${z} values, muB ${muB.length}`);
  const codes = new Float32Array(steps * z);
  linspace(0, 1, steps).forEach((t, i) => {
    for (let j = 0; j < z; j++) codes[i * z + j] = (1 - t) * muA[j] + t * muB[j];
  });
  const images = await decodeChecked("interpolation", decode, codes, steps, shape);
  const size = imageSize(shape);
  if (!ends) return png(images, steps, shape, steps);
  for (const e of ends) {
    if (e.length !== size) throw new Error(`interpolation: an end image has ${e.length} values`);
  }
  const row = new Float32Array((steps + 2) * size);
  row.set(Array.from(ends[0]));
  row.set(images, size);
  row.set(Array.from(ends[1]), (steps + 1) * size);
  return png(row, steps + 2, shape, steps + 2);
}

/**
 * Latent traversals: one row per latent dimension d, `steps` images decoded from `base` ([Z],
 * e.g. one test image's mu) with z_d set to each of `steps` values from -range to range, the
 * other dimensions kept. A dimension the decoder ignores shows a row of identical images.
 * The rows are dimensions 0 to min(Z, maxDims) - 1, or the dimensions listed in `dims`, in
 * that order.
 */
export async function traversalFigure(
  decode: Decode,
  shape: ImageShape,
  base: ArrayLike<number>,
  { steps = 9, range = 3, maxDims = 32, dims: which }: {
    steps?: number;
    range?: number;
    maxDims?: number;
    dims?: number[];
  } = {},
): Promise<PngFigure> {
  const z = base.length;
  checkPositive("traversals", { steps, z, rows: shape.rows, cols: shape.cols });
  const rowDims = which ?? Array.from({ length: Math.min(z, maxDims) }, (_, d) => d);
  if (!rowDims.length || rowDims.some((d) => !Number.isInteger(d) || d < 0 || d >= z)) {
    throw new Error(`traversals: dimensions [${rowDims}] are not a list within 0..${z - 1}`);
  }
  const dims = rowDims.length;
  const values = linspace(-range, range, steps);
  const codes = new Float32Array(dims * steps * z);
  for (let r = 0; r < dims; r++) {
    for (let s = 0; s < steps; s++) {
      const at = (r * steps + s) * z;
      for (let j = 0; j < z; j++) codes[at + j] = base[j];
      codes[at + rowDims[r]] = values[s];
    }
  }
  const images = await decodeChecked("traversals", decode, codes, dims * steps, shape);
  return png(images, dims * steps, shape, steps);
}

/**
 * mu and sigma over the test set per epoch: min, mean and max of each (over images and
 * dimensions) as lines; sigma = exp(logvar / 2). A healthy VAE keeps mu spread and sigma
 * below 1; a collapsed one has mu ~ 0 and sigma ~ 1; an autoencoder's sigma goes to 0.
 */
export function rangeFigure(epochs: number[], mu: Range[], sigma: Range[]): string {
  const pick = (r: Range[], k: keyof Range) => r.map((v) => v[k]);
  return linePlot("mu and sigma over the test set", "epoch", epochs, [
    { name: "mu max", color: "#1f77b4", values: pick(mu, "max"), dash: "5 3" },
    { name: "mu mean", color: "#1f77b4", values: pick(mu, "mean") },
    { name: "mu min", color: "#1f77b4", values: pick(mu, "min"), dash: "1 3" },
    { name: "sigma max", color: "#d62728", values: pick(sigma, "max"), dash: "5 3" },
    { name: "sigma mean", color: "#d62728", values: pick(sigma, "mean") },
    { name: "sigma min", color: "#d62728", values: pick(sigma, "min"), dash: "1 3" },
  ]);
}

/**
 * Per-dimension KL (nats per image) as a heat map: one row per latent dimension, one column
 * per epoch; `klPerDim[e][d]` is dimension d's KL after epoch `epochs[e]`. Collapsed
 * dimensions are the rows that stay dark.
 */
export function klHeatmapFigure(epochs: number[], klPerDim: number[][]): string {
  const z = Math.max(0, ...klPerDim.map((r) => r.length));
  const rows = Array.from({ length: z }, (_, d) => klPerDim.map((e) => e[d] ?? NaN));
  return heatMap(
    "KL per latent dimension",
    { x: "epoch", y: "latent dimension", value: "KL (nats)" },
    epochs,
    Array.from({ length: z }, (_, d) => `z${d}`),
    rows,
  );
}

/**
 * The KL weight: the schedule's value at every optimizer step (up to `maxPoints` evenly
 * spaced steps, plus each ramp's ends), and the weight recorded per epoch when given.
 */
export function klWeightFigure(
  schedule: KlSchedule,
  totalSteps: number,
  perEpoch?: { step: number[]; weight: number[] },
  { maxPoints = 1000 } = {},
): string {
  const steps = new Set<number>();
  const stride = Math.max(1, Math.ceil(totalSteps / maxPoints));
  for (let t = 0; t < totalSteps; t += stride) steps.add(t);
  steps.add(Math.max(0, totalSteps - 1));
  if (schedule.kind === "linear") {
    for (const t of [schedule.start, schedule.start + schedule.length]) {
      if (t < totalSteps) steps.add(t);
    }
  } else if (schedule.kind === "cyclical") {
    const period = schedule.totalSteps / schedule.cycles, p = Math.ceil(period);
    for (let c = 0; c * p < totalSteps; c++) {
      // The last step of a cycle, its first, and where its ramp reaches the cap.
      for (const t of [c * p - 1, c * p, c * p + Math.ceil(schedule.ratio * period)]) {
        if (t >= 0 && t < totalSteps) steps.add(t);
      }
    }
  }
  const x = [...steps].sort((a, b) => a - b);
  const series = [{
    name: "schedule",
    color: "#7f7f7f",
    values: x.map((t) => klWeight(schedule, t)),
  }];
  if (!perEpoch) return linePlot("KL weight", "optimizer step", x, series);
  // Recorded values sit on the same x axis: NaN except at their steps.
  const all = [...new Set([...x, ...perEpoch.step])].sort((a, b) => a - b);
  const at = new Map(perEpoch.step.map((s, i) => [s, perEpoch.weight[i]]));
  return linePlot("KL weight", "optimizer step", all, [
    {
      name: "schedule",
      color: "#7f7f7f",
      values: all.map((t) => t < totalSteps ? klWeight(schedule, t) : NaN),
    },
    {
      name: "per epoch",
      color: "#d62728",
      values: all.map((t) => at.get(t) ?? NaN),
      markers: true,
    },
  ]);
}
