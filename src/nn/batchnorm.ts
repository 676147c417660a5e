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
 * deterministic. Each builds its own small scratch tensor [3 G C + 3 C] (G <= 128 row blocks),
 * allocated once when the dispatches are built.
 */

import { Tensor } from "../gpu/buffer.ts";
import type { Gpu } from "../gpu/device.ts";
import { type Dispatch, expectLength, grid1d, type TensorLike } from "../gpu/kernel.ts";

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
  };
}

type Dims = ReturnType<typeof dims>;

/** Workgroups of the partial-sum launches: channel tiles by row blocks. */
function partialGrid(d: Dims): [number, number, number] {
  return [Math.ceil(d.channels / d.tile), d.blocks, 1];
}

function scratch(gpu: Gpu, d: Dims, label: string): Tensor {
  return new Tensor(gpu.device, "f32", [3 * d.blocks * d.channels + 3 * d.channels], label);
}

/** The three launches of a backward: partial sums, per-channel combine, dx. */
async function gradDispatches(
  gpu: Gpu,
  t: {
    dx: TensorLike;
    dgamma: TensorLike;
    dbeta: TensorLike;
    dy: TensorLike;
    x: TensorLike;
    gamma: TensorLike;
    mu: TensorLike;
    r: TensorLike;
  },
  d: Dims,
  label: string,
): Promise<Dispatch[]> {
  const k = await gpu.kernel("batchnorm");
  const n = d.rows * d.channels, c = d.channels;
  const tmp = scratch(gpu, d, `${label} scratch`);
  const saved = { saved_mean: t.mu, saved_rstd: t.r };
  const partial = await k.dispatch(
    "bn_grad_partial",
    { scratch: tmp, dy: t.dy, x: t.x, saved_mean: t.mu, dims: d },
    partialGrid(d),
    { label: `${label} partial` },
  );
  partial.flops = 4 * n;
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
    "bn_grad_apply",
    { dx: t.dx, dy: t.dy, x: t.x, gamma: t.gamma, scratch: tmp, ...saved, dims: d },
    partialGrid(d),
    { label: `${label} dx` },
  );
  apply.flops = 8 * n;
  apply.bytes = 12 * n;
  return [partial, final, apply];
}

function expectAll(
  where: string,
  t: Record<string, TensorLike>,
  len: Record<string, number>,
): void {
  for (const [k, n] of Object.entries(len)) expectLength(where, k, t[k], n);
}

/**
 * Training mode: y [M, C] = gamma * (x - mean) * rstd + beta with the batch statistics; saves
 * mean [C] and rstd [C] = 1 / sqrt(var + eps) for the backward, and updates runningMean and
 * runningVar in place (running_var takes the unbiased var * M / (M - 1)). One dispatch.
 */
export async function batchNormForward(
  gpu: Gpu,
  t: {
    y: TensorLike;
    x: TensorLike;
    gamma: TensorLike;
    beta: TensorLike;
    mean: TensorLike;
    rstd: TensorLike;
    runningMean: TensorLike;
    runningVar: TensorLike;
  },
  s: BatchNormShape,
): Promise<Dispatch[]> {
  const where = "batchnorm.bn_forward";
  const d = dims(where, s);
  const n = s.rows * s.channels, c = s.channels;
  expectAll(where, t, {
    y: n,
    x: n,
    gamma: c,
    beta: c,
    mean: c,
    rstd: c,
    runningMean: c,
    runningVar: c,
  });
  const k = await gpu.kernel("batchnorm");
  const tmp = scratch(gpu, d, "batchnorm scratch");
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
      dims: d,
    },
    [Math.ceil(c / WG), 1, 1],
    { label: "batchnorm stats final" },
  );
  final.flops = 8 * d.blocks * c;
  final.bytes = 12 * d.blocks * c + 32 * c;
  const apply = await k.dispatch(
    "bn_apply",
    { y: t.y, x: t.x, scratch: tmp, rstd: t.rstd, gamma: t.gamma, beta: t.beta, dims: d },
    partialGrid(d),
    { label: "batchnorm apply" },
  );
  apply.flops = 5 * n;
  apply.bytes = 8 * n;
  return [partial, final, apply];
}

/**
 * Eval mode: y [M, C] = gamma * (x - runningMean) / sqrt(runningVar + eps) + beta, any M
 * (a batch of one included). Running statistics are only read.
 */
export async function batchNormForwardEval(
  gpu: Gpu,
  t: {
    y: TensorLike;
    x: TensorLike;
    gamma: TensorLike;
    beta: TensorLike;
    runningMean: TensorLike;
    runningVar: TensorLike;
  },
  s: BatchNormShape,
): Promise<Dispatch[]> {
  const where = "batchnorm.bn_forward_eval";
  const d = dims(where, s);
  const n = s.rows * s.channels, c = s.channels;
  expectAll(where, t, { y: n, x: n, gamma: c, beta: c, runningMean: c, runningVar: c });
  const k = await gpu.kernel("batchnorm");
  const dispatch = await k.dispatch("bn_forward_eval", {
    y: t.y,
    saved_mean: t.runningMean,
    saved_rstd: t.runningVar,
    x: t.x,
    gamma: t.gamma,
    beta: t.beta,
    dims: d,
  }, grid1d(n, WG));
  dispatch.flops = 6 * n;
  dispatch.bytes = 8 * n;
  return [dispatch];
}

/**
 * Training-mode backward through the batch statistics, from the mean and rstd that
 * {@linkcode batchNormForward} saved: dx = gamma * rstd * (dy - dbeta / M - xhat * dgamma / M),
 * dgamma [C] = sum_m dy * xhat, dbeta [C] = sum_m dy. All three are OVERWRITTEN.
 */
export async function batchNormBackward(
  gpu: Gpu,
  t: {
    dx: TensorLike;
    dgamma: TensorLike;
    dbeta: TensorLike;
    dy: TensorLike;
    x: TensorLike;
    gamma: TensorLike;
    mean: TensorLike;
    rstd: TensorLike;
  },
  s: BatchNormShape,
): Promise<Dispatch[]> {
  const where = "batchnorm.bn_backward";
  const d = dims(where, s);
  const n = s.rows * s.channels, c = s.channels;
  expectAll(where, t, { dx: n, dgamma: c, dbeta: c, dy: n, x: n, gamma: c, mean: c, rstd: c });
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
  t: {
    dx: TensorLike;
    dgamma: TensorLike;
    dbeta: TensorLike;
    dy: TensorLike;
    x: TensorLike;
    gamma: TensorLike;
    runningMean: TensorLike;
    runningVar: TensorLike;
  },
  s: BatchNormShape,
): Promise<Dispatch[]> {
  const where = "batchnorm.bn_backward_eval";
  const d = dims(where, s);
  const n = s.rows * s.channels, c = s.channels;
  expectAll(where, t, {
    dx: n,
    dgamma: c,
    dbeta: c,
    dy: n,
    x: n,
    gamma: c,
    runningMean: c,
    runningVar: c,
  });
  // The grad launches take the running statistics where the training backward takes the saved
  // ones; eval = 1 turns running_var into rstd and drops the terms through the statistics.
  const g = { ...t, mu: t.runningMean, r: t.runningVar };
  return await gradDispatches(gpu, g, { ...d, eval: 1 }, "batchnorm backward eval");
}
