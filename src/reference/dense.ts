/**
 * Float64 reference of the dense layer, plain loops. Row-major arrays:
 * x [B, K], W [K, N], b [N], y and dy [B, N] (B batch, K in features, N out features).
 */

import type { DenseShape } from "../nn/dense.ts";
import { leakyReluBackward, leakyReluForward } from "./activation.ts";

/** y = x W + b:  y[r, c] = b[c] + sum_k x[r, k] W[k, c]. */
export function denseForward(
  x: ArrayLike<number>,
  W: ArrayLike<number>,
  b: ArrayLike<number>,
  s: DenseShape,
): Float64Array {
  const { batch: B, inFeatures: K, outFeatures: N } = s;
  const y = new Float64Array(B * N);
  for (let r = 0; r < B; r++) {
    for (let c = 0; c < N; c++) {
      let acc = b[c];
      for (let k = 0; k < K; k++) acc += x[r * K + k] * W[k * N + c];
      y[r * N + c] = acc;
    }
  }
  return y;
}

/** Gradients of y = x W + b given dy: dx = dy W^T, dW = x^T dy, db = sum over rows of dy. */
export function denseBackward(
  dy: ArrayLike<number>,
  x: ArrayLike<number>,
  W: ArrayLike<number>,
  s: DenseShape,
): { dx: Float64Array; dW: Float64Array; db: Float64Array } {
  const { batch: B, inFeatures: K, outFeatures: N } = s;
  const dx = new Float64Array(B * K);
  const dW = new Float64Array(K * N);
  const db = new Float64Array(N);
  for (let r = 0; r < B; r++) {
    for (let c = 0; c < N; c++) {
      const g = dy[r * N + c];
      db[c] += g;
      for (let k = 0; k < K; k++) {
        dx[r * K + k] += g * W[k * N + c];
        dW[k * N + c] += x[r * K + k] * g;
      }
    }
  }
  return { dx, dW, db };
}

/** The fused forward y = relu(x W + b): the composition of the two references. */
export function denseReluForward(
  x: ArrayLike<number>,
  W: ArrayLike<number>,
  b: ArrayLike<number>,
  s: DenseShape,
): Float64Array {
  return leakyReluForward(denseForward(x, W, b, s), 0);
}

/**
 * The fused backward for a layer whose input is x = relu(pre): dx is the gradient of pre,
 * (dy W^T) * (x > 0) (relu'(pre) = (pre > 0) = (x > 0)); dW and db as in denseBackward.
 */
export function denseBackwardReluInput(
  dy: ArrayLike<number>,
  x: ArrayLike<number>,
  W: ArrayLike<number>,
  s: DenseShape,
): { dx: Float64Array; dW: Float64Array; db: Float64Array } {
  const g = denseBackward(dy, x, W, s);
  return { ...g, dx: leakyReluBackward(g.dx, Float64Array.from(x), 0) };
}
