/**
 * Datasets by name. A spec is one of:
 *
 * - `embedded` (the default): the Fashion-MNIST subset shipped in this repository's data/
 *   (10000 train, 2000 test; see data/README.md), found next to this module.
 * - `fashion-mnist`: the full Fashion-MNIST (60000 train, 10000 test) from Debian's
 *   `dataset-fashion-mnist` in /usr/share/datasets/fashion-mnist, or from `dataDir`.
 * - `mnist`: MNIST from `dataDir` (required; it is not packaged here).
 * - `idx:IMAGES[,LABELS]`: any u8 IDX image file with 2 (N x F) or 3 (N x H x W) dimensions,
 *   optionally with a labels file. It has no test split, so the last 10% of the rows (at
 *   least 1; see {@link holdOutCount}) are held out as the test split, in file order.
 * - streamlines: `phantom[:COUNT[:SEED]]`, `streamlines:FILE` (.trk, .tck, .trx, a .zip or
 *   folder of them), `dipy-bundles`
 *   (see streamline_dataset.ts): f32 examples of 256 points x 3, with lengths.
 *
 * For `fashion-mnist` and `mnist` the folder holds the four files train-images-idx3-ubyte,
 * train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each gzipped
 * (`.gz`, preferred when both exist) or not. Images are kept as bytes; labels too.
 *
 * Problems are one-line errors: {@link DatasetError} for a bad spec, missing files or files
 * that do not fit together, `IdxError` (from idx.ts) for a malformed file.
 */

import { type IdxArray, readIdxFile } from "./idx.ts";
import { isStreamlineSpec, loadStreamlineDataset, STREAMLINE_SPECS } from "./streamline_dataset.ts";
import { isImagesSpec, loadImageDataset } from "./images.ts";
import { isShapesSpec, loadShapesDataset } from "./shapes.ts";

/** The accepted dataset specs, as shown in error messages and help. */
export const DATASET_SPECS: readonly string[] = [
  "embedded",
  "fashion-mnist",
  "mnist",
  "idx:IMAGES[,LABELS]",
  "images:DIR|FILE.zip[:HxW][:stretch|:crop][:grey|:rgb][:strict]",
  "shapes[:N[:SEED]][:HxW]",
  "shapes-rgb[:N[:SEED]][:HxW]",
];

/** Where Debian's dataset-fashion-mnist installs the Fashion-MNIST files. */
export const FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist";

/** The embedded subset's files, in this repository's data/ folder. */
export const EMBEDDED_FILES = {
  trainImages: "fashion-mnist-train-images.idx3.gz",
  trainLabels: "fashion-mnist-train-labels.idx1.gz",
  testImages: "fashion-mnist-test-images.idx3.gz",
  testLabels: "fashion-mnist-test-labels.idx1.gz",
} as const;

/** The four MNIST-layout file names (without .gz) of `fashion-mnist` and `mnist`. */
export const MNIST_LAYOUT_FILES = {
  trainImages: "train-images-idx3-ubyte",
  trainLabels: "train-labels-idx1-ubyte",
  testImages: "t10k-images-idx3-ubyte",
  testLabels: "t10k-labels-idx1-ubyte",
} as const;

export {
  type Dataset,
  DatasetError,
  type DatasetFactors,
  type ExampleSource,
  exists,
  holdOutCount,
  type Split,
  type StreamlineInfo,
} from "./dataset.ts";
import { type Dataset, DatasetError, exists, holdOutCount } from "./dataset.ts";

/**
 * Channels per pixel of an image dataset, stored last (HWC): features / (rows * cols), 1 for
 * grey and 3 for RGB.
 *
 * @throws Error when that is neither 1 nor 3.
 */
export function imageChannels(data: { rows: number; cols: number; features: number }): 1 | 3 {
  const c = data.features / (data.rows * data.cols);
  if (c !== 1 && c !== 3) {
    throw new Error(
      `${data.features} values per image are not ${data.rows}x${data.cols} grey or RGB pixels`,
    );
  }
  return c;
}

