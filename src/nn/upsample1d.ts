/**
 * Linear upsampling by 2 along a sequence (an NHWC map of height 1, e.g. a streamline's
 * points): the first half of the streamline decoder's "upsample, then convolve" layers. See
 * shaders/upsample1d.wgsl for the interpolation weights and their transpose.
 *
 * R rows (batch x height), W input samples, C channels.
 *   x, dx [R, W, C]   y, dy [R, 2W, C]
 */

import type { Tensor } from "../gpu/buffer.ts";
import type { Gpu } from "../gpu/device.ts";
import type { Dispatch, TensorLike } from "../gpu/kernel.ts";
import { elementwiseLaunch } from "./_elementwise.ts";

/** Sizes of one upsampling. */
export interface Upsample1dShape {
  /** R: rows (batch x height). */
  rows: number;
  /** W: input samples per row (the output has 2 W). */
  width: number;
  /** C: channels per sample. */
  channels: number;
}

function describe(s: Upsample1dShape): string {
  return `${s.rows}x${s.width}x${s.channels}`;
}

/** y = the linear 2x upsampling of x along the width. */
export async function upsample1dForward(
  gpu: Gpu,
  t: { y: Tensor; x: TensorLike },
  s: Upsample1dShape,
): Promise<Dispatch> {
  const n = s.rows * s.width * s.channels;
  const d = await elementwiseLaunch(
    gpu,
    ["upsample1d", "upsample_forward"],
    s,
    [
      ["y", t.y, 2 * n],
      ["x", t.x, n],
    ],
    { ...s },
    `upsample1d_forward ${describe(s)}`,
  );
  d.flops = 3 * 2 * n;
  d.bytes = 4 * 3 * n;
  return d;
}

/** dx = the transpose of the upsampling applied to dy. */
export async function upsample1dBackward(
  gpu: Gpu,
  t: { dx: Tensor; dy: TensorLike },
  s: Upsample1dShape,
): Promise<Dispatch> {
  const n = s.rows * s.width * s.channels;
  const d = await elementwiseLaunch(
    gpu,
    ["upsample1d", "upsample_backward"],
    s,
    [
      ["dx", t.dx, n],
      ["dy", t.dy, 2 * n],
    ],
    { ...s },
    `upsample1d_backward ${describe(s)}`,
  );
  d.flops = 6 * n;
  d.bytes = 4 * 3 * n;
  return d;
}
