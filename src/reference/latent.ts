/**
 * Float64 reference of the Gaussian latent (reparameterization) and of its noise generator.
 *
 * `normals` reproduces shaders/latent.wgsl's generator: the same pcg4d integers, bit for bit,
 * then Box-Muller in float64, so GPU eps agree with it to f32 rounding and a whole-model
 * reference can use exactly the noise the GPU drew.
 *
 * Layout: mulogvar [B, 2Z] (per row mu in columns 0..Z-1, logvar in Z..2Z-1); z, eps [B, Z].
 */

/**
 * pcg4d (Jarzynski & Olano 2020) on four u32 lanes, in wrapping u32 arithmetic
 * (Math.imul for the products, `>>> 0` after every add). Returns the four output lanes.
 */
export function pcg4d(
  x: number,
  y: number,
  z: number,
  w: number,
): [number, number, number, number] {
  x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
  y = (Math.imul(y, 1664525) + 1013904223) >>> 0;
  z = (Math.imul(z, 1664525) + 1013904223) >>> 0;
  w = (Math.imul(w, 1664525) + 1013904223) >>> 0;
  x = (x + Math.imul(y, w)) >>> 0;
  y = (y + Math.imul(z, x)) >>> 0;
  z = (z + Math.imul(x, y)) >>> 0;
  w = (w + Math.imul(y, z)) >>> 0;
  x = (x ^ (x >>> 16)) >>> 0;
  y = (y ^ (y >>> 16)) >>> 0;
  z = (z ^ (z >>> 16)) >>> 0;
  w = (w ^ (w >>> 16)) >>> 0;
  x = (x + Math.imul(y, w)) >>> 0;
  y = (y + Math.imul(z, x)) >>> 0;
  z = (z + Math.imul(x, y)) >>> 0;
  w = (w + Math.imul(y, z)) >>> 0;
  return [x, y, z, w];
}

/**
 * Standard normals for elements 0..count-1 of step `step`: element i hashes the key
 * (i, step, seed, stream) with pcg4d, takes t and a from the top 24 bits of the first two
 * lanes, and returns sqrt(-2 ln(1 - t)) * cos(2 pi (a - 1/2)) — the GPU's formula in float64 —
 * times `std` (the latent's eps standard deviation, 1 by default).
 */
export function normals(
  seed: number,
  stream: number,
  step: number,
  count: number,
  std = 1,
): Float64Array {
  const out = new Float64Array(count);
  const s = seed >>> 0, c = stream >>> 0, k = step >>> 0;
  for (let i = 0; i < count; i++) {
    const [hx, hy] = pcg4d(i, k, s, c);
    const t = (hx >>> 8) * 2 ** -24;
    const a = (hy >>> 8) * 2 ** -24 - 0.5;
    out[i] = std * Math.sqrt(-2 * Math.log1p(-t)) * Math.cos(2 * Math.PI * a);
  }
  return out;
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(Math.max(v, lo), hi);
}

/** z[b, j] = mu[b, j] + exp(0.5 * clamp(logvar[b, j], lo, hi)) * eps[b, j]. */
export function latentForward(
  mulogvar: Float64Array,
  eps: Float64Array,
  batch: number,
  z: number,
  lo: number,
  hi: number,
): Float64Array {
  const out = new Float64Array(batch * z);
  for (let b = 0; b < batch; b++) {
    for (let j = 0; j < z; j++) {
      const lv = clamp(mulogvar[b * 2 * z + z + j], lo, hi);
      out[b * z + j] = mulogvar[b * 2 * z + j] + Math.exp(0.5 * lv) * eps[b * z + j];
    }
  }
  return out;
}

/**
 * dmulogvar [B, 2Z]: dmu = dz; dlogvar = dz * eps * 0.5 * exp(0.5 * lv) where
 * lo <= logvar <= hi, else 0 (the clamp passes no gradient).
 */
export function latentBackward(
  dz: Float64Array,
  eps: Float64Array,
  mulogvar: Float64Array,
  batch: number,
  z: number,
  lo: number,
  hi: number,
): Float64Array {
  const out = new Float64Array(batch * 2 * z);
  for (let b = 0; b < batch; b++) {
    for (let j = 0; j < z; j++) {
      const logvar = mulogvar[b * 2 * z + z + j];
      const g = dz[b * z + j];
      out[b * 2 * z + j] = g;
      out[b * 2 * z + z + j] = logvar >= lo && logvar <= hi
        ? g * eps[b * z + j] * 0.5 * Math.exp(0.5 * logvar)
        : 0;
    }
  }
  return out;
}
