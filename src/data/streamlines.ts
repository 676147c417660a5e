/**
 * Streamline bundles for training: loading (.trk, .tck, .trx, or a .zip or folder of them), resampling to a
 * fixed number of points equally spaced along arc length, orienting a bundle so all its
 * streamlines run the same way, normalizing coordinates, and simple bundle statistics.
 *
 * A streamline is a Float32Array of P points as x, y, z triples (length 3P), in mm.
 * Problems with files are one-line `TractogramError`s (TrkError, TckError, TrxError); misuse of the geometry functions (a
 * streamline too short to resample, arrays of different lengths) is a RangeError.
 */

import { unzipSync } from "fflate";
import { parseTck } from "./tck.ts";
import { TractogramError, type TractogramSpace } from "./tractogram.ts";
import { parseTrk, trkSpace } from "./trk.ts";
import { parseTrxEntries, type TrxTractogram } from "./trx.ts";

/** Largest uncompressed entry accepted from a zip (bounds memory for a zip bomb). */
export const MAX_ZIP_ENTRY_BYTES = 2 ** 30;

/** The tractogram file extensions read (a .zip or folder may hold any of them). */
export const TRACTOGRAM_EXTENSIONS: readonly string[] = [".trk", ".tck", ".trx"];

/** A named set of streamlines (one tractogram file, or one group of a .trx file). */
export interface StreamlineBundle {
  /**
   * The file's name without its extension (for a zip entry or a file in a folder, its
   * path inside without the extension, e.g. "sub_1/AF_L"; for a .trx group, the file's
   * name, "/", the group's name, or the group's name alone for a lone .trx file).
   */
  name: string;
  /** The streamlines, RAS+ mm. */
  streamlines: Float32Array[];
  /** The space of the file it came from; null for a .tck file (which records none). */
  space?: TractogramSpace | null;
}

function _why(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

async function _readFile(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new TractogramError(`${path}: file not found`);
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
      throw new TractogramError(`${path}: not allowed to read it; run with --allow-read`);
    }
    throw new TractogramError(`${path}: cannot read: ${_why(e)}`);
  }
}

const _EXT = /\.(trk|tck|trx)$/i;

function _bundleName(path: string): string {
  return path.replace(/^.*[\\/]/, "").replace(_EXT, "");
}

function _isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b;
}

function _unzip(bytes: Uint8Array, path: string, keep: (name: string) => boolean) {
  try {
    return unzipSync(bytes, {
      filter: (f) => {
        if (!keep(f.name) || f.name.endsWith("/")) return false;
        if (f.originalSize > MAX_ZIP_ENTRY_BYTES) {
          throw new TractogramError(
            `${path}: entry ${f.name} says ${f.originalSize} bytes unzipped, over the ` +
              `${MAX_ZIP_ENTRY_BYTES}-byte limit`,
          );
        }
        return true;
      },
    });
  } catch (e) {
    if (e instanceof TractogramError) throw e;
    throw new TractogramError(`${path}: damaged or unsupported zip file (${_why(e)})`);
  }
}

/** The bundles with repeated names told apart: the second "x" becomes "x (2)", and so on. */
function _unique(bundles: StreamlineBundle[]): StreamlineBundle[] {
  const seen = new Map<string, number>();
  return bundles.map((b) => {
    const k = (seen.get(b.name) ?? 0) + 1;
    seen.set(b.name, k);
    return k === 1 ? b : { ...b, name: `${b.name} (${k})` };
  });
}

/** Whether a zip's entry names are those of one TRX tractogram (a header.json at its top). */
function _isTrxListing(names: string[]): boolean {
  return names.includes("header.json") ||
    names.filter((n) => /^[^/]+\/header\.json$/.test(n)).length === 1 &&
      !names.some((n) => _EXT.test(n));
}

