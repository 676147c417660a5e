/**
 * Float64 reference of batch normalization over the rows of a channels-last x [M, C], per
 * channel: training mode (batch statistics, running averages updated with PyTorch's
 * conventions), eval mode (running statistics), and both backwards. gamma, beta and all
 * statistics are [C]. The `batchNormLeaky*` functions follow batch norm with a leaky ReLU
 * h = y > 0 ? y : leak * y, as the fused kernels do.
 */

import { leakyReluBackward, leakyReluForward } from "./activation.ts";

/** Batch statistics per channel: mean and biased variance (two-pass in float64). */
export function batchStats(
  x: Float64Array,
  rows: number,
  channels: number,
): { mean: Float64Array; variance: Float64Array } {
  const mean = new Float64Array(channels), variance = new Float64Array(channels);
  for (let m = 0; m < rows; m++) {
    for (let c = 0; c < channels; c++) mean[c] += x[m * channels + c];
  }
  for (let c = 0; c < channels; c++) mean[c] /= rows;
  for (let m = 0; m < rows; m++) {
    for (let c = 0; c < channels; c++) {
      const d = x[m * channels + c] - mean[c];
      variance[c] += d * d;
    }
  }
  for (let c = 0; c < channels; c++) variance[c] /= rows;
  return { mean, variance };
}

function normalize(
  x: Float64Array,
  gamma: Float64Array,
  beta: Float64Array,
  mean: Float64Array,
  rstd: Float64Array,
  rows: number,
  channels: number,
): Float64Array {
  const y = new Float64Array(rows * channels);
  for (let m = 0; m < rows; m++) {
    for (let c = 0; c < channels; c++) {
      const i = m * channels + c;
      y[i] = gamma[c] * (x[i] - mean[c]) * rstd[c] + beta[c];
    }
  }
  return y;
}

/**
 * Training mode: y = gamma * (x - mean) / sqrt(var + eps) + beta with the batch mean and
 * biased var; returns y, the saved mean and rstd, and the updated running statistics
 * (running_var takes var * M / (M - 1), or var when M = 1). The inputs are not modified.
 */
export function batchNormForward(
  x: Float64Array,
  gamma: Float64Array,
  beta: Float64Array,
  runningMean: Float64Array,
  runningVar: Float64Array,
  rows: number,
  channels: number,
  eps = 1e-5,
  momentum = 0.1,
): {
  y: Float64Array;
  mean: Float64Array;
  rstd: Float64Array;
  runningMean: Float64Array;
  runningVar: Float64Array;
} {
  const { mean, variance } = batchStats(x, rows, channels);
  const rstd = variance.map((v) => 1 / Math.sqrt(v + eps));
  const unbias = rows > 1 ? rows / (rows - 1) : 1;
  return {
    y: normalize(x, gamma, beta, mean, rstd, rows, channels),
    mean,
    rstd,
    runningMean: runningMean.map((r, c) => (1 - momentum) * r + momentum * mean[c]),
    runningVar: runningVar.map((r, c) => (1 - momentum) * r + momentum * variance[c] * unbias),
  };
}

/** Eval mode: y = gamma * (x - runningMean) / sqrt(runningVar + eps) + beta. */
export function batchNormForwardEval(
  x: Float64Array,
  gamma: Float64Array,
  beta: Float64Array,
  runningMean: Float64Array,
  runningVar: Float64Array,
  rows: number,
  channels: number,
  eps = 1e-5,
): Float64Array {
  const rstd = runningVar.map((v) => 1 / Math.sqrt(v + eps));
  return normalize(x, gamma, beta, runningMean, rstd, rows, channels);
}

