/**
 * The nearest-class-mean classifiers: class means of constructed data equal the centres they
 * were built around (bytes and floats, an odd feature count); the pooled within-class
 * covariance equals a two-pass float64 reference on ragged class sizes; the pooled classifier's
 * scores equal explicit Mahalanobis distances through an explicitly inverted matrix; on data
 * stretched along one axis it separates classes that the Euclidean one confuses; samples near
 * a centre are given its class; agreement counts of a batch with known wrong rows are exact;
 * the class check scores real test images in the samples' units (bytes / 255, floats as they
 * are); and on the embedded Fashion-MNIST subset (fitted on train, scored on test) both
 * accuracies are printed and far above chance: what a conditional VAE's samples are compared
 * against.
 */
import assert from "node:assert/strict";
import {
  agreement,
  classCheckLine,
  classMeans,
  fitNearestMean,
  nearestClass,
  pooledCovariance,
} from "../src/eval/classify.ts";
import { loadDataset } from "../src/data/datasets.ts";
import { fitClassCheckers } from "../src/eval/conditional.ts";
import { mulberry32 } from "../src/io/random.ts";

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

/** Two-pass float64 pooled covariance: means first, then centred products. */
function referenceCovariance(
  images: ArrayLike<number>,
  labels: Uint8Array,
  classes: number,
  scale: number,
) {
  const n = labels.length,
    means = new Float64Array(classes * F),
    counts = new Float64Array(classes);
  for (let i = 0; i < n; i++) {
    counts[labels[i]]++;
    for (let f = 0; f < F; f++) means[labels[i] * F + f] += images[i * F + f] * scale;
  }
  for (let c = 0; c < classes; c++) for (let f = 0; f < F; f++) means[c * F + f] /= counts[c];
  const S = new Float64Array(F * F);
  for (let i = 0; i < n; i++) {
    const d = Array.from(
      { length: F },
      (_, f) => images[i * F + f] * scale - means[labels[i] * F + f],
    );
    for (let a = 0; a < F; a++) for (let b = 0; b < F; b++) S[a * F + b] += (d[a] * d[b]) / n;
  }
  return S;
}

/** Inverse of a small dense matrix by Gauss-Jordan elimination with partial pivoting. */
function invert(M: Float64Array, n: number): Float64Array {
  const a = Array.from({ length: n }, (_, i) => [
    ...M.subarray(i * n, (i + 1) * n),
    ...Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)),
  ]);
  for (let col = 0; col < n; col++) {
    let p = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(a[r][col]) > Math.abs(a[p][col])) p = r;
    [a[col], a[p]] = [a[p], a[col]];
    const pivot = a[col][col];
    for (let j = 0; j < 2 * n; j++) a[col][j] /= pivot;
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const k = a[r][col];
      for (let j = 0; j < 2 * n; j++) a[r][j] -= k * a[col][j];
    }
  }
  return Float64Array.from(a.flatMap((row) => row.slice(n)));
}

/** Random bytes with unequal class sizes (class 2 the largest), labels shuffled. */
function randomBytes(next: () => number, n: number, classes: number) {
  const labels = Uint8Array.from({ length: n }, (_, i) => (i < n / 3 ? 2 : i % classes));
  for (let a = n - 1; a > 0; a--) {
    const b = Math.floor(next() * (a + 1));
    [labels[a], labels[b]] = [labels[b], labels[a]];
  }
  // Class-dependent brightness, a third of the pixels zero (the zero-skipping path).
  const images = Uint8Array.from({ length: n * F }, (_, i) => {
    const c = labels[Math.floor(i / F)], f = i % F;
    return next() < 0.33 ? 0 : Math.min(255, Math.floor(next() * (60 + 30 * c + 9 * f)));
  });
  return { images, labels };
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
  // A class with no images has NaN means and is never the nearest, under either metric.
  const none = classMeans(images, labels, K + 1, F);
  assert.ok(none.subarray(K * F).every(Number.isNaN));
  for (const metric of ["euclidean", "pooled"] as const) {
    const m = fitNearestMean(images, labels, K + 1, F, { metric });
    assert.equal(m.bias[K], -Infinity);
    assert.ok(m.weights.subarray(K * F).every((w) => w === 0));
    assert.equal(nearestClass(m, none.subarray(0, F)), 0, metric);
  }
  assert.throws(() => classMeans(images, labels, K - 1, F), /label 4 >= 4/);
  assert.throws(() => classMeans(images.subarray(1), labels, K, F), /values for/);
  assert.throws(() => pooledCovariance(images, labels, K - 1, F), /label 4 >= 4/);
});

