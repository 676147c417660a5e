/**
 * Float64 reference of the 2-D convolution, plain loops, channels last:
 * x [B, H, W, Cin], w [KH, KW, Cin, Cout], b [Cout], y and dy [B, Ho, Wo, Cout].
 */

import type { Conv2dShape } from "../nn/conv2d.ts";
import { type Products, productsBackward, productsForward } from "./_products.ts";

/**
 * One axis of the convolution, from the definitions, not from src/nn (an oracle that shared the
 * GPU side's geometry would pass the same padding bug): input n, kernel k, stride st.
 * - "same" (TensorFlow): out = ceil(n / st); the zeros needed in all are k - st when st divides
 *   n, else k - (n mod st), never fewer than 0; the smaller half goes before the image.
 * - "valid": out = floor((n - k) / st) + 1, nothing added.
 * - p zeros at each end: out = floor((n + 2 p - k) / st) + 1.
 */
function axis(
  n: number,
  k: number,
  st: number,
  pad: "same" | "valid" | number,
): { out: number; before: number } {
  if (pad === "same") {
    const total = Math.max(n % st === 0 ? k - st : k - (n % st), 0);
    return { out: Math.ceil(n / st), before: Math.floor(total / 2) };
  }
  const p = pad === "valid" ? 0 : pad;
  return { out: Math.floor((n + 2 * p - k) / st) + 1, before: p };
}

/** Output rows and columns of the convolution `s`, and the zero rows/columns above and left. */
export function conv2dGeometry(
  s: Conv2dShape,
): { height: number; width: number; padTop: number; padLeft: number } {
  const p = s.padding;
  const rows = axis(s.height, s.kernel[0], s.stride[0], typeof p === "string" ? p : p[0]);
  const cols = axis(s.width, s.kernel[1], s.stride[1], typeof p === "string" ? p : p[1]);
  return { height: rows.out, width: cols.out, padTop: rows.before, padLeft: cols.before };
}

/**
 * Visit every (output pixel, tap, in channel, out channel) product of the convolution whose
 * x element lies inside the image: f(x index, w index, y index).
 */
function eachProduct(s: Conv2dShape, f: (xi: number, wi: number, yi: number) => void): void {
  const { batch: B, height: H, width: W, inChannels: Ci, outChannels: Co } = s;
  const [KH, KW] = s.kernel;
  const [sh, sw] = s.stride;
  const o = conv2dGeometry(s);
  for (let n = 0; n < B; n++) {
    for (let oh = 0; oh < o.height; oh++) {
      for (let ow = 0; ow < o.width; ow++) {
        const yi = ((n * o.height + oh) * o.width + ow) * Co;
        for (let kh = 0; kh < KH; kh++) {
          const ih = oh * sh - o.padTop + kh;
          if (ih < 0 || ih >= H) continue;
          for (let kw = 0; kw < KW; kw++) {
            const iw = ow * sw - o.padLeft + kw;
            if (iw < 0 || iw >= W) continue;
            for (let ci = 0; ci < Ci; ci++) {
              const xi = ((n * H + ih) * W + iw) * Ci + ci;
              const wi = ((kh * KW + kw) * Ci + ci) * Co;
              for (let co = 0; co < Co; co++) f(xi, wi + co, yi + co);
            }
          }
        }
      }
    }
  }
}

/** The convolution's products for the shared sums. */
function products(s: Conv2dShape): Products {
  const o = conv2dGeometry(s);
  const outputs = s.batch * o.height * o.width * s.outChannels;
  return { outputs, outChannels: s.outChannels, each: (f) => eachProduct(s, f) };
}

/**
 * y[b, oh, ow, co] = b[co] + sum_{kh, kw, ci} x[b, oh sh - pt + kh, ow sw - pl + kw, ci]
 * w[kh, kw, ci, co], x outside the image being 0.
 */
export function conv2dForward(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  b: ArrayLike<number>,
  s: Conv2dShape,
): Float64Array {
  return productsForward(x, w, b, products(s));
}

/** Gradients of the convolution given dy: each product x w sends dy x to dw and dy w to dx. */
export function conv2dBackward(
  dy: ArrayLike<number>,
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  s: Conv2dShape,
): { dx: Float64Array; dw: Float64Array; db: Float64Array } {
  return productsBackward(dy, x, w, products(s));
}
