/** Float64 reference of the linear 2x upsampling (src/nn/upsample1d.ts), plain loops. */

import type { Upsample1dShape } from "../nn/upsample1d.ts";

/**
 * Output sample o of a row sits at input position p = (o + 1/2) / 2 - 1/2 (half-pixel
 * centres); it interpolates linearly between the two samples around p, positions outside
 * [0, W - 1] clamped to the ends. Returns the two input samples and their weights.
 */
function taps(o: number, W: number): [number, number, number, number] {
  const p = Math.min(Math.max((o + 0.5) / 2 - 0.5, 0), W - 1);
  const lo = Math.floor(p), hi = Math.min(lo + 1, W - 1), f = p - lo;
  return [lo, 1 - f, hi, f];
}

/** y [R, 2W, C] from x [R, W, C]. */
export function upsample1dForward(x: Float64Array, s: Upsample1dShape): Float64Array {
  const { rows: R, width: W, channels: C } = s;
  const y = new Float64Array(R * 2 * W * C);
  for (let r = 0; r < R; r++) {
    for (let o = 0; o < 2 * W; o++) {
      const [a, wa, b, wb] = taps(o, W);
      for (let c = 0; c < C; c++) {
        y[(r * 2 * W + o) * C + c] = wa * x[(r * W + a) * C + c] + wb * x[(r * W + b) * C + c];
      }
    }
  }
  return y;
}

/** dx [R, W, C] from dy [R, 2W, C]: each output's gradient scattered back by its weights. */
export function upsample1dBackward(dy: Float64Array, s: Upsample1dShape): Float64Array {
  const { rows: R, width: W, channels: C } = s;
  const dx = new Float64Array(R * W * C);
  for (let r = 0; r < R; r++) {
    for (let o = 0; o < 2 * W; o++) {
      const [a, wa, b, wb] = taps(o, W);
      for (let c = 0; c < C; c++) {
        const g = dy[(r * 2 * W + o) * C + c];
        dx[(r * W + a) * C + c] += wa * g;
        dx[(r * W + b) * C + c] += wb * g;
      }
    }
  }
  return dx;
}
