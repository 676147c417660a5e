/**
 * The sums every convolution reference shares, whatever its geometry: each reference only
 * enumerates its products x[xi] * w[wi] -> y[yi] (the geometry stays its own), and these
 * turn the enumeration into the forward and the gradients.
 */

/** One convolution's products, as a reference enumerates them. */
export interface Products {
  /** Elements of y (and dy). */
  outputs: number;
  /** Cout: y's channels, the last axis; b and db are [Cout]. */
  outChannels: number;
  /** Calls f(xi, wi, yi) once for every product x[xi] * w[wi] that adds into y[yi]. */
  each: (f: (xi: number, wi: number, yi: number) => void) => void;
}

/** y [outputs] = b[co] (co = index mod Cout) plus every product landing on it. */
export function productsForward(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  b: ArrayLike<number>,
  { outputs, outChannels, each }: Products,
): Float64Array {
  const y = new Float64Array(outputs);
  for (let i = 0; i < y.length; i++) y[i] = b[i % outChannels];
  each((xi, wi, yi) => {
    y[yi] += x[xi] * w[wi];
  });
  return y;
}

/** Gradients given dy: each product x w sends dy w to dx and dy x to dw; db sums dy. */
export function productsBackward(
  dy: ArrayLike<number>,
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  { outChannels, each }: Products,
): { dx: Float64Array; dw: Float64Array; db: Float64Array } {
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(w.length);
  const db = new Float64Array(outChannels);
  for (let i = 0; i < dy.length; i++) db[i % outChannels] += dy[i];
  each((xi, wi, yi) => {
    dx[xi] += dy[yi] * w[wi];
    dw[wi] += dy[yi] * x[xi];
  });
  return { dx, dw, db };
}