Deno.test("classify: pooled covariance equals a two-pass float64 reference", () => {
  const next = mulberry32(29);
  for (const n of [1, 7, 301]) {
    const { images, labels } = randomBytes(next, n, K);
    const ref = referenceCovariance(images, labels, K, 1 / 255);
    const got = pooledCovariance(images, labels, K, F);
    const scaleOf = Math.max(...ref.map(Math.abs)) || 1;
    const err = maxDiff(got, ref) / scaleOf;
    // Floats, scale 1 (the same images divided by 255 beforehand).
    const floats = Float32Array.from(images, (x) => x / 255);
    const errF =
      maxDiff(pooledCovariance(floats, labels, K, F), referenceCovariance(floats, labels, K, 1)) /
      scaleOf;
    console.log(
      `  n ${n}: bytes max rel error ${err.toExponential(2)}, floats ${errF.toExponential(2)}`,
    );
    assert.ok(err < 1e-12, `bytes n=${n}: ${err}`);
    assert.ok(errF < 1e-12, `floats n=${n}: ${errF}`);
    for (let a = 0; a < F; a++) {
      for (let b = 0; b < F; b++) assert.equal(got[a * F + b], got[b * F + a]);
    }
  }
  // One image per class: nothing varies within a class.
  const one = randomBytes(next, K, K);
  one.labels.set([0, 1, 2, 3, 4]);
  assert.ok(pooledCovariance(one.images, one.labels, K, F).every((v) => Math.abs(v) < 1e-15));
});

Deno.test("classify: pooled scores are Mahalanobis distances through (S + lambda I)^-1", () => {
  const next = mulberry32(41);
  const { images, labels } = randomBytes(next, 211, K);
  const ridge = 0.03;
  const m = fitNearestMean(images, labels, K, F, { metric: "pooled", ridge });
  const S = referenceCovariance(images, labels, K, 1 / 255);
  let trace = 0;
  for (let f = 0; f < F; f++) trace += S[f * F + f];
  for (let f = 0; f < F; f++) S[f * F + f] += (ridge * trace) / F;
  const A = invert(S, F);
  const means = classMeans(images, labels, K, F);
  let worst = 0, disagree = 0;
  const samples = 300;
  for (let s = 0; s < samples; s++) {
    const x = Float64Array.from({ length: F }, () => next() * 0.8);
    const d = Array.from({ length: K }, (_, c) => {
      let q = 0;
      for (let a = 0; a < F; a++) {
        for (let b = 0; b < F; b++) {
          q += (x[a] - means[c * F + a]) * A[a * F + b] * (x[b] - means[c * F + b]);
        }
      }
      return q;
    });
    let xAx = 0;
    for (let a = 0; a < F; a++) for (let b = 0; b < F; b++) xAx += x[a] * A[a * F + b] * x[b];
    // score_c = -d_c / 2 + x^T A x / 2.
    for (let c = 0; c < K; c++) {
      let score = m.bias[c];
      for (let f = 0; f < F; f++) score += m.weights[c * F + f] * x[f];
      worst = Math.max(worst, Math.abs(score - (xAx - d[c]) / 2) / Math.max(1, xAx));
    }
    const want = d.indexOf(Math.min(...d));
    if (nearestClass(m, x) !== want) disagree++;
  }
  console.log(
    `  ${samples} samples: max score error ${worst.toExponential(2)}, ${disagree} disagree`,
  );
  assert.ok(worst < 1e-9, `${worst}`);
  assert.equal(disagree, 0);
  assert.throws(() => fitNearestMean(images, labels, K, F, { ridge: 0 }), /ridge 0 must be > 0/);
  assert.throws(
    () => fitNearestMean(images, labels, K, F, { metric: "cosine" as "pooled" }),
    /unknown metric "cosine"/,
  );
});

Deno.test("classify: the pooled metric separates classes stretched along one axis", () => {
  // Two classes in 3-D: means 0.1 apart along x, both spread with sd 0.5 along the diagonal
  // (x + y) / sqrt(2) and sd 0.01 elsewhere. Euclidean distance is dominated by the spread; the
  // pooled covariance undoes it.
  const next = mulberry32(5);
  const n = 2000, D = 3;
  const gauss = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  const make = (count: number) => {
    const images = new Float32Array(count * D), labels = new Uint8Array(count);
    for (let i = 0; i < count; i++) {
      const c = i % 2, t = 0.5 * gauss();
      labels[i] = c;
      images[i * D] = 0.1 * c + t / Math.SQRT2 + 0.01 * gauss();
      images[i * D + 1] = t / Math.SQRT2 + 0.01 * gauss();
      images[i * D + 2] = 0.01 * gauss();
    }
    return { images, labels };
  };
  const train = make(n), test = make(1001);
  const acc = (metric: "euclidean" | "pooled") =>
    agreement(
      fitNearestMean(train.images, train.labels, 2, D, { metric, ridge: 1e-4 }),
      test.images,
      test.labels,
    )
      .fraction;
  const [e, p] = [acc("euclidean"), acc("pooled")];
  console.log(`  test accuracy: euclidean ${e.toFixed(3)}, pooled ${p.toFixed(3)}`);
  assert.ok(e < 0.7, `euclidean ${e}`);
  assert.ok(p > 0.98, `pooled ${p}`);
});

