/**
 * TRX (`.trx`) reader and writer, per the TRX specification (github.com/tee-ar-ex/trx-spec,
 * specifications.md).
 *
 * A TRX tractogram is a zip archive (stored or deflated) or a plain folder. A file's path
 * says what it holds: its basename is the array's name, an optional middle number its
 * second dimension, its extension the dtype; every array is C-order, little-endian.
 *
 *   header.json            {"VOXEL_TO_RASMM": 4x4, "DIMENSIONS": [3], "NB_STREAMLINES": S,
 *                           "NB_VERTICES": V}
 *   positions.3.float32    V x 3 points in RAS+ mm (float16, float32 or float64)
 *   offsets.uint64         where each streamline starts in positions (uint32 or uint64): S
 *                          values from 0, plus (current spec) a final sentinel equal to V
 *   dpv/NAME[.N].DTYPE     data per vertex, V x N          (checked for size, not read)
 *   dps/NAME[.N].DTYPE     data per streamline, S x N      (checked for size, not read)
 *   groups/NAME.DTYPE      indices of the streamlines in group NAME, each < S (read)
 *   dpg/GROUP/NAME.DTYPE   data per group                  (not read)
 *
 * Files with other extensions (e.g. `dps/algo.json`) are ignored. The reader never trusts a
 * count it cannot see: every array must have exactly the bytes its shape needs before
 * anything is allocated for it. Every problem is a one-line {@link TrxError} naming the file.
 */

import { unzipSync, zipSync } from "fflate";
import {
  affineProblem,
  spaceFromAffine,
  TractogramError,
  type TractogramSpace,
} from "./tractogram.ts";

/** A malformed, truncated or unsupported .trx tractogram: one line, naming the file. */
export class TrxError extends TractogramError {
  /**
   * Makes the error.
   * @param message The file, what is wrong and what to do; collapsed to one line.
   */
  constructor(message: string) {
    super(message);
    this.name = "TrxError";
  }
}

/** Largest uncompressed entry accepted from a .trx zip (bounds memory for a zip bomb). */
export const MAX_TRX_ENTRY_BYTES = 2 ** 31;

/** Bytes per element of each TRX dtype (`bit` arrays are not size-checked). */
const DTYPE_BYTES: Record<string, number> = {
  int8: 1,
  int16: 2,
  int32: 4,
  int64: 8,
  uint8: 1,
  uint16: 2,
  uint32: 4,
  uint64: 8,
  float16: 2,
  float32: 4,
  float64: 8,
  bit: 0,
};

/** The dtypes TRX allows for positions. */
export type TrxPositionsType = "float16" | "float32" | "float64";
/** The dtypes TRX allows for offsets. */
export type TrxOffsetsType = "uint32" | "uint64";

/** The header of a parsed .trx file, with what else it holds. */
export interface TrxHeader {
  /** DIMENSIONS. */
  dimensions: [number, number, number];
  /** VOXEL_TO_RASMM, row-major 16 numbers. */
  voxelToRas: number[];
  /** NB_STREAMLINES. */
  streamlineCount: number;
  /** NB_VERTICES. */
  vertexCount: number;
  /** The positions' dtype. */
  positions: TrxPositionsType;
  /** The offsets' dtype. */
  offsets: TrxOffsetsType;
  /** Whether the offsets end with the sentinel NB_VERTICES. */
  sentinel: boolean;
  /** Data-per-vertex arrays (path inside the file), size-checked and skipped. */
  dpv: string[];
  /** Data-per-streamline arrays, size-checked and skipped. */
  dps: string[];
  /** Data-per-group arrays, skipped. */
  dpg: string[];
  /** Files ignored (not a known array). */
  ignored: string[];
}

/** A parsed .trx file. */
export interface TrxTractogram {
  /** The header and table of contents. */
  header: TrxHeader;
  /** The space of header.json (affine, dimensions, voxel sizes from the affine). */
  space: TractogramSpace;
  /** One array per streamline, RAS+ mm (a streamline of 0 points is an empty array). */
  streamlines: Float32Array[];
  /** Each group's streamline indices, by group name (from groups/). */
  groups: Record<string, Uint32Array>;
}