function backward(
  dy: Float64Array,
  x: Float64Array,
  gamma: Float64Array,
  mean: Float64Array,
  rstd: Float64Array,
  rows: number,
  channels: number,
  throughStats: boolean,
): { dx: Float64Array; dgamma: Float64Array; dbeta: Float64Array } {
  const dgamma = new Float64Array(channels), dbeta = new Float64Array(channels);
  for (let m = 0; m < rows; m++) {
    for (let c = 0; c < channels; c++) {
      const i = m * channels + c;
      dbeta[c] += dy[i];
      dgamma[c] += dy[i] * (x[i] - mean[c]) * rstd[c];
    }
  }
  const dx = new Float64Array(rows * channels);
  for (let m = 0; m < rows; m++) {
    for (let c = 0; c < channels; c++) {
      const i = m * channels + c;
      const xhat = (x[i] - mean[c]) * rstd[c];
      // With g = dy * gamma: dx = rstd / M * (M g - sum g - xhat sum g xhat).
      const corr = throughStats ? (dbeta[c] + xhat * dgamma[c]) / rows : 0;
      dx[i] = gamma[c] * rstd[c] * (dy[i] - corr);
    }
  }
  return { dx, dgamma, dbeta };
}

/**
 * Training-mode backward through the batch mean and variance (recomputed here in float64):
 * dx = rstd / M * (M g - sum_m g - xhat sum_m g xhat) with g = dy * gamma;
 * dgamma = sum_m dy * xhat; dbeta = sum_m dy.
 */
export function batchNormBackward(
  dy: Float64Array,
  x: Float64Array,
  gamma: Float64Array,
  rows: number,
  channels: number,
  eps = 1e-5,
): { dx: Float64Array; dgamma: Float64Array; dbeta: Float64Array } {
  const { mean, variance } = batchStats(x, rows, channels);
  const rstd = variance.map((v) => 1 / Math.sqrt(v + eps));
  return backward(dy, x, gamma, mean, rstd, rows, channels, true);
}

/** Eval-mode backward: dx = dy * gamma / sqrt(runningVar + eps); dgamma, dbeta as in training. */
export function batchNormBackwardEval(
  dy: Float64Array,
  x: Float64Array,
  gamma: Float64Array,
  runningMean: Float64Array,
  runningVar: Float64Array,
  rows: number,
  channels: number,
  eps = 1e-5,
): { dx: Float64Array; dgamma: Float64Array; dbeta: Float64Array } {
  const rstd = runningVar.map((v) => 1 / Math.sqrt(v + eps));
  return backward(dy, x, gamma, runningMean, rstd, rows, channels, false);
}

/** Training mode then leaky ReLU: batchNormForward's results plus h = act(y). */
export function batchNormLeakyForward(
  x: Float64Array,
  gamma: Float64Array,
  beta: Float64Array,
  runningMean: Float64Array,
  runningVar: Float64Array,
  rows: number,
  channels: number,
  leak: number,
  eps = 1e-5,
  momentum = 0.1,
): ReturnType<typeof batchNormForward> & { h: Float64Array } {
  const r = batchNormForward(
    x,
    gamma,
    beta,
    runningMean,
    runningVar,
    rows,
    channels,
    eps,
    momentum,
  );
  return { ...r, h: leakyReluForward(r.y, leak) };
}

/** Eval mode then leaky ReLU: h = act(batchNormForwardEval(...)). */
export function batchNormLeakyForwardEval(
  x: Float64Array,
  gamma: Float64Array,
  beta: Float64Array,
  runningMean: Float64Array,
  runningVar: Float64Array,
  rows: number,
  channels: number,
  leak: number,
  eps = 1e-5,
): Float64Array {
  const y = batchNormForwardEval(x, gamma, beta, runningMean, runningVar, rows, channels, eps);
  return leakyReluForward(y, leak);
}

/**
 * Backward of {@linkcode batchNormLeakyForward} from dh: dy = dh * (y > 0 ? 1 : leak) with y
 * recomputed here in float64, then batchNormBackward.
 */
export function batchNormLeakyBackward(
  dh: Float64Array,
  x: Float64Array,
  gamma: Float64Array,
  beta: Float64Array,
  rows: number,
  channels: number,
  leak: number,
  eps = 1e-5,
): { dx: Float64Array; dgamma: Float64Array; dbeta: Float64Array } {
  const { mean, variance } = batchStats(x, rows, channels);
  const rstd = variance.map((v) => 1 / Math.sqrt(v + eps));
  const y = normalize(x, gamma, beta, mean, rstd, rows, channels);
  const dy = leakyReluBackward(dh, y, leak);
  return backward(dy, x, gamma, mean, rstd, rows, channels, true);
}
