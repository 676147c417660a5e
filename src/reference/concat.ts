/** Float64 reference of the condition concatenation (src/nn/concat.ts), plain loops. */

import type { ConcatShape } from "../nn/concat.ts";

/** y[b, p, :] = [a[b, p, :], c[b, :]]. */
export function concatForward(a: Float64Array, c: Float64Array, s: ConcatShape): Float64Array {
  const A = s.features, C = s.conditions, W = A + C;
  const y = new Float64Array(s.batch * s.positions * W);
  for (let b = 0; b < s.batch; b++) {
    for (let p = 0; p < s.positions; p++) {
      const row = b * s.positions + p;
      for (let j = 0; j < A; j++) y[row * W + j] = a[row * A + j];
      for (let j = 0; j < C; j++) y[row * W + A + j] = c[b * C + j];
    }
  }
  return y;
}

/** da[b, p, :] = dy[b, p, :A]: the gradient of the loss with respect to a. */
export function concatBackward(dy: Float64Array, s: ConcatShape): Float64Array {
  const A = s.features, W = A + s.conditions, rows = s.batch * s.positions;
  const da = new Float64Array(rows * A);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < A; j++) da[r * A + j] = dy[r * W + j];
  }
  return da;
}

/**
 * a [B, P, A] with c [B, C] appended at every position (a conditional model's input, or
 * [z | c]); `a` itself when there is no condition (`c` absent or C = 0).
 */
export function appendCondition(
  a: Float64Array,
  c: Float64Array | undefined,
  batch: number,
  positions: number,
  conditions: number,
): Float64Array {
  if (!c || !conditions) return a;
  const features = a.length / (batch * positions);
  return concatForward(a, c, { batch, positions, features, conditions });
}
