/**
 * 2-D convolution, channels last: y = conv(x, w) + b, and its backward dx, dw, db. Gradients
 * overwrite their outputs. See shaders/conv2d.wgsl for the formulas and kernels.
 *
 * Dimensions: B batch, H x W input image, Cin input channels, Cout output channels,
 * KH x KW kernel, Ho x Wo output image (see {@linkcode conv2dOutputSize}).
 *   x, dx [B, H, W, Cin]   y, dy [B, Ho, Wo, Cout]   w, dw [KH, KW, Cin, Cout]   b, db [Cout]
 *
 * Kernel families: `naive` (one output per invocation, any shape) and `vec4` (register
 * blocks held as 4x4 matrices, an implicit GEMM reading Cout as vec4s; needs Cout % 4 == 0).
 * Within vec4, where Cin % 4 == 0 forward and dw also read x as vec4s, in blocks of 64 pixels
 * x 32 channels (forward, {@linkcode Conv2dOptions.forwardPixels}) and 32 dw rows x 64
 * channels ({@linkcode Conv2dDwKernel}); one in channel with a 3x3 kernel has its own
 * forward and dw (the filter bank, or the nine taps' sums, in registers); dx with Cin < 16
 * uses one channel x 4 pixels per invocation. By default the fastest that fits the shape on
 * llvmpipe is used (bench/conv_probe.ts).
 *
 * Why big blocks: on llvmpipe a storage-buffer load or store whose address differs per
 * invocation is a loop over the SIMD lanes with a bounds check per component, while
 * multiply-adds run on all lanes at once and spilled accumulators stay in the CPU's caches; so
 * a kernel runs about as fast as it loads few values per multiply-add. 64 x 32 blocks do 8192
 * multiply-adds per 384 values loaded (16 x 16 did 1024 per 128) and run above the dense
 * kernel's 1024^3 "ceiling" (whose blocks are 16 x 16). The price is compile time, paid once
 * (Mesa caches the compiled shader): on llvmpipe under load forward_vec4_cin4_p64 took 47 s
 * the first time, a 32 x 32 block 11 s (and ran 15-18% slower), forward_vec4_cin4_c32 3 s;
 * backward_dw_vec4_cin4_r32c64 12 s. Blocks of 64 x 64 were another 4-8% faster but took
 * minutes to compile.
 *
 * The vec4 dx has two forms ({@linkcode Conv2dDxKernel}): `direct` (the backward_dx_* kernels)
 * and `subpixel`, one stride-1 forward convolution per class of input pixels modulo the stride
 * (see shaders/conv2d.wgsl, subpixel_weights), which runs at the forward kernels' speed.
 * With a tuner attached to the device (src/gpu/tuner.ts), the dx form, the forward's and the
 * dw's blocks and the dw's batch split are chosen by timing the candidates on the adapter.
 *
 * The vec4 dw reduces over pixels inside each invocation, so it has few invocations (18 at
 * 3x3x32->64 with 32 x 64 blocks); when that makes fewer than DW_MIN_GROUPS workgroups, the
 * batch (or, with one in channel, the output rows) is split into chunks with a partial dw each
 * (a scratch buffer allocated when the dispatch is built) and a second dispatch sums them.
 */

import { type Tensor, zeros } from "../gpu/buffer.ts";
import type { Gpu } from "../gpu/device.ts";
import {
  ceilDiv,
  type Dispatch,
  expectLength,
  grid1d,
  type Kernel,
  type TensorLike,
  type TensorView,
  type UniformValues,
} from "../gpu/kernel.ts";
import { tunerOf } from "../gpu/tuner.ts";

/**
 * Zero padding: "same" (Ho = ceil(H / s), TensorFlow's split: the odd row or column of a
 * total pad goes to the bottom/right), "valid" (no padding), or an explicit symmetric
 * [top, left] (bottom = top, right = left).
 */
export type Padding = "same" | "valid" | [number, number];

/** Sizes of one convolution application. */
export interface Conv2dShape {
  /** B: images. */
  batch: number;
  /** H: input rows. */
  height: number;
  /** W: input columns. */
  width: number;
  /** Cin: channels of x. */
  inChannels: number;
  /** Cout: channels of y. */
  outChannels: number;
  /** [KH, KW]. */
  kernel: [number, number];
  /** [rows, columns]. */
  stride: [number, number];
  /** See {@linkcode Padding}. */
  padding: Padding;
}

/** Kernel family; see the module comment. */
export type Conv2dVariant = "naive" | "vec4";

/**
 * How the vec4 family computes dx: `direct` (backward_dx_vec4 / _c8 / _narrow, reducing over
 * the taps that reach each input pixel) or `subpixel` (one stride-1 forward convolution of dy
 * per class of input pixels congruent modulo the stride, with that class's taps reversed and
 * transposed; needs Cin % 4 == 0 and Cout % 4 == 0, see {@linkcode conv2dSubpixelFits}).
 */
export type Conv2dDxKernel = "direct" | "subpixel";

/**
 * The vec4 forward's kernel where one in channel meets a 3x3 kernel ({@linkcode conv2dCin1Fits}):
 * `cin1` (forward_cin1_k3) or `blocks` (forward_vec4, 16 pixels x 16 channels).
 */
export type Conv2dForwardKernel = "cin1" | "blocks";

/**
 * The vec4 dw's kernel: `cin1` (backward_dw_cin1_k3; one in channel, 3x3); with Cin % 4 == 0
 * `r32c64`, `r64c32` or `c32` (backward_dw_vec4_cin4_*, blocks of 32 rows x 64 out channels,
 * 64 x 32 or 16 x 32 per invocation); or `blocks` (backward_dw_vec4 / backward_dw_vec4_cin4,
 * 4 or 16 rows x 16 out channels).
 */
export type Conv2dDwKernel = "cin1" | "r32c64" | "r64c32" | "c32" | "blocks";

