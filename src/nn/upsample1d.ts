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
import { type Dispatch, expectLength, grid1d, type TensorLike } from "../gpu/kernel.ts";

/** Sizes of one upsampling. */
export interface Upsample1dShape {
  /** R: rows (batch x height). */
  rows: number;
  /** W: input samples per row (the output has 2 W). */
  width: number;
  /** C: channels per sample. */
  channels: number;
}

const WG = 256;

function check(where: string, s: Upsample1dShape): void {
  for (const [name, v] of Object.entries(s)) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${where}: ${name} must be >= 1, is ${v}`);
  }
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
  const where = "upsample1d.upsample_forward";
  check(where, s);
  const n = s.rows * s.width * s.channels;
  expectLength(where, "y", t.y, 2 * n);
  expectLength(where, "x", t.x, n);
  const k = await gpu.kernel("upsample1d");
  const d = await k.dispatch(
    "upsample_forward",
    { y: t.y, x: t.x, dims: { ...s } },
    grid1d(2 * n, WG),
    { label: `upsample1d_forward ${describe(s)}` },
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
  const where = "upsample1d.upsample_backward";
  check(where, s);
  const n = s.rows * s.width * s.channels;
  expectLength(where, "dx", t.dx, n);
  expectLength(where, "dy", t.dy, 2 * n);
  const k = await gpu.kernel("upsample1d");
  const d = await k.dispatch(
    "upsample_backward",
    { dx: t.dx, dy: t.dy, dims: { ...s } },
    grid1d(n, WG),
    { label: `upsample1d_backward ${describe(s)}` },
  );
  d.flops = 6 * n;
  d.bytes = 4 * 3 * n;
  return d;
}
