/** Seeded CPU-side randomness: initial weights and the per-epoch shuffle. */

/**
 * mulberry32: a small 32-bit generator with good mixing, returning uniforms in [0, 1).
 * Used where the GPU's counter-based generator is not needed (set-up, once per epoch).
 */
export function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One draw from N(0, 1) from two uniforms of `next` (Box-Muller). */
export function standardNormal(next: () => number): number {
  const u = 1 - next(), v = next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** `count` draws from N(0, 1) from a seeded mulberry32: codes from the prior. */
export function priorSample(count: number, seed: number): Float32Array {
  const next = mulberry32(seed);
  return Float32Array.from({ length: count }, () => standardNormal(next));
}

/**
 * The order of the training examples in epoch `epoch`: a Fisher-Yates shuffle keyed by
 * (seed, epoch) alone, so a resumed run reshuffles exactly as an uninterrupted one.
 */
export function epochOrder(n: number, seed: number, epoch: number): Uint32Array {
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  const next = mulberry32(
    (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x85ebca6b)) >>> 0,
  );
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}