/** Options for {@linkcode conv2dForward} and {@linkcode conv2dBackward}. */
export interface Conv2dOptions {
  /** Force a kernel family (benchmarks and tests); default {@linkcode conv2dVariant}. */
  variant?: Conv2dVariant;
  /** Force the vec4 dx kernel; default {@linkcode conv2dDxKernel}. */
  dx?: Conv2dDxKernel;
  /**
   * Workgroup width of forward_vec4_cin4 (the forward with Cin % 4 == 0, and every sub-pixel
   * dx), 2 or 4 (height 64 / width); default {@linkcode conv2dForwardWidth} of its Cout.
   */
  forwardWidth?: 2 | 4;
  /**
   * Out channels per invocation of the forward with Cin % 4 == 0 (and every sub-pixel dx): 16
   * (forward_vec4_cin4, workgroup width `forwardWidth`) or 32 (forward_vec4_cin4_c32); default
   * {@linkcode conv2dForwardChannels}.
   */
  forwardChannels?: 16 | 32;
  /**
   * Pixels per invocation of the 32-channel forward: 64 (forward_vec4_cin4_p64, the default)
   * or 16 (forward_vec4_cin4_c32).
   */
  forwardPixels?: 16 | 64;
  /**
   * The sub-pixel dx with one in channel (a forward into one channel): `strip` (forward_cout1_k3,
   * where the class has 3x3 taps) or `quads` (forward_cout1); default `strip` where it fits.
   * Measured on llvmpipe (bench/conv_probe.ts, 128x28x28x1->32, one run): 10.8 GFLOP/s (41% of
   * the ceiling) against 5.1 (19%).
   */
  cout1?: "strip" | "quads";
  /**
   * The vec4 forward with one in channel and a 3x3 kernel: `cin1` (forward_cin1_k3, the filter
   * bank in registers) or `blocks` (forward_vec4); default {@linkcode conv2dForwardKernel}.
   */
  forwardKernel?: Conv2dForwardKernel;
  /** The vec4 dw kernel; default {@linkcode conv2dDwKernel}. */
  dwKernel?: Conv2dDwKernel;
  /**
   * The vec4 dw splits the batch into image chunks until it has at least this many
   * workgroups (default {@linkcode DW_MIN_GROUPS}); a tuner candidate.
   */
  dwMinGroups?: number;
}

/**
 * The choice of an attached tuner (src/gpu/tuner.ts) among `names` (the default first) for
 * (op, shape s): each candidate built by `build` on zero-filled scratch tensors made by its
 * `scratch` argument, freed after measuring. Undefined without a tuner.
 */
async function tuned(
  gpu: Gpu,
  op: string,
  s: Conv2dShape,
  names: string[],
  build: (name: string, scratch: (n: number) => Tensor) => Promise<Dispatch[]>,
): Promise<string | undefined> {
  const tuner = tunerOf(gpu);
  if (!tuner || names.length < 2) return undefined;
  const made: Tensor[] = [];
  const scratch = (n: number) => {
    const t = zeros(gpu.device, [n], `tune ${op} scratch`);
    made.push(t);
    return t;
  };
  return await tuner.pick(
    op,
    describe(s),
    names.map((name) => ({ name, build: () => build(name, scratch) })),
    () => made.forEach((t) => t.destroy()),
  );
}

/**
 * forward_vec4_cin4's default workgroup width: 4 (a row of 4 invocations covers 64 out
 * channels). Width 2 (a 2 x 32 workgroup) fills the lanes when Cout <= 32 but was not faster on
 * llvmpipe (bench/conv_probe.ts), where lanes that share pixels gather faster; it stays a
 * candidate for the tuner.
 */
export function conv2dForwardWidth(_cout: number): 2 | 4 {
  return 4;
}

/**
 * The default out channels per invocation of the forward with Cin % 4 == 0: 32
 * (forward_vec4_cin4_c32) above 16 out channels, else 16. Measured on llvmpipe
 * (bench/conv_probe.ts, batch 128, one run; ceiling 27.2 GFLOP/s): forward 28x28x32->64 s2
 * 28.2 GFLOP/s against 12.0, 14x14x64->64 s2 30.9 against 13.1, 7x7x64->64 s1 31.7 against
 * 13.2; as the sub-pixel dx 26.7 (28x28x32->64, against the direct kernel's 12.8), 25.4 and
 * 30.6. With 64 pixels per invocation (forward_vec4_cin4_p64, the default forwardPixels) the
 * forwards ran at 35.7, 40.3 and 40.8 GFLOP/s (another run, ceiling 27.4; against about 33 for
 * 16 pixels there).
 */
export function conv2dForwardChannels(cout: number): 16 | 32 {
  return cout > 16 ? 32 : 16;
}

/**
 * Tuner candidates of the forward with Cin % 4 == 0 for `cout` out channels, the default
 * first: "p64" (forward_vec4_cin4_p64; above 16 out channels), "c32" (forward_vec4_cin4_c32),
 * "w4" and "w2" (forward_vec4_cin4's workgroup widths), each after `prefix`.
 */
function blockNames(cout: number, prefix: string): string[] {
  const w0 = conv2dForwardWidth(cout);
  const c16 = [`w${w0}`, `w${6 - w0}`];
  // With 16 out channels or fewer a 32-channel block is half idle: c32 alone stands for them
  // (p64 would cost its long first compile for no gain).
  const names = conv2dForwardChannels(cout) === 32 ? ["p64", "c32", ...c16] : [...c16, "c32"];
  return names.map((n) => prefix + n);
}

/** The options of a {@linkcode blockNames} candidate (its prefix ignored), or "subpixel-quads". */
function blockOptions(name: string): Conv2dOptions {
  if (name.endsWith("p64")) return { forwardChannels: 32, forwardPixels: 64 };
  if (name.endsWith("c32")) return { forwardChannels: 32, forwardPixels: 16 };
  if (name === "subpixel") return {};
  if (name === "subpixel-quads") return { cout1: "quads" };
  return { forwardChannels: 16, forwardWidth: name.endsWith("w2") ? 2 : 4 };
}

/**
 * Entry point and dispatch of the forward with Cin % 4 == 0 for `cout` out channels and P
 * pixels: forward_vec4_cin4 (16 channels, workgroup width wx) or forward_vec4_cin4_c32.
 */
function cin4Launch(
  cout: number,
  P: number,
  o: Conv2dOptions,
): { entry: string; grid: [number, number, number]; constants: Record<string, number> } {
  const c = o.forwardChannels ?? conv2dForwardChannels(cout);
  if (c !== 16 && c !== 32) throw new Error(`conv2d: forwardChannels must be 16 or 32, got ${c}`);
  if (c === 32) {
    const px = o.forwardPixels ?? 64;
    if (px !== 16 && px !== 64) {
      throw new Error(`conv2d: forwardPixels must be 16 or 64, got ${px}`);
    }
    return {
      entry: px === 64 ? "forward_vec4_cin4_p64" : "forward_vec4_cin4_c32",
      grid: grid1d(Math.ceil(P / px) * Math.ceil(cout / 32), DB_WG),
      constants: {},
    };
  }
  const wx = o.forwardWidth;
  const w = wx ?? conv2dForwardWidth(cout);
  if (w !== 2 && w !== 4) throw new Error(`conv2d: forwardWidth must be 2 or 4, got ${w}`);
  return {
    entry: "forward_vec4_cin4",
    grid: grid2d(cout / 4, w * VEC4_BLOCK[0] / 4, P, (64 / w) * VEC4_BLOCK[1]),
    constants: w === 4 ? {} : { FWD_WX: w, FWD_WY: 64 / w },
  };
}