/** Options of {@link loadDataset}. */
export interface LoadDatasetOptions {
  /** Folder with the four files, for `fashion-mnist` (optional) and `mnist` (required). */
  dataDir?: string;
  /** images: and shapes: the image size [H, W], overriding the spec's. */
  imageSize?: [number, number];
}

const FASHION_HINT = "apt-get install dataset-fashion-mnist, or pass --data-dir DIR";

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, " ");
}

interface Images {
  count: number;
  rows: number;
  cols: number;
  data: Uint8Array;
}

function imagesOf(arr: IdxArray, path: string): Images {
  if (arr.type !== "u8") {
    throw new DatasetError(
      `${path}: images must be unsigned bytes (IDX type u8), this file holds ${arr.type}`,
    );
  }
  if (arr.dims.length === 3) {
    const [count, rows, cols] = arr.dims;
    return { count, rows, cols, data: arr.data };
  }
  if (arr.dims.length === 2) {
    const [count, cols] = arr.dims;
    return { count, rows: 1, cols, data: arr.data };
  }
  throw new DatasetError(
    `${path}: images must have 2 (N x F) or 3 (N x H x W) dimensions, this file has ` +
      `${arr.dims.length} (${arr.dims.join("x")})`,
  );
}

function labelsOf(arr: IdxArray, path: string, count: number, imagesPath: string): Uint8Array {
  if (arr.dims.length !== 1) {
    throw new DatasetError(
      `${path}: labels must have 1 dimension, this file has ${arr.dims.length} ` +
        `(${arr.dims.join("x")})`,
    );
  }
  if (arr.dims[0] !== count) {
    throw new DatasetError(
      `${path}: ${arr.dims[0]} labels for ${count} images in ${imagesPath}`,
    );
  }
  if (arr.type === "u8") return arr.data;
  if (arr.type === "f32" || arr.type === "f64") {
    throw new DatasetError(`${path}: labels must be integers, this file holds ${arr.type}`);
  }
  // i8 / i16 / i32: big-endian signed; each value must fit in 0..255.
  const size = arr.type === "i8" ? 1 : arr.type === "i16" ? 2 : 4;
  const view = new DataView(arr.data.buffer, arr.data.byteOffset, arr.data.byteLength);
  const out = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const v = size === 1
      ? view.getInt8(i)
      : size === 2
      ? view.getInt16(2 * i, false)
      : view.getInt32(4 * i, false);
    if (v < 0 || v > 255) {
      throw new DatasetError(`${path}: label ${i} is ${v}, labels must be 0 to 255`);
    }
    out[i] = v;
  }
  return out;
}

function classesOf(...labels: (Uint8Array | null)[]): number {
  let max = -1;
  for (const l of labels) {
    if (l === null) return 0;
    for (let i = 0; i < l.length; i++) if (l[i] > max) max = l[i];
  }
  return max + 1;
}

interface FourFiles {
  trainImages: string | URL;
  trainLabels: string | URL;
  testImages: string | URL;
  testLabels: string | URL;
}

function shown(p: string | URL): string {
  return p instanceof URL ? decodeURIComponent(p.pathname) : p;
}

/** Loads and cross-checks a train and a test pair of IDX files. */
async function loadFour(name: string, files: FourFiles, hint: string): Promise<Dataset> {
  const [trImg, trLab, teImg, teLab] = await Promise.all(
    [files.trainImages, files.trainLabels, files.testImages, files.testLabels].map((p) =>
      readIdxFile(p, { missingHint: hint })
    ),
  );
  const train = imagesOf(trImg, shown(files.trainImages));
  const test = imagesOf(teImg, shown(files.testImages));
  if (train.rows !== test.rows || train.cols !== test.cols) {
    throw new DatasetError(
      `${name}: test images are ${test.rows}x${test.cols} but training images are ` +
        `${train.rows}x${train.cols} (${shown(files.testImages)})`,
    );
  }
  const trainLabels = labelsOf(
    trLab,
    shown(files.trainLabels),
    train.count,
    shown(files.trainImages),
  );
  const testLabels = labelsOf(teLab, shown(files.testLabels), test.count, shown(files.testImages));
  return {
    name,
    rows: train.rows,
    cols: train.cols,
    features: train.rows * train.cols,
    train: { images: train.data, labels: trainLabels, count: train.count },
    test: { images: test.data, labels: testLabels, count: test.count },
    classes: classesOf(trainLabels, testLabels),
  };
}

