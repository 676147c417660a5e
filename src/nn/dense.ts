/**
 * Dense (fully connected) layer: y = x W + b, and its backward dx = dy W^T, dW = x^T dy,
 * db = column sums of dy. Gradients overwrite their outputs.
 *
 * Dimensions: B batch, K in features, N out features.
 *   x, dx [B, K]   y, dy [B, N]   W, dW [K, N]   b, db [N]      (row-major f32)
 *
 * W, b, dW and db are usually views into one flat parameter (gradient) buffer. Each product
 * has three kernels (see shaders/dense.wgsl): `naive` (one output per invocation, kept as the
 * baseline), `tiled` (any shape) and `vec4` (K and N multiples of 4, the fastest). By default
 * the fastest that fits the shape is used; bench/dense_bench.ts measures all three.
 *
 * Fused ReLU (every variant): `denseForward(..., { activation: "relu" })` writes
 * y = relu(x W + b) in the product's epilogue, and `denseBackward(..., { dxActivation: "relu" })`
 * writes dx = (dy W^T) * (x > 0) for a layer whose input x is a ReLU's output, i.e. the
 * gradient of that ReLU's pre-activation. An MLP then keeps only h = relu(pre) per layer and
 * runs no activation passes: each hidden layer's forward is fused, and its ReLU backward is
 * folded into the dx of the layer above (see shaders/dense.wgsl for why there).
 * `denseBackward(..., { fuseDb: true })` has the dW dispatch write db as well (no db pass).
 */

import type { Tensor } from "../gpu/buffer.ts";
import type { Gpu } from "../gpu/device.ts";
import { ceilDiv, type Dispatch, expectLength, grid1d, type TensorView } from "../gpu/kernel.ts";
import { zeros } from "../gpu/buffer.ts";
import { tunerOf } from "../gpu/tuner.ts";

/** Sizes of one dense layer application. */
export interface DenseShape {
  /** B: rows of x and y. */
  batch: number;
  /** K: columns of x, rows of W. */
  inFeatures: number;
  /** N: columns of W and y, length of b. */
  outFeatures: number;
}

/**
 * Kernel family of a matrix product: `naive` (one output per invocation), `tiled` (16x16
 * register blocks, any shape), `vec4` (16x16 register blocks read as vec4s; needs K and N
 * multiples of 4), `shared` (64x64 tiles through workgroup memory, any shape:
 * shaders/dense_shared.wgsl, the family real GPUs want; a tuner candidate, src/gpu/tuner.ts).
 */
export type DenseVariant = "naive" | "tiled" | "vec4" | "shared";

/** Activation fused into a dense kernel's epilogue: none (`identity`) or ReLU. */
export type DenseActivation = "identity" | "relu";

/** Options for {@linkcode denseForward} and {@linkcode denseBackward}. */
export interface DenseOptions {
  /**
   * Force a kernel family (benchmarks and tests); default: {@linkcode denseVariant}. Asking
   * for `vec4` on a shape it cannot serve is an error.
   */
  variant?: DenseVariant;
  /**
   * Forward only: y = act(x W + b). `relu` replaces a dense forward followed by a ReLU
   * activation pass, with the same result bit for bit. Default `identity`.
   */
  activation?: DenseActivation;
  /**
   * Backward only: `relu` when x is the output of a ReLU, x = relu(pre); dx is then written
   * as the gradient of pre, (dy W^T) * (x > 0), replacing dx followed by the ReLU backward
   * pass (same bits; relu'(pre) = (pre > 0) = (x > 0)). dW and db are unchanged. Needs dx.
   * Default `identity`.
   */
  dxActivation?: DenseActivation;
  /**
   * Backward only: the dW dispatch writes db too (same bits as the separate db pass), so
   * denseBackward returns [dx, dW] (or [dW]) without the db dispatch. Default false.
   */
  fuseDb?: boolean;
}

/** Outputs per invocation along each axis in the tiled and vec4 kernels, and their workgroup. */
const BLOCK = 16;
const TILED_WG = [8, 4] as const;
const NAIVE_WG = 16;
const DB_WG = 64;