const NAIVE_WG = 16;
/** vec4 kernels: workgroup [4, 16]; forward and dx invocations 16 channels x 16 pixels. */
const VEC4_WG = [4, 16] as const;
const VEC4_BLOCK = [16, 16] as const;
const DB_WG = 64;
const MAX_GROUPS = 65535;

/**
 * Output size and the zero rows/columns added above and left of the image, per axis:
 *   same:     Ho = ceil(H / s), total = max((Ho - 1) s + K - H, 0), top = floor(total / 2)
 *   valid:    Ho = floor((H - K) / s) + 1, top = 0
 *   [t, l]:   Ho = floor((H + 2 t - K) / s) + 1, top = t
 */
export function conv2dOutputSize(
  s: Conv2dShape,
): { height: number; width: number; padTop: number; padLeft: number } {
  const axis = (n: number, k: number, st: number, pad: number | null) => {
    if (pad === null) {
      const out = Math.ceil(n / st);
      return { out, before: Math.floor(Math.max((out - 1) * st + k - n, 0) / 2) };
    }
    return { out: Math.floor((n + 2 * pad - k) / st) + 1, before: pad };
  };
  const p = s.padding;
  const [pt, pl] = p === "same" ? [null, null] : p === "valid" ? [0, 0] : p;
  const h = axis(s.height, s.kernel[0], s.stride[0], pt);
  const w = axis(s.width, s.kernel[1], s.stride[1], pl);
  return { height: h.out, width: w.out, padTop: h.before, padLeft: w.before };
}

/** Whether forward_cin1_k3 serves the shape: one in channel, a 3x3 kernel, Cout % 4 == 0. */
export function conv2dCin1Fits(s: Conv2dShape): boolean {
  return s.inChannels === 1 && s.kernel[0] === 3 && s.kernel[1] === 3 && s.outChannels % 4 === 0;
}

/**
 * The forward kernel used by default where {@linkcode conv2dCin1Fits}: `cin1`. Measured on
 * llvmpipe (bench/conv_probe.ts, 128x28x28x1->32): 16.3 GFLOP/s (56% of the matmul ceiling)
 * against forward_vec4's 2.5 (8%), which reads 9 rows in steps of 4 through gathers.
 */
export function conv2dForwardKernel(_s: Conv2dShape): Conv2dForwardKernel {
  return "cin1";
}

/**
 * Pixels of one output row per invocation of the strip kernels (forward_cin1_k3): at most 32,
 * the row split into equal strips (28 -> one of 28, 40 -> two of 20).
 */
function stripOf(wo: number): number {
  return Math.ceil(wo / Math.ceil(wo / 32));
}

/** The variant used by default: `vec4` when Cout is a multiple of 4, else `naive`. */
export function conv2dVariant(s: Conv2dShape): Conv2dVariant {
  return s.outChannels % 4 === 0 ? "vec4" : "naive";
}

/** One class (a, r) of the sub-pixel dx: its taps, padding and output size per axis. */
interface SubpixelAxis {
  /** The class: input rows (columns) a + s i. */
  a: number;
  /** Taps of the class (kh = k0 + s u). */
  taps: number;
  /** Zero rows above dy in the class's stride-1 convolution. */
  pad: number;
  /** Class rows: ceil((H - a) / s). */
  out: number;
}

/** Per axis, the sub-pixel classes of an input of n rows (kernel k, stride st, top pad p). */
function subpixelAxis(n: number, k: number, st: number, p: number): SubpixelAxis[] | null {
  const out: SubpixelAxis[] = [];
  for (let a = 0; a < st && a < n; a++) {
    const k0 = (a + p) % st;
    const taps = Math.ceil((k - k0) / st);
    if (taps < 1) return null; // a class no tap reaches: its dx is 0, left to the direct kernel
    const kmax = k0 + st * (taps - 1);
    const pad = (kmax - a - p) / st; // exact: kmax = a + p (mod st)
    if (pad < 0) return null;
    out.push({ a, taps, pad, out: Math.ceil((n - a) / st) });
  }
  return out;
}

/**
 * Whether the `subpixel` dx serves this shape: out channels divisible by 4, in channels too or
 * just one (forward_cout1), every class of input pixels reached.
 */
export function conv2dSubpixelFits(s: Conv2dShape): boolean {
  const o = conv2dOutputSize(s);
  return (s.inChannels % 4 === 0 || s.inChannels === 1) && s.outChannels % 4 === 0 &&
    subpixelAxis(s.height, s.kernel[0], s.stride[0], o.padTop) !== null &&
    subpixelAxis(s.width, s.kernel[1], s.stride[1], o.padLeft) !== null;
}

/**
 * The dx kernel used by default (without a tuner's measured choice, src/gpu/tuner.ts):
 * `subpixel` where it fits and Cin >= 32 (or Cin = 1), else `direct`. Measured on llvmpipe
 * (bench/conv_probe.ts), with the 32-channel forward (forward_vec4_cin4_c32): 28x28x32->64 s2
 * at 98% of the matmul ceiling against 49% for backward_dx_vec4_c8; 14x14x64->64 s2 93% against
 * 44%. (With forward_vec4_cin4's 16-channel blocks the sub-pixel dx with 32 in channels had run
 * at 36% against 46%.)
 */
export function conv2dDxKernel(s: Conv2dShape): Conv2dDxKernel {
  return conv2dSubpixelFits(s) && (s.inChannels >= 32 || s.inChannels === 1)
    ? "subpixel"
    : "direct";
}

function pick(where: string, s: Conv2dShape, options: Conv2dOptions): Conv2dVariant {
  const v = options.variant ?? conv2dVariant(s);
  if (v === "vec4" && s.outChannels % 4 !== 0) {
    throw new Error(
      `${where}: the vec4 kernels need out channels divisible by 4 (got ${s.outChannels})`,
    );
  }
  return v;
}

function checkShape(where: string, s: Conv2dShape): { height: number; width: number } {
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
  if (Array.isArray(s.padding)) {
    for (const v of s.padding) {
      if (!Number.isInteger(v) || v < 0) {
        throw new Error(`${where}: explicit padding must be integers >= 0, got ${s.padding}`);
      }
    }
  }
  const o = conv2dOutputSize(s);
  if (o.height < 1 || o.width < 1) {
    throw new Error(
      `${where}: kernel ${s.kernel} does not fit a ${s.height}x${s.width} image with padding ` +
        `${JSON.stringify(s.padding)}`,
    );
  }
  return o;
}

