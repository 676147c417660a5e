/**
 * Checkpoints of a run folder:
 * - `model.safetensors`: the weights by layer name (`encoder.0.weight` [in, out], ...), with
 *   the model config and the optimizer step in the header metadata; opens in any
 *   safetensors reader.
 * - `optimizer.safetensors`: everything an exact resume needs, in one file so it can never
 *   be half old and half new: the flat parameters and Adam moments, the step counter, the
 *   position in the epoch and the metric sums so far.
 * Both are written atomically (temporary file, then rename): a crash mid-save leaves the
 * previous checkpoint intact.
 */

import type { ParamLayout } from "../nn/params.ts";
import { writeFileAtomic } from "./atomic.ts";
import { encodeSafetensors, parseSafetensors, SafetensorsError } from "./safetensors.ts";

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
}

const FORMAT = "webgpu-vae/1";

/** Write `model.safetensors` and `optimizer.safetensors` into `dir`, each atomically. */
export async function saveCheckpoint(
  dir: string,
  layout: ParamLayout,
  c: Checkpoint,
): Promise<void> {
  const meta = {
    format: FORMAT,
    config: c.config,
    step: String(c.step),
    epoch: String(c.epoch),
    step_in_epoch: String(c.stepInEpoch),
    ...(c.spec === undefined ? {} : { spec: c.spec }),
  };
  const state = encodeSafetensors(
    [
      { name: "params", dtype: "F32", shape: [c.params.length], data: c.params },
      { name: "adam.m", dtype: "F32", shape: [c.m.length], data: c.m },
      { name: "adam.v", dtype: "F32", shape: [c.v.length], data: c.v },
    ],
    { ...meta, sums: JSON.stringify(c.sums) },
  );
  const weights = encodeSafetensors(
    layout.entries.map((e) => ({
      name: e.name,
      dtype: "F32" as const,
      shape: e.shape,
      data: c.params.subarray(e.offset, e.offset + e.length),
    })),
    meta,
  );
  await writeFileAtomic(`${dir}/optimizer.safetensors`, state);
  await writeFileAtomic(`${dir}/model.safetensors`, weights);
}

/** Read the exact-resume state of the run in `dir`; a one-line error if it is unusable. */
export async function loadCheckpoint(dir: string, layout: ParamLayout): Promise<Checkpoint> {
  const path = `${dir}/optimizer.safetensors`;
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new Error(`cannot resume: ${path} cannot be read (${(e as Error).message})`);
  }
  const f = parseSafetensors(bytes, path);
  const meta = f.metadata;
  if (meta.format !== FORMAT) throw new SafetensorsError(`${path}: not a webgpu-vae checkpoint`);
  const flat = (name: string) => {
    const t = f.tensors.get(name);
    if (!t || t.dtype !== "F32" || t.shape.length !== 1 || t.shape[0] !== layout.size) {
      throw new SafetensorsError(`${path}: ${name} is missing or does not fit this model`);
    }
    return Float32Array.from(t.data as Float32Array);
  };
  const int = (key: string) => {
    const n = Number(meta[key]);
    if (!Number.isInteger(n) || n < 0) {
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
  return {
    params: flat("params"),
    m: flat("adam.m"),
    v: flat("adam.v"),
    step: int("step"),
    epoch: int("epoch"),
    stepInEpoch: int("step_in_epoch"),
    sums,
    config: meta.config ?? "{}",
  };
}