/** IEEE 754 half-precision bits to a number. */
export function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
  if (e === 0) return sign * f * 2 ** -24;
  if (e === 31) return f ? NaN : sign * Infinity;
  return sign * (1 + f / 1024) * 2 ** (e - 15);
}

/** A number to the nearest IEEE 754 half-precision bits (ties to even; overflow to Inf). */
export function numberToHalf(v: number): number {
  if (Number.isNaN(v)) return 0x7e00;
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a >= 65520) return sign | 0x7c00; // rounds past the largest half, 65504
  if (a < 2 ** -14) {
    // Subnormal: a multiple of 2^-24.
    return sign | _roundEven(a * 2 ** 24);
  }
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  const m = _roundEven((a / 2 ** e - 1) * 1024);
  // A mantissa that rounds up to 1024 carries into the exponent; the bit layout adds it.
  return sign | (((e + 15) << 10) + m);
}

function _roundEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

interface _Parts {
  base: string;
  dim: number;
  dtype: string;
}

/** Splits "dir/NAME[.N].DTYPE"'s last component; null when DTYPE is not a TRX dtype. */
function _parts(path: string): _Parts | null {
  const file = path.slice(path.lastIndexOf("/") + 1);
  const m = file.match(/^(.+?)(?:\.(\d+))?\.([a-z0-9]+)$/);
  if (!m || !(m[3] in DTYPE_BYTES)) return null;
  return { base: m[1], dim: m[2] === undefined ? 1 : Number(m[2]), dtype: m[3] };
}

/**
 * Parses a TRX tractogram from its files: `entries` maps each path inside the archive or
 * folder ("header.json", "positions.3.float32", "groups/CC.uint32", ...) to its bytes.
 *
 * @param name The file's name or path, used in error messages.
 * @throws TrxError when the files are not a complete, well-formed TRX tractogram.
 */