function dimsOf(s: Conv2dShape): Record<string, number> {
  const o = conv2dOutputSize(s);
  return {
    batch: s.batch,
    height: s.height,
    width: s.width,
    cin: s.inChannels,
    cout: s.outChannels,
    kh: s.kernel[0],
    kw: s.kernel[1],
    sh: s.stride[0],
    sw: s.stride[1],
    pt: o.padTop,
    pl: o.padLeft,
    ho: o.height,
    wo: o.width,
    splits: 1,
    chunk: s.batch,
    gr: 4,
    ya: 0,
    ysh: 1,
    yb: 0,
    ysw: 1,
    yh: o.height,
    yw: o.width,
    strip: 1,
  };
}

/**
 * Workgroups for `cols` invocations along x (groups of `wx`) and `rows` along y (groups of
 * `wy`), the y groups spilling into z past the per-dimension limit (shaders use flat_y).
 */
function grid2d(cols: number, wx: number, rows: number, wy: number): [number, number, number] {
  const gy = ceilDiv(rows, wy);
  const z = ceilDiv(gy, MAX_GROUPS);
  return [ceilDiv(cols, wx), ceilDiv(gy, z), z];
}

function describe(s: Conv2dShape): string {
  const p = Array.isArray(s.padding) ? s.padding.join(",") : s.padding;
  return `${s.batch}x${s.height}x${s.width}x${s.inChannels}->${s.outChannels} ` +
    `k${s.kernel.join("x")} s${s.stride.join("x")} ${p}`;
}

/** A zero bias of at least n elements per device, shared by every bias-free forward. */
const zeroBiases = new WeakMap<GPUDevice, Tensor>();

function zeroBias(gpu: Gpu, n: number): TensorView {
  let t = zeroBiases.get(gpu.device);
  if (!t || t.length < n) {
    // WebGPU zero-fills new buffers. A smaller one stays alive for dispatches that bind it.
    t = zeros(gpu.device, [Math.max(n, 256)], "conv2d zero bias");
    zeroBiases.set(gpu.device, t);
  }
  return { tensor: t, offset: 0, length: n };
}

/** The tensors of a convolution forward (2-D, transposed or 1-D); shapes at each builder. */
export interface ConvForwardTensors {
  /** The output. */
  y: Tensor | TensorView;
  /** The input. */
  x: Tensor | TensorView;
  /** The weights. */
  w: Tensor | TensorView;
  /** The bias; omitted, none (a shared zero vector is read). */
  b?: Tensor | TensorView;
}

/** The tensors of a convolution backward; dx and db are omitted where not wanted. */
export interface ConvBackwardTensors {
  /** The input gradient (omit when the input needs no gradient). */
  dx?: Tensor | TensorView;
  /** The weight gradient. */
  dw: Tensor | TensorView;
  /** The bias gradient (omit for a layer without bias). */
  db?: Tensor | TensorView;
  /** The output gradient. */
  dy: Tensor | TensorView;
  /** The forward's input. */
  x: Tensor | TensorView;
  /** The weights. */
  w: Tensor | TensorView;
}

/** The tensors of the input gradient alone (see {@linkcode conv2dBackwardDx}). */
export interface Conv2dDxTensors {
  /** The input gradient (overwritten). */
  dx: Tensor | TensorView;
  /** The output gradient. */
  dy: Tensor | TensorView;
  /** The weights. */
  w: Tensor | TensorView;
  /** The bias of a transposed convolution's forward, when the kernel adds it. */
  b?: Tensor | TensorView;
}

/**
 * y = conv(x, w) + b with y [B, Ho, Wo, Cout], x [B, H, W, Cin], w [KH, KW, Cin, Cout],
 * b [Cout] (omit b for no bias: a shared zero vector is read). Returns one dispatch.
 */
export async function conv2dForward(
  gpu: Gpu,
  t: ConvForwardTensors,
  s: Conv2dShape,
  options: Conv2dOptions = {},
): Promise<Dispatch[]> {
  const where = "conv2d.forward";
  const o = checkShape(where, s);
  const { batch: B, inChannels: Ci, outChannels: Co } = s;
  const [KH, KW] = s.kernel;
  const P = B * o.height * o.width;
  expectLength(where, "y", t.y, P * Co);
  expectLength(where, "x", t.x, B * s.height * s.width * Ci);
  expectLength(where, "w", t.w, KH * KW * Ci * Co);
  const bias = t.b ?? zeroBias(gpu, Co);
  expectLength(where, "b", bias, Co);
  const v = pick(where, s, options);
  const k = await gpu.kernel("conv2d");
  // With Cin % 4 == 0 the vec4 forward also reads x as vec4s (forward_vec4_cin4).
  const cin4 = Ci % 4 === 0;
  if (
    v === "vec4" && cin4 && options.forwardWidth === undefined &&
    options.forwardChannels === undefined
  ) {
    const X = B * s.height * s.width * Ci, Y = P * Co, WN = KH * KW * Ci * Co;
    const choice = await tuned(
      gpu,
      "conv2d.forward",
      s,
      blockNames(Co, ""),
      (n, z) =>
        conv2dForward(gpu, { y: z(Y), x: z(X), w: z(WN), b: z(Co) }, s, {
          ...options,
          ...blockOptions(n),
        }),
    );
    if (choice) options = { ...options, ...blockOptions(choice) };
  }
  if (v === "vec4" && conv2dCin1Fits(s) && options.forwardKernel === undefined) {
    const X = B * s.height * s.width, Y = P * Co, WN = 9 * Co;
    const k0 = conv2dForwardKernel(s);
    const choice = await tuned(
      gpu,
      "conv2d.forward",
      s,
      [k0, k0 === "cin1" ? "blocks" : "cin1"],
      (n, z) =>
        conv2dForward(gpu, { y: z(Y), x: z(X), w: z(WN), b: z(Co) }, s, {
          ...options,
          forwardKernel: n as Conv2dForwardKernel,
        }),
    );
    options = { ...options, forwardKernel: (choice ?? k0) as Conv2dForwardKernel };
  }
  if (v === "vec4" && conv2dCin1Fits(s) && options.forwardKernel === "cin1") {
    const strip = stripOf(o.width);
    const d = await k.dispatch(
      "forward_cin1_k3",
      { y4: t.y, x: t.x, w4: t.w, b4: bias, dims: { ...dimsOf(s), strip } },
      grid1d(B * o.height * Math.ceil(o.width / strip) * Math.ceil(Co / 16), DB_WG),
      { label: `conv2d_forward_cin1_k3 ${describe(s)}` },
    );
    d.flops = 2 * P * KH * KW * Ci * Co + (t.b ? P * Co : 0);
    d.bytes = 4 * (B * s.height * s.width * Ci + KH * KW * Ci * Co + Co + P * Co);
    return [d];
  }
  const launch = cin4 ? cin4Launch(Co, P, options) : {
    entry: "forward_vec4",
    grid: grid2d(Co / 4, VEC4_WG[0] * VEC4_BLOCK[0] / 4, P, VEC4_WG[1] * VEC4_BLOCK[1]),
    constants: {},
  };
  const entry = v === "naive" ? "forward_naive" : launch.entry;
  const d = v === "vec4"
    ? await k.dispatch(
      entry,
      { y4: t.y, [cin4 ? "x4" : "x"]: t.x, w4: t.w, b4: bias, dims: dimsOf(s) },
      launch.grid,
      { label: `conv2d_${entry} ${describe(s)}`, constants: launch.constants },
    )
    : await k.dispatch(
      "forward_naive",
      { y: t.y, x: t.x, w: t.w, b: bias, dims: dimsOf(s) },
      grid2d(Co, NAIVE_WG, P, NAIVE_WG),
      { label: `conv2d_forward_naive ${describe(s)}` },
    );
  d.flops = 2 * P * KH * KW * Ci * Co + (t.b ? P * Co : 0);
  d.bytes = 4 * (B * s.height * s.width * Ci + KH * KW * Ci * Co + Co + P * Co);
  return [d];
}

