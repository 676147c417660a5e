/**
 * Transposed 2-D convolution ("deconvolution"), channels last: the upsampling layer of the
 * conv VAE's decoder. Gradients overwrite their outputs.
 *
 * Dimensions: B batch, h x w input image, Cin input channels, Cout output channels,
 * KH x KW kernel, H x W output image (see {@linkcode convTranspose2dOutputSize}).
 *   x, dx [B, h, w, Cin]   y, dy [B, H, W, Cout]   w, dw [KH, KW, Cout, Cin]   b, db [Cout]
 * w has TensorFlow's Conv2DTranspose layout.
 *
 * No kernel of its own: the forward is exactly the input gradient of the convolution that
 * maps [B, H, W, Cout] to [B, h, w, Cin] with the same kernel and stride (its "partner", see
 * {@linkcode convTranspose2dPartner}), whose weights [KH, KW, Cout, Cin] are this layer's w:
 *   y[b, ih, iw, co] = b[co] + sum over (oh, ow, kh, kw) with ih = oh sh - pt + kh and
 *                      iw = ow sw - pl + kw of x[b, oh, ow, ci] w[kh, kw, co, ci]
 * (each input pixel scattered through the kernel), so the shaders/conv2d.wgsl kernels serve
 * with the roles swapped:
 *   y  = partner dx(dy := x) + b       (backward_dx, then add_bias)
 *   dx = partner forward(x := dy)      (no bias)
 *   dw = partner dw(x := dy, dy := x)
 *   db = sum of dy over B, H, W        (partner-shaped 1x1 db)
 */

import type { Gpu } from "../gpu/device.ts";
import type { Dispatch } from "../gpu/kernel.ts";
import {
  conv2dAddBias,
  conv2dBackwardDb,
  conv2dBackwardDw,
  conv2dBackwardDx,
  conv2dForward,
  type Conv2dOptions,
  conv2dOutputSize,
  type Conv2dShape,
  type ConvBackwardTensors,
  type ConvForwardTensors,
  type Padding,
} from "./conv2d.ts";

/**
 * Sizes of one transposed convolution application: B, h x w input, Cin, Cout, [KH, KW] as a
 * conv2d's.
 */
export interface ConvTranspose2dShape extends Conv2dShape {
  /** [rows, columns]: the upsampling factor. */
  stride: [number, number];
  /**
   * "same": H = h sh (TensorFlow's Conv2DTranspose; the partner's "same" maps H back to h),
   * "valid": H = (h - 1) sh + KH, [t, l]: H = (h - 1) sh - 2 t + KH (PyTorch's padding),
   * each plus outputPadding.
   */
  padding: Padding;
  /** Extra rows/columns at the bottom/right ("valid" and explicit only), each < stride. */
  outputPadding?: [number, number];
}

/** Output rows and columns: see {@linkcode ConvTranspose2dShape.padding}. */
export function convTranspose2dOutputSize(
  s: ConvTranspose2dShape,
): { height: number; width: number } {
  const [oph, opw] = s.outputPadding ?? [0, 0];
  const axis = (n: number, k: number, st: number, pad: number | null, op: number) =>
    pad === null ? n * st : (n - 1) * st - 2 * pad + k + op;
  const p = s.padding;
  const [pt, pl] = p === "same" ? [null, null] : p === "valid" ? [0, 0] : p;
  return {
    height: axis(s.height, s.kernel[0], s.stride[0], pt, oph),
    width: axis(s.width, s.kernel[1], s.stride[1], pl, opw),
  };
}

/**
 * The convolution whose input gradient this layer's forward is: input [B, H, W, Cout],
 * output [B, h, w, Cin], same kernel, stride and padding (its output size is h x w; checked).
 */
