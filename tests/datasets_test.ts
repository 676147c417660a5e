/**
 * Datasets by spec: the embedded subset, the full Fashion-MNIST (when Debian's package is
 * installed; a loud skip otherwise, a failure under CI=true), the MNIST folder layout with
 * and without .gz, idx: files with their held-out test split, and one-line errors.
 */

import assert from "node:assert/strict";
import { gzipSync } from "fflate";
import {
  type Dataset,
  DatasetError,
  FASHION_MNIST_DIR,
  holdOutCount,
  loadDataset,
} from "../src/data/datasets.ts";
import { encodeIdx, IdxError, type IdxType } from "../src/data/idx.ts";

const CI = Deno.env.get("CI") === "true";

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

const haveFashion = await exists(`${FASHION_MNIST_DIR}/train-images-idx3-ubyte.gz`);
if (!haveFashion && !CI) {
  console.warn(
    `\n!!! SKIPPING the full Fashion-MNIST test: ${FASHION_MNIST_DIR} is missing ` +
      `(apt-get install dataset-fashion-mnist)\n`,
  );
}

/** Checks the invariants every dataset has. */
function assertShape(d: Dataset) {
  assert.equal(d.features, d.rows * d.cols);
  for (const s of [d.train, d.test]) {
    assert.ok(s.count >= 1);
    assert.equal(s.images.length, s.count * d.features);
    if (s.labels !== null) {
      assert.equal(s.labels.length, s.count);
      for (const l of s.labels) assert.ok(l < d.classes);
    }
  }
}

function labelCounts(labels: Uint8Array): number[] {
  const counts = new Array(10).fill(0);
  for (const l of labels) counts[l]++;
  return counts;
}