/**
 * dx [B, H, W, Cin] = the input gradient alone, from dy [B, Ho, Wo, Cout] and w
 * (overwrites dx); also the forward of a transposed convolution, whose bias b [Cin] the
 * `subpixel` kernel adds as it stores (the others leave it to {@linkcode conv2dAddBias}: check
 * `biasAdded`). One dispatch (`direct`), or per sub-pixel class one weight rearrangement and
 * one forward convolution (`subpixel`; scratch weights allocated here).
 */
export async function conv2dBackwardDx(
  gpu: Gpu,
  t: Conv2dDxTensors,
  s: Conv2dShape,
  options: Conv2dOptions = {},
): Promise<Dispatch[] & { biasAdded?: boolean }> {
  const where = "conv2d.backward_dx";
  const o = checkShape(where, s);
  const { batch: B, inChannels: Ci, outChannels: Co } = s;
  const P = B * o.height * o.width;
  const X = B * s.height * s.width * Ci;
  const R = s.kernel[0] * s.kernel[1] * Ci;
  expectLength(where, "dx", t.dx, X);
  expectLength(where, "dy", t.dy, P * Co);
  expectLength(where, "w", t.w, R * Co);
  if (t.b) expectLength(where, "b", t.b, Ci);
  const v = pick(where, s, options);
  if (v === "vec4" && options.dx === undefined && conv2dSubpixelFits(s)) {
    // "subpixel" is the sub-pixel dx with the default forward blocks, "subpixel-NAME" with
    // another of blockNames (Ci = 1: forward_cout1 "quads" in place of forward_cout1_k3).
    const sub = Ci === 1
      ? ["subpixel", "subpixel-quads"]
      : ["subpixel", ...blockNames(Ci, "subpixel-").slice(1)];
    const names = conv2dDxKernel(s) === "subpixel" ? [...sub, "direct"] : ["direct", ...sub];
    const dxOptions = (n: string): Conv2dOptions =>
      n === "direct" ? { dx: "direct" } : { dx: "subpixel", ...blockOptions(n) };
    const choice = await tuned(gpu, "conv2d.dx", s, names, async (n, z) => [
      ...await conv2dBackwardDx(gpu, { dx: z(X), dy: z(P * Co), w: z(R * Co) }, s, {
        ...options,
        ...dxOptions(n),
      }),
    ]);
    if (choice) options = { ...options, ...dxOptions(choice) };
  }
  const kind = v === "naive" ? "direct" : options.dx ?? conv2dDxKernel(s);
  if (kind === "subpixel") {
    if (!conv2dSubpixelFits(s)) {
      throw new Error(
        `${where}: the subpixel kernel needs in and out channels divisible by 4 and every ` +
          `input pixel reached by a tap (got ${describe(s)})`,
      );
    }
    return await subpixelDx(gpu, t, s, options);
  }
  return [await directDx(gpu, t, s, v)];
}

/** The sub-pixel dx: per class, its weights, then a stride-1 forward into its pixels. */
async function subpixelDx(
  gpu: Gpu,
  t: Conv2dDxTensors,
  s: Conv2dShape,
  options: Conv2dOptions,
): Promise<Dispatch[] & { biasAdded?: boolean }> {
  const o = conv2dOutputSize(s);
  const { batch: B, inChannels: Ci, outChannels: Co } = s;
  const [sh, sw] = s.stride;
  const rows = subpixelAxis(s.height, s.kernel[0], sh, o.padTop)!;
  const cols = subpixelAxis(s.width, s.kernel[1], sw, o.padLeft)!;
  const k = await gpu.kernel("conv2d");
  const base = dimsOf(s);
  const bias = t.b ?? zeroBias(gpu, Ci);
  const out: Dispatch[] & { biasAdded?: boolean } = [];
  const P = B * o.height * o.width;
  const R = s.kernel[0] * s.kernel[1] * Ci;
  let macs = 0;
  for (const ra of rows) for (const cr of cols) macs += B * ra.out * cr.out * ra.taps * cr.taps;
  for (const ra of rows) {
    for (const cr of cols) {
      const n = ra.taps * cr.taps * Ci * Co;
      const wc = zeros(gpu.device, [n], "conv2d subpixel weights");
      const wd = await k.dispatch(
        "subpixel_weights",
        { dw: wc, w: t.w, dims: { ...base, ya: ra.a, yb: cr.a, ysh: sh, ysw: sw } },
        grid1d(n, DB_WG),
        { label: `conv2d_subpixel_weights ${describe(s)} class ${ra.a},${cr.a}` },
      );
      wd.flops = 0;
      wd.bytes = 8 * n;
      out.push(wd);
      // dy [B, Ho, Wo, Cout] -> the class's pixels [B, ceil((H - a) / sh), ..., Cin] of dx.
      const dims = {
        ...base,
        height: o.height,
        width: o.width,
        cin: Co,
        cout: Ci,
        kh: ra.taps,
        kw: cr.taps,
        sh: 1,
        sw: 1,
        pt: ra.pad,
        pl: cr.pad,
        ho: ra.out,
        wo: cr.out,
        ya: ra.a,
        ysh: sh,
        yb: cr.a,
        ysw: sw,
        yh: s.height,
        yw: s.width,
      };
      const Pc = B * ra.out * cr.out;
      const label = `conv2d_dx_subpixel ${describe(s)} class ${ra.a},${cr.a}`;
      const launch = cin4Launch(Ci, Pc, options);
      const strip = ra.taps === 3 && cr.taps === 3 && options.cout1 !== "quads";
      const d = Ci === 1
        ? await k.dispatch(
          strip ? "forward_cout1_k3" : "forward_cout1",
          { y: t.dx, x4: t.dy, w4: wc, b: bias, dims },
          strip
            ? grid1d(B * Math.ceil(ra.out / 4) * Math.ceil(cr.out / 16), DB_WG)
            : grid1d(Math.ceil(Pc / 4), DB_WG),
          { label },
        )
        : await k.dispatch(
          launch.entry,
          { y4: t.dx, x4: t.dy, w4: wc, b4: bias, dims },
          launch.grid,
          { label, constants: launch.constants },
        );
      // The direct kernels' count, 2 P KH KW Cin Cout (taps on padding included), shared out
      // by the class's share of the multiply-adds, so GFLOP/s compare across dx kernels.
      d.flops = 2 * P * R * Co * (Pc * ra.taps * cr.taps) / macs + (t.b ? Pc * Ci : 0);
      d.bytes = 4 * (B * o.height * o.width * Co + n + Pc * Ci);
      out.push(d);
    }
  }
  out.biasAdded = t.b !== undefined;
  return out;
}

