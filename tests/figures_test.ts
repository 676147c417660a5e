/**
 * Figures: every PNG decodes to its stated size with each cell the decoder's image of the
 * right code; every SVG parses and shows what it claims (points, legend, cells, the ramp).
 */
import assert from "node:assert/strict";
import {
  batchedDecode,
  type Decode,
  interpolationFigure,
  klHeatmapFigure,
  klWeightFigure,
  linspace,
  manifoldFigure,
  rangeFigure,
  scatterDims,
  scatterFigure,
  traversalFigure,
} from "../src/eval/figures.ts";
import { type KlSchedule, klWeight } from "../src/train/schedule.ts";
import { Rng } from "./_helpers.ts";
import { assertPng, type DecodedPng, elements, parseSvg } from "./_images.ts";

const R = 5, C = 4;
const shape = { rows: R, cols: C };

/**
 * A stand-in decoder, smooth in z: pixel (r, c) = sigmoid(sum_j z_j w_j(r, c)), z_0 a left to
 * right gradient, z_1 bottom to top, further dimensions a fixed pattern each.
 */
function fakeImage(code: ArrayLike<number>): Float64Array {
  const out = new Float64Array(R * C);
  for (let r = 0; r < R; r++) {
    for (let c = 0; c < C; c++) {
      let s = 0;
      for (let j = 0; j < code.length; j++) {
        const w = j === 0
          ? (c - (C - 1) / 2)
          : j === 1
          ? ((R - 1) / 2 - r)
          : Math.sin(j * (r * C + c + 1));
        s += code[j] * w;
      }
      out[r * C + c] = 1 / (1 + Math.exp(-s));
    }
  }
  return out;
}

function fakeDecoder(z: number, calls: number[] = []): Decode {
  return (codes, n) => {
    assert.equal(codes.length, n * z, "decode gets [n, Z]");
    calls.push(n);
    const out = new Float32Array(n * R * C);
    for (let i = 0; i < n; i++) out.set(fakeImage(codes.subarray(i * z, (i + 1) * z)), i * R * C);
    return Promise.resolve(out);
  };
}

/** Cell k of a grid `gridCols` wide with `pad`-pixel borders, as bytes. */
function cell(img: DecodedPng, gridCols: number, k: number, pad = 1): number[] {
  const ox = pad + (k % gridCols) * (C + pad), oy = pad + Math.floor(k / gridCols) * (R + pad);
  const out: number[] = [];
  for (let r = 0; r < R; r++) {
    for (let c = 0; c < C; c++) out.push(img.pixels[(oy + r) * img.width + ox + c]);
  }
  return out;
}

/** Assert a cell shows the fake decoder's image of `code` (8-bit rounding of f32 values). */
function assertCell(label: string, got: number[], code: ArrayLike<number>): void {
  const want = fakeImage(Float32Array.from(code));
  got.forEach((v, i) => {
    assert.ok(Math.abs(v - 255 * want[i]) <= 0.5 + 1e-3, `${label}: pixel ${i} ${v} vs ${want[i]}`);
  });
}

Deno.test("figures: the 2-D manifold tiles decoded grid points, z1 rightwards, z2 upwards", async () => {
  const calls: number[] = [];
  const steps = 20;
  const f = await manifoldFigure(fakeDecoder(2, calls), shape, { steps });
  assert.deepEqual(calls, [400], "one decode of the 20 x 20 grid");
  const img = assertPng("manifold", f.png, { width: steps * C, height: steps * R });
  assert.deepEqual([f.width, f.height], [steps * C, steps * R]);
  const g = linspace(-3, 3, steps);
  for (const [r, c] of [[0, 0], [0, 19], [19, 0], [7, 12], [19, 19]]) {
    assertCell(`cell ${r},${c}`, cell(img, steps, r * steps + c, 0), [g[c], g[steps - 1 - r]]);
  }
  // Neighbouring cells differ far less than opposite corners: a smooth picture.
  const diff = (a: number[], b: number[]) => a.reduce((s, v, i) => s + Math.abs(v - b[i]), 0);
  const k = (r: number, c: number) => cell(img, steps, r * steps + c, 0);
  assert.ok(diff(k(9, 9), k(9, 10)) * 5 < diff(k(0, 0), k(19, 19)));
  const wrong: Decode = (_z, n) => Promise.resolve(new Float32Array(n * R * C - 1));
  await assert.rejects(
    manifoldFigure(wrong, shape),
    /decode returned 7999 values for 400 images of 5x4/,
  );
});