/** Rejects with `cls` and a one-line message matching `pattern`. */
async function assertRejects(
  f: () => Promise<unknown>,
  cls: typeof DatasetError | typeof IdxError,
  pattern: RegExp,
) {
  await assert.rejects(f, (e: Error) => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${e.name}: ${e.message}`);
    assert.ok(!e.message.includes("\n"), `not one line: ${e.message}`);
    assert.match(e.message, pattern);
    return true;
  });
}

/** A temp folder for the test's files, removed afterwards. */
async function withTempDir(f: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "datasets_test_" });
  try {
    await f(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function idx(type: IdxType, dims: number[], fill: (i: number) => number): Uint8Array {
  const n = dims.reduce((a, b) => a * b, 1);
  const size = { u8: 1, i8: 1, i16: 2, i32: 4, f32: 4, f64: 8 }[type];
  const data = new Uint8Array(n * size);
  const v = new DataView(data.buffer);
  for (let i = 0; i < n; i++) {
    if (type === "u8") v.setUint8(i, fill(i));
    else if (type === "i16") v.setInt16(2 * i, fill(i), false);
    else if (type === "i32") v.setInt32(4 * i, fill(i), false);
    else if (type === "f32") v.setFloat32(4 * i, fill(i), false);
    else throw new Error(`idx(): ${type} not needed`);
  }
  return encodeIdx({ type, dims, data });
}

Deno.test("datasets: embedded is 10000 + 2000 Fashion-MNIST images, labels 0..9", async () => {
  const d = await loadDataset();
  assertShape(d);
  assert.equal(d.name, "embedded");
  assert.deepEqual([d.rows, d.cols, d.features, d.classes], [28, 28, 784, 10]);
  assert.deepEqual([d.train.count, d.test.count], [10000, 2000]);
  // Every class is there, in roughly equal numbers (Fashion-MNIST is balanced).
  for (const s of [d.train, d.test]) {
    for (const c of labelCounts(s.labels!)) assert.ok(c > s.count / 20, `${c} of ${s.count}`);
  }
  // Real images: mostly dark background, some bright pixels.
  let zeros = 0, bright = 0;
  for (const p of d.train.images.subarray(0, 784 * 100)) {
    if (p === 0) zeros++;
    if (p > 200) bright++;
  }
  assert.ok(zeros > 784 * 100 * 0.3 && bright > 784 * 100 * 0.05, `${zeros} ${bright}`);
  // Same as loading it by name.
  const again = await loadDataset("embedded", {});
  assert.deepEqual(again.test.labels, d.test.labels);
});

Deno.test({
  name: "datasets: fashion-mnist loads 60000 + 10000 and begins with the embedded subset",
  ignore: !haveFashion && !CI,
  fn: async () => {
    const d = await loadDataset("fashion-mnist");
    assertShape(d);
    assert.deepEqual([d.rows, d.cols, d.features, d.classes], [28, 28, 784, 10]);
    assert.deepEqual([d.train.count, d.test.count], [60000, 10000]);
    assert.deepEqual(labelCounts(d.train.labels!), new Array(10).fill(6000));
    assert.deepEqual(labelCounts(d.test.labels!), new Array(10).fill(1000));
    const e = await loadDataset("embedded");
    assert.ok(
      d.train.images.subarray(0, e.train.images.length).every((v, i) => v === e.train.images[i]),
    );
    assert.deepEqual(d.train.labels!.subarray(0, 10000), e.train.labels);
    assert.deepEqual(d.test.images.subarray(0, e.test.images.length), e.test.images);
    assert.deepEqual(d.test.labels!.subarray(0, 2000), e.test.labels);
  },
});

Deno.test("datasets: a data dir in the MNIST layout, gzipped or not, for mnist and fashion-mnist", async () => {
  await withTempDir(async (dir) => {
    const trainImages = idx("u8", [20, 4, 3], (i) => i % 251);
    const testImages = idx("u8", [5, 4, 3], (i) => 255 - (i % 256));
    // Train files plain, test files gzipped: both spellings are accepted.
    await Deno.writeFile(`${dir}/train-images-idx3-ubyte`, trainImages);
    await Deno.writeFile(`${dir}/train-labels-idx1-ubyte`, idx("u8", [20], (i) => i % 3));
    await Deno.writeFile(`${dir}/t10k-images-idx3-ubyte.gz`, gzipSync(testImages));
    await Deno.writeFile(
      `${dir}/t10k-labels-idx1-ubyte.gz`,
      gzipSync(idx("u8", [5], (i) => 4 - i)),
    );
    for (const spec of ["mnist", "fashion-mnist"]) {
      const d = await loadDataset(spec, { dataDir: dir });
      assertShape(d);
      assert.equal(d.name, spec);
      assert.deepEqual([d.rows, d.cols, d.features, d.classes], [4, 3, 12, 5]);
      assert.deepEqual([d.train.count, d.test.count], [20, 5]);
      assert.deepEqual(d.train.images, trainImages.subarray(16));
      assert.deepEqual(Array.from(d.test.labels!), [4, 3, 2, 1, 0]);
    }
    // Mismatched label count, and test images of another size.
    await Deno.writeFile(`${dir}/train-labels-idx1-ubyte`, idx("u8", [19], () => 0));
    await assertRejects(
      () => loadDataset("mnist", { dataDir: dir }),
      DatasetError,
      /train-labels-idx1-ubyte: 19 labels for 20 images in .*train-images-idx3-ubyte$/,
    );
    await Deno.writeFile(`${dir}/train-labels-idx1-ubyte`, idx("u8", [20], () => 0));
    await Deno.writeFile(
      `${dir}/t10k-images-idx3-ubyte.gz`,
      gzipSync(idx("u8", [5, 3, 4], () => 0)),
    );
    await assertRejects(
      () => loadDataset("mnist", { dataDir: dir }),
      DatasetError,
      /^mnist: test images are 3x4 but training images are 4x3/,
    );
    // A missing file is named, with what to do.
    await Deno.remove(`${dir}/t10k-labels-idx1-ubyte.gz`);
    await assertRejects(
      () => loadDataset("mnist", { dataDir: dir }),
      DatasetError,
      /^mnist: missing t10k-labels-idx1-ubyte\[\.gz\] in .*; .*--data-dir DIR$/,
    );
  });
});

Deno.test("datasets: missing data gives one-line errors that say what to do", async () => {
  await withTempDir(async (dir) => {
    await assertRejects(
      () => loadDataset("fashion-mnist", { dataDir: dir }),
      DatasetError,
      /^fashion-mnist: not found in .*; apt-get install dataset-fashion-mnist, or pass --data-dir DIR$/,
    );
    await assertRejects(
      () => loadDataset("mnist", { dataDir: `${dir}/nowhere` }),
      DatasetError,
      /^mnist: not found in .*nowhere; .*pass --data-dir DIR$/,
    );
  });
  await assertRejects(() => loadDataset("mnist"), DatasetError, /^mnist: no data directory; /);
});

Deno.test("datasets: idx: holds out the last 10% (at least 1) as the test split", async () => {
  assert.deepEqual([2, 9, 10, 19, 20, 25, 60000].map(holdOutCount), [1, 1, 1, 1, 2, 2, 6000]);
  await withTempDir(async (dir) => {
    // 25 images of 3x2, labelled i % 7: train 23, test the last 2.
    await Deno.writeFile(`${dir}/im.idx`, idx("u8", [25, 3, 2], (i) => i));
    await Deno.writeFile(`${dir}/lab.idx.gz`, gzipSync(idx("u8", [25], (i) => i % 7)));
    const d = await loadDataset(`idx:${dir}/im.idx,${dir}/lab.idx.gz`);
    assertShape(d);
    assert.equal(d.name, `idx:${dir}/im.idx,${dir}/lab.idx.gz`);
    assert.deepEqual([d.rows, d.cols, d.features, d.classes], [3, 2, 6, 7]);
    assert.deepEqual([d.train.count, d.test.count], [23, 2]);
    assert.deepEqual(Array.from(d.test.images), Array.from({ length: 12 }, (_, i) => 138 + i));
    assert.deepEqual(Array.from(d.test.labels!), [23 % 7, 24 % 7]);

    // Unlabelled N x F: rows 1, cols F, classes 0; 5 images hold out 1.
    await Deno.writeFile(`${dir}/flat.idx`, idx("u8", [5, 10], (i) => i));
    const f = await loadDataset(`idx:${dir}/flat.idx`);
    assertShape(f);
    assert.deepEqual([f.rows, f.cols, f.features, f.classes], [1, 10, 10, 0]);
    assert.deepEqual([f.train.count, f.test.count], [4, 1]);
    assert.equal(f.train.labels, null);
    assert.equal(f.test.labels, null);

    // Wider integer labels are accepted when each fits in 0..255.
    await Deno.writeFile(`${dir}/lab16.idx`, idx("i16", [5], (i) => 250 + i));
    const w = await loadDataset(`idx:${dir}/flat.idx,${dir}/lab16.idx`);
    assert.deepEqual(Array.from(w.train.labels!), [250, 251, 252, 253]);
    assert.equal(w.classes, 255);

    const bad: [string, Uint8Array, string, RegExp][] = [
      [
        "one.idx",
        idx("u8", [1, 4], () => 0),
        "",
        /one\.idx: 1 image; an idx: dataset needs at least 2/,
      ],
      [
        "f32.idx",
        idx("f32", [4, 4], () => 0.5),
        "",
        /f32\.idx: images must be unsigned bytes .* f32/,
      ],
      [
        "vec.idx",
        idx("u8", [16], () => 0),
        "",
        /vec\.idx: images must have 2 .* or 3 .* dimensions/,
      ],
      [
        "labs9.idx",
        idx("u8", [9], () => 1),
        "im.idx",
        /labs9\.idx: 9 labels for 25 images in .*im\.idx/,
      ],
      [
        "big.idx",
        idx("i32", [25], (i) => i * 20),
        "im.idx",
        /big\.idx: label 13 is 260, labels must be 0 to 255/,
      ],
      ["neg.idx", idx("i16", [25], (i) => -i), "im.idx", /neg\.idx: label 1 is -1/],
      ["flt.idx", idx("f32", [25], () => 1), "im.idx", /flt\.idx: labels must be integers/],
    ];
    for (const [file, bytes, images, pattern] of bad) {
      await Deno.writeFile(`${dir}/${file}`, bytes);
      const spec = images ? `idx:${dir}/${images},${dir}/${file}` : `idx:${dir}/${file}`;
      await assertRejects(() => loadDataset(spec), DatasetError, pattern);
    }
    // Malformed and missing files are IdxErrors naming the file.
    await Deno.writeFile(`${dir}/cut.idx`, idx("u8", [25, 3, 2], () => 1).subarray(0, 100));
    await assertRejects(
      () => loadDataset(`idx:${dir}/cut.idx`),
      IdxError,
      /cut\.idx: truncated: header says 25x3x2 u8 \(150 bytes of data\), file has 84/,
    );
    await assertRejects(
      () => loadDataset(`idx:${dir}/absent.idx`),
      IdxError,
      /absent\.idx: file not found; check the path in the idx: dataset spec/,
    );
  });
});

Deno.test("datasets: bad specs give one-line errors listing the valid ones", async () => {
  const valid = new RegExp(
    "valid: embedded, fashion-mnist, mnist, idx:IMAGES\\[,LABELS\\], " +
      "images:DIR\\|FILE.zip\\[:HxW\\]\\[:stretch\\|:crop\\]\\[:grey\\|:rgb\\]\\[:strict\\], " +
      "shapes\\[:N\\[:SEED\\]\\]\\[:HxW\\], shapes-rgb\\[:N\\[:SEED\\]\\]\\[:HxW\\], " +
      "phantom\\[:COUNT\\[:SEED\\]\\], streamlines:FILE.trk\\|.tck\\|.trx\\|.zip\\|FOLDER, dipy-bundles$",
  );
  for (const spec of ["cifar10", "", "Embedded", "idx", "fashion_mnist", "multi\nline"]) {
    await assertRejects(() => loadDataset(spec), DatasetError, valid);
  }
  for (const spec of ["idx:", "idx:,labels", "idx:images,"]) {
    await assertRejects(
      () => loadDataset(spec),
      DatasetError,
      /bad dataset spec .*: expected idx:IMAGES or idx:IMAGES,LABELS/,
    );
  }
  await assertRejects(
    () => loadDataset("embedded", { dataDir: "/tmp" }),
    DatasetError,
    /--data-dir is for the fashion-mnist and mnist datasets, not embedded/,
  );
});

Deno.test("datasets: streamline specs load, and bad ones give one-line errors", async () => {
  const d = await loadDataset("phantom:50:2");
  assert.equal(d.train.count + d.test.count, 50);
  assert.equal(d.test.count, 5);
  assert.deepEqual([d.rows, d.cols, d.features], [1, 256, 768]);
  assert.ok(d.train.images instanceof Float32Array);
  assert.equal(d.train.lengths!.length, d.train.count);
  assert.equal(d.streamlines!.bundles.length, 6);
  // The normalization maps the points to mean 0, RMS norm 1 over the whole set.
  let sq = 0;
  for (const v of d.train.images) sq += v * v;
  for (const v of d.test.images) sq += v * v;
  assert.ok(Math.abs(sq / (50 * 256) - 1) < 1e-3, `RMS norm^2 ${sq / (50 * 256)}`);
  for (const spec of ["phantom:5", "phantom:100:1:x", "phantom:abc"]) {
    await assertRejects(() => loadDataset(spec), DatasetError, /expected phantom:COUNT\[:SEED\]/);
  }
  await assertRejects(() => loadDataset("streamlines:"), DatasetError, /give a file/);
  await assertRejects(
    () => loadDataset("streamlines:/nonexistent/x.trk"),
    DatasetError,
    /x\.trk: file not found/,
  );
  await assertRejects(
    () => loadDataset("phantom", { dataDir: "/tmp" }),
    DatasetError,
    /--data-dir is for the fashion-mnist and mnist datasets, not phantom/,
  );
});
