/**
 * TrackVis `.trk` reader and writer (streamline tractograms).
 *
 * The format, per the TrackVis file-format page (http://trackvis.org/docs/?subsect=fileformat):
 * a 1000-byte header, then one record per streamline. Header fields (byte offset, type):
 *
 *   0 id_string char[6] "TRACK"          6 dim int16[3]            12 voxel_size f32[3]
 *   24 origin f32[3] (unused)            36 n_scalars int16        38 scalar_name char[10][20]
 *   238 n_properties int16               240 property_name char[10][20]
 *   440 vox_to_ras f32[4][4] (row-major; version 2; all zero when not recorded)
 *   504 reserved char[444]               948 voxel_order char[4] (e.g. "LAS")
 *   952 pad2 char[4]                     956 image_orientation_patient f32[6]
 *   980 pad1 char[2]                     982 invert_x/y/z, swap_xy/yz/zx uchar[6]
 *   988 n_count int32 (0: unknown)       992 version int32 (1 or 2)   996 hdr_size int32 (1000)
 *
 * A streamline record is an int32 point count P, then P points of (x, y, z, n_scalars
 * scalars) f32, then n_properties f32. Files are normally little-endian; a big-endian file
 * is recognised by hdr_size reading 1000 only when byte-swapped, and is read as such.
 *
 * Coordinates: points are stored in "voxmm" space, voxel index times voxel size with the
 * origin at the corner of the first voxel. Following nibabel's `get_affine_trackvis_to_rasmm`
 * (nibabel/streamlines/trk.py), RAS+ mm is `vox_to_ras * (voxmm / voxel_size - 0.5)`: the
 * division gives continuous voxel coordinates, the -0.5 moves the origin to the first voxel's
 * centre (the NIfTI convention), and the matrix maps voxel centres to RAS+ mm. Version-1 files
 * (and version-2 files that leave it unrecorded) have an all-zero matrix; then this reader
 * uses `diag(voxel_size, 1)`, so RAS = voxmm - voxel_size / 2. nibabel additionally flips or
 * permutes axes when `voxel_order` disagrees with the matrix's axis directions; this reader
 * rejects such files instead (with a one-line {@link TrkError}), and ignores an empty
 * `voxel_order` and the order of files without a matrix.
 *
 * The reader never trusts a count it cannot see: every record must fit in the file before
 * anything is allocated for it, so a damaged or hostile file costs at most about its own
 * size in memory. Every problem is a one-line {@link TrkError} naming the file.
 */

import {
  affineProblem,
  axisCodes as _axcodes,
  det3 as _det3,
  TractogramError,
  type TractogramSpace,
} from "./tractogram.ts";

/** The header size every TrackVis file declares (hdr_size), in bytes. */
export const TRK_HEADER_BYTES = 1000;

/** Largest n_scalars / n_properties accepted (the header has 10 name slots for each). */
export const TRK_MAX_EXTRAS = 10;

/** A malformed, truncated or unsupported .trk file: one line, naming the file. */
export class TrkError extends TractogramError {
  /**
   * Makes the error.
   * @param message The file, what is wrong and what to do; collapsed to one line.
   */
  constructor(message: string) {
    super(message);
    this.name = "TrkError";
  }
}

/** The header fields of a .trk file that matter for reading its points. */
export interface TrkHeader {
  /** File version (1 or 2). */
  version: number;
  /** Volume size in voxels (dim), each at least 1. */
  dimensions: [number, number, number];
  /** Voxel size in mm (voxel_size), each positive and finite. */
  voxelSize: [number, number, number];
  /**
   * The voxel-centre-to-RAS+ mm matrix used (16 numbers, row-major 4x4): vox_to_ras as
   * stored, or `diag(voxelSize, 1)` when the file records none (all zero).
   */
  voxelToRas: number[];
  /** voxel_order as stored (e.g. "RAS"), "" when empty. */
  voxelOrder: string;
  /** Scalars per point (n_scalars); skipped by the reader. */
  scalars: number;
  /** Properties per streamline (n_properties); skipped by the reader. */
  properties: number;
  /** Number of streamlines read (equals n_count when that is non-zero). */
  count: number;
  /** Whether the file is little-endian (the usual case). */
  littleEndian: boolean;
}

/** A parsed .trk file. */
export interface Tractogram {
  /** The header. */
  header: TrkHeader;
  /** One array per streamline: P points as x, y, z triples (length 3P), RAS+ millimetres. */
  streamlines: Float32Array[];
}

const DEC = new TextDecoder("latin1");

function _cString(b: Uint8Array): string {
  const end = b.indexOf(0);
  return DEC.decode(end < 0 ? b : b.subarray(0, end));
}