/** The variant used by default: `vec4` when K and N are multiples of 4, else `tiled`. */
export function denseVariant(s: DenseShape): DenseVariant {
  return vec4Fits(s) ? "vec4" : "tiled";
}

function vec4Fits(s: DenseShape): boolean {
  return s.inFeatures % 4 === 0 && s.outFeatures % 4 === 0;
}

function pick(where: string, s: DenseShape, options: DenseOptions): DenseVariant {
  const v = options.variant ?? denseVariant(s);
  if (v === "vec4" && !vec4Fits(s)) {
    throw new Error(
      `${where}: the vec4 kernels need in and out features divisible by 4 ` +
        `(got ${s.inFeatures} -> ${s.outFeatures})`,
    );
  }
  return v;
}

function checkShape(where: string, s: DenseShape): void {
  for (const key of ["batch", "inFeatures", "outFeatures"] as const) {
    const v = s[key];
    if (!Number.isInteger(v) || v < 1) throw new Error(`${where}: ${key} must be >= 1, got ${v}`);
  }
}

/**
 * Workgroups covering an output of `rows` x `cols`: one invocation per element for `naive`,
 * one per 16x16 block otherwise (columns along x).
 */
function grid(v: DenseVariant, rows: number, cols: number): [number, number, number] {
  if (v === "naive") return [ceilDiv(cols, NAIVE_WG), ceilDiv(rows, NAIVE_WG), 1];
  return [ceilDiv(cols, BLOCK * TILED_WG[0]), ceilDiv(rows, BLOCK * TILED_WG[1]), 1];
}

/** Binding name of `name` in variant `v`: the vec4 kernels bind `name4`. */
function bind(v: DenseVariant, name: string): string {
  return v === "vec4" ? `${name}4` : name;
}

/** Pipeline constants and label suffix of a fused activation. */
function fused(
  a: DenseActivation | undefined,
  where: string,
): { constants: Record<string, number>; tag: string; on: boolean } {
  if (a !== undefined && a !== "identity" && a !== "relu") {
    throw new Error(`${where}: unknown activation '${a}'`);
  }
  return a === "relu"
    ? { constants: { RELU: 1 }, tag: "+relu", on: true }
    : { constants: {}, tag: "", on: false };
}

/**
 * The tuner's variant for (op, s) among those that fit, the default first; undefined without
 * a tuner or when `options.variant` is set. Candidates run on zero-filled scratch tensors.
 */
async function tunedVariant(
  gpu: Gpu,
  op: string,
  s: DenseShape,
  options: DenseOptions,
  build: (v: DenseVariant, scratch: (n: number) => Tensor) => Promise<Dispatch[]>,
): Promise<DenseVariant | undefined> {
  const tuner = tunerOf(gpu);
  if (!tuner || options.variant !== undefined) return undefined;
  const names: DenseVariant[] = vec4Fits(s) ? ["vec4", "tiled", "shared"] : ["tiled", "shared"];
  const made: Tensor[] = [];
  const scratch = (n: number) => {
    const t = zeros(gpu.device, [n], `tune ${op} scratch`);
    made.push(t);
    return t;
  };
  const pick = await tuner.pick(
    op,
    `${s.batch}x${s.inFeatures}->${s.outFeatures}`,
    names.map((v) => ({ name: v, build: () => build(v, scratch) })),
    () => made.forEach((t) => t.destroy()),
  );
  return pick as DenseVariant;
}

