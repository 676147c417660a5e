/**
 * A nearest-class-mean classifier, to check a conditional VAE's samples: does a sample asked
 * for class c look more like the mean training image of c than of any other class? It needs
 * no training beyond one pass of sums, so the check depends only on the data. Its accuracy
 * on real test images is the ceiling that samples are compared against.
 *
 * Dimensions: N images, F features (pixels), K classes.
 */

/**
 * Mean image of each class: [K, F], values scaled by `scale` (default 1/255 for bytes, so
 * means are in [0, 1]; 1 for floats). A class with no images gets NaN means and is then
 * never the nearest.
 *
 * @param images [N, F] pixels, one image after another.
 * @param labels [N] class indices in [0, K).
 * @throws Error when the sizes disagree or a label is out of range.
 */
export function classMeans(
  images: Uint8Array | Float32Array,
  labels: Uint8Array,
  classes: number,
  features: number,
  scale: number = images instanceof Uint8Array ? 1 / 255 : 1,
): Float32Array {
  if (!Number.isInteger(classes) || classes < 1 || !Number.isInteger(features) || features < 1) {
    throw new Error(`classMeans: ${classes} classes, ${features} features`);
  }
  const n = labels.length;
  if (images.length !== n * features) {
    throw new Error(`classMeans: ${images.length} values for ${n} images of ${features}`);
  }
  // Sums in float64: 6000 images of a class in f32 would lose low bits.
  const sums = new Float64Array(classes * features);
  const counts = new Float64Array(classes);
  for (let i = 0; i < n; i++) {
    const c = labels[i];
    if (c >= classes) throw new Error(`classMeans: image ${i} has label ${c} >= ${classes}`);
    counts[c]++;
    const row = c * features, at = i * features;
    for (let f = 0; f < features; f++) sums[row + f] += images[at + f];
  }
  const means = new Float32Array(classes * features);
  for (let c = 0; c < classes; c++) {
    for (let f = 0; f < features; f++) {
      means[c * features + f] = counts[c] ? (sums[c * features + f] / counts[c]) * scale : NaN;
    }
  }
  return means;
}

/**
 * The class whose mean is nearest to `sample` ([F], in the means' units) in squared
 * Euclidean distance; the lowest index among equals; -1 when no class has a finite distance.
 */
export function nearestClass(means: Float32Array, classes: number, sample: Float32Array): number {
  const features = means.length / classes;
  if (!Number.isInteger(features) || sample.length !== features) {
    throw new Error(
      `nearestClass: ${means.length} mean values for ${classes} classes, sample of ` +
        `${sample.length}`,
    );
  }
  let best = -1, bestD = Infinity;
  for (let c = 0; c < classes; c++) {
    let d = 0;
    const row = c * features;
    for (let f = 0; f < features; f++) {
      const e = sample[f] - means[row + f];
      d += e * e;
    }
    if (d < bestD) best = c, bestD = d;
  }
  return best;
}

/**
 * How often the classifier agrees with the class each sample was asked for: `fraction` over
 * all n samples, `perClass[c]` over the samples asked for c (NaN when none was), and
 * `confusion[asked][predicted]` counts ([K][K]; a sample with no nearest class is counted
 * in no column).
 *
 * @param samples [n, F], row i asked for class `asked[i]`.
 */
export function agreement(
  means: Float32Array,
  classes: number,
  samples: Float32Array,
  asked: ArrayLike<number>,
): { fraction: number; perClass: number[]; confusion: number[][] } {
  const n = asked.length, features = means.length / classes;
  if (samples.length !== n * features) {
    throw new Error(`agreement: ${samples.length} values for ${n} samples of ${features}`);
  }
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  const total = new Array<number>(classes).fill(0);
  let agree = 0;
  for (let i = 0; i < n; i++) {
    const c = asked[i];
    if (!(Number.isInteger(c) && c >= 0 && c < classes)) {
      throw new Error(`agreement: sample ${i} asked for class ${c}, not in [0, ${classes})`);
    }
    const p = nearestClass(means, classes, samples.subarray(i * features, (i + 1) * features));
    total[c]++;
    if (p >= 0) confusion[c][p]++;
    if (p === c) agree++;
  }
  return {
    fraction: n ? agree / n : NaN,
    perClass: total.map((t, c) => (t ? confusion[c][c] / t : NaN)),
    confusion,
  };
}
