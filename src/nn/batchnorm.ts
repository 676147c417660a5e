/**
 * Batch normalization of channels-last activations, per channel over the rows, with
 * PyTorch's conventions (biased variance to normalize, unbiased in the running variance,
 * momentum 0.1, eps 1e-5). See shaders/batchnorm.wgsl for the formulas.
 *
 * Dimensions: M rows (B for dense activations [B, F]; B * H * W for NHWC convolution outputs),
 * C channels (F, or the convolution's output channels). x, y, dx, dy are [M, C]; gamma, beta,
 * dgamma, dbeta, mean, rstd, runningMean, runningVar are [C] (tensors or views into the flat
 * parameter, gradient and state buffers).
 *
 * Training forward and both backwards are three launches each (partial sums over row blocks,
 * a per-channel combine, an elementwise pass), combined in a fixed order so results are
 * deterministic. Each builds its own small scratch tensor [3 G C + 5 C] (G <= 128 row blocks),
 * allocated once when the dispatches are built.
 *
 * The `batchNormLeaky*` variants fuse a leaky ReLU h = y > 0 ? y : leak * y (leak >= 0; 0 is
 * ReLU) into the elementwise launches: the forward writes h [M, C] and never stores y, and
 * saves delta [C] (the mean's offset from the pivot the statistics were taken around); the
 * backward takes dh [M, C], recomputes y from x by the forward's expression (same bits) and
 * applies the ReLU's derivative (mask y > 0) while it reads dh: h is not read again. Same
 * numbers as BN then leaky ReLU.
 */

import { Tensor } from "../gpu/buffer.ts";
import type { Gpu } from "../gpu/device.ts";
import { type Dispatch, expectLength, grid1d, type TensorLike } from "../gpu/kernel.ts";
import { tunerOf } from "../gpu/tuner.ts";

/** Sizes and constants of one batch-norm layer. */
export interface BatchNormShape {
  /** M, rows the statistics run over (B, or B * H * W). */
  rows: number;
  /** C, channels (one mean and variance each). */
  channels: number;
  /** Added to the variance before the square root (default 1e-5). */
  eps?: number;
  /** Weight of this batch's statistics in the running averages (default 0.1). */
  momentum?: number;
}

const WG = 256;
/** Channels per partial-sum workgroup; the other WG / TILE invocations split the rows. */
const TILE = 64;
/** At most this many row blocks; fewer when a block would give an invocation < 32 rows. */
const MAX_BLOCKS = 128;
const MAX_CHANNELS = 65535 * TILE;

