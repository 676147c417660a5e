/**
 * Checkpoints of a run folder:
 * - `optimizer.safetensors`: everything an exact resume needs, in one file so it can never
 *   be half old and half new: the flat parameters and Adam moments, the step counter, the
 *   position in the epoch, the metric sums so far, the resolved config and the records of
 *   every finished epoch. It is the run's commit record: an epoch is committed when this file
 *   is renamed into place.
 * - `model.safetensors`: the weights by layer name (`encoder.0.weight` [in, out], ...), with
 *   the model config and the optimizer step in the header metadata; opens in any
 *   safetensors reader.
 * - `config.json` and `metrics.jsonl` (one line per epoch): written from the commit record.
 *
 * - `model-epoch-NNNN.safetensors` (with `keep-every` N in the config): the weights after
 *   epoch NNNN, every Nth epoch; the same bytes as that epoch's model.safetensors.
 *
 * An epoch commit writes, each atomically (temporary file, then rename), in this order:
 * optimizer.safetensors, model.safetensors, the kept epoch's file when this epoch is kept,
 * config.json, metrics.jsonl. A crash at any point leaves the last committed
 * optimizer.safetensors whole, and {@linkcode repairRun} rewrites the others from it, so
 * weights, config and metrics always agree after a resume. The commit record covers the kept
 * files too: the one of its own epoch is rewritten from it, and any of a later epoch (which
 * that record never committed) is removed.
 */

import type { ParamLayout } from "../nn/params.ts";
import { writeFileAtomic, type WritePoint } from "../io/atomic.ts";
import { parseSafetensors, SafetensorsError } from "../io/safetensors.ts";
import {
  type Checkpoint,
  CHECKPOINT_FORMAT,
  configText,
  type EpochLine,
  metricsText,
  modelBytes,
  optimizerBytes,
} from "./checkpoint_files.ts";

export { type Checkpoint, configText, type EpochLine, metricsText };

/** Options of {@linkcode saveCheckpoint}. */
export interface SaveOptions {
  /**
   * Called at each write point of the commit, named `FILE:POINT` (`optimizer.safetensors:
   * written`, ...; see {@linkcode WritePoint}): fault-injection tests stop the process there.
   */
  at?: (point: string) => void | Promise<void>;
}

/** The kept-epoch file of epoch `epoch` (1-based, finished): `model-epoch-0007.safetensors`. */
export function keptEpochFile(epoch: number): string {
  return `model-epoch-${String(epoch).padStart(4, "0")}.safetensors`;
}

/** `keep-every` of a checkpoint's config (0 when absent or unreadable). */
function _keepEvery(c: Checkpoint): number {
  try {
    const n = JSON.parse(c.config)["keep-every"];
    return Number.isInteger(n) && n > 0 ? n : 0;
  } catch {
    return 0;
  }
}

/**
 * The kept-epoch file `c` commits, or null: an epoch boundary (no step of the next epoch done)
 * whose finished epoch count is a multiple of the config's `keep-every`.
 */
export function keptFileOf(c: Checkpoint): string | null {
  const n = _keepEvery(c);
  return n > 0 && c.epoch > 0 && c.stepInEpoch === 0 && c.epoch % n === 0
    ? keptEpochFile(c.epoch)
    : null;
}

/**
 * Commit the training state to `dir`: `optimizer.safetensors` (the commit record, with the
 * epoch records when `c.records` is given), then `model.safetensors`, then (with records)
 * `config.json` and `metrics.jsonl` written from it; each atomically. See the module doc.
 */
export async function saveCheckpoint(
  dir: string,
  layout: ParamLayout,
  c: Checkpoint,
  options: SaveOptions = {},
): Promise<void> {
  const state = optimizerBytes(c);
  const at = (file: string) => (point: WritePoint) => options.at?.(`${file}:${point}`);
  await writeFileAtomic(`${dir}/optimizer.safetensors`, state, { at: at("optimizer.safetensors") });
  const model = modelBytes(layout, c);
  await writeFileAtomic(`${dir}/model.safetensors`, model, { at: at("model.safetensors") });
  const kept = keptFileOf(c);
  if (kept) await writeFileAtomic(`${dir}/${kept}`, model, { at: at(kept) });
  if (c.records) {
    const text = new TextEncoder();
    await writeFileAtomic(`${dir}/config.json`, text.encode(configText(c.config, c.spec)), {
      at: at("config.json"),
    });
    await writeFileAtomic(`${dir}/metrics.jsonl`, text.encode(metricsText(c.records)), {
      at: at("metrics.jsonl"),
    });
  }
}

/** The commit record of a run folder, opened: its metadata read, its tensors not yet checked. */
export interface OpenCheckpoint {
  /** The file it was read from. */
  path: string;
  /** Optimizer steps completed. */
  step: number;
  /** Epoch in progress (0-based); the epochs finished. */
  epoch: number;
  /** Steps of that epoch already done. */
  stepInEpoch: number;
  /** Resolved configuration, as JSON text. */
  config: string;
  /** Epoch records, when the checkpoint carries them. */
  records?: EpochLine[];
  /** The full state, checked against `layout` (shapes) and for finite values. */
  load(layout: ParamLayout): Checkpoint;
}

