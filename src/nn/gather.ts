/**
 * The batcher's GPU half: a dataset uploaded once as u8 (N examples of F bytes: images) or
 * f32 (N examples of F values: streamline coordinates, condition vectors) and a shuffled
 * index buffer; each step gathers B examples into a normalized f32 batch.
 *
 * B batch, F features (values per example), N examples, I entries in the index.
 */

import type { Tensor } from "../gpu/buffer.ts";
import type { Gpu } from "../gpu/device.ts";
import { type Dispatch, expectLength, expectSizes, grid1d } from "../gpu/kernel.ts";

/** Sizes and normalization of one gathered batch. */
export interface GatherShape {
  /** B: examples in this batch (the last batch of an epoch may be short). */
  batch: number;
  /** F: values per example. */
  features: number;
  /** First index entry of this batch; change it each step with `dispatch.update("dims", { offset })`. */
  offset: number;
  /** Multiplier of each byte, e.g. 1 / 255. */
  scale: number;
  /** Added after scaling. */
  shift: number;
}

const WG = 256;

/**
 * x[b, f] = data[index[offset + b] * F + f] * scale + shift.
 * Shapes: x [B, F] f32; data [N * F] u8 or f32; index [I] u32 holding example numbers < N.
 * An index entry or example out of range (say, after a later offset update) yields NaN.
 */
export async function gatherBatch(
  gpu: Gpu,
  t: { x: Tensor; data: Tensor; index: Tensor },
  s: GatherShape,
): Promise<Dispatch> {
  const where = "gather.gather";
  expectSizes(where, { batch: s.batch, features: s.features });
  if (t.data.dtype !== "u8" && t.data.dtype !== "f32") {
    throw new Error(`${where}: data (${t.data.label}) must be u8 or f32, is ${t.data.dtype}`);
  }
  const bytes = t.data.dtype === "u8";
  if (t.index.dtype !== "u32") {
    throw new Error(`${where}: index (${t.index.label}) must be u32, is ${t.index.dtype}`);
  }
  if (t.data.length % s.features !== 0) {
    throw new Error(
      `${where}: data (${t.data.label}) has ${t.data.length} values, not a whole number of ` +
        `${s.features}-value examples`,
    );
  }
  if (!Number.isInteger(s.offset) || s.offset < 0 || s.offset + s.batch > t.index.length) {
    throw new Error(
      `${where}: batch [${s.offset}, ${s.offset + s.batch}) is outside index ` +
        `(${t.index.label}), which has ${t.index.length} entries`,
    );
  }
  if (!Number.isFinite(s.scale) || !Number.isFinite(s.shift)) {
    throw new Error(`${where}: scale and shift must be finite`);
  }
  const n = s.batch * s.features;
  expectLength(where, "x", t.x, n);
  const k = await gpu.kernel("gather");
  const d = await k.dispatch(
    bytes ? "gather" : "gather_f32",
    {
      x: t.x,
      [bytes ? "data" : "values"]: t.data,
      index: t.index,
      dims: {
        batch: s.batch,
        features: s.features,
        offset: s.offset,
        examples: t.data.length / s.features,
        indices: t.index.length,
        scale: s.scale,
        shift: s.shift,
      },
    },
    grid1d(n, WG),
    { label: bytes ? "gather" : "gather_f32" },
  );
  d.flops = 2 * n;
  d.bytes = (bytes ? 5 : 8) * n + 4 * s.batch;
  return d;
}