export function parseTrxEntries(
  entries: Record<string, Uint8Array>,
  name = "trx",
): TrxTractogram {
  const fix = "the file is damaged or not a TRX tractogram; re-export it";
  let paths = Object.keys(entries).filter((p) => !p.endsWith("/"));
  // An archive made by zipping a folder holds "FOLDER/header.json": read below FOLDER.
  if (!paths.includes("header.json")) {
    const nested = paths.filter((p) => /^[^/]+\/header\.json$/.test(p));
    if (nested.length === 1) {
      const prefix = nested[0].slice(0, -"header.json".length);
      const moved: Record<string, Uint8Array> = {};
      for (const p of paths) if (p.startsWith(prefix)) moved[p.slice(prefix.length)] = entries[p];
      entries = moved;
      paths = Object.keys(moved);
    }
  }
  if (!paths.includes("header.json")) {
    throw new TrxError(`${name}: not a TRX tractogram: no header.json; ${fix}`);
  }
  let h: Record<string, unknown>;
  try {
    h = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(entries["header.json"]));
  } catch (e) {
    throw new TrxError(`${name}: header.json is not valid JSON (${(e as Error).message}); ${fix}`);
  }
  if (typeof h !== "object" || h === null || Array.isArray(h)) {
    throw new TrxError(`${name}: header.json is not a JSON object; ${fix}`);
  }
  const count = (key: string): number => {
    const v = h[key];
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
      throw new TrxError(
        `${name}: header.json ${key} is ${JSON.stringify(v)}, not an integer >= 0`,
      );
    }
    return v;
  };
  const S = count("NB_STREAMLINES"), V = count("NB_VERTICES");
  const A = h.VOXEL_TO_RASMM, D = h.DIMENSIONS;
  const rows = Array.isArray(A) && A.length === 4 &&
    A.every((r) => Array.isArray(r) && r.length === 4);
  const affine = rows ? (A as unknown[][]).flat() : [];
  if (!rows || affine.some((v) => typeof v !== "number")) {
    throw new TrxError(`${name}: header.json VOXEL_TO_RASMM is not 4 lists of 4 numbers; ${fix}`);
  }
  const why = affineProblem(affine as number[]);
  if (why) throw new TrxError(`${name}: header.json VOXEL_TO_RASMM ${why}; ${fix}`);
  if (
    !Array.isArray(D) || D.length !== 3 ||
    D.some((d) => typeof d !== "number" || !Number.isInteger(d) || d < 1)
  ) {
    throw new TrxError(
      `${name}: header.json DIMENSIONS is ${JSON.stringify(D)}, not 3 integers >= 1`,
    );
  }
  const space = spaceFromAffine(affine as number[], D as number[]);

  const pick = (what: string, re: RegExp): [string, _Parts] => {
    const found = paths.filter((p) => re.test(p));
    if (found.length !== 1) {
      throw new TrxError(
        `${name}: ${found.length === 0 ? "no" : found.length} ${what} arrays` +
          `${found.length ? " (" + found.join(", ") + ")" : ""}; expected one; ${fix}`,
      );
    }
    return [found[0], _parts(found[0])!];
  };
  const [pPath, pPart] = pick("positions", /^positions\.3\.float(16|32|64)$/);
  const [oPath, oPart] = pick("offsets", /^offsets\.uint(32|64)$/);
  const stray = paths.filter((p) => /^(positions|offsets)\./.test(p) && p !== pPath && p !== oPath);
  if (stray.length) throw new TrxError(`${name}: unsupported array ${stray[0]}; ${fix}`);
  const size = (path: string, elements: number, bytes: number) => {
    const have = entries[path].length, want = elements * bytes;
    if (have !== want) {
      throw new TrxError(
        `${name}: ${path} has ${have} bytes, its shape needs ${want}; ${fix}`,
      );
    }
  };

  const pBytes = DTYPE_BYTES[pPart.dtype];
  size(pPath, 3 * V, pBytes);
  const ob = entries[oPath], oBytes = DTYPE_BYTES[oPart.dtype];
  const nOff = ob.length / oBytes;
  if (!(ob.length % oBytes === 0 && (nOff === S || nOff === S + 1))) {
    throw new TrxError(
      `${name}: ${oPath} has ${ob.length} bytes: not ${S} or ${S + 1} (with the sentinel) ` +
        `offsets for NB_STREAMLINES ${S}; ${fix}`,
    );
  }
  const ov = new DataView(ob.buffer, ob.byteOffset, ob.byteLength);
  const offsets = new Array<number>(S + 1);
  for (let k = 0; k < nOff; k++) {
    offsets[k] = oBytes === 4 ? ov.getUint32(4 * k, true) : Number(ov.getBigUint64(8 * k, true));
  }
  const sentinel = nOff === S + 1;
  if (sentinel && offsets[S] !== V) {
    throw new TrxError(
      `${name}: the offsets' sentinel is ${offsets[S]}, NB_VERTICES is ${V}; ${fix}`,
    );
  }
  offsets[S] = V;
  if (S > 0 && offsets[0] !== 0) {
    throw new TrxError(`${name}: the first offset is ${offsets[0]}, expected 0; ${fix}`);
  }
  for (let k = 0; k < S; k++) {
    if (!(offsets[k + 1] >= offsets[k])) {
      throw new TrxError(
        `${name}: offsets decrease or pass NB_VERTICES at streamline ${k} (${offsets[k]} then ` +
          `${offsets[k + 1]}); ${fix}`,
      );
    }
  }
  if (S === 0 && V !== 0) throw new TrxError(`${name}: ${V} vertices but no streamlines; ${fix}`);

  const pb = entries[pPath];
  const pv = new DataView(pb.buffer, pb.byteOffset, pb.byteLength);
  const get = pBytes === 2
    ? (i: number) => halfToNumber(pv.getUint16(2 * i, true))
    : pBytes === 4
    ? (i: number) => pv.getFloat32(4 * i, true)
    : (i: number) => pv.getFloat64(8 * i, true);
  const streamlines: Float32Array[] = [];
  for (let k = 0; k < S; k++) {
    const s = new Float32Array(3 * (offsets[k + 1] - offsets[k]));
    for (let i = 0; i < s.length; i++) {
      const v = get(3 * offsets[k] + i);
      s[i] = v;
      if (!Number.isFinite(s[i])) {
        throw new TrxError(
          `${name}: streamline ${k} point ${Math.floor(i / 3)} is not finite (${v}); ${fix}`,
        );
      }
    }
    streamlines.push(s);
  }

  const dpv: string[] = [], dps: string[] = [], dpg: string[] = [], ignored: string[] = [];
  const groups: Record<string, Uint32Array> = {};
  for (const p of paths.sort()) {
    if (p === "header.json" || p === pPath || p === oPath) continue;
    const part = _parts(p);
    const dir = p.slice(0, p.lastIndexOf("/") + 1);
    if (!part || !["dpv/", "dps/", "groups/"].includes(dir) && !/^dpg\/[^/]+\/$/.test(dir)) {
      ignored.push(p);
      continue;
    }
    const bytes = DTYPE_BYTES[part.dtype];
    if (dir === "dpv/" || dir === "dps/") {
      if (bytes > 0) size(p, (dir === "dpv/" ? V : S) * part.dim, bytes);
      (dir === "dpv/" ? dpv : dps).push(p);
    } else if (dir === "groups/") {
      if (!/^u?int(8|16|32|64)$/.test(part.dtype) || part.dim !== 1) {
        throw new TrxError(`${name}: group ${p} must be one column of integers; ${fix}`);
      }
      const b = entries[p];
      if (b.length % bytes !== 0) {
        throw new TrxError(
          `${name}: ${p} has ${b.length} bytes, not a whole number of ${part.dtype}; ${fix}`,
        );
      }
      const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
      const n = b.length / bytes, idx = new Uint32Array(n);
      const signed = part.dtype.startsWith("int");
      for (let i = 0; i < n; i++) {
        const o = i * bytes;
        const x = bytes === 1
          ? (signed ? v.getInt8(o) : v.getUint8(o))
          : bytes === 2
          ? (signed ? v.getInt16(o, true) : v.getUint16(o, true))
          : bytes === 4
          ? (signed ? v.getInt32(o, true) : v.getUint32(o, true))
          : Number(signed ? v.getBigInt64(o, true) : v.getBigUint64(o, true));
        if (!(x >= 0 && x < S)) {
          throw new TrxError(`${name}: ${p} index ${i} is ${x}, not in 0..${S - 1}; ${fix}`);
        }
        idx[i] = x;
      }
      groups[part.base] = idx;
    } else {
      const group = dir.slice(4, -1);
      if (!paths.some((q) => q.startsWith(`groups/${group}.`))) {
        throw new TrxError(
          `${name}: ${p} is data for group "${group}", which has no groups/ array`,
        );
      }
      dpg.push(p);
    }
  }
  return {
    header: {
      dimensions: space.dimensions,
      voxelToRas: space.voxelToRas,
      streamlineCount: S,
      vertexCount: V,
      positions: pPart.dtype as TrxPositionsType,
      offsets: oPart.dtype as TrxOffsetsType,
      sentinel,
      dpv,
      dps,
      dpg,
      ignored,
    },
    space,
    streamlines,
    groups,
  };
}