/**
 * The bundles of one .trx tractogram: one per group when its groups are disjoint (named
 * `prefix/GROUP`, or GROUP when `prefix` is ""), plus the streamlines in no group under
 * `prefix` (or "ungrouped"); one bundle named `prefix` when there are no groups or they
 * overlap.
 */
function _trxBundles(t: TrxTractogram, prefix: string, fallback: string): StreamlineBundle[] {
  const space = t.space;
  const names = Object.keys(t.groups).sort();
  const owner = new Int32Array(t.streamlines.length).fill(-1);
  let overlap = false;
  names.forEach((g, k) => {
    for (const i of t.groups[g]) {
      if (owner[i] >= 0) overlap = true;
      owner[i] = k;
    }
  });
  if (names.length === 0 || overlap) {
    return [{ name: prefix || fallback, streamlines: t.streamlines, space }];
  }
  const out: StreamlineBundle[] = names.map((g) => ({
    name: prefix ? `${prefix}/${g}` : g,
    streamlines: Array.from(t.groups[g]).sort((a, b) => a - b).map((i) => t.streamlines[i]),
    space,
  }));
  const rest = t.streamlines.filter((_, i) => owner[i] < 0);
  if (rest.length) out.push({ name: prefix || "ungrouped", streamlines: rest, space });
  return out;
}

/** The bundles of one tractogram file's bytes (.trk, .tck or zipped .trx), by content. */
function _fileBundles(bytes: Uint8Array, path: string, name: string, lone: boolean) {
  if (_isZip(bytes) || /\.trx$/i.test(path)) {
    if (!_isZip(bytes)) {
      throw new TractogramError(`${path}: not a zipped TRX file (no PK signature)`);
    }
    const entries = _unzip(bytes, path, () => true);
    return _trxBundles(parseTrxEntries(entries, path), lone ? "" : name, name);
  }
  const head = new TextDecoder("latin1").decode(bytes.subarray(0, 13));
  if (head === "mrtrix tracks") {
    return [{ name, streamlines: parseTck(bytes, path).streamlines, space: null }];
  }
  const t = parseTrk(bytes, path);
  return [{ name, streamlines: t.streamlines, space: trkSpace(t.header) }];
}

/**
 * Reads streamline bundles from a tractogram file, a .zip of them or a folder of them.
 *
 * - a `.trk` (TrackVis) or `.tck` (MRtrix) file: one bundle named after the file;
 * - a `.trx` file (zipped) or a TRX folder (holding header.json): one bundle per group when
 *   its groups are disjoint (named by the group, the rest as "ungrouped"), else one bundle
 *   named after it;
 * - a `.zip` (recognised by its `PK` signature) of .trk, .tck and .trx files, or a folder
 *   of them (searched recursively; a sub-folder holding header.json is a TRX folder): one
 *   bundle per file (per group of a grouped .trx), named by its path inside without the
 *   extension (e.g. "sub_1/AF_L"), in path order; a name that repeats (AF_L.trk beside
 *   AF_L.tck) gets " (2)", " (3)", ... A zip whose top level holds header.json is one TRX
 *   tractogram.
 *
 * Every bundle carries its file's space (null for .tck). Needs --allow-read.
 *
 * @throws TractogramError (a TrkError, TckError or TrxError for a bad file, naming it) for a
 *   missing or unreadable path, a damaged zip, a zip or folder with no tractogram file.
 */