/** Finds the four MNIST-layout files in `dir` (each .gz or not), or says what is missing. */
async function mnistLayout(name: string, dir: string, hint: string): Promise<FourFiles> {
  const found: Partial<Record<keyof FourFiles, string>> = {};
  const missing: string[] = [];
  for (const [key, base] of Object.entries(MNIST_LAYOUT_FILES) as [keyof FourFiles, string][]) {
    const gz = `${dir}/${base}.gz`;
    const raw = `${dir}/${base}`;
    if (await exists(gz)) found[key] = gz;
    else if (await exists(raw)) found[key] = raw;
    else missing.push(`${base}[.gz]`);
  }
  if (missing.length > 0) {
    const what = missing.length === 4 ? "not found" : `missing ${missing.join(", ")}`;
    throw new DatasetError(`${name}: ${what} in ${dir}; ${hint}`);
  }
  return found as FourFiles;
}

async function loadIdxSpec(spec: string): Promise<Dataset> {
  const body = spec.slice("idx:".length);
  const comma = body.indexOf(",");
  const imagesPath = comma < 0 ? body : body.slice(0, comma);
  const labelsPath = comma < 0 ? null : body.slice(comma + 1);
  if (imagesPath === "" || labelsPath === "") {
    throw new DatasetError(
      `bad dataset spec "${oneLine(spec)}": expected idx:IMAGES or idx:IMAGES,LABELS`,
    );
  }
  const hint = "check the path in the idx: dataset spec";
  const imgArr = await readIdxFile(imagesPath, { missingHint: hint });
  const images = imagesOf(imgArr, imagesPath);
  let labels: Uint8Array | null = null;
  if (labelsPath !== null) {
    const labArr = await readIdxFile(labelsPath, { missingHint: hint });
    labels = labelsOf(labArr, labelsPath, images.count, imagesPath);
  }
  if (images.count < 2) {
    throw new DatasetError(
      `${imagesPath}: ${images.count} image; an idx: dataset needs at least 2 (one is held ` +
        `out for testing)`,
    );
  }
  const features = images.rows * images.cols;
  const testCount = holdOutCount(images.count);
  const trainCount = images.count - testCount;
  const cut = trainCount * features;
  return {
    name: spec,
    rows: images.rows,
    cols: images.cols,
    features,
    train: {
      images: images.data.subarray(0, cut),
      labels: labels?.subarray(0, trainCount) ?? null,
      count: trainCount,
    },
    test: {
      images: images.data.subarray(cut),
      labels: labels?.subarray(trainCount) ?? null,
      count: testCount,
    },
    classes: classesOf(labels),
  };
}

/**
 * Loads a dataset by spec (see the module comment for the specs). Needs --allow-read.
 *
 * @param spec "embedded" (default), "fashion-mnist", "mnist" or "idx:IMAGES[,LABELS]".
 * @param opts `dataDir`: the folder for fashion-mnist (instead of the Debian one) or mnist.
 * @throws DatasetError for an unknown spec, missing files (saying what to do) or files that
 *   do not fit together (non-u8 images, label count mismatch, labels over 255); IdxError
 *   for a malformed file.
 */