/** Open `dir/optimizer.safetensors`; one-line errors naming the file. */
export async function openCheckpoint(dir: string): Promise<OpenCheckpoint> {
  const path = `${dir}/optimizer.safetensors`;
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new Error(`cannot resume: ${path} cannot be read (${(e as Error).message})`);
  }
  const f = parseSafetensors(bytes, path);
  const meta = f.metadata;
  if (meta.format !== CHECKPOINT_FORMAT) {
    throw new SafetensorsError(`${path}: not a webgpu-vae checkpoint`);
  }
  const int = (key: string) => {
    const n = Number(meta[key]);
    if (meta[key] === undefined || !Number.isInteger(n) || n < 0) {
      throw new SafetensorsError(`${path}: bad ${key} in metadata`);
    }
    return n;
  };
  let sums: number[];
  try {
    sums = JSON.parse(meta.sums ?? "[]");
  } catch {
    throw new SafetensorsError(`${path}: bad metric sums in metadata`);
  }
  if (!Array.isArray(sums) || !sums.every((x) => typeof x === "number" && Number.isFinite(x))) {
    throw new SafetensorsError(`${path}: the metric sums in its metadata are not finite numbers`);
  }
  let records: EpochLine[] | undefined;
  if (meta.records !== undefined) {
    try {
      records = JSON.parse(meta.records);
    } catch {
      throw new SafetensorsError(`${path}: bad epoch records in metadata`);
    }
    if (
      !Array.isArray(records) ||
      !records.every((r) => typeof r === "object" && r !== null && !Array.isArray(r))
    ) {
      throw new SafetensorsError(`${path}: the epoch records in its metadata are not objects`);
    }
  }
  const epoch = int("epoch");
  if (records && records.length !== epoch) {
    throw new SafetensorsError(
      `${path}: ${records.length} epoch records for ${epoch} finished epochs`,
    );
  }
  const step = int("step"), stepInEpoch = int("step_in_epoch");
  const config = meta.config ?? "{}";
  return {
    path,
    step,
    epoch,
    stepInEpoch,
    config,
    records,
    load(layout: ParamLayout): Checkpoint {
      const flat = (name: string) => {
        const t = f.tensors.get(name);
        if (!t || t.dtype !== "F32" || t.shape.length !== 1 || t.shape[0] !== layout.size) {
          throw new SafetensorsError(`${path}: ${name} is missing or does not fit this model`);
        }
        const a = Float32Array.from(t.data as Float32Array);
        const bad = a.findIndex((x) => !Number.isFinite(x));
        if (bad >= 0) {
          throw new SafetensorsError(
            `${path}: ${name} holds ${a[bad]} at element ${bad} (a damaged or diverged ` +
              `checkpoint; train again or resume from a good copy)`,
          );
        }
        return a;
      };
      return {
        params: flat("params"),
        m: flat("adam.m"),
        v: flat("adam.v"),
        step,
        epoch,
        stepInEpoch,
        sums,
        config,
        ...(meta.spec === undefined ? {} : { spec: meta.spec }),
        records,
      };
    },
  };
}

/** Read the exact-resume state of the run in `dir`; a one-line error if it is unusable. */
export async function loadCheckpoint(dir: string, layout: ParamLayout): Promise<Checkpoint> {
  return (await openCheckpoint(dir)).load(layout);
}

/**
 * Read `path` (metrics.jsonl): one JSON object per line. A broken line is a one-line error
 * naming the file and the line.
 */
export async function readMetrics(path: string): Promise<EpochLine[]> {
  const text = await Deno.readTextFile(path);
  const out: EpochLine[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() === "") continue;
    let v: unknown;
    try {
      v = JSON.parse(lines[i]);
    } catch (e) {
      throw new Error(`${path} line ${i + 1}: not valid JSON (${(e as Error).message})`);
    }
    if (typeof v !== "object" || v === null || Array.isArray(v)) {
      throw new Error(`${path} line ${i + 1}: not a JSON object`);
    }
    out.push(v as EpochLine);
  }
  return out;
}

/**
 * Bring the files derived from the commit record in line with it: `model.safetensors`,
 * `config.json` and `metrics.jsonl` are rewritten (atomically) where their bytes differ from
 * what the checkpoint `c` says. Returns the names rewritten. A checkpoint without records (an
 * older run) takes its records from metrics.jsonl, cut to its finished epochs.
 */
export async function repairRun(
  dir: string,
  layout: ParamLayout,
  c: Checkpoint,
): Promise<string[]> {
  if (!c.records) {
    const path = `${dir}/metrics.jsonl`;
    const lines = await readMetrics(path).catch((e) => {
      if (e instanceof Deno.errors.NotFound) return [];
      throw e;
    });
    if (lines.length < c.epoch) {
      throw new Error(
        `${path} has ${lines.length} lines for ${c.epoch} finished epochs: it cannot be rebuilt`,
      );
    }
    c.records = lines.slice(0, c.epoch);
  }
  const text = new TextEncoder();
  const model = modelBytes(layout, c), kept = keptFileOf(c);
  const want: [string, Uint8Array][] = [
    ["model.safetensors", model],
    ...(kept ? [[kept, model] as [string, Uint8Array]] : []),
    ["config.json", text.encode(configText(c.config, c.spec))],
    ["metrics.jsonl", text.encode(metricsText(c.records))],
  ];
  const fixed: string[] = [];
  for (const [name, bytes] of want) {
    const have = await Deno.readFile(`${dir}/${name}`).catch(() => null);
    if (have && have.length === bytes.length && have.every((b, i) => b === bytes[i])) continue;
    await writeFileAtomic(`${dir}/${name}`, bytes);
    fixed.push(name);
  }
  // Kept files of epochs this record did not commit (a run redone from an earlier commit).
  for await (const e of Deno.readDir(dir)) {
    const m = e.name.match(/^model-epoch-(\d{4,})\.safetensors$/);
    if (m && e.isFile && Number(m[1]) > c.epoch) {
      await Deno.remove(`${dir}/${e.name}`);
      fixed.push(`${e.name} (removed)`);
    }
  }
  return fixed;
}
