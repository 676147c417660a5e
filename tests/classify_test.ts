/**
 * The nearest-class-mean classifier: class means of constructed data equal the centres they
 * were built around (bytes and floats, an odd feature count), samples near a centre are given
 * its class, the agreement counts of a batch with known wrong rows are exact, and on the
 * embedded Fashion-MNIST subset (train means, test images) the accuracy is printed and is far
 * above chance: the ceiling a conditional VAE's samples are compared against.
 */
import assert from "node:assert/strict";
import { agreement, classMeans, nearestClass } from "../src/eval/classify.ts";
import { loadDataset } from "../src/data/datasets.ts";
import { mulberry32 } from "../src/train/random.ts";

const K = 5, F = 13;

/** K random centres in [0.2, 0.8]^F, and n images per class: centre +- d in pairs. */
function pairs(next: () => number, perClass: number) {
  const centres = Float32Array.from({ length: K * F }, () => 0.2 + 0.6 * next());
  const images = new Float32Array(K * perClass * F);
  const labels = new Uint8Array(K * perClass);
  let i = 0;
  for (let c = 0; c < K; c++) {
    for (let j = 0; j < perClass; j += 2, i += 2) {
      for (let f = 0; f < F; f++) {
        const d = 0.15 * (next() - 0.5);
        images[i * F + f] = centres[c * F + f] + d;
        images[(i + 1) * F + f] = centres[c * F + f] - d;
      }
      labels[i] = labels[i + 1] = c;
    }
  }
  // Shuffle rows so classes are interleaved.
  for (let a = labels.length - 1; a > 0; a--) {
    const b = Math.floor(next() * (a + 1));
    [labels[a], labels[b]] = [labels[b], labels[a]];
    const row = images.slice(a * F, (a + 1) * F);
    images.copyWithin(a * F, b * F, (b + 1) * F);
    images.set(row, b * F);
  }
  return { centres, images, labels };
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

Deno.test("classify: class means are the centres the data was built around", () => {
  const next = mulberry32(3);
  const { centres, images, labels } = pairs(next, 8);
  const means = classMeans(images, labels, K, F);
  assert.equal(means.length, K * F);
  const err = maxDiff(means, centres);
  console.log(`  float means: max error ${err.toExponential(2)}`);
  assert.ok(err < 1e-6, `${err}`);
  // Bytes: v - d and v + d per pair; the mean is v / 255 with the default scale.
  const v = Uint8Array.from({ length: K * F }, () => 40 + Math.floor(170 * next()));
  const bytes = new Uint8Array(K * 6 * F), blabels = new Uint8Array(K * 6);
  for (let i = 0; i < K * 6; i++) {
    const c = (i * 3) % K; // every class, interleaved
    blabels[i] = c;
    for (let f = 0; f < F; f++) bytes[i * F + f] = v[c * F + f] + (i % 2 ? 30 : -30);
  }
  const expected = Float32Array.from(v, (x) => x / 255);
  const bm = classMeans(bytes, blabels, K, F);
  assert.ok(maxDiff(bm, expected) < 1e-6, `byte means: ${maxDiff(bm, expected)}`);
  const raw = classMeans(bytes, blabels, K, F, 1);
  assert.ok(maxDiff(raw, v) < 1e-4);
  // A class with no images has NaN means and is never the nearest.
  const none = classMeans(images, labels, K + 1, F);
  assert.ok(none.subarray(K * F).every(Number.isNaN));
  assert.equal(nearestClass(none, K + 1, none.subarray(0, F)), 0);
  assert.throws(() => classMeans(images, labels, K - 1, F), /label 4 >= 4/);
  assert.throws(() => classMeans(images.subarray(1), labels, K, F), /values for/);
});

Deno.test("classify: samples near a class mean are given that class; agreement counts", () => {
  const next = mulberry32(11);
  const { centres } = pairs(next, 2);
  // Half the smallest distance between two centres bounds the noise that keeps the answer.
  let minDist = Infinity;
  for (let a = 0; a < K; a++) {
    for (let b = a + 1; b < K; b++) {
      let d = 0;
      for (let f = 0; f < F; f++) d += (centres[a * F + f] - centres[b * F + f]) ** 2;
      minDist = Math.min(minDist, Math.sqrt(d));
    }
  }
  const radius = 0.45 * minDist / Math.sqrt(F); // per feature, so the norm is < 0.45 minDist
  const n = 41;
  const asked = Uint8Array.from({ length: n }, (_, i) => i % K);
  // Rows 3, 10, 17, ... are drawn near the next class instead: the classifier disagrees.
  const drawn = Uint8Array.from(asked, (c, i) => (i % 7 === 3 ? (c + 1) % K : c));
  const samples = new Float32Array(n * F);
  for (let i = 0; i < n; i++) {
    for (let f = 0; f < F; f++) {
      samples[i * F + f] = centres[drawn[i] * F + f] + radius * (2 * next() - 1);
    }
  }
  for (let i = 0; i < n; i++) {
    assert.equal(nearestClass(centres, K, samples.subarray(i * F, (i + 1) * F)), drawn[i]);
  }
  const r = agreement(centres, K, samples, asked);
  const wrong = [...asked.keys()].filter((i) => i % 7 === 3);
  assert.equal(r.fraction, (n - wrong.length) / n);
  for (let c = 0; c < K; c++) {
    const mine = [...asked.keys()].filter((i) => asked[i] === c);
    const bad = mine.filter((i) => i % 7 === 3).length;
    assert.equal(r.perClass[c], (mine.length - bad) / mine.length);
    for (let p = 0; p < K; p++) {
      const want = p === c ? mine.length - bad : p === (c + 1) % K ? bad : 0;
      assert.equal(r.confusion[c][p], want, `confusion[${c}][${p}]`);
    }
  }
  console.log(`  agreement ${r.fraction.toFixed(4)} (${wrong.length} of ${n} drawn elsewhere)`);
  // Equal distances: the lower index wins.
  const two = Float32Array.from([0, 0, 0, 2, 2, 2]);
  assert.equal(nearestClass(two, 2, Float32Array.from([1, 1, 1])), 0);
  // No samples asked for a class: NaN there, not 0.
  const one = agreement(centres, K, samples.subarray(0, F), [0]);
  assert.deepEqual([one.fraction, one.perClass[0]], [1, 1]);
  assert.ok(Number.isNaN(one.perClass[1]));
  assert.throws(() => agreement(centres, K, samples.subarray(0, F), [K]), /not in \[0, 5\)/);
  assert.throws(() => nearestClass(centres, K, samples.subarray(0, F - 1)), /sample of 12/);
});

Deno.test("classify: on embedded Fashion-MNIST, train means classify test images", async () => {
  const t0 = performance.now();
  const d = await loadDataset("embedded");
  const means = classMeans(d.train.images, d.train.labels!, d.classes, d.features);
  const test = Float32Array.from(d.test.images, (v) => v / 255);
  const r = agreement(means, d.classes, test, d.test.labels!);
  console.log(
    `  nearest-class-mean accuracy on ${d.test.count} test images (means of ` +
      `${d.train.count} train images): ${(100 * r.fraction).toFixed(2)}% (chance 10%); ` +
      `per class ${r.perClass.map((p) => (100 * p).toFixed(0)).join(" ")}; ` +
      `${(performance.now() - t0).toFixed(0)} ms`,
  );
  assert.ok(r.fraction > 0.5, `accuracy ${r.fraction}`);
  // Counts add up: every test image is in one row of the confusion matrix.
  assert.equal(r.confusion.flat().reduce((a, b) => a + b, 0), d.test.count);
});
