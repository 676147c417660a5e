/**
 * Float64 reference of the 1-D convolution and its transpose, plain loops from the
 * definitions (not through the 2-D references, so the tests check the GPU's one-row mapping),
 * channels last: x [B, L, Cin], y and dy [B, Lo, Cout], b [Cout];
 * conv1d w [K, Cin, Cout], convTranspose1d w [K, Cout, Cin].
 */

import type { Conv1dShape, ConvTranspose1dShape } from "../nn/conv1d.ts";
import { type Products, productsBackward, productsForward } from "./_products.ts";

/** Output length and the zeros before the sequence (TensorFlow's "same": odd pad at the end). */
function conv1dGeometry(s: Conv1dShape): { lo: number; before: number } {
  const { length: L, kernel: K, stride: st, padding: p } = s;
  if (p === "same") {
    const lo = Math.ceil(L / st);
    return { lo, before: Math.floor(Math.max((lo - 1) * st + K - L, 0) / 2) };
  }
  const pad = p === "valid" ? 0 : p;
  return { lo: Math.floor((L + 2 * pad - K) / st) + 1, before: pad };
}

/** Visit every (output position, tap, in channel, out channel) product: f(xi, wi, yi). */
function eachProduct1d(s: Conv1dShape, f: (xi: number, wi: number, yi: number) => void): void {
  const { batch: B, length: L, inChannels: Ci, outChannels: Co, kernel: K, stride: st } = s;
  const { lo, before } = conv1dGeometry(s);
  for (let n = 0; n < B; n++) {
    for (let o = 0; o < lo; o++) {
      const yi = (n * lo + o) * Co;
      for (let k = 0; k < K; k++) {
        const i = o * st - before + k;
        if (i < 0 || i >= L) continue;
        for (let ci = 0; ci < Ci; ci++) {
          const xi = (n * L + i) * Ci + ci;
          const wi = (k * Ci + ci) * Co;
          for (let co = 0; co < Co; co++) f(xi, wi + co, yi + co);
        }
      }
    }
  }
}

/** conv1d's products for the shared sums. */
function products1d(s: Conv1dShape): Products {
  const outputs = s.batch * conv1dGeometry(s).lo * s.outChannels;
  return { outputs, outChannels: s.outChannels, each: (f) => eachProduct1d(s, f) };
}

/** y[b, o, co] = b[co] + sum_{k, ci} x[b, o s - before + k, ci] w[k, ci, co] (0 outside). */
export function conv1dForward(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  b: ArrayLike<number>,
  s: Conv1dShape,
): Float64Array {
  return productsForward(x, w, b, products1d(s));
}

/** Gradients of conv1d given dy: each product x w sends dy w to dx and dy x to dw. */
export function conv1dBackward(
  dy: ArrayLike<number>,
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  s: Conv1dShape,
): { dx: Float64Array; dw: Float64Array; db: Float64Array } {
  return productsBackward(dy, x, w, products1d(s));
}

/**
 * Output length and the positions cropped from the start of the full scatter
 * ((L - 1) s + K long): "same" crops max(K - s, 0) in all, the smaller half at the start.
 */
function transposeGeometry(s: ConvTranspose1dShape): { lo: number; crop: number } {
  const { length: L, kernel: K, stride: st, padding: p } = s;
  const op = s.outputPadding ?? 0;
  if (p === "same") return { lo: L * st, crop: Math.floor(Math.max(K - st, 0) / 2) };
  const pad = p === "valid" ? 0 : p;
  return { lo: (L - 1) * st - 2 * pad + K + op, crop: pad };
}

/** Visit every (input position, tap, out channel, in channel) product landing inside y. */
function eachScatter1d(
  s: ConvTranspose1dShape,
  f: (xi: number, wi: number, yi: number) => void,
): void {
  const { batch: B, length: L, inChannels: Ci, outChannels: Co, kernel: K, stride: st } = s;
  const { lo, crop } = transposeGeometry(s);
  for (let n = 0; n < B; n++) {
    for (let i = 0; i < L; i++) {
      const xi = (n * L + i) * Ci;
      for (let k = 0; k < K; k++) {
        const o = i * st + k - crop;
        if (o < 0 || o >= lo) continue;
        const yi = (n * lo + o) * Co;
        for (let co = 0; co < Co; co++) {
          const wi = (k * Co + co) * Ci;
          for (let ci = 0; ci < Ci; ci++) f(xi + ci, wi + ci, yi + co);
        }
      }
    }
  }
}

/** The transposed conv1d's products (its scatter) for the shared sums. */
function scatters1d(s: ConvTranspose1dShape): Products {
  const outputs = s.batch * transposeGeometry(s).lo * s.outChannels;
  return { outputs, outChannels: s.outChannels, each: (f) => eachScatter1d(s, f) };
}

/** y[b, i s + k - crop, co] += x[b, i, ci] w[k, co, ci] over positions inside y, plus b[co]. */
export function convTranspose1dForward(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  b: ArrayLike<number>,
  s: ConvTranspose1dShape,
): Float64Array {
  return productsForward(x, w, b, scatters1d(s));
}

/** Gradients of the transposed conv1d given dy. */
export function convTranspose1dBackward(
  dy: ArrayLike<number>,
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  s: ConvTranspose1dShape,
): { dx: Float64Array; dw: Float64Array; db: Float64Array } {
  return productsBackward(dy, x, w, scatters1d(s));
}