Deno.test("figures: the scatter shows the two highest-variance dimensions, by label", () => {
  const rng = new Rng(4);
  const n = 300, z = 5;
  const spread = [0.1, 2, 0.5, 3, 0.2];
  const mu = new Float32Array(n * z).map((_, i) => spread[i % z] * (2 * rng.next() - 1));
  const labels = Uint8Array.from({ length: n }, (_, i) => i % 3);
  assert.deepEqual(scatterDims(mu, n, z), [1, 3]);
  assert.deepEqual(scatterDims(mu, n, 2), [0, 1]);
  assert.deepEqual(scatterDims(mu, n, 1), [0, 0]);
  const names = ["T-shirt/top", "Trouser", "Pullover"];
  const doc = parseSvg("scatter", scatterFigure(mu, z, labels, names));
  const texts = elements(doc, "text").map((t) => t.textContent);
  for (const want of ["mu[1]", "mu[3]", "T-shirt/top (100)", "Trouser (100)", "Pullover (100)"]) {
    assert.ok(texts.includes(want), `${want} in ${texts}`);
  }
  // n points plus one legend dot per class.
  assert.equal(elements(doc, "circle").length, n + 3);
  const few = parseSvg("scatter", scatterFigure(mu, z, labels, names, { maxPoints: 10 }));
  assert.equal(elements(few, "circle").length, 10 + 3);
});

Deno.test("figures: an interpolation decodes points on the line between two codes", async () => {
  const z = 3, steps = 10;
  const a = [-2, 1, 0.5], b = [2, -1, -0.5];
  const endA = Float32Array.from({ length: R * C }, (_, i) => i / (R * C));
  const endB = Float32Array.from({ length: R * C }, (_, i) => 1 - i / (R * C));
  const f = await interpolationFigure(fakeDecoder(z), shape, a, b, {
    steps,
    ends: [endA, endB],
  });
  const cols = steps + 2;
  const img = assertPng("interpolation", f.png, { width: cols * (C + 1) + 1, height: R + 2 });
  assert.deepEqual(cell(img, cols, 0), [...endA].map((v) => Math.round(255 * v)));
  assert.deepEqual(cell(img, cols, cols - 1), [...endB].map((v) => Math.round(255 * v)));
  for (const i of [0, 4, 9]) {
    const t = i / (steps - 1);
    assertCell(`step ${i}`, cell(img, cols, i + 1), a.map((v, j) => (1 - t) * v + t * b[j]));
  }
  const bare = await interpolationFigure(fakeDecoder(z), shape, a, b, { steps: 4 });
  assertPng("bare interpolation", bare.png, { width: 4 * (C + 1) + 1, height: R + 2 });
  await assert.rejects(
    interpolationFigure(fakeDecoder(z), shape, a, [1, 2]),
    /muA has 3 values, muB 2/,
  );
});

Deno.test("figures: traversals vary one dimension per row around the base code", async () => {
  const z = 4, steps = 9;
  const base = [0.3, -0.2, 1.1, -0.7];
  const calls: number[] = [];
  const f = await traversalFigure(fakeDecoder(z, calls), shape, base, { steps });
  assert.deepEqual(calls, [z * steps]);
  const img = assertPng("traversals", f.png, {
    width: steps * (C + 1) + 1,
    height: z * (R + 1) + 1,
  });
  const values = linspace(-3, 3, steps);
  for (const [d, s] of [[0, 0], [1, 4], [2, 8], [3, 2]]) {
    const code = [...base];
    code[d] = values[s];
    assertCell(`dim ${d} step ${s}`, cell(img, steps, d * steps + s), code);
  }
  const capped = await traversalFigure(fakeDecoder(z), shape, base, { steps: 3, maxDims: 2 });
  assertPng("capped", capped.png, { width: 3 * (C + 1) + 1, height: 2 * (R + 1) + 1 });
  // Chosen dimensions, in the order given: row 0 moves z_3, row 1 moves z_1.
  const chosen = await traversalFigure(fakeDecoder(z), shape, base, { steps, dims: [3, 1] });
  const picked = assertPng("chosen", chosen.png, {
    width: steps * (C + 1) + 1,
    height: 2 * (R + 1) + 1,
  });
  for (const [row, d, s] of [[0, 3, 1], [1, 1, 7]]) {
    const code = [...base];
    code[d] = values[s];
    assertCell(`row ${row} (dim ${d}) step ${s}`, cell(picked, steps, row * steps + s), code);
  }
  await assert.rejects(
    () => traversalFigure(fakeDecoder(z), shape, base, { dims: [1, 4] }),
    /^Error: traversals: dimensions \[1,4\] are not a list within 0\.\.3$/,
  );
});

