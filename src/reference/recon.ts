/**
 * Float64 reference of the reconstruction losses: per-example sums over F features of
 * a [B, F] batch, forward and backward, plain loops.
 */

import type { ReconSmooth } from "../nn/recon.ts";

/** softplus(l) - l * x in the stable form max(l, 0) - l * x + log1p(exp(-|l|)). */
export function bceElement(l: number, x: number): number {
  return Math.max(l, 0) - l * x + Math.log1p(Math.exp(-Math.abs(l)));
}

/** loss[b] = sum_f softplus(l[b, f]) - l[b, f] * x[b, f]. */
export function bceForward(logits: Float64Array, x: Float64Array, features: number): Float64Array {
  const batch = logits.length / features;
  const loss = new Float64Array(batch);
  for (let b = 0; b < batch; b++) {
    let s = 0;
    for (let f = 0; f < features; f++) {
      s += bceElement(logits[b * features + f], x[b * features + f]);
    }
    loss[b] = s;
  }
  return loss;
}

/**
 * dl = scale * (sigmoid(l) - x). With q = sigmoid(-|l|) = e / (1 + e), e = exp(-|l|):
 * (1 - x) - q for l >= 0, q - x otherwise, so sigmoid(l) near 1 and x = 1 keep every digit.
 */
export function bceBackward(logits: Float64Array, x: Float64Array, scale: number): Float64Array {
  return logits.map((l, i) => {
    const e = Math.exp(-Math.abs(l));
    const q = e / (1 + e);
    return scale * (l >= 0 ? (1 - x[i]) - q : q - x[i]);
  });
}

/**
 * loss[b] = sum_f (o[b, f] - x[b, f])^2 + w * sum_{f >= s} (e[b, f] - e[b, f - s])^2,
 * e = o - x, w and s the `weight` and `stride` of the smoothness term (absent: w = 0).
 */
export function mseForward(
  out: Float64Array,
  x: Float64Array,
  features: number,
  { weight: smooth, stride }: ReconSmooth = { weight: 0, stride: 1 },
): Float64Array {
  const batch = out.length / features;
  const loss = new Float64Array(batch);
  for (let b = 0; b < batch; b++) {
    let s = 0;
    for (let f = 0; f < features; f++) {
      const i = b * features + f, d = out[i] - x[i];
      s += d * d;
      if (f >= stride) s += smooth * (d - (out[i - stride] - x[i - stride])) ** 2;
    }
    loss[b] = s;
  }
  return loss;
}

/**
 * dout = scale * 2 * (e + w * D^T D e), e = o - x, with (D^T D e)_f = (e_f - e_{f-s})
 * [f >= s] - (e_{f+s} - e_f) [f + s < F] within each example of `features` F values; w and
 * s the smoothness term's `weight` and `stride` (absent: w = 0).
 */
export function mseBackward(
  out: Float64Array,
  x: Float64Array,
  scale: number,
  features = out.length,
  { weight: smooth, stride }: ReconSmooth = { weight: 0, stride: 1 },
): Float64Array {
  const e = out.map((o, i) => o - x[i]);
  return e.map((d, i) => {
    const f = i % features;
    let t = 0;
    if (f >= stride) t += d - e[i - stride];
    if (f + stride < features) t -= e[i + stride] - d;
    return scale * 2 * (d + smooth * t);
  });
}
