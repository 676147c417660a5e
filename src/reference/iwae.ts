/**
 * Float64 reference of the importance-weighted bound: per-sample log weights and the per-image
 * estimate of -log p(x). Rows are images * k, sample s of image i in row i * k + s.
 */

/** log w[r] = -recon[r] + sum_d (0.5 lv + 0.5 eps^2 - 0.5 z^2), lv = clamp(logvar, lo, hi). */
export function logWeights(
  recon: ArrayLike<number>,
  mulogvar: ArrayLike<number>,
  eps: ArrayLike<number>,
  z: ArrayLike<number>,
  rows: number,
  Z: number,
  lo: number,
  hi: number,
): Float64Array {
  const lw = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let d = 0; d < Z; d++) {
      const lv = Math.min(Math.max(mulogvar[r * 2 * Z + Z + d], lo), hi);
      s += 0.5 * lv + 0.5 * eps[r * Z + d] ** 2 - 0.5 * z[r * Z + d] ** 2;
    }
    lw[r] = s - recon[r];
  }
  return lw;
}

/**
 * log w[r] with a learned prior N(mp, exp(pv)) per row, prior [rows, 2Z]:
 * -recon[r] + sum_d (0.5 (lv - pv) + 0.5 eps^2 - 0.5 (z - mp)^2 exp(-pv)), both logvars
 * clamped to [lo, hi].
 */
export function logWeightsPrior(
  recon: ArrayLike<number>,
  mulogvar: ArrayLike<number>,
  prior: ArrayLike<number>,
  eps: ArrayLike<number>,
  z: ArrayLike<number>,
  rows: number,
  Z: number,
  lo: number,
  hi: number,
): Float64Array {
  const c = (v: number) => Math.min(Math.max(v, lo), hi);
  const lw = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let d = 0; d < Z; d++) {
      const m = r * 2 * Z + d;
      const lv = c(mulogvar[m + Z]), pv = c(prior[m + Z]);
      const u = z[r * Z + d] - prior[m];
      s += 0.5 * (lv - pv) + 0.5 * eps[r * Z + d] ** 2 - 0.5 * u * u * Math.exp(-pv);
    }
    lw[r] = s - recon[r];
  }
  return lw;
}

/** nll[i] = -(log sum_s exp(lw[i*k + s]) - log k), taken about the maximum. */
export function nllFromWeights(lw: ArrayLike<number>, k: number): Float64Array {
  const n = lw.length / k;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let m = -Infinity;
    for (let s = 0; s < k; s++) m = Math.max(m, lw[i * k + s]);
    let t = 0;
    for (let s = 0; s < k; s++) t += Math.exp(lw[i * k + s] - m);
    out[i] = -(m + Math.log(t) - Math.log(k));
  }
  return out;
}
