/**
 * Float64 reference of the closed-form KL(N(mu, exp(lv)) || N(0, I)) per example, summed over
 * latent dimensions, lv = clamp(logvar, lo, hi). Layout: mulogvar [B, 2Z] (per row mu in
 * columns 0..Z-1, logvar in Z..2Z-1); kl [B].
 */

/**
 * Twice one dimension's KL from N(0, 1), mu^2 + expm1(lv) - lv, for the mu at index m and the
 * logvar at index l of mulogvar.
 */
function twiceKl(
  mulogvar: Float64Array,
  lo: number,
  hi: number,
): (m: number, l: number) => number {
  return (m, l) => {
    const mu = mulogvar[m];
    const lv = Math.min(Math.max(mulogvar[l], lo), hi);
    return mu * mu + Math.expm1(lv) - lv;
  };
}

/** out[b] = 0.5 * sum_j term(m, l) over row b's mu index m = b 2Z + j and logvar index m + Z. */
function rowSums(batch: number, z: number, term: (m: number, l: number) => number): Float64Array {
  const out = new Float64Array(batch);
  for (let b = 0; b < batch; b++) {
    let s = 0;
    for (let j = 0; j < z; j++) s += term(b * 2 * z + j, b * 2 * z + z + j);
    out[b] = 0.5 * s;
  }
  return out;
}

/** kl[b] = -0.5 * sum_j (1 + lv - mu^2 - exp(lv)), written as 0.5 * sum (mu^2 + expm1(lv) - lv). */
export function klForward(
  mulogvar: Float64Array,
  batch: number,
  z: number,
  lo: number,
  hi: number,
): Float64Array {
  return rowSums(batch, z, twiceKl(mulogvar, lo, hi));
}

/**
 * Gradient of scale * sum_b kl[b] with respect to mulogvar [B, 2Z]: scale * mu for mu, and
 * scale * 0.5 * (exp(lv) - 1) for logvar where lo <= logvar <= hi, else 0. (The GPU adds this
 * to what dmulogvar already holds.) With freeBits = lambda > 0, the gradient of
 * {@linkcode klFreeBits} times scale: dimension j's entries are zeroed when its batch-mean KL
 * is below lambda.
 */
export function klBackward(
  mulogvar: Float64Array,
  batch: number,
  z: number,
  lo: number,
  hi: number,
  scale: number,
  freeBits = 0,
): Float64Array {
  const out = new Float64Array(batch * 2 * z);
  const perDim = klPerDim(mulogvar, batch, z, lo, hi);
  for (let b = 0; b < batch; b++) {
    for (let j = 0; j < z; j++) {
      if (freeBits > 0 && perDim[j] < batch * freeBits) continue;
      const m = b * 2 * z + j, l = m + z;
      const logvar = mulogvar[l];
      out[m] = scale * mulogvar[m];
      out[l] = logvar >= lo && logvar <= hi ? scale * 0.5 * Math.expm1(logvar) : 0;
    }
  }
  return out;
}

/** Per-dimension KL summed over the batch: out[j] = sum_b 0.5 * (mu^2 + expm1(lv) - lv). */
export function klPerDim(
  mulogvar: Float64Array,
  batch: number,
  z: number,
  lo: number,
  hi: number,
): Float64Array {
  const out = new Float64Array(z);
  const term = twiceKl(mulogvar, lo, hi);
  for (let b = 0; b < batch; b++) {
    for (let j = 0; j < z; j++) out[j] += 0.5 * term(b * 2 * z + j, b * 2 * z + z + j);
  }
  return out;
}

/**
 * The free-bits objective (Kingma et al. 2016) in the batch-sum form the GPU differentiates:
 * sum_j max(B * lambda, sum_b kl[b, j]) = B * sum_j max(lambda, mean_b kl[b, j]).
 */
export function klFreeBits(
  mulogvar: Float64Array,
  batch: number,
  z: number,
  lo: number,
  hi: number,
  freeBits: number,
): number {
  let s = 0;
  for (const v of klPerDim(mulogvar, batch, z, lo, hi)) s += Math.max(batch * freeBits, v);
  return s;
}

/**
 * KL of N(mu, exp(lv)) from a learned prior N(mp, exp(pv)) per example, prior [B, 2Z] laid
 * out as mulogvar, both logvars clamped to [lo, hi]: 0.5 * sum_j (pv - lv + (exp(lv) +
 * (mu - mp)^2) / exp(pv) - 1).
 */
export function klPriorForward(
  mulogvar: Float64Array,
  prior: Float64Array,
  batch: number,
  z: number,
  lo: number,
  hi: number,
): Float64Array {
  const c = (v: number) => Math.min(Math.max(v, lo), hi);
  return rowSums(batch, z, (m, l) => {
    const lv = c(mulogvar[l]), pv = c(prior[l]);
    return pv - lv + (Math.exp(lv) + (mulogvar[m] - prior[m]) ** 2) / Math.exp(pv) - 1;
  });
}

/**
 * Gradients of scale * sum_b kl[b] of {@linkcode klPriorForward} with respect to mulogvar and
 * to prior (each [B, 2Z]); zero for a logvar outside [lo, hi].
 */
export function klPriorBackward(
  mulogvar: Float64Array,
  prior: Float64Array,
  batch: number,
  z: number,
  lo: number,
  hi: number,
  scale: number,
): { dmulogvar: Float64Array; dprior: Float64Array } {
  const dq = new Float64Array(batch * 2 * z), dp = new Float64Array(batch * 2 * z);
  const c = (v: number) => Math.min(Math.max(v, lo), hi);
  const inside = (v: number) => v >= lo && v <= hi;
  for (let b = 0; b < batch; b++) {
    for (let j = 0; j < z; j++) {
      const m = b * 2 * z + j, l = m + z;
      const d = mulogvar[m] - prior[m], w = Math.exp(-c(prior[l]));
      const r = Math.exp(c(mulogvar[l]) - c(prior[l]));
      dq[m] = scale * d * w;
      dp[m] = -scale * d * w;
      dq[l] = inside(mulogvar[l]) ? scale * 0.5 * (r - 1) : 0;
      dp[l] = inside(prior[l]) ? -scale * 0.5 * (r - 1 + d * d * w) : 0;
    }
  }
  return { dmulogvar: dq, dprior: dp };
}
