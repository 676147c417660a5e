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
import type { Dispatch, TensorLike } from "../gpu/kernel.ts";
import { elementwiseLaunch } from "./_elementwise.ts";

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

function describe(s: ConcatShape): string {
  return `${s.batch}x${s.positions}x(${s.features}+${s.conditions})`;
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
  const rows = s.batch * s.positions, n = rows * (s.features + s.conditions);
  const d = await elementwiseLaunch(
    gpu,
    ["concat", "concat_forward"],
    s,
    [
      ["y", t.y, n],
      ["a", t.a, rows * s.features],
      ["c", t.c, s.batch * s.conditions],
    ],
    dims(s),
    `concat_forward ${describe(s)}`,
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
  const rows = s.batch * s.positions, n = rows * s.features;
  const d = await elementwiseLaunch(
    gpu,
    ["concat", "concat_backward"],
    s,
    [
      ["da", t.da, n],
      ["dy", t.dy, rows * (s.features + s.conditions)],
    ],
    dims(s),
    `concat_backward ${describe(s)}`,
  );
  d.bytes = 8 * n;
  return d;
}
