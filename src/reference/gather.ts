/** Reference of the batch gather, plain loops in float64. */

/** x[b, f] = data[index[offset + b] * F + f] * scale + shift, for b < batch. */
export function gatherBatch(
  data: ArrayLike<number>,
  index: ArrayLike<number>,
  batch: number,
  features: number,
  offset: number,
  scale: number,
  shift: number,
): Float64Array {
  const x = new Float64Array(batch * features);
  for (let b = 0; b < batch; b++) {
    const row = index[offset + b] * features;
    for (let f = 0; f < features; f++) x[b * features + f] = data[row + f] * scale + shift;
  }
  return x;
}