function dims(where: string, s: BatchNormShape) {
  for (const [k, v] of [["rows", s.rows], ["channels", s.channels]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${where}: ${k} = ${v} is not >= 1`);
  }
  if (s.channels > MAX_CHANNELS) {
    throw new Error(
      `${where}: channels = ${s.channels} exceeds ${MAX_CHANNELS} (65535 channel tiles)`,
    );
  }
  const eps = s.eps ?? 1e-5;
  const momentum = s.momentum ?? 0.1;
  if (!(eps > 0) || !isFinite(eps)) throw new Error(`${where}: eps = ${eps} is not > 0`);
  if (!(momentum >= 0 && momentum <= 1)) {
    throw new Error(`${where}: momentum = ${momentum} is not in [0, 1]`);
  }
  const unbias = s.rows > 1 ? s.rows / (s.rows - 1) : 1;
  const tile = Math.min(s.channels, TILE);
  const blocks = Math.max(1, Math.min(MAX_BLOCKS, Math.ceil(s.rows / ((WG / tile | 0) * 32))));
  const blockRows = Math.ceil(s.rows / blocks);
  return {
    rows: s.rows,
    channels: s.channels,
    eps,
    momentum,
    unbias,
    blocks: Math.ceil(s.rows / blockRows),
    block_rows: blockRows,
    tile,
    eval: 0,
    alpha: 0,
  };
}

type Dims = ReturnType<typeof dims>;

/**
 * The fused (*_act) elementwise launches take four channels per invocation when C is a
 * multiple of 4 (vec4 loads and stores; same workgroup grid, same summation order, the same
 * bits as the scalar launches).
 */
function vec4Suffix(d: Dims, vec4 = true): string {
  return vec4 && d.channels % 4 === 0 ? "_vec4" : "";
}

/**
 * The default form of the fused launches: vec4 below VEC4_MAX_ROWS rows, scalar from there.
 * Measured on llvmpipe (a leaky forward plus backward, this process's CPU time, one run): at
 * 100352 x 32 and 25088 x 64 (the conv VAE's 28x28 and 14x14 layers at batch 128) the scalar
 * launches ran 1.65x and 1.4x as fast as the vec4 ones; at 6272 x 64 the vec4 ones 1.4x as
 * fast; the tuner picked vec4 at 12544 x 32, 3136 x 64 and 784 x 64 too.
 */
const VEC4_MAX_ROWS = 16384;

/**
 * Whether the fused launches of shape d take the vec4 form: by default below VEC4_MAX_ROWS
 * rows; with a tuner (src/gpu/tuner.ts) its choice for (rows, C), timed as a leaky forward
 * plus backward on zero-filled scratch tensors with each form (candidates are built one at a
 * time, the default first).
 */
async function actVec4(gpu: Gpu, d: Dims, vec4?: boolean): Promise<boolean> {
  if (vec4 !== undefined) return vec4;
  const tuner = tunerOf(gpu);
  const v0 = d.rows < VEC4_MAX_ROWS;
  if (!tuner || d.channels % 4 !== 0) return v0;
  const n = d.rows * d.channels, c = d.channels;
  const made: Tensor[] = [];
  const z = (len: number) => {
    const t = new Tensor(gpu.device, "f32", [len], "tune batchnorm scratch");
    made.push(t);
    return t;
  };
  const s: BatchNormShape = { rows: d.rows, channels: c };
  const build = async (vec4: boolean) => {
    const st = { x: z(n), gamma: z(c), beta: z(c), mean: z(c), rstd: z(c), delta: z(c) };
    return [
      ...await batchNormLeakyForward(
        gpu,
        {
          h: z(n),
          runningMean: z(c),
          runningVar: z(c),
          ...st,
        },
        s,
        0.2,
        { vec4 },
      ),
      ...await batchNormLeakyBackward(
        gpu,
        {
          dx: z(n),
          dgamma: z(c),
          dbeta: z(c),
          dh: z(n),
          ...st,
        },
        s,
        0.2,
        { vec4 },
      ),
    ];
  };
  const pick = await tuner.pick(
    "batchnorm.leaky",
    `${d.rows}x${c}`,
    v0
      ? [{ name: "vec4", build: () => build(true) }, { name: "scalar", build: () => build(false) }]
      : [{ name: "scalar", build: () => build(false) }, { name: "vec4", build: () => build(true) }],
    () => made.forEach((t) => t.destroy()),
  );
  return pick === "vec4";
}

/**
 * Options of the fused batch norm + leaky ReLU builders. `vec4`: true takes the vec4 form of
 * the fused elementwise launches where C is a multiple of 4, false keeps them scalar (the same
 * results, for benchmarks and tests of each form); absent, the default (vec4 below 16384 rows,
 * else scalar) or, with a tuner on the device (src/gpu/tuner.ts), its measured choice.
 */
export interface BatchNormLeakyOptions {
  /** Force the vec4 (true) or scalar (false) fused launches. */
  vec4?: boolean;
}

/** The [M, C] bindings of a *_act launch, by their names in the scalar or vec4 entry. */
function big(vec4: boolean, t: Record<string, TensorLike>): Record<string, TensorLike> {
  return Object.fromEntries(Object.entries(t).map(([k, v]) => [vec4 ? `${k}4` : k, v]));
}

function leakDims(where: string, s: BatchNormShape, leak: number): Dims {
  if (!(leak >= 0) || !isFinite(leak)) {
    throw new Error(
      `${where}: leak = ${leak} is not a finite number >= 0 (the mask needs h > 0 iff y > 0)`,
    );
  }
  return { ...dims(where, s), alpha: leak };
}

/** Workgroups of the partial-sum launches: channel tiles by row blocks. */
function partialGrid(d: Dims): [number, number, number] {
  return [Math.ceil(d.channels / d.tile), d.blocks, 1];
}

function scratch(gpu: Gpu, d: Dims, label: string): Tensor {
  return new Tensor(gpu.device, "f32", [3 * d.blocks * d.channels + 5 * d.channels], label);
}

/** The three launches of a backward: partial sums, per-channel combine, dx. */
async function gradDispatches(
  gpu: Gpu,
  t: BatchNormTensors<"dx" | "dgamma" | "dbeta" | "dy" | "x" | "gamma" | "mu" | "r">,
  d: Dims,
  label: string,
  leaky?: { beta: TensorLike; delta: TensorLike },
  vec4?: boolean,
): Promise<Dispatch[]> {
  const k = await gpu.kernel("batchnorm");
  const n = d.rows * d.channels, c = d.channels;
  const tmp = scratch(gpu, d, `${label} scratch`);
  const saved = { saved_mean: t.mu, saved_rstd: t.r };
  // With `leaky` t.dy is dh and the launches are the *_act ones, which recompute the forward's
  // y from x (its beta and delta, gamma, rstd) for the ReLU's mask: 5 more operations an element.
  const act = leaky ? `_act${vec4Suffix(d, await actVec4(gpu, d, vec4))}` : "";
  const v4 = act.endsWith("vec4");
  const norm: Record<string, TensorLike> = leaky
    ? { gamma: t.gamma, saved_rstd: t.r, beta: leaky.beta, saved_delta: leaky.delta }
    : {};
  const extra = leaky ? 1 : 0;
  const partial = await k.dispatch(
    `bn_grad_partial${act}`,
    { scratch: tmp, ...big(v4, { dy: t.dy, x: t.x }), saved_mean: t.mu, ...norm, dims: d },
    partialGrid(d),
    { label: `${label} partial` },
  );
  partial.flops = (4 + 6 * extra) * n;
  partial.bytes = 8 * n;
  const final = await k.dispatch(
    "bn_grad_final",
    { dgamma: t.dgamma, dbeta: t.dbeta, scratch: tmp, saved_rstd: t.r, dims: d },
    [Math.ceil(c / WG), 1, 1],
    { label: `${label} final` },
  );
  final.flops = 3 * d.blocks * c;
  final.bytes = 12 * d.blocks * c + 28 * c;
  const apply = await k.dispatch(
    `bn_grad_apply${act}`,
    {
      ...big(v4, { dx: t.dx, dy: t.dy, x: t.x }),
      gamma: t.gamma,
      scratch: tmp,
      ...saved,
      dims: d,
    },
    partialGrid(d),
    { label: `${label} dx` },
  );
  apply.flops = (8 + 6 * extra) * n;
  apply.bytes = 12 * n;
  return [partial, final, apply];
}

/**
 * Named tensors of a batch-norm builder: x, y, h, dx, dy, dh are [M, C], every other one
 * (gamma, beta, their gradients, the saved and running statistics) is [C].
 */
export type BatchNormTensors<K extends string> = { [k in K]: TensorLike };

const ROW_TENSORS = new Set(["x", "y", "h", "dx", "dy", "dh"]);

/** Checks the lengths of t's tensors of the given names, in that order. */
function expectAll<K extends string>(
  where: string,
  t: BatchNormTensors<K>,
  s: BatchNormShape,
  names: readonly K[],
): void {
  const n = s.rows * s.channels, c = s.channels;
  for (const k of names) expectLength(where, k, t[k], ROW_TENSORS.has(k) ? n : c);
}

/**
 * Training mode: y [M, C] = gamma * (x - mean) * rstd + beta with the batch statistics; saves
 * mean [C] and rstd [C] = 1 / sqrt(var + eps) for the backward, and updates runningMean and
 * runningVar in place (running_var takes the unbiased var * M / (M - 1)). One dispatch.
 */
export async function batchNormForward(
  gpu: Gpu,
  t:
    & BatchNormTensors<
      "y" | "x" | "gamma" | "beta" | "mean" | "rstd" | "runningMean" | "runningVar"
    >
    & { delta?: TensorLike },
  s: BatchNormShape,
): Promise<Dispatch[]> {
  const where = "batchnorm.bn_forward";
  const d = dims(where, s);
  expectAll(where, t, s, ["y", "x", "gamma", "beta", "mean", "rstd", "runningMean", "runningVar"]);
  return await forwardDispatches(gpu, t, d, "");
}

/** The three launches of a training forward: statistics partials, combine, apply[_act]. */
async function forwardDispatches(
  gpu: Gpu,
  t:
    & BatchNormTensors<
      "y" | "x" | "gamma" | "beta" | "mean" | "rstd" | "runningMean" | "runningVar"
    >
    & { delta?: TensorLike },
  d: Dims,
  act: "" | "_act",
  vec4?: boolean,
): Promise<Dispatch[]> {
  const n = d.rows * d.channels, c = d.channels;
  const k = await gpu.kernel("batchnorm");
  const tmp = scratch(gpu, d, "batchnorm scratch");
  // delta [C], saved for a fused backward; a scratch one where nobody reads it.
  const delta = t.delta ?? new Tensor(gpu.device, "f32", [c], "batchnorm delta");
  // Only the fused apply has a vec4 form. The statistics stay scalar: a vec4 Welford pass
  // rounded M2 differently from this one on the GL backend (1 ulp in a few channels).
  const v4 = act !== "" && vec4Suffix(d, await actVec4(gpu, d, vec4)) !== "";
  const partial = await k.dispatch(
    "bn_stats_partial",
    { scratch: tmp, x: t.x, dims: d },
    partialGrid(d),
    { label: "batchnorm stats partial" },
  );
  partial.flops = 6 * n;
  partial.bytes = 4 * n;
  const final = await k.dispatch(
    "bn_stats_final",
    {
      mean: t.mean,
      rstd: t.rstd,
      running_mean: t.runningMean,
      running_var: t.runningVar,
      scratch: tmp,
      x: t.x,
      delta_out: delta,
      dims: d,
    },
    [Math.ceil(c / WG), 1, 1],
    { label: "batchnorm stats final" },
  );
  final.flops = 8 * d.blocks * c;
  final.bytes = 12 * d.blocks * c + 36 * c;
  const apply = await k.dispatch(
    `bn_apply${act}${v4 ? "_vec4" : ""}`,
    {
      ...big(v4, { y: t.y, x: t.x }),
      scratch: tmp,
      rstd: t.rstd,
      gamma: t.gamma,
      beta: t.beta,
      dims: d,
    },
    partialGrid(d),
    { label: `batchnorm apply${act ? " leaky" : ""}` },
  );
  apply.flops = (act ? 7 : 5) * n;
  apply.bytes = 8 * n;
  return [partial, final, apply];
}

/**
 * Eval mode: y [M, C] = gamma * (x - runningMean) / sqrt(runningVar + eps) + beta, any M
 * (a batch of one included). Running statistics are only read.
 */
export async function batchNormForwardEval(
  gpu: Gpu,
  t: BatchNormTensors<"y" | "x" | "gamma" | "beta" | "runningMean" | "runningVar">,
  s: BatchNormShape,
): Promise<Dispatch[]> {
  const where = "batchnorm.bn_forward_eval";
  const d = dims(where, s);
  expectAll(where, t, s, ["y", "x", "gamma", "beta", "runningMean", "runningVar"]);
  return [await evalDispatch(gpu, t, d, "")];
}

/** The one launch of an eval forward, bn_forward_eval[_act]. */
async function evalDispatch(
  gpu: Gpu,
  t: BatchNormTensors<"y" | "x" | "gamma" | "beta" | "runningMean" | "runningVar">,
  d: Dims,
  act: "" | "_act",
): Promise<Dispatch> {
  const n = d.rows * d.channels;
  const k = await gpu.kernel("batchnorm");
  const dispatch = await k.dispatch(
    `bn_forward_eval${act}`,
    {
      y: t.y,
      saved_mean: t.runningMean,
      saved_rstd: t.runningVar,
      x: t.x,
      gamma: t.gamma,
      beta: t.beta,
      dims: d,
    },
    grid1d(n, WG),
    act ? { label: "batchnorm eval leaky" } : {},
  );
  dispatch.flops = (act ? 8 : 6) * n;
  dispatch.bytes = 8 * n;
  return dispatch;
}

/**
 * Training-mode backward through the batch statistics, from the mean and rstd that
 * {@linkcode batchNormForward} saved: dx = gamma * rstd * (dy - dbeta / M - xhat * dgamma / M),
 * dgamma [C] = sum_m dy * xhat, dbeta [C] = sum_m dy. All three are OVERWRITTEN.
 */
export async function batchNormBackward(
  gpu: Gpu,
  t: BatchNormTensors<"dx" | "dgamma" | "dbeta" | "dy" | "x" | "gamma" | "mean" | "rstd">,
  s: BatchNormShape,
): Promise<Dispatch[]> {
  const where = "batchnorm.bn_backward";
  const d = dims(where, s);
  expectAll(where, t, s, ["dx", "dgamma", "dbeta", "dy", "x", "gamma", "mean", "rstd"]);
  const g = { ...t, mu: t.mean, r: t.rstd };
  return await gradDispatches(gpu, g, d, "batchnorm backward");
}

/**
 * Eval-mode backward (running statistics held constant, e.g. for fine-tuning):
 * dx = dy * gamma / sqrt(runningVar + eps); dgamma = sum_m dy * xhat, dbeta = sum_m dy with
 * xhat from the running statistics. All three are OVERWRITTEN.
 */
export async function batchNormBackwardEval(
  gpu: Gpu,
  t: BatchNormTensors<
    "dx" | "dgamma" | "dbeta" | "dy" | "x" | "gamma" | "runningMean" | "runningVar"
  >,
  s: BatchNormShape,
): Promise<Dispatch[]> {
  const where = "batchnorm.bn_backward_eval";
  const d = dims(where, s);
  expectAll(where, t, s, [
    "dx",
    "dgamma",
    "dbeta",
    "dy",
    "x",
    "gamma",
    "runningMean",
    "runningVar",
  ]);
  // The grad launches take the running statistics where the training backward takes the saved
  // ones; eval = 1 turns running_var into rstd and drops the terms through the statistics.
  const g = { ...t, mu: t.runningMean, r: t.runningVar };
  return await gradDispatches(gpu, g, { ...d, eval: 1 }, "batchnorm backward eval");
}

/**
 * Training forward fused with leaky ReLU: h [M, C] = act(gamma * (x - mean) * rstd + beta),
 * act(y) = y > 0 ? y : leak * y (leak >= 0), with the batch statistics; saves mean, rstd and
 * delta [C] (for the backward's mask, see the module comment) and updates the running
 * statistics as {@linkcode batchNormForward}, which with activationForward("leaky_relu") after
 * it gives the same h. y itself is not stored.
 */
export async function batchNormLeakyForward(
  gpu: Gpu,
  t: BatchNormTensors<
    "h" | "x" | "gamma" | "beta" | "mean" | "rstd" | "delta" | "runningMean" | "runningVar"
  >,
  s: BatchNormShape,
  leak: number,
  opts: BatchNormLeakyOptions = {},
): Promise<Dispatch[]> {
  const where = "batchnorm.bn_leaky_forward";
  const d = leakDims(where, s, leak);
  expectAll(where, t, s, [
    "h",
    "x",
    "gamma",
    "beta",
    "mean",
    "rstd",
    "delta",
    "runningMean",
    "runningVar",
  ]);
  return await forwardDispatches(gpu, { ...t, y: t.h }, d, "_act", opts.vec4);
}

/**
 * Eval forward fused with leaky ReLU: h [M, C] = act(gamma * (x - runningMean) /
 * sqrt(runningVar + eps) + beta), act as in {@linkcode batchNormLeakyForward}.
 */
export async function batchNormLeakyForwardEval(
  gpu: Gpu,
  t: BatchNormTensors<"h" | "x" | "gamma" | "beta" | "runningMean" | "runningVar">,
  s: BatchNormShape,
  leak: number,
): Promise<Dispatch[]> {
  const where = "batchnorm.bn_leaky_forward_eval";
  const d = leakDims(where, s, leak);
  expectAll(where, t, s, ["h", "x", "gamma", "beta", "runningMean", "runningVar"]);
  return [await evalDispatch(gpu, { ...t, y: t.h }, d, "_act")];
}

/**
 * Training-mode backward of {@linkcode batchNormLeakyForward}, from dh [M, C] and what the
 * forward saved (mean, rstd, delta): dy = dh * (y > 0 ? 1 : leak) with y recomputed from x,
 * gamma, beta exactly as the forward computed it, then dx, dgamma, dbeta as
 * {@linkcode batchNormBackward} (all three OVERWRITTEN); dy is never stored.
 */
export async function batchNormLeakyBackward(
  gpu: Gpu,
  t: BatchNormTensors<
    "dx" | "dgamma" | "dbeta" | "dh" | "x" | "gamma" | "beta" | "mean" | "rstd" | "delta"
  >,
  s: BatchNormShape,
  leak: number,
  opts: BatchNormLeakyOptions = {},
): Promise<Dispatch[]> {
  const where = "batchnorm.bn_leaky_backward";
  const d = leakDims(where, s, leak);
  expectAll(where, t, s, [
    "dx",
    "dgamma",
    "dbeta",
    "dh",
    "x",
    "gamma",
    "beta",
    "mean",
    "rstd",
    "delta",
  ]);
  const g = { ...t, dy: t.dh, mu: t.mean, r: t.rstd };
  const leaky = { beta: t.beta, delta: t.delta };
  return await gradDispatches(gpu, g, d, "batchnorm leaky backward", leaky, opts.vec4);
}
