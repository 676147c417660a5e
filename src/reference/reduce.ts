/** Float64 reference of the metric reductions, plain loops; each returns a new accumulator. */

/** acc[slot] += scale * sum_i x[i]. */
export function accumulate(
  acc: Float64Array,
  x: ArrayLike<number>,
  slot: number,
  scale: number,
): Float64Array {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  const out = acc.slice();
  out[slot] += scale * s;
  return out;
}

/** acc[slot] += 1 when some x[i] is NaN or +-Inf. */
export function finiteGuard(acc: Float64Array, x: ArrayLike<number>, slot: number): Float64Array {
  const out = acc.slice();
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) {
      out[slot] += 1;
      break;
    }
  }
  return out;
}