export function convTranspose2dPartner(s: ConvTranspose2dShape): Conv2dShape {
  const where = "conv_transpose2d";
  const ints: [string, number][] = [
    ["batch", s.batch],
    ["height", s.height],
    ["width", s.width],
    ["inChannels", s.inChannels],
    ["outChannels", s.outChannels],
    ["kernel[0]", s.kernel[0]],
    ["kernel[1]", s.kernel[1]],
    ["stride[0]", s.stride[0]],
    ["stride[1]", s.stride[1]],
  ];
  for (const [key, v] of ints) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${where}: ${key} must be >= 1, got ${v}`);
  }
  const op = s.outputPadding ?? [0, 0];
  for (let a = 0; a < 2; a++) {
    if (!Number.isInteger(op[a]) || op[a] < 0 || op[a] >= s.stride[a]) {
      throw new Error(`${where}: outputPadding must be integers in [0, stride), got ${op}`);
    }
  }
  if (s.padding === "same" && (op[0] !== 0 || op[1] !== 0)) {
    throw new Error(`${where}: outputPadding needs "valid" or explicit padding`);
  }
  const o = convTranspose2dOutputSize(s);
  if (o.height < 1 || o.width < 1) {
    throw new Error(
      `${where}: padding ${JSON.stringify(s.padding)} leaves no output of a ${s.height}x` +
        `${s.width} input`,
    );
  }
  const partner: Conv2dShape = {
    batch: s.batch,
    height: o.height,
    width: o.width,
    inChannels: s.outChannels,
    outChannels: s.inChannels,
    kernel: s.kernel,
    stride: s.stride,
    padding: s.padding,
  };
  const back = conv2dOutputSize(partner);
  if (back.height !== s.height || back.width !== s.width) {
    throw new Error(
      `${where}: internal: partner maps ${o.height}x${o.width} to ${back.height}x` +
        `${back.width}, not ${s.height}x${s.width}`,
    );
  }
  return partner;
}

/**
 * y [B, H, W, Cout] = transposed conv(x [B, h, w, Cin], w [KH, KW, Cout, Cin]) + b [Cout].
 * Returns the partner's dx dispatches (see {@linkcode conv2dBackwardDx}: the `subpixel` kernel
 * adds the bias as it stores), then the bias pass where the dx kernel did not add it.
 * `options.variant` picks the partner's kernel family (vec4 needs Cin % 4 == 0).
 */
export async function convTranspose2dForward(
  gpu: Gpu,
  t: ConvForwardTensors,
  s: ConvTranspose2dShape,
  options: Conv2dOptions = {},
): Promise<Dispatch[]> {
  const p = convTranspose2dPartner(s);
  const scatter = await conv2dBackwardDx(gpu, { dx: t.y, dy: t.x, w: t.w, b: t.b }, p, options);
  if (!t.b || scatter.biasAdded) return [...scatter];
  const bias = await conv2dAddBias(gpu, { x: t.y, b: t.b }, p);
  return [...scatter, bias];
}

/**
 * dx [B, h, w, Cin] (omit for a layer whose input needs no gradient), dw [KH, KW, Cout, Cin],
 * db [Cout] (omit for a layer without bias) from dy [B, H, W, Cout], x and w. Returns the dispatches in the order dx (when
 * asked), dw, db; all overwrite their outputs.
 */
export async function convTranspose2dBackward(
  gpu: Gpu,
  t: ConvBackwardTensors,
  s: ConvTranspose2dShape,
  options: Conv2dOptions = {},
): Promise<Dispatch[]> {
  const p = convTranspose2dPartner(s);
  const out: Dispatch[] = [];
  if (t.dx) out.push(...await conv2dForward(gpu, { y: t.dx, x: t.dy, w: t.w }, p, options));
  out.push(...await conv2dBackwardDw(gpu, { dw: t.dw, dy: t.x, x: t.dy }, p, options));
  // db sums dy [B, H, W, Cout] per channel: a 1x1 convolution of it has that as its output.
  const ones: Conv2dShape = {
    ...p,
    kernel: [1, 1],
    stride: [1, 1],
    padding: "valid",
    inChannels: 1,
    outChannels: s.outChannels,
  };
  if (t.db) out.push(await conv2dBackwardDb(gpu, { db: t.db, dy: t.dy }, ones));
  return out;
}