/** `diag(v, 1)` as a row-major 4x4. */
function _diagonal(v: number[]): number[] {
  return [v[0], 0, 0, 0, 0, v[1], 0, 0, 0, 0, v[2], 0, 0, 0, 0, 1];
}

function _fmt(v: ArrayLike<number>): string {
  return Array.from(v, (x) => String(x)).join(" ");
}

/**
 * Parses a TrackVis .trk file into streamlines in RAS+ mm (see the module comment for the
 * coordinate convention). Per-point scalars and per-streamline properties are skipped.
 *
 * @param bytes The whole file.
 * @param name The file's name or path, used in error messages (default "trk").
 * @throws TrkError when the file is not a complete, well-formed, supported .trk file.
 */
export function parseTrk(bytes: Uint8Array, name = "trk"): Tractogram {
  const fix = "the file is damaged or not a TrackVis file; re-export it";
  if (bytes.length < TRK_HEADER_BYTES) {
    throw new TrkError(
      `${name}: truncated: ${bytes.length} bytes, too short for the ${TRK_HEADER_BYTES}-byte ` +
        `TrackVis header; ${fix}`,
    );
  }
  if (_cString(bytes.subarray(0, 5)) !== "TRACK") {
    const got = JSON.stringify(DEC.decode(bytes.subarray(0, 5)));
    throw new TrkError(`${name}: not a TrackVis file: starts with ${got}, expected "TRACK"`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let le = true;
  if (view.getInt32(996, true) !== TRK_HEADER_BYTES) {
    if (view.getInt32(996, false) !== TRK_HEADER_BYTES) {
      throw new TrkError(
        `${name}: hdr_size is ${view.getInt32(996, true)}, expected ${TRK_HEADER_BYTES} ` +
          `(little- or big-endian); ${fix}`,
      );
    }
    le = false;
  }
  const i16 = (at: number) => view.getInt16(at, le);
  const f32 = (at: number) => view.getFloat32(at, le);

  const version = view.getInt32(992, le);
  if (version !== 1 && version !== 2) {
    throw new TrkError(`${name}: unsupported TrackVis version ${version} (expected 1 or 2)`);
  }
  const dimensions: [number, number, number] = [i16(6), i16(8), i16(10)];
  if (dimensions.some((d) => d < 1)) {
    throw new TrkError(`${name}: dimensions ${_fmt(dimensions)} must be positive; ${fix}`);
  }
  const voxelSize: [number, number, number] = [f32(12), f32(16), f32(20)];
  if (voxelSize.some((v) => !(v > 0) || !Number.isFinite(v))) {
    throw new TrkError(`${name}: voxel sizes ${_fmt(voxelSize)} must be positive and finite`);
  }
  const scalars = i16(36), properties = i16(238);
  for (const [what, v] of [["n_scalars", scalars], ["n_properties", properties]] as const) {
    if (v < 0 || v > TRK_MAX_EXTRAS) {
      throw new TrkError(`${name}: ${what} is ${v}, expected 0 to ${TRK_MAX_EXTRAS}; ${fix}`);
    }
  }

  const stored = Array.from({ length: 16 }, (_, k) => f32(440 + 4 * k));
  const recorded = stored.some((v) => v !== 0);
  const voxelToRas = recorded ? stored : _diagonal(voxelSize);
  if (recorded) {
    if (stored.some((v) => !Number.isFinite(v))) {
      throw new TrkError(`${name}: vox_to_ras has non-finite entries (${_fmt(stored)}); ${fix}`);
    }
    if (stored[12] !== 0 || stored[13] !== 0 || stored[14] !== 0 || stored[15] !== 1) {
      throw new TrkError(
        `${name}: vox_to_ras last row is ${_fmt(stored.slice(12))}, expected 0 0 0 1; ${fix}`,
      );
    }
    const det = _det3(stored);
    if (!(Math.abs(det) > 0) || !Number.isFinite(det)) {
      throw new TrkError(`${name}: vox_to_ras is singular (${_fmt(stored)}); ${fix}`);
    }
  }
  const voxelOrder = _cString(bytes.subarray(948, 952));
  if (recorded && voxelOrder !== "") {
    const implied = _axcodes(voxelToRas);
    if (voxelOrder.toUpperCase() !== implied) {
      throw new TrkError(
        `${name}: voxel_order "${voxelOrder}" disagrees with vox_to_ras (whose axes are ` +
          `${implied}); flipped voxel orders are not supported: re-save it with nibabel or DIPY`,
      );
    }
  }
  const nCount = view.getInt32(988, le);
  if (nCount < 0) throw new TrkError(`${name}: n_count is ${nCount}, must not be negative`);

  // RAS = A * (voxmm / vs - 0.5) + t, folded into one affine: RAS = M * voxmm + c.
  const m = new Float64Array(9), c = new Float64Array(3);
  for (let i = 0; i < 3; i++) {
    c[i] = voxelToRas[4 * i + 3];
    for (let j = 0; j < 3; j++) {
      m[3 * i + j] = voxelToRas[4 * i + j] / voxelSize[j];
      c[i] -= 0.5 * voxelToRas[4 * i + j];
    }
  }

  const stride = 3 + scalars; // floats per point
  const streamlines: Float32Array[] = [];
  let at = TRK_HEADER_BYTES;
  while (at < bytes.length && (nCount === 0 || streamlines.length < nCount)) {
    const k = streamlines.length;
    if (bytes.length - at < 4) {
      throw new TrkError(
        `${name}: truncated: ${bytes.length - at} bytes after streamline ${k}, too few for a ` +
          `point count; ${fix}`,
      );
    }
    const p = view.getInt32(at, le);
    if (p < 1) {
      throw new TrkError(`${name}: streamline ${k} has ${p} points (byte ${at}); ${fix}`);
    }
    const need = 4 + 4 * (p * stride + properties);
    if (need > bytes.length - at) {
      throw new TrkError(
        `${name}: truncated: streamline ${k} has ${p} points (${need} bytes) but only ` +
          `${bytes.length - at} bytes remain; ${fix}`,
      );
    }
    const s = new Float32Array(3 * p);
    for (let q = 0; q < p; q++) {
      const base = at + 4 + 4 * stride * q;
      const x = f32(base), y = f32(base + 4), z = f32(base + 8);
      for (let i = 0; i < 3; i++) {
        const v = m[3 * i] * x + m[3 * i + 1] * y + m[3 * i + 2] * z + c[i];
        s[3 * q + i] = v;
        if (!Number.isFinite(s[3 * q + i])) {
          throw new TrkError(
            `${name}: streamline ${k} point ${q} is not finite (${x} ${y} ${z} in voxmm); ${fix}`,
          );
        }
      }
    }
    streamlines.push(s);
    at += need;
  }
  if (nCount !== 0 && streamlines.length < nCount) {
    throw new TrkError(
      `${name}: truncated: n_count says ${nCount} streamlines, the file holds ` +
        `${streamlines.length}; ${fix}`,
    );
  }
  if (at < bytes.length) {
    throw new TrkError(
      `${name}: ${bytes.length - at} trailing bytes after the ${nCount} streamlines n_count ` +
        `declares; ${fix}`,
    );
  }
  return {
    header: {
      version,
      dimensions,
      voxelSize,
      voxelToRas,
      voxelOrder,
      scalars,
      properties,
      count: streamlines.length,
      littleEndian: le,
    },
    streamlines,
  };
}

/**
 * The space (see tractogram.ts) of a parsed .trk header: its voxel-to-RAS matrix (or
 * `diag(voxelSize, 1)` when it records none), voxel size and dimensions as stored, and the
 * matrix's axis codes as voxel order.
 */
export function trkSpace(h: TrkHeader): TractogramSpace {
  return {
    voxelToRas: [...h.voxelToRas],
    voxelSize: [...h.voxelSize],
    dimensions: [...h.dimensions],
    voxelOrder: _axcodes(h.voxelToRas),
  };
}

/**
 * The {@link writeTrk} options that write streamlines in `space`: its voxel size,
 * dimensions and matrix (a file that {@link parseTrk} and nibabel read back in that space).
 */
export function trkOptions(space: TractogramSpace): WriteTrkOptions {
  return {
    voxelSize: [...space.voxelSize],
    dimensions: [...space.dimensions],
    voxelToRas: [...space.voxelToRas],
  };
}

/** Options of {@link writeTrk}. */
export interface WriteTrkOptions {
  /** Voxel size in mm (default 1 1 1). */
  voxelSize?: [number, number, number];
  /** Volume size in voxels (default 1 1 1; int16, at least 1). */
  dimensions?: [number, number, number];
  /** Voxel-centre-to-RAS+ mm matrix, 16 numbers row-major (default `diag(voxelSize, 1)`). */
  voxelToRas?: number[];
  /**
   * Scalars per point to write (default 0, at most 10). Filled with a recognisable pattern
   * (point q, scalar j: q + (j + 1) / 16) so that tests can check readers skip them.
   */
  scalars?: number;
  /** Properties per streamline (default 0, at most 10); property j of streamline k: -k - j. */
  properties?: number;
  /** Write big-endian (default false: little-endian, as TrackVis and nibabel write). */
  bigEndian?: boolean;
}

/**
 * Serializes streamlines (RAS+ mm) as a version-2 TrackVis file: the exact inverse of
 * {@link parseTrk} (points map back up to float32 rounding). voxel_order is written as the
 * matrix's axis codes and n_count as the number of streamlines.
 *
 * @throws RangeError for an empty or ragged streamline, bad options or a point that does
 *   not fit in float32 voxmm coordinates.
 */
export function writeTrk(streamlines: Float32Array[], opts: WriteTrkOptions = {}): Uint8Array {
  const vs = opts.voxelSize ?? [1, 1, 1];
  const dims = opts.dimensions ?? [1, 1, 1];
  const a = opts.voxelToRas ?? _diagonal(vs);
  const ns = opts.scalars ?? 0, np = opts.properties ?? 0;
  if (vs.some((v) => !(v > 0) || !Number.isFinite(v))) {
    throw new RangeError(`writeTrk: voxel sizes ${_fmt(vs)} must be positive and finite`);
  }
  if (dims.some((d) => !Number.isInteger(d) || d < 1 || d > 32767)) {
    throw new RangeError(`writeTrk: dimensions ${_fmt(dims)} must be integers in 1..32767`);
  }
  const why = affineProblem(a);
  if (why) throw new RangeError(`writeTrk: voxelToRas ${why}; give a finite invertible affine`);
  for (const [what, v] of [["scalars", ns], ["properties", np]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > TRK_MAX_EXTRAS) {
      throw new RangeError(`writeTrk: ${what} is ${v}, expected 0 to ${TRK_MAX_EXTRAS}`);
    }
  }
  // Inverse of RAS = A3 * v + t (cofactor formula), then voxmm = (v + 0.5) * vs.
  const det = _det3(a);
  // deno-fmt-ignore
  const inv = [
    a[5] * a[10] - a[6] * a[9], a[2] * a[9] - a[1] * a[10], a[1] * a[6] - a[2] * a[5],
    a[6] * a[8] - a[4] * a[10], a[0] * a[10] - a[2] * a[8], a[2] * a[4] - a[0] * a[6],
    a[4] * a[9] - a[5] * a[8], a[1] * a[8] - a[0] * a[9], a[0] * a[5] - a[1] * a[4],
  ].map((v) => v / det);

  const stride = 3 + ns;
  let total = TRK_HEADER_BYTES;
  streamlines.forEach((s, k) => {
    if (s.length === 0 || s.length % 3 !== 0) {
      throw new RangeError(`writeTrk: streamline ${k} has ${s.length} values, not 3P with P >= 1`);
    }
    total += 4 + 4 * ((s.length / 3) * stride + np);
  });
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  const le = !opts.bigEndian;
  out.set(new TextEncoder().encode("TRACK"), 0);
  dims.forEach((d, i) => view.setInt16(6 + 2 * i, d, le));
  vs.forEach((v, i) => view.setFloat32(12 + 4 * i, v, le));
  view.setInt16(36, ns, le);
  const enc = new TextEncoder();
  for (let j = 0; j < ns; j++) out.set(enc.encode(`scalar${j}`), 38 + 20 * j);
  view.setInt16(238, np, le);
  for (let j = 0; j < np; j++) out.set(enc.encode(`property${j}`), 240 + 20 * j);
  a.forEach((v, i) => view.setFloat32(440 + 4 * i, v, le));
  out.set(enc.encode(_axcodes(a)), 948);
  view.setInt32(988, streamlines.length, le);
  view.setInt32(992, 2, le);
  view.setInt32(996, TRK_HEADER_BYTES, le);

  let at = TRK_HEADER_BYTES;
  streamlines.forEach((s, k) => {
    const p = s.length / 3;
    view.setInt32(at, p, le);
    at += 4;
    for (let q = 0; q < p; q++) {
      const d = [s[3 * q] - a[3], s[3 * q + 1] - a[7], s[3 * q + 2] - a[11]];
      for (let i = 0; i < 3; i++) {
        const v = inv[3 * i] * d[0] + inv[3 * i + 1] * d[1] + inv[3 * i + 2] * d[2];
        const voxmm = Math.fround((v + 0.5) * vs[i]);
        if (!Number.isFinite(voxmm)) {
          throw new RangeError(`writeTrk: streamline ${k} point ${q} does not fit in float32`);
        }
        view.setFloat32(at, voxmm, le);
        at += 4;
      }
      for (let j = 0; j < ns; j++, at += 4) view.setFloat32(at, q + (j + 1) / 16, le);
    }
    for (let j = 0; j < np; j++, at += 4) view.setFloat32(at, -k - j, le);
  });
  return out;
}
