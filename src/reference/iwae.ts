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
