/**
 * factorLatentTable on synthetic data with a known answer: latent dimensions built as exact
 * functions of the factors (r = +-1, eta = 1), one at an exactly prescribed correlation (built
 * from orthonormal centred vectors, so r = cos(theta) exactly), one pure noise, one constant.
 */
import assert from "node:assert/strict";
import {
  factorLatentTable,
  factorTableMarkdown,
  testSplitFactorTable,
} from "../src/eval/factors.ts";
import { loadShapesDataset } from "../src/data/shapes.ts";
import { mulberry32, standardNormal } from "../src/io/random.ts";

/** Centred, unit-length copy of v, made orthogonal to each of `against` (also centred, unit). */
function orthonormal(v: Float64Array, against: Float64Array[]): Float64Array {
  const n = v.length;
  const out = Float64Array.from(v);
  const mean = out.reduce((s, x) => s + x, 0) / n;
  for (let i = 0; i < n; i++) out[i] -= mean;
  for (const a of against) {
    const d = out.reduce((s, x, i) => s + x * a[i], 0);
    for (let i = 0; i < n; i++) out[i] -= d * a[i];
  }
  const norm = Math.sqrt(out.reduce((s, x) => s + x * x, 0));
  for (let i = 0; i < n; i++) out[i] /= norm;
  return out;
}

Deno.test("factorLatentTable: a synthetic encoder with a known answer", () => {
  const N = 1237, next = mulberry32(5);
  const uniform = (lo: number, hi: number) =>
    Float64Array.from({ length: N }, () => lo + (hi - lo) * next());
  const normal = () => Float64Array.from({ length: N }, () => standardNormal(next));
  const names = ["shape", "scale", "x", "y"];
  const kinds = ["categorical", "continuous", "continuous", "continuous"] as const;
  const factors = new Float64Array(N * 4);
  const shape = new Float64Array(N), scale = uniform(0.5, 1);
  const x = uniform(0, 1), y = uniform(0, 1);
  for (let i = 0; i < N; i++) {
    shape[i] = Math.floor(next() * 3);
    factors.set([shape[i], scale[i], x[i], y[i]], i * 4);
  }
  // an exact correlation of cos(theta) = 0.6 with scale: mu = 0.6 s + 0.8 e, e orthogonal to s
  const s = orthonormal(scale, []);
  const e = orthonormal(normal(), [s]);
  const Z = 6;
  const mu = new Float64Array(N * Z);
  const noise = normal();
  const offsets = [-1.5, 2, 0.25]; // per shape category
  for (let i = 0; i < N; i++) {
    mu[i * Z + 0] = 3 * x[i] - 1; // follows x, r = 1
    mu[i * Z + 1] = -0.5 * y[i] + 7; // follows y, r = -1
    mu[i * Z + 2] = offsets[shape[i]]; // a function of shape alone: eta = 1
    mu[i * Z + 3] = 30 * (0.6 * s[i] + 0.8 * e[i]) + 4; // r with scale exactly 0.6
    mu[i * Z + 4] = noise[i]; // follows nothing
    mu[i * Z + 5] = 0.25; // constant: all entries 0
  }
  const t = factorLatentTable(factors, names, [...kinds], mu, Z);
  assert.deepEqual(t.measures, ["eta", "r", "r", "r"]);
  const close = (a: number, b: number, tol = 1e-12) =>
    assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);
  close(t.table[2][0], 1);
  close(t.table[3][1], -1);
  close(t.table[0][2], 1);
  close(t.table[1][3], 0.6);
  assert.deepEqual(t.follows.map((f) => f.name), ["x", "y", "shape", "scale", "none", "none"]);
  // an inactive dimension (variance of mu <= 0.01) follows nothing, whatever its correlations
  const quiet = Float64Array.from(mu, (v, k) => (k % Z === 0 ? 0.01 * v : v));
  const tq = factorLatentTable(factors, names, [...kinds], quiet, Z);
  close(tq.table[2][0], 1);
  assert.equal(tq.follows[0].name, "none");
  assert.equal(t.follows[4].factor, -1);
  close(t.follows[1].score, -1);
  // noise: every |entry| within 4 standard errors of 0 (1 / sqrt(N) for r; eta of 3 groups
  // of noise is about sqrt(2 / N))
  for (let f = 0; f < 4; f++) assert.ok(Math.abs(t.table[f][4]) < 4 * Math.sqrt(2 / N));
  for (let f = 0; f < 4; f++) assert.equal(t.table[f][5], 0);
  close(t.spread[5], 0);
  close(
    t.spread[0],
    3 * Math.sqrt(x.reduce((a, v) => a + v * v, 0) / N - (x.reduce((a, v) => a + v, 0) / N) ** 2),
    1e-9,
  );
  // eta does not depend on how categories are numbered
  const renumbered = Float64Array.from(factors, (v, k) => (k % 4 === 0 ? [7, 1, 4][v] : v));
  const t2 = factorLatentTable(renumbered, names, [...kinds], mu, Z);
  for (let j = 0; j < Z; j++) close(t2.table[0][j], t.table[0][j]);
  const md = factorTableMarkdown(t);
  assert.match(md, /\| x \(r\) \| \*\*1\.00\*\* \|/);
  assert.match(md, /\| follows \| x \| y \| shape \| scale \|/);
  console.log(md);
});

Deno.test("factorLatentTable: shapes that do not fit are one-line errors", () => {
  assert.throws(
    () => factorLatentTable([1, 2, 3], ["a", "b"], ["continuous", "continuous"], [], 1),
    /not N >= 2 rows/,
  );
  assert.throws(
    () => factorLatentTable([1, 2, 3, 4], ["a", "b"], ["continuous", "continuous"], [1, 2, 3], 2),
    /3 mu values for 2 x 2/,
  );
  assert.throws(() => factorLatentTable([1, 2], ["a"], [], [1, 2], 1), /0 kinds for 1 names/);
});

Deno.test("testSplitFactorTable: the first k test images' factors against k rows of mu", () => {
  const d = loadShapesDataset("shapes:400:3:16x16");
  const f = d.factors!, F = f.names.length, k = 25, Z = 2;
  // mu_0 = x, mu_1 = rotation of the same first k test images
  const mu = new Float32Array(k * Z);
  for (let i = 0; i < k; i++) {
    mu[i * Z] = f.test[i * F + 3];
    mu[i * Z + 1] = f.test[i * F + 2];
  }
  const t = testSplitFactorTable(f, mu, Z);
  assert.deepEqual(t.follows.map((x) => x.name), ["x", "rotation"]);
  assert.ok(Math.abs(t.table[3][0] - 1) < 1e-6);
  assert.throws(() => testSplitFactorTable(f, new Float32Array(41 * Z), Z), /not rows of 2/);
});
