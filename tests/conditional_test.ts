/**
 * The streamline checks of src/eval/conditional.ts that need no GPU: the distance to the
 * nearest real streamline (either orientation) and the prior-sample nearness on straight
 * lines with known offsets, the per-bundle samples figure (one colour per bundle, whole
 * names, millimetres) and the asked-length figure's labels.
 */

import assert from "node:assert/strict";
import { streamlineDataset } from "../src/data/streamline_dataset.ts";
import { reversed } from "../src/data/streamlines.ts";
import {
  askedLengthSvg,
  bundleSamplesSvg,
  nearestDistance,
  priorNearness,
  regressionScores,
} from "../src/eval/conditional.ts";
import { parseSvg } from "./_images.ts";

/** A straight streamline of `p` points along x from x0, at height y. */
function line(p: number, x0: number, y: number, len = 40): Float32Array {
  return Float32Array.from({ length: 3 * p }, (_, i) => {
    const q = Math.floor(i / 3), c = i % 3;
    return c === 0 ? x0 + (len * q) / (p - 1) : c === 1 ? y : 0;
  });
}

Deno.test("conditional: nearestDistance takes the nearest reference, either way round", () => {
  const refs = [line(9, 0, 0), line(9, 0, 5), line(9, 0, 11)];
  assert.ok(Math.abs(nearestDistance(line(9, 0, 4), refs) - 1) < 1e-6);
  assert.ok(Math.abs(nearestDistance(reversed(line(9, 0, 12.5)), refs) - 1.5) < 1e-6);
  // Shifted 3 mm along its own axis: every point moves 3 mm.
  assert.ok(Math.abs(nearestDistance(line(9, 3, 0), refs) - 3) < 1e-6);
});

Deno.test("conditional: priorNearness: held-out lines at 0.5 mm, samples at 4 mm, in mm", () => {
  // Two bundles of parallel lines 2 mm apart; the dataset resamples them to 17 points.
  const a = Array.from({ length: 30 }, (_, k) => line(7, 0, 2 * k));
  const b = Array.from({ length: 30 }, (_, k) => line(5, 100, 2 * k, 60));
  const data = streamlineDataset(
    "lines",
    [{ name: "a", streamlines: a }, {
      name: "b",
      streamlines: b,
    }],
    17,
    4,
  );
  const near = [line(17, 0, 0.5), line(17, 0, 10.5), reversed(line(17, 100, 20.5, 60))];
  const far = [line(17, 0, 200), line(17, 100, -4, 60), line(17, 0, 64)];
  const p = priorNearness(far, near, data);
  assert.equal(p.reference, data.train.count);
  // Held out: 0.5 mm from a training line (or 1.5 when that one went to the test split).
  assert.ok(p.heldOutMm >= 0.5 - 1e-5 && p.heldOutMm <= 1.5 + 1e-5, `held out ${p.heldOutMm}`);
  // Samples: 4 mm below bundle b (y = -4), 6 mm past a (y = 64, lines up to 58), 142 mm.
  assert.ok(Math.abs(p.samplesMm - 6) < 2 + 1e-5, `samples ${p.samplesMm}`);
  const small = priorNearness(far, near, data, 5);
  assert.equal(small.reference, 5);
});

Deno.test("conditional: per-bundle samples and asked-length figures: labels, colours, mm", () => {
  const a = Array.from({ length: 10 }, (_, k) => line(7, 0, k));
  const b = Array.from({ length: 10 }, (_, k) => line(5, 50, k, 30));
  const data = streamlineDataset(
    "lines",
    [{ name: "sub_1/CC_ForcepsMajor", streamlines: a }, {
      name: "sub_1/AF_L",
      streamlines: b,
    }],
    9,
    1,
  );
  // Two samples per bundle: the first training rows, in normalized units.
  const F = data.features;
  const samples = data.train.images.slice(0, 4 * F) as Float32Array;
  const svg = bundleSamplesSvg(samples, 2, data.streamlines!.bundles, data);
  parseSvg("bundles", svg);
  assert.match(svg, />asked sub_1\/CC_ForcepsMajor \(2\)</);
  assert.match(svg, />asked sub_1\/AF_L \(2\)</);
  assert.match(svg, />2 samples asked for each bundle</);
  assert.equal((svg.match(/<polyline /g) ?? []).length, 2 * 4);
  const lengths = askedLengthSvg(
    [line(9, 0, 0, 23), line(9, 0, 3, 41)],
    [23, 40.6],
    "samples asked for 23 mm, 41 mm",
  );
  parseSvg("lengths", lengths);
  assert.match(lengths, />asked 23 mm, got 23 mm \(1\)</);
  assert.match(lengths, />asked 41 mm, got 41 mm \(1\)</);
  assert.match(lengths, />samples asked for 23 mm, 41 mm</);
  assert.ok(!lengths.includes("interpolation"));
});

Deno.test("regressionScores: MSE and R^2 against hand values; R^2 of the mean is 0", () => {
  const truth = [10, 20, 30, 40];
  const exact = regressionScores(truth, truth);
  assert.deepEqual(exact, { mse: 0, r2: 1, count: 4 });
  // Errors 1, -1, 2, 0: SS_res 6, SS_tot 500 (mean 25).
  const s = regressionScores(truth, [11, 19, 32, 40]);
  assert.equal(s.mse, 6 / 4);
  assert.ok(Math.abs(s.r2 - (1 - 6 / 500)) < 1e-15);
  assert.ok(Math.abs(regressionScores(truth, [25, 25, 25, 25]).r2) < 1e-15);
  assert.ok(regressionScores(truth, [40, 30, 20, 10]).r2 < 0, "worse than the mean");
  assert.throws(() => regressionScores(truth, [1, 2]), RangeError);
});
