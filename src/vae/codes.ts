/**
 * Codes from a learned prior's moments at a temperature: the reparameterization of
 * p(z | c) = N(mp(c), exp(pv(c))) that training's sampler (prior_sample.ts) and the web
 * decoder (src/web/decoder.ts) both run, so the page and Deno draw the same codes from the same
 * moments. No GPU, no Deno API: it bundles for the browser.
 *
 * Legend: n codes, Z latent size.
 */

/**
 * z = mp + t exp(0.5 clamp(pv, lo, hi)) eps for each of n rows, eps ~ N(0, I) (t = 0: the
 * prior's mean, t = 1: the prior).
 *
 * @param moments [n, 2Z] rows [mp | pv], as the prior network writes them.
 * @param eps [n, Z] standard normal draws.
 * @param clamp [lo, hi], the run's logvar clamp.
 */
export function codesFromMoments(
  moments: ArrayLike<number>,
  eps: ArrayLike<number>,
  n: number,
  Z: number,
  [lo, hi]: readonly [number, number],
  t: number,
): Float32Array {
  const z = new Float32Array(n * Z);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < Z; j++) {
      const pv = Math.min(Math.max(moments[i * 2 * Z + Z + j], lo), hi);
      z[i * Z + j] = moments[i * 2 * Z + j] + t * Math.exp(0.5 * pv) * eps[i * Z + j];
    }
  }
  return z;
}
