/**
 * Streamline datasets for the `streamlines` model: bundles from .trk, .tck or .trx files
 * (or a .zip or folder of them, such as dipy's minimal_bundles.zip), or the synthetic
 * phantom, turned into training
 * examples of `points x 3` normalized coordinates:
 *
 * 1. every streamline is resampled to `points` points equally spaced along its arc length
 *    (its length in mm is kept for length conditioning and the report);
 * 2. each bundle is oriented so its streamlines run the same way, and its width measured;
 * 3. one normalization (centre, scale) is fitted to all points and applied, and recorded so
 *    that decoded streamlines map back to millimetres;
 * 4. the streamlines are shuffled (seeded) and the last 10% held out as the test split.
 *
 * Labels are the bundle numbers (by file, .trx group, or phantom bundle). The source's space
 * (see tractogram.ts) is kept in `streamlines.space`: the first file's that records one whose
 * grid holds the streamlines, else (.tck files, the phantom, the DIPY bundles' 1 x 1 x 1
 * header) a 1 mm grid covering every streamline, so that decoded streamlines can be written
 * back where the input lies (points are RAS+ mm either way).
 */

import { type Dataset, DatasetError, exists, holdOutCount, type Split } from "./dataset.ts";
import { phantomBundles } from "./phantom.ts";
import {
  arcLength,
  bundleWidth,
  denormalize,
  fitNormalization,
  normalize,
  orientAlike,
  readStreamlineBundles,
  resample,
  type StreamlineBundle,
} from "./streamlines.ts";
import { coveringSpace, spaceHolds, type TractogramSpace } from "./tractogram.ts";
import { epochOrder } from "../io/random.ts";

/** Points per resampled streamline (the model's sequence length). */
export const STREAMLINE_POINTS = 256;

/** Where Debian's python3-dipy installs its small real tractography sample. */
export const DIPY_BUNDLES = "/usr/lib/python3/dist-packages/dipy/data/files/minimal_bundles.zip";

/** Streamlines in the default phantom dataset. */
export const PHANTOM_COUNT = 6000;

/** The streamline dataset specs, for help and errors. */
export const STREAMLINE_SPECS: readonly string[] = [
  "phantom[:COUNT[:SEED]]",
  "streamlines:FILE.trk|.tck|.trx|.zip|FOLDER",
  "dipy-bundles",
];

/** True for a spec {@linkcode loadStreamlineDataset} reads. */
export function isStreamlineSpec(spec: string): boolean {
  return spec === "phantom" || spec.startsWith("phantom:") || spec.startsWith("streamlines:") ||
    spec === "dipy-bundles";
}

/**
 * Load a streamline dataset by spec: `phantom` (6000 synthetic streamlines, seed 1),
 * `phantom:COUNT[:SEED]`, `streamlines:PATH` (a .trk, .tck or .trx file, or a .zip or folder
 * of them), or `dipy-bundles`
 * (python3-dipy's minimal_bundles.zip). Needs --allow-read for files.
 */
export async function loadStreamlineDataset(
  spec: string,
  points = STREAMLINE_POINTS,
): Promise<Dataset> {
  if (spec === "phantom" || spec.startsWith("phantom:")) {
    const [, count = String(PHANTOM_COUNT), seed = "1", extra] = spec.split(":");
    const n = Number(count), s = Number(seed);
    if (extra !== undefined || !Number.isInteger(n) || n < 20 || !Number.isInteger(s) || s < 0) {
      throw new DatasetError(
        `"${spec}": expected phantom:COUNT[:SEED] with COUNT >= 20 and SEED >= 0`,
      );
    }
    const p = phantomBundles({ count: n, seed: s });
    const bundles: StreamlineBundle[] = p.bundles.map((b, k) => ({
      name: b.name,
      streamlines: p.streamlines.filter((_, i) => p.bundle[i] === k),
    }));
    return streamlineDataset(spec, bundles, points, s);
  }
  let path = "";
  if (spec === "dipy-bundles") path = DIPY_BUNDLES;
  else if (spec.startsWith("streamlines:")) path = spec.slice("streamlines:".length);
  else throw new DatasetError(`unknown streamline dataset "${spec}"`);
  if (!path) {
    throw new DatasetError(
      `"${spec}": give a file, streamlines:FILE.trk, .tck, .trx, .zip or a folder`,
    );
  }
  let bundles: StreamlineBundle[];
  try {
    bundles = await readStreamlineBundles(path);
  } catch (e) {
    const hint = spec === "dipy-bundles" && !(await exists(path))
      ? "; install it with apt-get install python3-dipy"
      : "";
    throw new DatasetError(`${(e as Error).message}${hint}`);
  }
  return streamlineDataset(spec, bundles, points, 1);
}