export async function loadDataset(
  spec = "embedded",
  opts: LoadDatasetOptions = {},
): Promise<Dataset> {
  const dataDir = opts.dataDir;
  if (spec === "embedded") {
    if (dataDir !== undefined) {
      throw new DatasetError(
        `--data-dir is for the fashion-mnist and mnist datasets, not embedded`,
      );
    }
    const dir = new URL("../../data/", import.meta.url);
    if (dir.protocol !== "file:") {
      throw new DatasetError(
        `embedded dataset: needs a local checkout (this module was loaded from ${dir.origin})`,
      );
    }
    const files = {
      trainImages: new URL(EMBEDDED_FILES.trainImages, dir),
      trainLabels: new URL(EMBEDDED_FILES.trainLabels, dir),
      testImages: new URL(EMBEDDED_FILES.testImages, dir),
      testLabels: new URL(EMBEDDED_FILES.testLabels, dir),
    };
    return await loadFour(
      "embedded",
      files,
      "the embedded dataset is missing from data/: restore it from the repository " +
        "(or run scripts/make_embedded.ts)",
    );
  }
  if (spec === "fashion-mnist") {
    const dir = dataDir ?? FASHION_MNIST_DIR;
    const files = await mnistLayout("fashion-mnist", dir, FASHION_HINT);
    return await loadFour("fashion-mnist", files, FASHION_HINT);
  }
  if (spec === "mnist") {
    const hint = "put MNIST's four IDX files (train-images-idx3-ubyte.gz, train-labels-" +
      "idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) in a folder " +
      "and pass --data-dir DIR";
    if (dataDir === undefined) throw new DatasetError(`mnist: no data directory; ${hint}`);
    const files = await mnistLayout("mnist", dataDir, hint);
    return await loadFour("mnist", files, hint);
  }
  if (isStreamlineSpec(spec)) {
    if (dataDir !== undefined) {
      throw new DatasetError(`--data-dir is for the fashion-mnist and mnist datasets, not ${spec}`);
    }
    return await loadStreamlineDataset(spec);
  }
  if (isImagesSpec(spec)) {
    if (dataDir !== undefined) {
      throw new DatasetError(`--data-dir is for the fashion-mnist and mnist datasets, not images:`);
    }
    return await loadImageDataset(spec, { imageSize: opts.imageSize });
  }
  if (isShapesSpec(spec)) {
    if (dataDir !== undefined) {
      throw new DatasetError(`--data-dir is for the fashion-mnist and mnist datasets, not shapes`);
    }
    return loadShapesDataset(spec, { imageSize: opts.imageSize });
  }
  if (spec.startsWith("idx:")) {
    if (dataDir !== undefined) {
      throw new DatasetError(`--data-dir is for the fashion-mnist and mnist datasets, not idx:`);
    }
    return await loadIdxSpec(spec);
  }
  throw new DatasetError(
    `unknown dataset "${oneLine(spec)}"; valid: ${
      [...DATASET_SPECS, ...STREAMLINE_SPECS].join(", ")
    }`,
  );
}

/** Fashion-MNIST's ten classes, by label. */
export const FASHION_MNIST_CLASSES = [
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
] as const;

/** Names of a dataset's labels: Fashion-MNIST's for it and the embedded subset, else numbers. */
export function classNames(data: Dataset): string[] {
  if (data.name === "embedded" || data.name === "fashion-mnist") return [...FASHION_MNIST_CLASSES];
  if (data.classNames) return [...data.classNames];
  return Array.from({ length: data.classes }, (_, i) => String(i));
}

/**
 * Refuses a Bernoulli reconstruction loss (`--recon bce`) on data outside [0, 1]: its
 * likelihood is only defined there, and on other values the loss runs off to minus infinity
 * (-105,448 nats on normalized streamline coordinates) instead of training anything. Byte
 * images (scaled by 1/255) always fit; float data (streamlines) is scanned once.
 * @throws DatasetError saying the data's range and what to use instead.
 */
export function checkReconRange(data: Dataset, recon: "bce" | "mse"): void {
  if (recon !== "bce") return;
  let lo = Infinity, hi = -Infinity;
  for (const split of [data.train, data.test]) {
    if (split.images instanceof Uint8Array) continue;
    for (const v of split.images) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  if (lo < 0 || hi > 1) {
    const what = data.streamlines ? " (normalized streamline coordinates)" : "";
    throw new DatasetError(
      `--recon bce (a Bernoulli likelihood) needs data in [0, 1], but ${data.name} holds ` +
        `values from ${lo.toPrecision(3)} to ${hi.toPrecision(3)}${what}; use --recon mse ` +
        `(a Gaussian likelihood)`,
    );
  }
}
