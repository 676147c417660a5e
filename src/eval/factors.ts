/**
 * How each latent dimension follows each known generative factor (the `shapes` datasets keep
 * their factors): given the factors of N test images and the encoder's means mu for them, a
 * table factor x latent dimension, and per latent dimension the factor it follows most.
 *
 * - A continuous factor's entry is Pearson's correlation r between the factor and mu_j,
 *   in [-1, 1] (two-pass, float64).
 * - A categorical factor's (e.g. shape) is the correlation ratio eta = sqrt(between-group sum
 *   of squares / total sum of squares) of mu_j grouped by category, in [0, 1]: how much of
 *   mu_j's spread the category explains, whatever order the categories are numbered in.
 * - Where mu_j (or a factor) does not vary at all, the entry is 0, not NaN.
 *
 * Circular factors (rotation) correlate poorly with any single dimension even when a pair of
 * dimensions encodes them as (cos, sin): a low entry there is not proof of absence.
 */

import type { DatasetFactors } from "../data/datasets.ts";

/** A latent dimension is active when the variance of its means exceeds this (metrics.ts). */
export const ACTIVE_VARIANCE = 0.01;

/** Per factor: a category index or a number. */
export type FactorKind = "categorical" | "continuous";

/** The factor-vs-latent table of {@link factorLatentTable}. */
export interface FactorLatentTable {
  /** Factor names, the table's rows. */
  factors: string[];
  /** Per factor: "r" (Pearson, signed) or "eta" (correlation ratio, >= 0). */
  measures: ("r" | "eta")[];
  /** `factors.length` rows of Z entries: row f, column j relates factor f and mu_j. */
  table: number[][];
  /** Per latent dimension j: the standard deviation of mu_j over the images. */
  spread: number[];
  /**
   * Per latent dimension j: the factor with the largest |entry| (first on a tie) and that
   * entry; factor -1 and name "none" when no |entry| reaches the threshold or the dimension is
   * inactive (variance of mu_j at most 0.01, the active-unit rule of metrics.ts: the means of
   * an inactive dimension barely move, and their correlations are noise's).
   */
  follows: { factor: number; name: string; score: number }[];
}

function pearson(a: Float64Array, b: Float64Array): number {
  const n = a.length;
  let ma = 0, mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i] - ma, db = b[i] - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : 0;
}

function eta(groups: Float64Array, v: Float64Array): number {
  const n = v.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += v[i];
  mean /= n;
  const sum = new Map<number, { s: number; n: number }>();
  let total = 0;
  for (let i = 0; i < n; i++) {
    total += (v[i] - mean) ** 2;
    const g = sum.get(groups[i]) ?? { s: 0, n: 0 };
    g.s += v[i];
    g.n++;
    sum.set(groups[i], g);
  }
  let between = 0;
  for (const g of sum.values()) between += g.n * (g.s / g.n - mean) ** 2;
  return total > 0 ? Math.sqrt(Math.min(1, between / total)) : 0;
}

/**
 * The factor x latent table of N images.
 *
 * @param factors `N x F` factor values, row-major (one row per image), as Dataset.factors.
 * @param names F factor names.
 * @param kinds F kinds (categorical factors hold category indices).
 * @param mu `N x Z` encoder means, row-major, for the same images in the same order.
 * @param z Z, the latent dimensions.
 * @param threshold The least |entry| for a dimension to be said to follow a factor (0.2).
 */
export function factorLatentTable(
  factors: ArrayLike<number>,
  names: string[],
  kinds: FactorKind[],
  mu: ArrayLike<number>,
  z: number,
  threshold = 0.2,
): FactorLatentTable {
  const F = names.length;
  if (kinds.length !== F) throw new Error(`factors: ${kinds.length} kinds for ${F} names`);
  if (!Number.isInteger(z) || z < 1) throw new Error(`factors: bad latent size ${z}`);
  const n = factors.length / F;
  if (!Number.isInteger(n) || n < 2) {
    throw new Error(`factors: ${factors.length} values are not N >= 2 rows of ${F} factors`);
  }
  if (mu.length !== n * z) throw new Error(`factors: ${mu.length} mu values for ${n} x ${z}`);
  const column = (src: ArrayLike<number>, width: number, k: number) => {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = src[i * width + k];
    return out;
  };
  const cols = Array.from({ length: F }, (_, f) => column(factors, F, f));
  const mus = Array.from({ length: z }, (_, j) => column(mu, z, j));
  const table = cols.map((c, f) =>
    mus.map((m) => (kinds[f] === "categorical" ? eta(c, m) : pearson(c, m)))
  );
  const spread = mus.map((m) => {
    let s = 0, ss = 0;
    for (let i = 0; i < n; i++) s += m[i];
    const mean = s / n;
    for (let i = 0; i < n; i++) ss += (m[i] - mean) ** 2;
    return Math.sqrt(ss / n);
  });
  const follows = mus.map((_, j) => {
    let best = 0;
    for (let f = 1; f < F; f++) if (Math.abs(table[f][j]) > Math.abs(table[best][j])) best = f;
    const score = table[best][j];
    if (!(Math.abs(score) >= threshold) || !(spread[j] ** 2 > ACTIVE_VARIANCE)) {
      return { factor: -1, name: "none", score };
    }
    return { factor: best, name: names[best], score };
  });
  return {
    factors: [...names],
    measures: kinds.map((k) => (k === "categorical" ? "eta" : "r")),
    table,
    spread,
    follows,
  };
}

/**
 * The table as Markdown: one row per factor (its measure in brackets), one column per latent
 * dimension, the entry each dimension follows most in bold, then a "follows" row.
 */
export function factorTableMarkdown(t: FactorLatentTable, digits = 2): string {
  const z = t.spread.length;
  const head = `| factor | ${Array.from({ length: z }, (_, j) => `z${j}`).join(" | ")} |`;
  const rule = `|---|${"---|".repeat(z)}`;
  const rows = t.factors.map((name, f) => {
    const cells = t.table[f].map((v, j) => {
      const s = v.toFixed(digits);
      return t.follows[j].factor === f ? `**${s}**` : s;
    });
    return `| ${name} (${t.measures[f]}) | ${cells.join(" | ")} |`;
  });
  const spread = `| sd of mu | ${t.spread.map((s) => s.toFixed(digits)).join(" | ")} |`;
  const follows = `| follows | ${t.follows.map((f) => f.name).join(" | ")} |`;
  return [head, rule, ...rows, spread, follows].join("\n");
}

/**
 * The table for a dataset's test split (e.g. `shapes`) from the encoder's means of its first
 * images, as the train CLI keeps them (`latentStats(..., keepMu)` gives `muRows`, [k, Z] for
 * the first k test images): the first k rows of `factors.test` are matched to them.
 */
export function testSplitFactorTable(
  factors: DatasetFactors,
  muRows: ArrayLike<number>,
  z: number,
  threshold = 0.2,
): FactorLatentTable {
  const F = factors.names.length, k = muRows.length / z;
  if (!Number.isInteger(k) || k * F > factors.test.length) {
    throw new Error(`factors: ${muRows.length} mu values are not rows of ${z} for test images`);
  }
  return factorLatentTable(
    factors.test.subarray(0, k * F),
    factors.names,
    factors.kinds,
    muRows,
    z,
    threshold,
  );
}