/** The direct dx kernels (one dispatch). */
async function directDx(
  gpu: Gpu,
  t: { dx: Tensor | TensorView; dy: Tensor | TensorView; w: Tensor | TensorView },
  s: Conv2dShape,
  v: Conv2dVariant,
): Promise<Dispatch> {
  const o = conv2dOutputSize(s);
  const { batch: B, inChannels: Ci, outChannels: Co } = s;
  const P = B * o.height * o.width;
  const X = B * s.height * s.width * Ci;
  const R = s.kernel[0] * s.kernel[1] * Ci;
  const k = await gpu.kernel("conv2d");
  const dims = dimsOf(s);
  const Q = B * s.height * s.width;
  // backward_dx_narrow's blocks: 4 pixels of a row with the same column modulo the stride;
  // backward_dx_vec4's: gr such rows (with the same row modulo the stride) of 16 / gr pixels,
  // gr picked to waste the fewest grid points (ties: more rows).
  const [sh, sw] = s.stride;
  const narrowBlocks = B * s.height * sw * Math.ceil(Math.ceil(s.width / sw) / 4);
  const blocks = (gr: number) =>
    B * sh * Math.ceil(Math.ceil(s.height / sh) / gr) * sw *
    Math.ceil(Math.ceil(s.width / sw) / (16 / gr));
  const gr = [4, 2, 1].reduce((best, g) => blocks(g) < blocks(best) ? g : best);
  // Up to 32 in channels: 8 per invocation, so a workgroup row's four share their pixels.
  const c8 = Ci <= 32;
  // Fewer than 16 in channels would leave most of a vec4 block's 16 channels unused.
  const d = v === "vec4" && Ci < 16
    ? await k.dispatch(
      "backward_dx_narrow",
      { dx: t.dx, dy4: t.dy, w4: t.w, dims },
      grid2d(4, 4, narrowBlocks * Ci, 16),
      { label: `conv2d_dx_narrow ${describe(s)}` },
    )
    : v === "vec4"
    ? await k.dispatch(
      c8 ? "backward_dx_vec4_c8" : "backward_dx_vec4",
      { dx: t.dx, dy4: t.dy, w4: t.w, dims: { ...dims, gr } },
      grid2d(Ci, VEC4_WG[0] * (c8 ? 8 : 16), blocks(gr), VEC4_WG[1]),
      { label: `conv2d_dx_vec4${c8 ? "_c8" : ""} ${describe(s)} grid ${gr}x${16 / gr}` },
    )
    : await k.dispatch(
      "backward_dx_naive",
      { dx: t.dx, dy: t.dy, w: t.w, dims },
      grid2d(Ci, NAIVE_WG, Q, NAIVE_WG),
      { label: `conv2d_dx_naive ${describe(s)}` },
    );
  // Same multiply-adds as the forward (each (output, tap) pair once).
  d.flops = 2 * P * R * Co;
  d.bytes = 4 * (P * Co + R * Co + X);
  return d;
}

/**
 * Workgroups each dw kernel should have at least (the batch is split into chunks reduced
 * separately until it has; llvmpipe runs one workgroup per thread, a wide GPU wants more).
 * backward_dw_cin1_k3 measured on llvmpipe (bench/conv_probe.ts, 128x28x28x1->32, one run):
 * 25.2 GFLOP/s with 8 (93% of the ceiling), 21.0 with 32, 16.4 with 128 (more chunks to
 * reduce), backward_dw_vec4 5.5 (20%). backward_dw_vec4_cin4_c32 (same probe, ceiling 28.7):
 * 28x28x32->64 s2 30.6 GFLOP/s with 8, 29.9 with 32, 28.5 with 128; 14x14x64->64 s2 30.4,
 * 28.7, 25.5; 7x7x64->64 s1 32.3, 29.6, 27.1.
 */
const DW_MIN_GROUPS: Record<Conv2dDwKernel, number> = {
  cin1: 8,
  r32c64: 8,
  r64c32: 8,
  c32: 8,
  blocks: 32,
};

/** The wide dw kernels' blocks: [rows, out channels] per invocation. */
const DW_BLOCKS = { r32c64: [32, 64], r64c32: [64, 32], c32: [16, 32] } as const;

/**
 * The dw kernel used by default: `cin1` where {@linkcode conv2dCin1Fits}; where Cin % 4 == 0,
 * `r32c64` above 32 out channels, `r64c32` above 16; else `blocks`. On llvmpipe (see
 * DW_MIN_GROUPS) c32 ran at 30-32 GFLOP/s on the conv VAE's shapes against
 * backward_dw_vec4_cin4's 14.7-15.4; in another run (ceiling 27-29) r32c64 at 43.3, 39.7 and
 * 40.8 GFLOP/s (28x28x32->64 s2, 14x14x64->64 s2, 7x7x64->64 s1), r64c32 at 37.0, 37.9, 40.2,
 * c32 at 27.2, 27.6, 29.2.
 */
