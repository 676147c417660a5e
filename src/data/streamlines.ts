/**
 * Streamline bundles for training: loading (.trk, or a .zip of .trk files), resampling to a
 * fixed number of points equally spaced along arc length, orienting a bundle so all its
 * streamlines run the same way, normalizing coordinates, and simple bundle statistics.
 *
 * A streamline is a Float32Array of P points as x, y, z triples (length 3P), in mm.
 * Problems with files are one-line `TrkError`s; misuse of the geometry functions (a
 * streamline too short to resample, arrays of different lengths) is a RangeError.
 */

import { unzipSync } from "fflate";
import { parseTrk, TrkError } from "./trk.ts";

/** Largest uncompressed .trk entry accepted from a zip (bounds memory for a zip bomb). */
export const MAX_ZIP_ENTRY_BYTES = 2 ** 30;

/** A named set of streamlines (one .trk file). */
export interface StreamlineBundle {
  /** The file's name without `.trk` (for a zip entry, its path inside the zip). */
  name: string;
  /** The streamlines, RAS+ mm. */
  streamlines: Float32Array[];
}

async function _readFile(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new TrkError(`${path}: file not found`);
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
      throw new TrkError(`${path}: not allowed to read it; run with --allow-read`);
    }
    throw new TrkError(`${path}: cannot read: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function _bundleName(path: string): string {
  return path.replace(/^.*[\\/]/, "").replace(/\.trk$/i, "");
}

/**
 * Reads streamline bundles from a .trk file (one bundle, named after the file) or a .zip
 * (recognised by its `PK` signature) holding .trk files: one bundle per `.trk` entry, named
 * by its path inside the zip without `.trk` (e.g. "sub_1/AF_L"), in entry-name order.
 * Needs --allow-read.
 *
 * @throws TrkError for a missing or unreadable file, a damaged zip, a zip with no .trk
 *   entry, or any problem `parseTrk` finds (naming the zip entry).
 */
export async function readStreamlineBundles(path: string): Promise<StreamlineBundle[]> {
  return parseStreamlineBundles(await _readFile(path), path);
}

/**
 * The bytes-in half of {@link readStreamlineBundles}: parses a .trk file or a .zip of .trk
 * files already in memory.
 *
 * @param bytes The whole file.
 * @param path Its name or path: names the bundle of a lone .trk and every error message.
 * @throws TrkError as {@link readStreamlineBundles} does.
 */
export function parseStreamlineBundles(bytes: Uint8Array, path: string): StreamlineBundle[] {
  const isZip = bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b;
  if (!isZip) {
    if (/\.zip$/i.test(path)) throw new TrkError(`${path}: not a zip file (no PK signature)`);
    return [{ name: _bundleName(path), streamlines: parseTrk(bytes, path).streamlines }];
  }
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(bytes, {
      filter: (f) => {
        if (!/\.trk$/i.test(f.name) || f.name.endsWith("/")) return false;
        if (f.originalSize > MAX_ZIP_ENTRY_BYTES) {
          throw new TrkError(
            `${path}: entry ${f.name} says ${f.originalSize} bytes unzipped, over the ` +
              `${MAX_ZIP_ENTRY_BYTES}-byte limit`,
          );
        }
        return true;
      },
    });
  } catch (e) {
    if (e instanceof TrkError) throw e;
    const why = e instanceof Error ? e.message : String(e);
    throw new TrkError(`${path}: damaged or unsupported zip file (${why})`);
  }
  const names = Object.keys(entries).sort();
  if (names.length === 0) throw new TrkError(`${path}: the zip holds no .trk file`);
  return names.map((n) => ({
    name: n.replace(/\.trk$/i, ""),
    streamlines: parseTrk(entries[n], `${path}:${n}`).streamlines,
  }));
}

function _points(s: Float32Array, what: string): number {
  if (s.length % 3 !== 0) {
    throw new RangeError(`${what}: streamline has ${s.length} values, not a multiple of 3`);
  }
  return s.length / 3;
}

function _dist(a: Float32Array, i: number, b: Float32Array, j: number): number {
  const dx = a[3 * i] - b[3 * j],
    dy = a[3 * i + 1] - b[3 * j + 1],
    dz = a[3 * i + 2] - b[3 * j + 2];
  return Math.sqrt(dx * dx + dy * dy + dz * dz);
}

/** Length of the polyline in mm: the sum of its segment lengths (0 for one point). */
export function arcLength(s: Float32Array): number {
  const p = _points(s, "arcLength");
  let len = 0;
  for (let i = 1; i < p; i++) len += _dist(s, i - 1, s, i);
  return len;
}

/**
 * The length of a streamline measured through `points` of its points at evenly spaced
 * indices (first and last included): the arc length of a coarser polyline. A decoded
 * streamline carries small independent errors at every point, and the full arc length adds
 * them up (256 points with 0.5 mm of jitter gain over 100 mm); through 32 points the jitter
 * adds little while a smooth curve loses under 1% (the chord of an eighth of it).
 */
export function coarseLength(s: Float32Array, points = 32): number {
  const p = s.length / 3;
  if (!Number.isInteger(p) || p < 2) throw new RangeError(`coarseLength: ${s.length} values`);
  const n = Math.min(points, p);
  let length = 0;
  let prev = 0;
  for (let k = 1; k < n; k++) {
    const i = Math.round((k * (p - 1)) / (n - 1));
    const dx = s[3 * i] - s[3 * prev], dy = s[3 * i + 1] - s[3 * prev + 1];
    const dz = s[3 * i + 2] - s[3 * prev + 2];
    length += Math.sqrt(dx * dx + dy * dy + dz * dz);
    prev = i;
  }
  return length;
}

/**
 * Resamples a polyline to `n` points equally spaced along its arc length: point k is the
 * point at arc length `k * L / (n - 1)` on the polyline (linear interpolation within a
 * segment), so both endpoints are kept exactly. Consecutive output points are exactly
 * `L / (n - 1)` apart along the original polyline; their straight-line distance is that
 * too, except where a stretch cuts a corner of the original (then it is slightly less).
 *
 * @param s The streamline (at least 2 points, positive length).
 * @param n Output points (integer >= 2, default 256).
 * @throws RangeError for a 1-point or zero-length streamline or a bad `n`.
 */
export function resample(s: Float32Array, n = 256): Float32Array {
  const p = _points(s, "resample");
  if (!Number.isInteger(n) || n < 2) throw new RangeError(`resample: n is ${n}, expected >= 2`);
  if (p < 2) throw new RangeError(`resample: streamline has ${p} point(s), need at least 2`);
  const cum = new Float64Array(p);
  for (let i = 1; i < p; i++) cum[i] = cum[i - 1] + _dist(s, i - 1, s, i);
  const total = cum[p - 1];
  if (!(total > 0)) {
    throw new RangeError(`resample: streamline of ${p} points has zero length (all coincide)`);
  }
  const out = new Float32Array(3 * n);
  let seg = 1; // current segment is [seg - 1, seg]
  for (let k = 0; k < n; k++) {
    if (k === n - 1) {
      out.set(s.subarray(3 * (p - 1), 3 * p), 3 * k);
      break;
    }
    const target = (total * k) / (n - 1);
    while (seg < p - 1 && cum[seg] < target) seg++;
    const len = cum[seg] - cum[seg - 1];
    const t = len > 0 ? Math.min(1, Math.max(0, (target - cum[seg - 1]) / len)) : 0;
    for (let c = 0; c < 3; c++) {
      out[3 * k + c] = s[3 * (seg - 1) + c] + t * (s[3 * seg + c] - s[3 * (seg - 1) + c]);
    }
  }
  return out;
}

/** The streamline with its points in reverse order (a new array). */
export function reversed(s: Float32Array): Float32Array {
  const p = _points(s, "reversed");
  const out = new Float32Array(s.length);
  for (let i = 0; i < p; i++) out.set(s.subarray(3 * i, 3 * i + 3), 3 * (p - 1 - i));
  return out;
}

/**
 * Mean over points of the Euclidean distance between corresponding points of two
 * streamlines with the same number of points.
 * @throws RangeError when the lengths differ or are empty.
 */
export function meanPointDistance(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length || a.length === 0) {
    throw new RangeError(`meanPointDistance: lengths ${a.length} and ${b.length} differ or are 0`);
  }
  const p = _points(a, "meanPointDistance");
  let sum = 0;
  for (let i = 0; i < p; i++) sum += _dist(a, i, b, i);
  return sum / p;
}

/**
 * Orients a bundle so its streamlines run the same way. The reference starts as the first
 * streamline; each following one is reversed when its reverse is closer to the reference
 * (by {@link meanPointDistance}), and then folded into the reference, which is the running
 * mean of the oriented streamlines so far. Unflipped streamlines are returned as given,
 * flipped ones as new arrays; the input array is not modified.
 *
 * @param streamlines Resampled streamlines, all with the same number of points.
 * @throws RangeError when the lengths differ.
 */
export function orientAlike(streamlines: Float32Array[]): Float32Array[] {
  if (streamlines.length === 0) return [];
  const len = streamlines[0].length;
  const mean = new Float64Array(len);
  const ref = new Float32Array(len);
  const out: Float32Array[] = [];
  streamlines.forEach((s, k) => {
    if (s.length !== len) {
      throw new RangeError(
        `orientAlike: streamline ${k} has ${s.length} values, the first ${len}; resample first`,
      );
    }
    let o = s;
    if (k > 0) {
      for (let i = 0; i < len; i++) ref[i] = mean[i];
      const r = reversed(s);
      if (meanPointDistance(r, ref) < meanPointDistance(s, ref)) o = r;
    }
    for (let i = 0; i < len; i++) mean[i] += (o[i] - mean[i]) / (k + 1);
    out.push(o);
  });
  return out;
}

/** An affine normalization of coordinates: `normalized = (mm - center) * scale`. */
export interface Normalization {
  /** Subtracted from every point (mm). */
  center: [number, number, number];
  /** Multiplies the centred coordinates (1/mm). */
  scale: number;
}

/**
 * Fits a normalization to a set of streamlines: `center` is the mean of all their points
 * (every point weighs the same) and `scale` is 1 / the RMS distance of the points from it,
 * so the normalized points have mean 0 and RMS norm 1.
 * @throws RangeError when there are no points or they all coincide.
 */
export function fitNormalization(streamlines: Float32Array[]): Normalization {
  let count = 0;
  const sum = [0, 0, 0];
  for (const s of streamlines) {
    const p = _points(s, "fitNormalization");
    for (let i = 0; i < p; i++) for (let c = 0; c < 3; c++) sum[c] += s[3 * i + c];
    count += p;
  }
  if (count === 0) throw new RangeError("fitNormalization: no points");
  const center = sum.map((v) => v / count) as [number, number, number];
  let sq = 0;
  for (const s of streamlines) {
    for (let i = 0; i < s.length; i++) sq += (s[i] - center[i % 3]) ** 2;
  }
  const rms = Math.sqrt(sq / count);
  if (!(rms > 0) || !Number.isFinite(rms)) {
    throw new RangeError(`fitNormalization: RMS spread of the points is ${rms}`);
  }
  return { center, scale: 1 / rms };
}

/** Applies a normalization: `(s - center) * scale`, as a new array. */
export function normalize(s: Float32Array, n: Normalization): Float32Array {
  _points(s, "normalize");
  return s.map((v, i) => (v - n.center[i % 3]) * n.scale);
}

/** Undoes {@link normalize}: `s / scale + center`, as a new array. */
export function denormalize(s: Float32Array, n: Normalization): Float32Array {
  _points(s, "denormalize");
  return s.map((v, i) => v / n.scale + n.center[i % 3]);
}

/**
 * A bundle's width in mm: 2 x the 90th percentile, over all points of all streamlines, of
 * the distance from each point to the bundle's mean streamline at the same index. The
 * percentile interpolates linearly between sorted distances (position 0.9 (N - 1)). For a
 * tube whose cross-section is a uniformly filled disc of radius r, the distance is below d
 * with probability d^2 / r^2, so the 90th percentile is r sqrt(0.9) and the width is about
 * 1.9 r (1.897 r).
 *
 * @param streamlines Resampled and oriented (see {@link orientAlike}), equal lengths.
 * @throws RangeError for an empty bundle or unequal lengths.
 */
export function bundleWidth(streamlines: Float32Array[]): number {
  if (streamlines.length === 0) throw new RangeError("bundleWidth: empty bundle");
  const len = streamlines[0].length;
  const p = _points(streamlines[0], "bundleWidth");
  if (p === 0) throw new RangeError("bundleWidth: streamlines have no points");
  const mean = new Float32Array(len);
  const acc = new Float64Array(len);
  for (const s of streamlines) {
    if (s.length !== len) throw new RangeError("bundleWidth: streamlines differ in length");
    for (let i = 0; i < len; i++) acc[i] += s[i];
  }
  for (let i = 0; i < len; i++) mean[i] = acc[i] / streamlines.length;
  const d = new Float64Array(p * streamlines.length);
  streamlines.forEach((s, k) => {
    for (let i = 0; i < p; i++) d[k * p + i] = _dist(s, i, mean, i);
  });
  d.sort();
  const pos = 0.9 * (d.length - 1);
  const lo = Math.floor(pos), hi = Math.min(lo + 1, d.length - 1);
  return 2 * (d[lo] + (pos - lo) * (d[hi] - d[lo]));
}
