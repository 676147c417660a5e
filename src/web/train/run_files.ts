/**
 * The files the training page reads and writes, as bytes (no Deno API; it bundles):
 *
 * - u8 IDX image files, raw or gzipped, in and out (the embedded Fashion-MNIST files the page
 *   fetches, the ones a user drops in, and the IDX file a run trained on dropped PNGs carries).
 *   src/data/idx.ts reads the same format with more checks, but also reads files from disk,
 *   which page code cannot type-check against; only the u8 case is needed here.
 * - A run folder as `deno task train` writes it (src/train/checkpoint.ts): `config.json`,
 *   `model.safetensors` (the weights by name, the model spec in the metadata) and
 *   `optimizer.safetensors` (flat parameters, Adam moments, step, position in the epoch, metric
 *   sums, epoch records), the same bytes the train task writes for the same state, so
 *   `sample`, `eval`, `export` and `train --resume` take it; zipped into one download.
 */

import { gunzipSync, zipSync } from "fflate";
import {
  type Checkpoint,
  configText,
  type EpochLine,
  metricsText,
  modelBytes,
  optimizerBytes,
} from "../../train/checkpoint_files.ts";
import type { ModelSpec } from "../../vae/spec.ts";
import type { ParamLayout } from "../../nn/params.ts";
import type { PageCheckpoint } from "./session.ts";

/** A file the page cannot use: one line, naming it. */
export class PageFileError extends Error {
  /**
   * Make the error.
   * @param message one line: the file and the problem
   */
  constructor(message: string) {
    super(message);
    this.name = "PageFileError";
  }
}

/** A u8 IDX array: its dimensions and bytes. */
export interface IdxBytes {
  /** Dimensions, first (the count) to last. */
  dims: number[];
  /** The values, row-major. */
  data: Uint8Array;
}

/** Parse a u8 IDX file (gzipped when it starts with 1f 8b); one-line errors naming `name`. */
export function parseU8Idx(bytes: Uint8Array, name: string): IdxBytes {
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      throw new PageFileError(`${name}: not a readable gzip file (${(e as Error).message})`);
    }
  }
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) {
    throw new PageFileError(`${name}: not an IDX file (it must start with 00 00)`);
  }
  if (bytes[2] !== 0x08) {
    throw new PageFileError(`${name}: holds IDX type 0x${bytes[2].toString(16)}; only u8 (0x08)`);
  }
  const n = bytes[3];
  if (n < 1 || n > 4 || bytes.length < 4 + 4 * n) {
    throw new PageFileError(`${name}: bad IDX header (${n} dimensions)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, 4 + 4 * n);
  const dims = Array.from({ length: n }, (_, i) => view.getUint32(4 + 4 * i, false));
  const size = dims.reduce((a, b) => a * b, 1), have = bytes.length - 4 - 4 * n;
  if (have !== size) {
    throw new PageFileError(`${name}: header says ${dims.join("x")} (${size} bytes), has ${have}`);
  }
  return { dims, data: bytes.subarray(4 + 4 * n) };
}

/** A raw u8 IDX file of `dims`. */
export function encodeU8Idx(dims: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  out[2] = 0x08;
  out[3] = dims.length;
  const view = new DataView(out.buffer);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

/** The files of a run folder, by name. */
export type RunFiles = Record<string, Uint8Array>;

/**
 * A run folder's files: config.json (`config` with the spec), model.safetensors and
 * optimizer.safetensors for `c` in `layout` (with `records` as the commit record, as the train
 * task writes it), metrics.jsonl from `records` (one line each), and any `extra` files (the IDX
 * file of dropped images). The bytes come from src/train/checkpoint_files.ts, as the train
 * task's do.
 */
export function runFiles(
  layout: ParamLayout,
  c: PageCheckpoint,
  config: Record<string, unknown>,
  spec: ModelSpec,
  records: readonly object[],
  extra: RunFiles = {},
): RunFiles {
  const text = new TextEncoder();
  const lines = records as EpochLine[];
  const full: Checkpoint = {
    ...c,
    config: JSON.stringify(config),
    spec: JSON.stringify(spec),
    records: lines,
  };
  return {
    "config.json": text.encode(configText(full.config, full.spec)),
    "model.safetensors": modelBytes(layout, full),
    "optimizer.safetensors": optimizerBytes(full),
    "metrics.jsonl": text.encode(metricsText(lines)),
    ...extra,
  };
}

/** The files zipped into one folder `name/` (stored: safetensors barely compress). */
export function zipRun(name: string, files: RunFiles): Uint8Array {
  const entries: Record<string, Uint8Array> = {};
  for (const [path, bytes] of Object.entries(files)) entries[`${name}/${path}`] = bytes;
  return zipSync(entries, { level: 0 });
}