/**
 * Parses a zipped .trx file (stored or deflated entries).
 * @param bytes The whole file.
 * @param name The file's name or path, used in error messages (default "trx").
 * @throws TrxError for a damaged zip or anything {@link parseTrxEntries} finds.
 */
export function parseTrx(bytes: Uint8Array, name = "trx"): TrxTractogram {
  if (!(bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b)) {
    throw new TrxError(`${name}: not a zipped TRX file (no PK signature)`);
  }
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(bytes, {
      filter: (f) => {
        if (f.originalSize > MAX_TRX_ENTRY_BYTES) {
          throw new TrxError(
            `${name}: entry ${f.name} says ${f.originalSize} bytes unzipped, over the ` +
              `${MAX_TRX_ENTRY_BYTES}-byte limit`,
          );
        }
        return true;
      },
    });
  } catch (e) {
    if (e instanceof TrxError) throw e;
    const why = e instanceof Error ? e.message : String(e);
    throw new TrxError(`${name}: damaged or unsupported zip file (${why})`);
  }
  return parseTrxEntries(entries, name);
}

/** Options of {@link writeTrx}. */
export interface WriteTrxOptions {
  /** The positions' dtype (default float32; float16 keeps about 3 significant digits). */
  positions?: TrxPositionsType;
  /** The offsets' dtype (default uint64). */
  offsets?: TrxOffsetsType;
  /** Groups to write: each name's streamline indices (names of letters, digits, _ - .). */
  groups?: Record<string, ArrayLike<number>>;
  /** Deflate the entries (default false: stored, so readers can map them directly). */
  compress?: boolean;
}

