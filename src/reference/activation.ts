/** Float64 reference of the activations: forward and backward, plain loops. */

/** y = x > 0 ? x : alpha * x (ReLU when alpha = 0). */
export function leakyReluForward(x: Float64Array, alpha: number): Float64Array {
  return x.map((v) => (v > 0 ? v : alpha * v));
}

/** dx = dy * (x > 0 ? 1 : alpha). */
export function leakyReluBackward(dy: Float64Array, x: Float64Array, alpha: number): Float64Array {
  return dy.map((g, i) => g * (x[i] > 0 ? 1 : alpha));
}

/** y = 1 / (1 + exp(-x)). */
export function sigmoidForward(x: Float64Array): Float64Array {
  return x.map((v) => 1 / (1 + Math.exp(-v)));
}

/** dx = dy * y * (1 - y), with y the forward output. */
export function sigmoidBackward(dy: Float64Array, y: Float64Array): Float64Array {
  return dy.map((g, i) => g * y[i] * (1 - y[i]));
}
