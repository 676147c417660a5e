/**
 * Float64 reference of the transposed 2-D convolution, plain loops from the definition (each
 * input pixel times the kernel scattered into the output), channels last:
 * x [B, h, w, Cin], w [KH, KW, Cout, Cin], b [Cout], y and dy [B, H, W, Cout].
 * Deliberately not written through the conv2d reference, so the tests check the GPU's role swap.
 */

import type { ConvTranspose2dShape } from "../nn/conv_transpose2d.ts";
import { type Products, productsBackward, productsForward } from "./_products.ts";

/**
 * Rows/columns cropped from the top/left of the full scatter (whose size is (h - 1) s + K):
 * "same" crops max(K - s, 0) in all, the smaller half on top (TensorFlow), explicit [t, l]
 * crops t, "valid" nothing.
 */
function crop(s: ConvTranspose2dShape): [number, number] {
  if (s.padding === "valid") return [0, 0];
  if (s.padding === "same") {
    return [0, 1].map((a) => Math.floor(Math.max(s.kernel[a] - s.stride[a], 0) / 2)) as [
      number,
      number,
    ];
  }
  return s.padding;
}

/**
 * Output rows and columns, from the definitions (not from src/nn): the full scatter of an
 * input of h rows is (h - 1) s + K rows; "valid" keeps it all, explicit [t, l] crops t from each
 * end (PyTorch's padding), both plus outputPadding at the bottom/right; "same" is TensorFlow's
 * Conv2DTranspose, H = h s, the inverse of the "same" convolution's ceil(H / s).
 */
export function convTranspose2dGeometry(
  s: ConvTranspose2dShape,
): { height: number; width: number } {
  const [ct, cl] = crop(s);
  const extra = s.outputPadding ?? [0, 0];
  const size = (a: 0 | 1, n: number, c: number) =>
    s.padding === "same" ? n * s.stride[a] : (n - 1) * s.stride[a] + s.kernel[a] - 2 * c + extra[a];
  return { height: size(0, s.height, ct), width: size(1, s.width, cl) };
}

/**
 * Visit every (input pixel, tap, out channel, in channel) product whose output position lies
 * inside y: f(x index, w index, y index).
 */
function eachProduct(
  s: ConvTranspose2dShape,
  f: (xi: number, wi: number, yi: number) => void,
): void {
  const { batch: B, height: h, width: w, inChannels: Ci, outChannels: Co } = s;
  const [KH, KW] = s.kernel;
  const [sh, sw] = s.stride;
  const [ct, cl] = crop(s);
  const { height: H, width: W } = convTranspose2dGeometry(s);
  for (let n = 0; n < B; n++) {
    for (let ih = 0; ih < h; ih++) {
      for (let iw = 0; iw < w; iw++) {
        const xi = ((n * h + ih) * w + iw) * Ci;
        for (let kh = 0; kh < KH; kh++) {
          const oh = ih * sh + kh - ct;
          if (oh < 0 || oh >= H) continue;
          for (let kw = 0; kw < KW; kw++) {
            const ow = iw * sw + kw - cl;
            if (ow < 0 || ow >= W) continue;
            const yi = ((n * H + oh) * W + ow) * Co;
            for (let co = 0; co < Co; co++) {
              const wi = ((kh * KW + kw) * Co + co) * Ci;
              for (let ci = 0; ci < Ci; ci++) f(xi + ci, wi + ci, yi + co);
            }
          }
        }
      }
    }
  }
}

/** The transposed convolution's products (its scatter) for the shared sums. */
function products(s: ConvTranspose2dShape): Products {
  const o = convTranspose2dGeometry(s);
  const outputs = s.batch * o.height * o.width * s.outChannels;
  return { outputs, outChannels: s.outChannels, each: (f) => eachProduct(s, f) };
}

/**
 * y[b, ih sh + kh - t, iw sw + kw - l, co] += x[b, ih, iw, ci] w[kh, kw, co, ci] over all
 * input pixels and taps landing inside y, plus b[co].
 */
export function convTranspose2dForward(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  b: ArrayLike<number>,
  s: ConvTranspose2dShape,
): Float64Array {
  return productsForward(x, w, b, products(s));
}

/** Gradients given dy: each product x w sends dy w to dx and dy x to dw; db sums dy. */
export function convTranspose2dBackward(
  dy: ArrayLike<number>,
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  s: ConvTranspose2dShape,
): { dx: Float64Array; dw: Float64Array; db: Float64Array } {
  return productsBackward(dy, x, w, products(s));
}
