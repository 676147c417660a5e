/**
 * The bytes of a run folder's files, without touching a disk (no Deno API, so the training page
 * writes the same files: src/web/train/run_files.ts): `optimizer.safetensors` (the commit
 * record), `model.safetensors`, `config.json` and `metrics.jsonl`. src/train/checkpoint.ts
 * writes them atomically and reads them back; see there for what each holds.
 */

import type { ParamLayout } from "../nn/params.ts";
import { encodeSafetensors } from "../io/safetensors.ts";

/** The full training state at a step boundary. */
export interface Checkpoint {
  /** Flat parameters (layout.size floats). */
  params: Float32Array;
  /** Adam first moment, flat. */
  m: Float32Array;
  /** Adam second moment, flat. */
  v: Float32Array;
  /** Optimizer steps completed. */
  step: number;
  /** Epoch in progress (0-based). */
  epoch: number;
  /** Steps of that epoch already done. */
  stepInEpoch: number;
  /** Metric sums of the epoch in progress (the GPU metrics buffer). */
  sums: number[];
  /** Resolved configuration, as JSON text. */
  config: string;
  /** The resolved model spec (src/vae/spec.ts), as JSON text; written when given. */
  spec?: string;
  /**
   * The lines of metrics.jsonl for every finished epoch (the commit record); absent in
   * checkpoints written before records travelled with them.
   */
  records?: EpochLine[];
}

/** One line of metrics.jsonl, as stored (an EpochRecord plus the train task's extras). */
export type EpochLine = Record<string, unknown>;

/** The format tag both safetensors files of a run carry in their metadata. */
export const CHECKPOINT_FORMAT = "webgpu-vae/1";

/** The bytes of metrics.jsonl for `records`: one JSON line each. */
export function metricsText(records: EpochLine[]): string {
  return records.map((r) => JSON.stringify(r) + "\n").join("");
}

/**
 * The bytes of config.json for a config given as JSON text, with the model spec (JSON text,
 * src/vae/spec.ts) under the key `spec` when there is one.
 */
export function configText(config: string, spec?: string): string {
  const value = JSON.parse(config);
  if (spec !== undefined) value.spec = JSON.parse(spec);
  return JSON.stringify(value, null, 2) + "\n";
}

/**
 * The bytes of model.safetensors for `c`: the weights by layer name of `layout`, the config,
 * counters and spec in the metadata.
 */
export function modelBytes(layout: ParamLayout, c: Checkpoint): Uint8Array {
  return encodeSafetensors(
    layout.entries.map((e) => ({
      name: e.name,
      dtype: "F32" as const,
      shape: e.shape,
      data: c.params.subarray(e.offset, e.offset + e.length),
    })),
    metadata(c),
  );
}

function metadata(c: Checkpoint): Record<string, string> {
  return {
    format: CHECKPOINT_FORMAT,
    config: c.config,
    step: String(c.step),
    epoch: String(c.epoch),
    step_in_epoch: String(c.stepInEpoch),
    ...(c.spec === undefined ? {} : { spec: c.spec }),
  };
}

/**
 * The bytes of optimizer.safetensors for `c`: flat parameters and Adam moments, the counters,
 * config and spec, the metric sums and (when `c.records` is given) every finished epoch's record.
 */
export function optimizerBytes(c: Checkpoint): Uint8Array {
  return encodeSafetensors(
    [
      { name: "params", dtype: "F32", shape: [c.params.length], data: c.params },
      { name: "adam.m", dtype: "F32", shape: [c.m.length], data: c.m },
      { name: "adam.v", dtype: "F32", shape: [c.v.length], data: c.v },
    ],
    {
      ...metadata(c),
      sums: JSON.stringify(c.sums),
      ...(c.records ? { records: JSON.stringify(c.records) } : {}),
    },
  );
}