/** One product of dense_shared.wgsl: c [M, N] = A' B' (see that file), with its epilogue. */
async function sharedProduct(
  gpu: Gpu,
  t: {
    c: Tensor | TensorView;
    a: Tensor | TensorView;
    bm: Tensor | TensorView;
    bias?: Tensor | TensorView;
    mask?: Tensor | TensorView;
  },
  m: number,
  n: number,
  k: number,
  flags: { ta?: boolean; tb?: boolean; relu?: boolean },
  label: string,
): Promise<Dispatch> {
  const kern = await gpu.kernel("dense_shared");
  const constants: Record<string, number> = {};
  if (flags.ta) constants.TA = 1;
  if (flags.tb) constants.TB = 1;
  if (t.bias) constants.BIAS = 1;
  if (flags.relu) constants.RELU = 1;
  if (t.mask) constants.MASK = 1;
  const d = await kern.dispatch(
    "product",
    { c: t.c, a: t.a, bm: t.bm, bias: t.bias ?? t.bm, mask: t.mask ?? t.a, dims: { m, n, k } },
    [ceilDiv(n, 64), ceilDiv(m, 64), 1],
    { label, constants },
  );
  d.flops = 2 * m * n * k + (t.bias ? m * n : 0) + (flags.relu || t.mask ? m * n : 0);
  d.bytes = 4 * (m * k + k * n + m * n);
  return d;
}

function dimsOf(s: DenseShape): { batch: number; k: number; n: number } {
  return { batch: s.batch, k: s.inFeatures, n: s.outFeatures };
}

/**
 * y = xW + b (or relu(xW + b) with `activation: "relu"`), with y [B, N], x [B, K], W [K, N],
 * b [N]. Returns one dispatch.
 */
export async function denseForward(
  gpu: Gpu,
  t: {
    y: Tensor | TensorView;
    x: Tensor | TensorView;
    W: Tensor | TensorView;
    b: Tensor | TensorView;
  },
  s: DenseShape,
  options: DenseOptions = {},
): Promise<Dispatch[]> {
  const where = "dense.forward";
  checkShape(where, s);
  const { batch: B, inFeatures: K, outFeatures: N } = s;
  expectLength(where, "y", t.y, B * N);
  expectLength(where, "x", t.x, B * K);
  expectLength(where, "W", t.W, K * N);
  expectLength(where, "b", t.b, N);
  const tunedV = await tunedVariant(
    gpu,
    "dense.forward",
    s,
    options,
    (v, z) =>
      denseForward(gpu, { y: z(B * N), x: z(B * K), W: z(K * N), b: z(N) }, s, {
        ...options,
        variant: v,
      }),
  );
  if (tunedV) options = { ...options, variant: tunedV };
  const v = pick(where, s, options);
  const act = fused(options.activation, where);
  if (v === "shared") {
    return [
      await sharedProduct(
        gpu,
        { c: t.y, a: t.x, bm: t.W, bias: t.b },
        B,
        N,
        K,
        { relu: act.on },
        `dense_forward_shared${act.tag} ${B}x${K}->${N}`,
      ),
    ];
  }
  const k = await gpu.kernel("dense");
  const d = await k.dispatch(
    `forward_${v}`,
    {
      [bind(v, "y")]: t.y,
      [bind(v, "x")]: t.x,
      [bind(v, "W")]: t.W,
      [bind(v, "b")]: t.b,
      dims: dimsOf(s),
    },
    grid(v, B, N),
    { label: `dense_forward_${v}${act.tag} ${B}x${K}->${N}`, constants: act.constants },
  );
  d.flops = 2 * B * K * N + (act.on ? 2 : 1) * B * N;
  d.bytes = 4 * (B * K + K * N + N + B * N);
  return [d];
}

/**
 * dx = dy W^T [B, K] (omit dx for a first layer, whose input needs no gradient),
 * dW = x^T dy [K, N], db = sum over the batch of dy [N]; dy [B, N], x [B, K], W [K, N].
 * Returns the dispatches in the order dx (when asked), dW, db; all overwrite their outputs.
 * With `dxActivation: "relu"` (x = relu(pre) of the layer below), dx = (dy W^T) * (x > 0).
 * With `fuseDb`, db is written by the dW dispatch and there is no db dispatch.
 */