Deno.test("figures: mu/sigma ranges, the KL heat map and the KL weight parse and hold data", () => {
  const epochs = [1, 2, 3, 4];
  const mu = epochs.map((e) => ({ min: -e, mean: 0.1 * e, max: e }));
  const sigma = epochs.map((e) => ({ min: 0.1 / e, mean: 0.5 / e, max: 1 }));
  const ranges = parseSvg("ranges", rangeFigure(epochs, mu, sigma));
  assert.equal(elements(ranges, "path").length, 6);
  const legend = elements(ranges, "text").map((t) => t.textContent);
  for (const s of ["mu min", "mu mean", "mu max", "sigma min", "sigma mean", "sigma max"]) {
    assert.ok(legend.includes(s), s);
  }

  const z = 6;
  const kl = epochs.map((e) => Array.from({ length: z }, (_, d) => d < 2 ? 0 : d * e * 0.3));
  const heat = parseSvg("heat", klHeatmapFigure(epochs, kl));
  const cells = elements(heat, "rect").filter((r) => elements(r, "title").length);
  assert.equal(cells.length, z * epochs.length);
  // Collapsed dimensions 0 and 1 are at the bottom of the scale, the largest KL at the top.
  assert.equal(cells[0].getAttribute("fill"), "#440154");
  assert.equal(cells[z * epochs.length - 1].getAttribute("fill"), "#fde725");

  const s: KlSchedule = { kind: "linear", beta: 1, start: 10, length: 50 };
  const total = 200;
  const perEpoch = {
    step: [49, 99, 149, 199],
    weight: [49, 99, 149, 199].map((t) => klWeight(s, t)),
  };
  const doc = parseSvg("kl weight", klWeightFigure(s, total, perEpoch));
  const paths = elements(doc, "path");
  assert.equal(paths.length, 2);
  // The ramp's corners are points of the schedule's curve: flat, rising, flat.
  const pts = [...paths[0].getAttribute("d")!.matchAll(/[ML]([\d.]+),([\d.]+)/g)].map((m) => [
    +m[1],
    +m[2],
  ]);
  const ys = [...new Set(pts.map((p) => p[1]))];
  assert.ok(ys.length > 10, "the ramp has intermediate values");
  assert.equal(Math.max(...ys), pts[0][1], "starts at 0 (the bottom)");
  assert.equal(Math.min(...ys), pts.at(-1)![1], "ends at the cap (the top)");
  const dots = elements(doc, "circle");
  assert.equal(dots.length, 4, "one marker per epoch");
  const cyc: KlSchedule = { kind: "cyclical", beta: 0.5, cycles: 4, ratio: 0.5, totalSteps: total };
  const cdoc = parseSvg("cyclical", klWeightFigure(cyc, total));
  const d = elements(cdoc, "path")[0].getAttribute("d")!;
  const cy = [...d.matchAll(/[ML][\d.]+,([\d.]+)/g)].map((m) => +m[1]);
  const bottom = Math.max(...cy);
  assert.equal(cy.filter((v) => v === bottom).length, 4, "the weight returns to 0 four times");
});

Deno.test("figures: batchedDecode splits n codes into fixed batches, padding the last", async () => {
  const z = 3, batch = 4, n = 10;
  const seen: number[] = [];
  const direct = fakeDecoder(z);
  const run = async (codes: Float32Array) => {
    assert.equal(codes.length, batch * z);
    seen.push(codes.length);
    return await direct(codes, batch);
  };
  const codes = new Rng(2).uniform(n * z);
  const got = await batchedDecode(batch, z, R * C, run)(Float32Array.from(codes), n);
  assert.deepEqual(seen, [12, 12, 12]);
  assert.deepEqual(got, await direct(Float32Array.from(codes), n));
});

Deno.test("figures: NaN and Inf codes, images and records never crash a figure (issue 18)", async () => {
  // A decoder gone non-finite, codes of a diverged encoder, records of a diverged run.
  const bad: Decode = (_codes, n) => {
    const out = new Float32Array(n * R * C);
    out.forEach((_, i) => out[i] = [NaN, Infinity, -Infinity, 0.5][i % 4]);
    return Promise.resolve(out);
  };
  const figures = [
    await manifoldFigure(bad, shape, { steps: 3 }),
    await interpolationFigure(bad, shape, [NaN, 1], [Infinity, 2], { steps: 3 }),
    await traversalFigure(bad, shape, [NaN, -Infinity, 1e38], { steps: 3 }),
  ];
  for (const f of figures) {
    assertPng("non-finite figure", f.png, { width: f.width, height: f.height }, 2);
  }
  const range = { min: NaN, mean: Infinity, max: 1.7e13 };
  const svgs = [
    rangeFigure([1, 2], [range, range], [range, { min: 0, mean: 1, max: -Infinity }]),
    klHeatmapFigure([1, 2], [[NaN, Infinity], [1e300, -1]]),
    scatterFigure([NaN, 1, Infinity, 2, 3, NaN], 3, [0, 1], ["a", "b"]),
    klWeightFigure({ kind: "constant", beta: 1 }, 4, {
      step: [0, 3],
      weight: [NaN, Infinity],
    }),
  ];
  for (const [i, svg] of svgs.entries()) {
    parseSvg(`figure ${i}`, svg);
    assert.ok(!/="[^"]*NaN/.test(svg), `figure ${i}: NaN in an attribute`);
  }
});
