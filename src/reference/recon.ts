/**
 * Float64 reference of the reconstruction losses: per-example sums over F features of
 * a [B, F] batch, forward and backward, plain loops.
 */

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

/** loss[b] = sum_f (o[b, f] - x[b, f])^2. */
export function mseForward(out: Float64Array, x: Float64Array, features: number): Float64Array {
  const batch = out.length / features;
  const loss = new Float64Array(batch);
  for (let b = 0; b < batch; b++) {
    let s = 0;
    for (let f = 0; f < features; f++) {
      const d = out[b * features + f] - x[b * features + f];
      s += d * d;
    }
    loss[b] = s;
  }
  return loss;
}

/** dout = scale * 2 * (o - x). */
export function mseBackward(out: Float64Array, x: Float64Array, scale: number): Float64Array {
  return out.map((o, i) => scale * 2 * (o - x[i]));
}