export async function denseBackward(
  gpu: Gpu,
  t: {
    dx?: Tensor | TensorView;
    dW: Tensor | TensorView;
    db: Tensor | TensorView;
    dy: Tensor | TensorView;
    x: Tensor | TensorView;
    W: Tensor | TensorView;
  },
  s: DenseShape,
  options: DenseOptions = {},
): Promise<Dispatch[]> {
  const where = "dense.backward";
  checkShape(where, s);
  const { batch: B, inFeatures: K, outFeatures: N } = s;
  if (t.dx) expectLength(where, "dx", t.dx, B * K);
  expectLength(where, "dW", t.dW, K * N);
  expectLength(where, "db", t.db, N);
  expectLength(where, "dy", t.dy, B * N);
  expectLength(where, "x", t.x, B * K);
  expectLength(where, "W", t.W, K * N);
  const act = fused(options.dxActivation, where);
  if (act.on && !t.dx) throw new Error(`${where}: dxActivation needs dx`);
  const tunedV = await tunedVariant(
    gpu,
    "dense.backward",
    s,
    options,
    (v, z) =>
      denseBackward(
        gpu,
        {
          dx: t.dx ? z(B * K) : undefined,
          dW: z(K * N),
          db: z(N),
          dy: z(B * N),
          x: z(B * K),
          W: z(K * N),
        },
        s,
        { ...options, variant: v },
      ),
  );
  if (tunedV) options = { ...options, variant: tunedV };
  const v = pick(where, s, options);
  const k = await gpu.kernel("dense");
  const dims = dimsOf(s);
  const out: Dispatch[] = [];
  if (v === "shared") {
    // dx = dy W^T (masked by x > 0 for a ReLU input), dW = x^T dy, then db (no fused form).
    if (t.dx) {
      out.push(
        await sharedProduct(
          gpu,
          { c: t.dx, a: t.dy, bm: t.W, mask: act.on ? t.x : undefined },
          B,
          K,
          N,
          { tb: true },
          `dense_dx_shared${act.tag} ${B}x${K}->${N}`,
        ),
      );
    }
    out.push(
      await sharedProduct(
        gpu,
        { c: t.dW, a: t.x, bm: t.dy },
        K,
        N,
        B,
        { ta: true },
        `dense_dW_shared ${B}x${K}->${N}`,
      ),
    );
  }
  if (t.dx && v !== "shared") {
    const d = await k.dispatch(
      `backward_dx_${v}`,
      {
        [bind(v, "dx")]: t.dx,
        [bind(v, "dy")]: t.dy,
        [bind(v, "W")]: t.W,
        [bind(v, "x")]: t.x,
        dims,
      },
      grid(v, B, K),
      { label: `dense_dx_${v}${act.tag} ${B}x${K}->${N}`, constants: act.constants },
    );
    d.flops = 2 * B * K * N + (act.on ? B * K : 0);
    d.bytes = 4 * (B * N + K * N + (act.on ? 2 : 1) * B * K);
    out.push(d);
  }
  const fuseDb = (options.fuseDb ?? false) && v !== "shared";
  if (v !== "shared") {
    const dW = await k.dispatch(
      `backward_dW_${v}`,
      {
        [bind(v, "dW")]: t.dW,
        [bind(v, "dy")]: t.dy,
        [bind(v, "x")]: t.x,
        [bind(v, "db")]: t.db,
        dims,
      },
      grid(v, K, N),
      {
        label: `dense_dW_${v}${fuseDb ? "+db" : ""} ${B}x${K}->${N}`,
        constants: fuseDb ? { DB: 1 } : {},
      },
    );
    dW.flops = 2 * B * K * N + (fuseDb ? B * N : 0);
    dW.bytes = 4 * (B * N + B * K + K * N + (fuseDb ? N : 0));
    out.push(dW);
  }
  if (fuseDb) return out;
  const db = await k.dispatch(
    "backward_db",
    { db: t.db, dy: t.dy, dims },
    grid1d(N, DB_WG),
    { label: `dense_db ${B}x${K}->${N}` },
  );
  db.flops = B * N;
  db.bytes = 4 * (B * N + N);
  out.push(db);
  return out;
}