Deno.test("classify: samples near a class mean are given that class; agreement counts", () => {
  const next = mulberry32(11);
  const { centres, images, labels } = pairs(next, 2);
  const model = fitNearestMean(images, labels, K, F, { metric: "euclidean" });
  assert.ok(maxDiff(model.means, centres) < 1e-6);
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
    assert.equal(nearestClass(model, samples.subarray(i * F, (i + 1) * F)), drawn[i]);
  }
  const r = agreement(model, samples, asked);
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
  const two = fitNearestMean(
    Float32Array.from([0, 0, 0, 2, 2, 2]),
    Uint8Array.from([0, 1]),
    2,
    3,
    { metric: "euclidean" },
  );
  assert.equal(nearestClass(two, Float32Array.from([1, 1, 1])), 0);
  assert.equal(nearestClass(two, Float32Array.from([1, 1, 1.001])), 1);
  // No samples asked for a class: NaN there, not 0.
  const one = agreement(model, samples.subarray(0, F), [0]);
  assert.deepEqual([one.fraction, one.perClass[0]], [1, 1]);
  assert.ok(Number.isNaN(one.perClass[1]));
  assert.throws(() => agreement(model, samples.subarray(0, F), [K]), /not in \[0, 5\)/);
  assert.throws(() => nearestClass(model, samples.subarray(0, F - 1)), /sample of 12/);
  assert.equal(
    classCheckLine("pooled", 0.8605, 0.815, 200),
    "nearest-class-mean classifier (pooled within-class covariance distance) agrees with the " +
      "asked class on 86.1% of 200 samples (its accuracy on real test images: 81.5%)",
  );
});

Deno.test("classify: on embedded Fashion-MNIST, both classifiers classify test images", async () => {
  const d = await loadDataset("embedded");
  const test = Float32Array.from(d.test.images, (v) => v / 255);
  for (const metric of ["euclidean", "pooled"] as const) {
    const t0 = performance.now();
    const model = fitNearestMean(d.train.images, d.train.labels!, d.classes, d.features, {
      metric,
    });
    const r = agreement(model, test, d.test.labels!);
    console.log(
      `  ${metric}: accuracy on ${d.test.count} test images (fitted on ${d.train.count} train ` +
        `images) ${(100 * r.fraction).toFixed(2)}% (chance 10%); per class ` +
        `${r.perClass.map((p) => (100 * p).toFixed(0)).join(" ")}; ` +
        `${(performance.now() - t0).toFixed(0)} ms`,
    );
    assert.ok(r.fraction > 0.5, `${metric} accuracy ${r.fraction}`);
    // Counts add up: every test image is in one row of the confusion matrix.
    assert.equal(r.confusion.flat().reduce((a, b) => a + b, 0), d.test.count);
  }
});

Deno.test("classify: the class check scores real test images in the samples' units", () => {
  // Float data (streamline coordinates) as they are, bytes divided by 255: a byte dataset and
  // its float copy / 255 must give the same test accuracies, and those must equal agreement()
  // on the scaled test images.
  const next = mulberry32(17);
  const train = randomBytes(next, 151, K), test = randomBytes(next, 67, K);
  const split = (s: { images: Uint8Array | Float32Array; labels: Uint8Array }) => ({
    images: s.images,
    labels: s.labels,
    count: s.labels.length,
  });
  const asFloats = (s: { images: Uint8Array; labels: Uint8Array }) => ({
    images: Float32Array.from(s.images, (v) => v / 255),
    labels: s.labels,
  });
  const base = { name: "t", rows: 1, cols: F, features: F, classes: K };
  const bytes = fitClassCheckers({ ...base, train: split(train), test: split(test) });
  const floats = fitClassCheckers({
    ...base,
    train: split(asFloats(train)),
    test: split(asFloats(test)),
  });
  assert.deepEqual(bytes.map((c) => c.model.metric), ["pooled", "euclidean"]);
  for (let k = 0; k < 2; k++) {
    const want = agreement(bytes[k].model, asFloats(test).images, test.labels).fraction;
    assert.equal(bytes[k].testAccuracy, want);
    assert.equal(floats[k].testAccuracy, want);
    assert.ok(want > 0.2, `${bytes[k].model.metric}: ${want}`);
  }
});