/**
 * Serializes streamlines (RAS+ mm) in `space` as a zipped TRX file: header.json,
 * positions.3.DTYPE, offsets.DTYPE with the final sentinel NB_VERTICES (the current
 * specification; {@link parseTrx} also reads files without it) and groups/NAME.uint32.
 *
 * @throws RangeError for a ragged or non-finite streamline, a bad space, a group index out
 *   of range or a bad group name.
 */
export function writeTrx(
  streamlines: Float32Array[],
  space: TractogramSpace,
  opts: WriteTrxOptions = {},
): Uint8Array {
  const why = affineProblem(space.voxelToRas);
  if (why) throw new RangeError(`writeTrx: voxelToRas ${why}`);
  const pType = opts.positions ?? "float32", oType = opts.offsets ?? "uint64";
  if (!["float16", "float32", "float64"].includes(pType)) {
    throw new RangeError(`writeTrx: positions dtype ${pType}`);
  }
  if (oType !== "uint32" && oType !== "uint64") throw new RangeError(`writeTrx: offsets ${oType}`);
  let V = 0;
  streamlines.forEach((s, k) => {
    if (s.length % 3 !== 0) {
      throw new RangeError(`writeTrx: streamline ${k} has ${s.length} values`);
    }
    if (!s.every(Number.isFinite)) throw new RangeError(`writeTrx: streamline ${k} is not finite`);
    V += s.length / 3;
  });
  const S = streamlines.length;
  if (oType === "uint32" && V > 0xffffffff) {
    throw new RangeError("writeTrx: too many points for uint32");
  }
  const a = space.voxelToRas;
  const header = {
    VOXEL_TO_RASMM: [a.slice(0, 4), a.slice(4, 8), a.slice(8, 12), a.slice(12, 16)],
    DIMENSIONS: [...space.dimensions],
    NB_STREAMLINES: S,
    NB_VERTICES: V,
  };
  const pBytes = DTYPE_BYTES[pType];
  const pos = new Uint8Array(3 * V * pBytes);
  const pv = new DataView(pos.buffer);
  let i = 0;
  for (const s of streamlines) {
    for (const v of s) {
      if (pBytes === 2) pv.setUint16(2 * i, numberToHalf(v), true);
      else if (pBytes === 4) pv.setFloat32(4 * i, v, true);
      else pv.setFloat64(8 * i, v, true);
      i++;
    }
  }
  const oBytes = DTYPE_BYTES[oType];
  const off = new Uint8Array((S + 1) * oBytes);
  const ov = new DataView(off.buffer);
  let at = 0;
  for (let k = 0; k <= S; k++) {
    if (oBytes === 4) ov.setUint32(4 * k, at, true);
    else ov.setBigUint64(8 * k, BigInt(at), true);
    if (k < S) at += streamlines[k].length / 3;
  }
  const files: Record<string, Uint8Array> = {
    "header.json": new TextEncoder().encode(JSON.stringify(header)),
    [`positions.3.${pType}`]: pos,
    [`offsets.${oType}`]: off,
  };
  for (const [g, idx] of Object.entries(opts.groups ?? {})) {
    if (!/^[A-Za-z0-9_\-][A-Za-z0-9_.\-]*$/.test(g)) {
      throw new RangeError(`writeTrx: group name ${JSON.stringify(g)} cannot be a file name`);
    }
    const out = new Uint32Array(idx.length);
    for (let j = 0; j < idx.length; j++) {
      if (!(Number.isInteger(idx[j]) && idx[j] >= 0 && idx[j] < S)) {
        throw new RangeError(`writeTrx: group ${g} index ${idx[j]} is not in 0..${S - 1}`);
      }
      out[j] = idx[j];
    }
    const b = new Uint8Array(out.length * 4);
    const bv = new DataView(b.buffer);
    out.forEach((x, j) => bv.setUint32(4 * j, x, true));
    files[`groups/${g}.uint32`] = b;
  }
  return zipSync(files, { level: opts.compress ? 6 : 0 });
}
