/**
 * Condition concatenation (conditional VAEs): a per-example condition appended to the
 * features of every position - to a dense layer's input (P = 1) or as extra channels of an
 * NHWC feature map (P = H W). Its backward passes the gradient of the original features on
 * and drops the condition's (the condition is data, not a parameter).
 *
 * B batch, P positions per example, A features per position, C condition values.
 *   a, da [B, P, A]   c [B, C]   y, dy [B, P, A + C]
 */

import type { Tensor } from "../gpu/buffer.ts";
import type { Gpu } from "../gpu/device.ts";
import { type Dispatch, expectLength, grid1d, type TensorLike } from "../gpu/kernel.ts";

/** Sizes of one concatenation. */
export interface ConcatShape {
  /** B: examples. */
  batch: number;
  /** P: positions per example (1 for a dense input, H W for an NHWC map). */
  positions: number;
  /** A: features (channels) of `a` per position. */
  features: number;
  /** C: condition values per example. */
  conditions: number;
}

const WG = 256;

function check(where: string, s: ConcatShape): void {
  for (const [name, v] of Object.entries(s)) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${where}: ${name} must be >= 1, is ${v}`);
  }
}

function dims(s: ConcatShape) {
  return { batch: s.batch, positions: s.positions, a: s.features, c: s.conditions };
}

/** y[b, p, :] = [a[b, p, :], c[b, :]]. */
export async function concatForward(
  gpu: Gpu,
  t: { y: Tensor; a: TensorLike; c: TensorLike },
  s: ConcatShape,
): Promise<Dispatch> {
  const where = "concat.concat_forward";
  check(where, s);
  const rows = s.batch * s.positions, n = rows * (s.features + s.conditions);
  expectLength(where, "y", t.y, n);
  expectLength(where, "a", t.a, rows * s.features);
  expectLength(where, "c", t.c, s.batch * s.conditions);
  const k = await gpu.kernel("concat");
  const d = await k.dispatch(
    "concat_forward",
    { y: t.y, a: t.a, c: t.c, dims: dims(s) },
    grid1d(n, WG),
    { label: `concat_forward ${s.batch}x${s.positions}x(${s.features}+${s.conditions})` },
  );
  d.bytes = 8 * n;
  return d;
}

/** da[b, p, :] = dy[b, p, :A] (the condition's share of dy is dropped). */
export async function concatBackward(
  gpu: Gpu,
  t: { da: Tensor; dy: TensorLike },
  s: ConcatShape,
): Promise<Dispatch> {
  const where = "concat.concat_backward";
  check(where, s);
  const rows = s.batch * s.positions, n = rows * s.features;
  expectLength(where, "da", t.da, n);
  expectLength(where, "dy", t.dy, rows * (s.features + s.conditions));
  const k = await gpu.kernel("concat");
  const d = await k.dispatch(
    "concat_backward",
    { da: t.da, dy: t.dy, dims: dims(s) },
    grid1d(n, WG),
    { label: `concat_backward ${s.batch}x${s.positions}x(${s.features}+${s.conditions})` },
  );
  d.bytes = 8 * n;
  return d;
}