export function conv2dDwKernel(s: Conv2dShape): Conv2dDwKernel {
  if (conv2dCin1Fits(s)) return "cin1";
  if (s.inChannels % 4 !== 0 || s.outChannels <= 16) return "blocks";
  return s.outChannels > 32 ? "r32c64" : "r64c32";
}

/**
 * The wide dw kernels (backward_dw_vec4_cin4_{c32, r32c64, r64c32}): the batch split into
 * chunks of images for at least minGroups workgroups, each chunk's partial dw into a scratch
 * buffer allocated here, then reduce_splits (one dispatch when one chunk holds the batch).
 */
async function dwWide(
  gpu: Gpu,
  t: { dw: Tensor | TensorView; dy: Tensor | TensorView; x: Tensor | TensorView },
  s: Conv2dShape,
  minGroups: number,
  kind: keyof typeof DW_BLOCKS,
): Promise<Dispatch[]> {
  const o = conv2dOutputSize(s);
  const { batch: B, inChannels: Ci, outChannels: Co } = s;
  const R = s.kernel[0] * s.kernel[1] * Ci, P = B * o.height * o.width;
  const [rows, cols] = DW_BLOCKS[kind];
  const perSplit = Math.ceil(R / rows) * Math.ceil(Co / cols);
  const chunk = Math.ceil(B / Math.min(B, Math.ceil(minGroups * DB_WG / perSplit)));
  const splits = Math.ceil(B / chunk);
  const k = await gpu.kernel("conv2d");
  const dims = { ...dimsOf(s), splits, chunk };
  const part = splits > 1 ? zeros(gpu.device, [splits * R * Co], "conv2d dw chunks") : t.dw;
  const d = await k.dispatch(
    `backward_dw_vec4_cin4_${kind}`,
    { dw4: part, dy4: t.dy, x4: t.x, dims },
    grid1d(splits * perSplit, DB_WG),
    { label: `conv2d_dw_vec4_cin4_${kind} ${describe(s)}` },
  );
  d.flops = 2 * P * R * Co;
  d.bytes = 4 * (P * Co + B * s.height * s.width * Ci + splits * R * Co);
  if (splits === 1) return [d];
  return [d, await reduceSplits(k, t.dw, part, dims, splits, R * Co, s)];
}

/**
 * dw [KH, KW, Cin, Cout] = the weight gradient alone, from dy [B, Ho, Wo, Cout] and
 * x [B, H, W, Cin] (overwrites dw). One dispatch, or two when the batch is split into chunks
 * (each chunk's partial dw into a scratch buffer allocated here, then their sum).
 */
export async function conv2dBackwardDw(
  gpu: Gpu,
  t: { dw: Tensor | TensorView; dy: Tensor | TensorView; x: Tensor | TensorView },
  s: Conv2dShape,
  options: Conv2dOptions = {},
): Promise<Dispatch[]> {
  const where = "conv2d.backward_dw";
  const o = checkShape(where, s);
  const { batch: B, inChannels: Ci, outChannels: Co } = s;
  const P = B * o.height * o.width;
  const X = B * s.height * s.width * Ci;
  const R = s.kernel[0] * s.kernel[1] * Ci;
  expectLength(where, "dw", t.dw, R * Co);
  expectLength(where, "dy", t.dy, P * Co);
  expectLength(where, "x", t.x, X);
  if (R > MAX_GROUPS * NAIVE_WG) throw new Error(`${where}: KH KW Cin = ${R} is too large`);
  const v = pick(where, s, options);
  const k = await gpu.kernel("conv2d");
  const dims = dimsOf(s);
  if (v === "naive") {
    const d = await k.dispatch(
      "backward_dw_naive",
      { dw: t.dw, dy: t.dy, x: t.x, dims },
      [ceilDiv(Co, NAIVE_WG), ceilDiv(R, NAIVE_WG), 1],
      { label: `conv2d_dw_naive ${describe(s)}` },
    );
    d.flops = 2 * P * R * Co;
    d.bytes = 4 * (P * Co + X + R * Co);
    return [d];
  }
  // With Cin % 4 == 0, dw blocks are 16 rows (backward_dw_vec4_cin4), else 4.
  const cin4 = Ci % 4 === 0;
  const dwRows = cin4 ? 16 : 4;
  const groups: [number, number] = [
    ceilDiv(Co / 4, VEC4_WG[0] * 4),
    ceilDiv(R, VEC4_WG[1] * dwRows),
  ];
  const fits: Conv2dDwKernel[] = [
    ...(conv2dCin1Fits(s) ? ["cin1" as const] : []),
    ...(cin4 ? ["r32c64" as const, "r64c32" as const, "c32" as const] : []),
    "blocks",
  ];
  let kind = options.dwKernel ?? conv2dDwKernel(s);
  if (!fits.includes(kind)) {
    throw new Error(`${where}: dw kernel ${kind} does not fit ${describe(s)}`);
  }
  let minGroups = options.dwMinGroups ?? DW_MIN_GROUPS[kind];
  if (options.dwMinGroups === undefined && options.dwKernel === undefined) {
    // Candidates: the default kernel with three batch splits, then each other kernel with its
    // default split; "groupsN" is the block kernel, "KIND-groupsN" the others.
    const name = (k: Conv2dDwKernel, g: number) =>
      k === "blocks" ? `groups${g}` : `${k}-groups${g}`;
    const splits = [DW_MIN_GROUPS[kind], ...[8, 32, 128].filter((g) => g !== DW_MIN_GROUPS[kind])];
    const names = [
      ...splits.slice(0, 3).map((g) => name(kind, g)),
      ...fits.filter((k) => k !== kind).map((k) => name(k, DW_MIN_GROUPS[k])),
    ];
    const parse = (n: string): Conv2dOptions => ({
      dwKernel: n.startsWith("groups") ? "blocks" : n.split("-")[0] as Conv2dDwKernel,
      dwMinGroups: Number(n.split("groups")[1]),
    });
    const choice = await tuned(
      gpu,
      "conv2d.dw",
      s,
      names,
      (n, z) =>
        conv2dBackwardDw(gpu, { dw: z(R * Co), dy: z(P * Co), x: z(X) }, s, {
          ...options,
          ...parse(n),
        }),
    );
    if (choice) {
      const o = parse(choice);
      kind = o.dwKernel!;
      minGroups = o.dwMinGroups!;
    }
  }
  if (!Number.isInteger(minGroups) || minGroups < 1) {
    throw new Error(`${where}: dwMinGroups must be an integer >= 1, got ${minGroups}`);
  }
  if (kind === "cin1") return await dwCin1(gpu, t, s, minGroups);
  if (kind !== "blocks") return await dwWide(gpu, t, s, minGroups, kind);
  const chunk = Math.ceil(B / Math.min(B, ceilDiv(minGroups, groups[0] * groups[1])));
  const splits = Math.ceil(B / chunk);
  const part = splits > 1 ? zeros(gpu.device, [splits * R * Co], "conv2d dw chunks") : t.dw;
  const entry = cin4 ? "backward_dw_vec4_cin4" : "backward_dw_vec4";
  const d = await k.dispatch(
    entry,
    { dw4: part, dy4: t.dy, [cin4 ? "x4" : "x"]: t.x, dims: { ...dims, splits, chunk } },
    [groups[0], groups[1], splits],
    { label: `conv2d_dw_vec4${cin4 ? "_cin4" : ""} ${describe(s)}` },
  );
  d.flops = 2 * P * R * Co;
  d.bytes = 4 * (P * Co + X + splits * R * Co);
  if (splits === 1) return [d];
  return [d, await reduceSplits(k, t.dw, part, { ...dims, splits, chunk }, splits, R * Co, s)];
}

