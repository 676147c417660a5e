/**
 * Float64 reference of the closed-form KL(N(mu, exp(lv)) || N(0, I)) per example, summed over
 * latent dimensions, lv = clamp(logvar, lo, hi). Layout: mulogvar [B, 2Z] (per row mu in
 * columns 0..Z-1, logvar in Z..2Z-1); kl [B].
 */

/** kl[b] = -0.5 * sum_j (1 + lv - mu^2 - exp(lv)), written as 0.5 * sum (mu^2 + expm1(lv) - lv). */
export function klForward(
  mulogvar: Float64Array,
  batch: number,
  z: number,
  lo: number,
  hi: number,
): Float64Array {
  const kl = new Float64Array(batch);
  for (let b = 0; b < batch; b++) {
    let s = 0;
    for (let j = 0; j < z; j++) {
      const mu = mulogvar[b * 2 * z + j];
      const lv = Math.min(Math.max(mulogvar[b * 2 * z + z + j], lo), hi);
      s += mu * mu + Math.expm1(lv) - lv;
    }
    kl[b] = 0.5 * s;
  }
  return kl;
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
  for (let b = 0; b < batch; b++) {
    for (let j = 0; j < z; j++) {
      const mu = mulogvar[b * 2 * z + j];
      const lv = Math.min(Math.max(mulogvar[b * 2 * z + z + j], lo), hi);
      out[j] += 0.5 * (mu * mu + Math.expm1(lv) - lv);
    }
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