export async function readStreamlineBundles(path: string): Promise<StreamlineBundle[]> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch {
    return parseStreamlineBundles(await _readFile(path), path);
  }
  if (!info.isDirectory) return parseStreamlineBundles(await _readFile(path), path);
  const out: StreamlineBundle[] = [];
  const walk = async (dir: string, rel: string): Promise<void> => {
    const names: [string, boolean][] = [];
    try {
      for await (const e of Deno.readDir(dir)) names.push([e.name, e.isDirectory]);
    } catch (e) {
      throw new TractogramError(`${dir}: cannot list the folder: ${_why(e)}`);
    }
    if (names.some(([n, d]) => n === "header.json" && !d)) {
      const entries: Record<string, Uint8Array> = {};
      const gather = async (d: string, r: string): Promise<void> => {
        for await (const e of Deno.readDir(d)) {
          if (e.isDirectory) await gather(`${d}/${e.name}`, `${r}${e.name}/`);
          else if (e.isFile) entries[`${r}${e.name}`] = await _readFile(`${d}/${e.name}`);
        }
      };
      await gather(dir, "");
      const name = rel.replace(/\/$/, "").replace(_EXT, "");
      out.push(..._trxBundles(parseTrxEntries(entries, dir), name, _bundleName(dir)));
      return;
    }
    for (const [n, isDir] of names.sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)) {
      if (isDir) await walk(`${dir}/${n}`, `${rel}${n}/`);
      else if (_EXT.test(n)) {
        const file = `${dir}/${n}`;
        out.push(..._fileBundles(await _readFile(file), file, (rel + n).replace(_EXT, ""), false));
      }
    }
  };
  await walk(path.replace(/\/+$/, "") || "/", "");
  if (out.length === 0) {
    throw new TractogramError(`${path}: the folder holds no .trk, .tck or .trx file`);
  }
  return _unique(out);
}

/**
 * The bytes-in half of {@link readStreamlineBundles}: parses a tractogram file or a .zip of
 * them already in memory (not a folder).
 *
 * @param bytes The whole file.
 * @param path Its name or path: names the bundle of a lone file and every error message.
 * @throws TractogramError as {@link readStreamlineBundles} does.
 */
export function parseStreamlineBundles(bytes: Uint8Array, path: string): StreamlineBundle[] {
  if (!_isZip(bytes)) {
    if (/\.(zip|trx)$/i.test(path)) {
      throw new TractogramError(`${path}: not a zip file (no PK signature)`);
    }
    return _fileBundles(bytes, path, _bundleName(path), true);
  }
  if (/\.trx$/i.test(path)) return _fileBundles(bytes, path, _bundleName(path), true);
  const entries = _unzip(bytes, path, (n) =>
    _EXT.test(n) || /(^|\/)header\.json$/.test(n) ||
    /(^|\/)(positions|offsets|dpv|dps|groups|dpg)[./]/.test(n));
  const names = Object.keys(entries).sort();
  if (_isTrxListing(names)) {
    return _trxBundles(
      parseTrxEntries(entries, path),
      "",
      _bundleName(path.replace(/\.zip$/i, "")),
    );
  }
  const files = names.filter((n) => _EXT.test(n));
  if (files.length === 0) {
    throw new TractogramError(`${path}: the zip holds no .trk, .tck or .trx file`);
  }
  return files.flatMap((n) => _fileBundles(entries[n], `${path}:${n}`, n.replace(_EXT, ""), false));
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

/**
 * Length of the polyline in mm: the sum of its segment lengths (0 for one point), the way
 * dipy's `dipy.tracking.streamline.length` measures a streamline. Measure decoded
 * streamlines with it on all their points, not on a subset ({@link coarseLength} is 20-35%
 * shorter on decoded streamlines).
 */
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
 * adds little while a smooth curve loses under 1% (the chord of an eighth of it). Not what
 * dipy reports: lengths shown to users are {@link arcLength}'s.
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

/**
 * A one-line warning when a length asked of a length-conditioned model lies outside the
 * training lengths [`min`, `max`] mm (the decoder then extrapolates: 500 mm asked of bundles of
 * 18-63 mm gave 25,000-151,000 mm streamlines), or null inside the range.
 */
export function lengthRangeWarning(asked: number, min: number, max: number): string | null {
  if (asked >= min && asked <= max) return null;
  return `warning: --length ${asked.toFixed(1)} mm is outside the training lengths ` +
    `${min.toFixed(1)}-${max.toFixed(1)} mm; the model extrapolates and its streamlines may ` +
    `have any length`;
}
