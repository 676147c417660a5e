/** Float64 reference of one Adam / AdamW step over flat arrays, plain loops. */

/** Hyper-parameters, all given (the GPU op fills in defaults). */
export interface AdamHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

/**
 * Step number `t` (1 for the first step), in place on p, m, v:
 * m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2,
 * p -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps) + lr wd p (p from before the step).
 */
export function adamStep(
  p: Float64Array,
  m: Float64Array,
  v: Float64Array,
  g: ArrayLike<number>,
  t: number,
  h: AdamHyper,
): void {
  const c1 = 1 - h.beta1 ** t;
  const c2 = 1 - h.beta2 ** t;
  for (let i = 0; i < p.length; i++) {
    m[i] = h.beta1 * m[i] + (1 - h.beta1) * g[i];
    v[i] = h.beta2 * v[i] + (1 - h.beta2) * g[i] * g[i];
    const step = (m[i] / c1) / (Math.sqrt(v[i] / c2) + h.eps);
    p[i] -= h.lr * (step + h.weightDecay * p[i]);
  }
}