/**
 * backward_dw_cin1_k3: chunks of R output rows (R chosen for at least 64 minGroups invocations),
 * each chunk's partial dw into a scratch buffer allocated here, then reduce_splits (one
 * dispatch when a single chunk covers every row).
 */
async function dwCin1(
  gpu: Gpu,
  t: { dw: Tensor | TensorView; dy: Tensor | TensorView; x: Tensor | TensorView },
  s: Conv2dShape,
  minGroups: number,
): Promise<Dispatch[]> {
  const o = conv2dOutputSize(s);
  const { batch: B, outChannels: Co } = s;
  const rows = B * o.height;
  const nb = Math.ceil(Co / 16);
  const strip = Math.max(1, Math.floor(rows * nb / (64 * minGroups)));
  const splits = Math.ceil(rows / strip);
  const R = 9, P = rows * o.width;
  const k = await gpu.kernel("conv2d");
  const dims = { ...dimsOf(s), splits, chunk: 0, strip };
  const part = splits > 1 ? zeros(gpu.device, [splits * R * Co], "conv2d dw chunks") : t.dw;
  const d = await k.dispatch(
    "backward_dw_cin1_k3",
    { dw4: part, dy4: t.dy, x: t.x, dims },
    grid1d(splits * nb, DB_WG),
    { label: `conv2d_dw_cin1_k3 ${describe(s)}` },
  );
  d.flops = 2 * P * R * Co;
  d.bytes = 4 * (P * Co + B * s.height * s.width + splits * R * Co);
  if (splits === 1) return [d];
  return [d, await reduceSplits(k, t.dw, part, dims, splits, R * Co, s)];
}

/**
 * dw = the sum of `splits` partial weight gradients in `part` (reduce_splits): one dispatch,
 * over the `n` = R * Cout values of dw.
 */
async function reduceSplits(
  k: Kernel,
  dw: TensorLike,
  part: TensorLike,
  dims: UniformValues,
  splits: number,
  n: number,
  s: Conv2dShape,
): Promise<Dispatch> {
  const sum = await k.dispatch(
    "reduce_splits",
    { dw, part, dims },
    grid1d(n, DB_WG),
    { label: `conv2d_dw_reduce ${describe(s)} ${splits} chunks` },
  );
  sum.flops = splits * n;
  sum.bytes = 4 * (splits + 1) * n;
  return sum;
}

/** db [Cout] = sum of dy [B, Ho, Wo, Cout] over B, Ho, Wo (overwrites db). One dispatch. */
export async function conv2dBackwardDb(
  gpu: Gpu,
  t: { db: Tensor | TensorView; dy: Tensor | TensorView },
  s: Conv2dShape,
): Promise<Dispatch> {
  const where = "conv2d.backward_db";
  const o = checkShape(where, s);
  const P = s.batch * o.height * o.width;
  const Co = s.outChannels;
  expectLength(where, "db", t.db, Co);
  expectLength(where, "dy", t.dy, P * Co);
  const k = await gpu.kernel("conv2d");
  const d = await k.dispatch(
    "backward_db",
    { db: t.db, dy: t.dy, dims: dimsOf(s) },
    grid1d(Co, DB_WG),
    { label: `conv2d_db ${describe(s)}` },
  );
  d.flops = P * Co;
  d.bytes = 4 * (P * Co + Co);
  return d;
}

/**
 * x [B, H, W, Cin] += b [Cin]: the bias of a transposed convolution, whose output has this
 * convolution's input layout (written first by {@linkcode conv2dBackwardDx}). One dispatch.
 */
export async function conv2dAddBias(
  gpu: Gpu,
  t: { x: Tensor | TensorView; b: Tensor | TensorView },
  s: Conv2dShape,
): Promise<Dispatch> {
  const where = "conv2d.add_bias";
  checkShape(where, s);
  const X = s.batch * s.height * s.width * s.inChannels;
  expectLength(where, "x", t.x, X);
  expectLength(where, "b", t.b, s.inChannels);
  const k = await gpu.kernel("conv2d");
  const d = await k.dispatch(
    "add_bias",
    { dx: t.x, b: t.b, dims: dimsOf(s) },
    grid1d(X, DB_WG),
    { label: `conv2d_add_bias ${describe(s)}` },
  );
  d.flops = X;
  d.bytes = 4 * (2 * X + s.inChannels);
  return d;
}

/**
 * dx [B, H, W, Cin] (omit for a first layer, whose input needs no gradient),
 * dw [KH, KW, Cin, Cout], db [Cout] (omit: no bias) from dy [B, Ho, Wo, Cout], x and w. Returns the dispatches
 * in the order dx (when asked), dw, db; all overwrite their outputs.
 */
export async function conv2dBackward(
  gpu: Gpu,
  t: ConvBackwardTensors,
  s: Conv2dShape,
  options: Conv2dOptions = {},
): Promise<Dispatch[]> {
  const where = "conv2d.backward";
  checkShape(where, s);
  const X = s.batch * s.height * s.width * s.inChannels;
  expectLength(where, "x", t.x, X);
  expectLength(where, "w", t.w, s.kernel[0] * s.kernel[1] * s.inChannels * s.outChannels);
  const out: Dispatch[] = [];
  if (t.dx) out.push(...await conv2dBackwardDx(gpu, { dx: t.dx, dy: t.dy, w: t.w }, s, options));
  out.push(...await conv2dBackwardDw(gpu, { dw: t.dw, dy: t.dy, x: t.x }, s, options));
  if (t.db) out.push(await conv2dBackwardDb(gpu, { db: t.db, dy: t.dy }, s));
  return out;
}
