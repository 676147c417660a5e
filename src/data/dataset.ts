/**
 * What every dataset loader shares: the Dataset shape, its one-line error, and two helpers.
 * datasets.ts (the loader by spec) and the loaders it dispatches to (images.ts, shapes.ts,
 * streamline_dataset.ts) all import from here, so none of them imports the others back.
 */

import type { ExampleSource, Split } from "./split.ts";
import type { TractogramSpace } from "./tractogram.ts";

export type { ExampleSource, Split };

/** A bad dataset spec, missing files, or files that do not fit together: one line. */
export class DatasetError extends Error {
  /**
   * Makes the error.
   * @param message One line: what is wrong and, where there is one, what to do.
   */
  constructor(message: string) {
    super(message);
    this.name = "DatasetError";
  }
}

/** What a streamline dataset adds: its geometry and how to map outputs back to millimetres. */
export interface StreamlineInfo {
  /** Points per streamline after resampling (the examples are `points x 3`). */
  points: number;
  /** normalized = (mm - center) * scale, per point. */
  normalization: { center: [number, number, number]; scale: number };
  /** Bundle names, by label. */
  bundles: string[];
  /** Width of each bundle in mm (see bundleWidth in streamlines.ts), by label. */
  widths: number[];
  /** The source's voxel grid (affine, voxel size, dimensions, order), for writing back. */
  space?: TractogramSpace;
}

/** A loaded dataset: image bytes and labels, train and test. */
export interface Dataset {
  /** The spec it was loaded from (e.g. "embedded", "idx:/tmp/x.idx"). */
  name: string;
  /** Image height (1 for an N x F idx: file). */
  rows: number;
  /** Image width (F for an N x F idx: file). */
  cols: number;
  /** Values per image: rows * cols * channels (1 grey, 3 RGB, stored HWC). */
  features: number;
  /** Training split. */
  train: Split;
  /** Test split (for idx:, the held-out last rows). */
  test: Split;
  /** Number of classes: largest label + 1 over both splits; 0 when unlabelled. */
  classes: number;
  /** Present for a streamline dataset (rows 1, cols = points, 3 values per point). */
  streamlines?: StreamlineInfo;
  /** Class names by label, when the dataset names its classes (images: sub-folders, shapes). */
  classNames?: string[];
  /** images: each example's file, relative to the folder, per split. */
  files?: { train: string[]; test: string[] };
  /** shapes: each example's generative factors (see shapes.ts), per split. */
  factors?: DatasetFactors;
}

/** Known generative factors of a procedural dataset: `count x names.length` values a split. */
export interface DatasetFactors {
  /** Factor names, e.g. ["shape", "scale", "rotation", "x", "y"]. */
  names: string[];
  /** Per factor: a category index ("categorical") or a number ("continuous"). */
  kinds: ("categorical" | "continuous")[];
  /** Training split's factors, row-major (one row per example). */
  train: Float32Array;
  /** Test split's factors. */
  test: Float32Array;
}

/**
 * How many of `n` rows an `idx:` dataset holds out as its test split: the last 10%,
 * rounded down, but at least 1.
 */
export function holdOutCount(n: number): number {
  return Math.max(1, Math.floor(n / 10));
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** True when `path` exists; false when it does not; a one-line error otherwise. */
export async function exists(path: string | URL): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    const shown = path instanceof URL ? decodeURIComponent(path.pathname) : path;
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
      throw new DatasetError(`${shown}: not allowed to read it; run with --allow-read`);
    }
    throw new DatasetError(`${shown}: cannot read: ${errorText(e)}`);
  }
}