/**
 * The space decoded streamlines are written back in: the first bundle's recorded space when
 * its grid holds every streamline (so dipy's bounding-box check passes on files written in
 * it), else a 1 mm grid covering them (a .tck source, the phantom, or a header that records
 * no real grid, as the DIPY bundles' 1 x 1 x 1 identity).
 */
function _space(bundles: StreamlineBundle[], all: Float32Array[]): TractogramSpace {
  const recorded = bundles.find((b) => b.space)?.space;
  return recorded && spaceHolds(recorded, all) ? recorded : coveringSpace(all);
}

/**
 * The dataset of `bundles` (see the module comment): resampled to `points`, oriented per
 * bundle, normalized, shuffled with `seed`, 10% held out.
 */
export function streamlineDataset(
  name: string,
  bundles: StreamlineBundle[],
  points: number,
  seed: number,
): Dataset {
  if (bundles.length > 256) {
    throw new DatasetError(`${name}: ${bundles.length} bundles; at most 256 are supported`);
  }
  const all: Float32Array[] = [], lengths: number[] = [], labels: number[] = [];
  const widths: number[] = [];
  let skipped = 0;
  bundles.forEach((b, k) => {
    const kept: Float32Array[] = [];
    for (const s of b.streamlines) {
      const length = arcLength(s);
      if (s.length < 6 || !(length > 0)) {
        skipped++;
        continue;
      }
      kept.push(resample(s, points));
      lengths.push(length);
      labels.push(k);
    }
    if (kept.length === 0) {
      widths.push(0);
      return;
    }
    const oriented = orientAlike(kept);
    widths.push(bundleWidth(oriented));
    all.push(...oriented);
  });
  if (all.length < 2) {
    throw new DatasetError(
      `${name}: ${all.length} usable streamlines (${skipped} with fewer than 2 points or no ` +
        `length); need at least 2`,
    );
  }
  const normalization = fitNormalization(all);
  const order = epochOrder(all.length, seed, 0);
  const F = points * 3;
  const testCount = holdOutCount(all.length), trainCount = all.length - testCount;
  const split = (from: number, count: number): Split => {
    const images = new Float32Array(count * F);
    const l = new Float32Array(count), lab = new Uint8Array(count);
    for (let i = 0; i < count; i++) {
      const j = order[from + i];
      images.set(normalize(all[j], normalization), i * F);
      l[i] = lengths[j];
      lab[i] = labels[j];
    }
    return { images, labels: lab, count, lengths: l };
  };
  return {
    name,
    rows: 1,
    cols: points,
    features: F,
    train: split(0, trainCount),
    test: split(trainCount, testCount),
    classes: bundles.length,
    streamlines: {
      points,
      normalization,
      bundles: bundles.map((b) => b.name),
      widths,
      space: _space(bundles, all),
    },
  };
}

/**
 * Decoded (or dataset) rows of a streamline dataset back in millimetres: `flat` holds n rows
 * of `data.features` normalized values; each comes back as one streamline, RAS+ mm, ready for
 * `writeTractogram(path, lines, data.streamlines.space)`.
 * @throws RangeError when `data` is not a streamline dataset or `flat` is not whole rows.
 */
export function streamlinesInMm(flat: Float32Array, data: Dataset): Float32Array[] {
  const info = data.streamlines, F = data.features;
  if (!info) throw new RangeError(`streamlinesInMm: ${data.name} is not a streamline dataset`);
  if (flat.length % F !== 0) {
    throw new RangeError(`streamlinesInMm: ${flat.length} values are not rows of ${F}`);
  }
  return Array.from(
    { length: flat.length / F },
    (_, i) => denormalize(flat.subarray(i * F, (i + 1) * F), info.normalization),
  );
}
