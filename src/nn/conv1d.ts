/**
 * 1-D convolution over sequences and its transpose, channels last: the streamline model's
 * encoder and decoder layers. Gradients overwrite their outputs.
 *
 * Dimensions: B batch, L input length, Cin input channels, Cout output channels, K kernel,
 * Lo output length (see {@linkcode conv1dOutputLength}).
 *   conv1d:            x, dx [B, L, Cin]  y, dy [B, Lo, Cout]  w, dw [K, Cin, Cout]  b, db [Cout]
 *   convTranspose1d:   x, dx [B, L, Cin]  y, dy [B, Lo, Cout]  w, dw [K, Cout, Cin]  b, db [Cout]
 *
 * Both are the 2-D ops on one-row images: [B, L, C] is [B, 1, L, C], w [K, Cin, Cout] is
 * [1, K, Cin, Cout], with kernel [1, K], stride [1, s] and padding on columns only, so they share
 * the shaders/conv2d.wgsl kernels (bench/conv_bench.ts measures this against 2-D shapes of the
 * same work).
 */

import type { Gpu } from "../gpu/device.ts";
import type { Dispatch } from "../gpu/kernel.ts";
import {
  conv2dBackward,
  conv2dForward,
  type Conv2dOptions,
  conv2dOutputSize,
  type Conv2dShape,
  type ConvBackwardTensors,
  type ConvForwardTensors,
  type Padding,
} from "./conv2d.ts";
import {
  convTranspose2dBackward,
  convTranspose2dForward,
  convTranspose2dOutputSize,
  type ConvTranspose2dShape,
} from "./conv_transpose2d.ts";

/**
 * Zero padding of a sequence: "same" (Lo = ceil(L / s), the odd pad at the end, as
 * TensorFlow), "valid" (none), or p zeros at each end.
 */
export type Padding1d = "same" | "valid" | number;

/** Sizes of one 1-D convolution application. */
export interface Conv1dShape {
  /** B: sequences. */
  batch: number;
  /** L: input length. */
  length: number;
  /** Cin: channels of x. */
  inChannels: number;
  /** Cout: channels of y. */
  outChannels: number;
  /** K: taps. */
  kernel: number;
  /** Step between output positions. */
  stride: number;
  /** See {@linkcode Padding1d}. */
  padding: Padding1d;
}

/** Sizes of one transposed 1-D convolution application: B, L, Cin, Cout, K as a conv1d's. */
export interface ConvTranspose1dShape extends Conv1dShape {
  /** The upsampling factor. */
  stride: number;
  /**
   * "same": Lo = L s, "valid": Lo = (L - 1) s + K, p: Lo = (L - 1) s - 2 p + K, each plus
   * outputPadding (see {@linkcode ConvTranspose2dShape}).
   */
  padding: Padding1d;
  /** Extra positions at the end ("valid" and explicit only), < stride. Default 0. */
  outputPadding?: number;
}

function pad2d(p: Padding1d): Padding {
  return typeof p === "number" ? [0, p] : p;
}

/** The 2-D shape on one-row images that this 1-D convolution is. */
export function conv1dAs2d(s: Conv1dShape): Conv2dShape {
  return {
    batch: s.batch,
    height: 1,
    width: s.length,
    inChannels: s.inChannels,
    outChannels: s.outChannels,
    kernel: [1, s.kernel],
    stride: [1, s.stride],
    padding: pad2d(s.padding),
  };
}

/** The 2-D shape on one-row images that this transposed 1-D convolution is. */
export function convTranspose1dAs2d(s: ConvTranspose1dShape): ConvTranspose2dShape {
  return { ...conv1dAs2d(s), outputPadding: [0, s.outputPadding ?? 0] };
}

/**
 * Output length: "same" ceil(L / s), "valid" floor((L - K) / s) + 1,
 * p: floor((L + 2 p - K) / s) + 1.
 */
export function conv1dOutputLength(s: Conv1dShape): number {
  return conv2dOutputSize(conv1dAs2d(s)).width;
}

/** Output length: see {@linkcode ConvTranspose1dShape.padding}. */
export function convTranspose1dOutputLength(s: ConvTranspose1dShape): number {
  return convTranspose2dOutputSize(convTranspose1dAs2d(s)).width;
}

/**
 * y [B, Lo, Cout] = conv(x [B, L, Cin], w [K, Cin, Cout]) + b [Cout]. Returns one dispatch.
 */
export function conv1dForward(
  gpu: Gpu,
  t: ConvForwardTensors,
  s: Conv1dShape,
  options: Conv2dOptions = {},
): Promise<Dispatch[]> {
  return conv2dForward(gpu, t, conv1dAs2d(s), options);
}

/**
 * dx [B, L, Cin] (omit when the input needs no gradient), dw [K, Cin, Cout], db [Cout] from
 * dy [B, Lo, Cout], x and w. Dispatches in the order dx (when asked), dw, db; all overwrite.
 */
export function conv1dBackward(
  gpu: Gpu,
  t: ConvBackwardTensors,
  s: Conv1dShape,
  options: Conv2dOptions = {},
): Promise<Dispatch[]> {
  return conv2dBackward(gpu, t, conv1dAs2d(s), options);
}

/**
 * y [B, Lo, Cout] = transposed conv(x [B, L, Cin], w [K, Cout, Cin]) + b [Cout]: the input
 * gradient of the conv1d mapping [B, Lo, Cout] to [B, L, Cin], plus b. Two dispatches.
 */
export function convTranspose1dForward(
  gpu: Gpu,
  t: ConvForwardTensors,
  s: ConvTranspose1dShape,
  options: Conv2dOptions = {},
): Promise<Dispatch[]> {
  return convTranspose2dForward(gpu, t, convTranspose1dAs2d(s), options);
}

/**
 * dx [B, L, Cin] (optional), dw [K, Cout, Cin], db [Cout] from dy [B, Lo, Cout], x and w.
 * Dispatches in the order dx (when asked), dw, db; all overwrite.
 */
export function convTranspose1dBackward(
  gpu: Gpu,
  t: ConvBackwardTensors,
  s: ConvTranspose1dShape,
  options: Conv2dOptions = {},
): Promise<Dispatch[]> {
  return convTranspose2dBackward(gpu, t, convTranspose1dAs2d(s), options);
}
