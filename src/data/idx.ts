/**
 * IDX reader (the MNIST / Fashion-MNIST file format), raw or gzipped.
 *
 * An IDX file is a 4-byte magic (two zero bytes, an element-type byte, a dimension-count
 * byte), one big-endian u32 per dimension, then the elements in row-major order, big-endian.
 * The reader checks all of it and never trusts a size it cannot see: every problem is a
 * one-line {@link IdxError} naming the file.
 *
 * Gzip (`1f 8b` at the start) is inflated with fflate's streaming `Gunzip`, fed in small
 * chunks, into one buffer sized from the IDX header, and only after three checks: the size
 * the header declares must be at most `maxOutputBytes`, and at most what the compressed
 * size can possibly inflate to (deflate expands at most {@link DEFLATE_MAX_RATIO}:1), and
 * the stream is aborted the moment it inflates past the declared size. So a gzip bomb or a
 * header that lies costs a bounded amount of memory and time. Each member's CRC-32 and
 * length trailer is verified, so a damaged stream is an error rather than wrong pixels.
 */

import { Gunzip } from "fflate";

/** Element types of IDX files, by their usual short names. */
export type IdxType = "u8" | "i8" | "i16" | "i32" | "f32" | "f64";

/** The type byte (third magic byte) of each IDX element type. */
export const IDX_TYPE_CODES: Readonly<Record<IdxType, number>> = {
  u8: 0x08,
  i8: 0x09,
  i16: 0x0b,
  i32: 0x0c,
  f32: 0x0d,
  f64: 0x0e,
};

/** Bytes per element of each IDX element type. */
export const IDX_ELEMENT_BYTES: Readonly<Record<IdxType, number>> = {
  u8: 1,
  i8: 1,
  i16: 2,
  i32: 4,
  f32: 4,
  f64: 8,
};

const TYPE_BY_CODE = new Map<number, IdxType>(
  (Object.entries(IDX_TYPE_CODES) as [IdxType, number][]).map(([t, c]) => [c, t]),
);

/**
 * A parsed IDX file. `data` holds the payload exactly as stored: for `u8` these are the
 * values; for wider types it is big-endian (use {@link decodeIdxValues} for numbers).
 * `data.length` is always `product(dims) * IDX_ELEMENT_BYTES[type]`. For a raw (not gzipped)
 * input, `data` is a view into the input bytes, not a copy.
 */
export interface IdxArray {
  /** Element type. */
  type: IdxType;
  /** Dimensions, outermost first (e.g. [60000, 28, 28]); each is at least 1. */
  dims: number[];
  /** The payload bytes (big-endian for multi-byte types). */
  data: Uint8Array;
}

/** A malformed, truncated or unreadable IDX file: one line, naming the file. */
export class IdxError extends Error {
  /**
   * Makes the error.
   * @param message The file and the problem; collapsed to one line.
   */
  constructor(message: string) {
    super(message.replace(/\s*\n\s*/g, " "));
    this.name = "IdxError";
  }
}

/** Default cap on the size of a gunzipped IDX file (header + data), in bytes: 2 GiB. */
export const DEFAULT_MAX_OUTPUT_BYTES = 2 ** 31;

/**
 * The most a deflate stream can expand: a length-258 match coded in 2 bits (1-bit length
 * code, 1-bit distance code). No gzip file of n bytes inflates to more than this times n.
 */
export const DEFLATE_MAX_RATIO = 1032;

/**
 * Compressed bytes handed to fflate per push. Bounds fflate's own working buffers: one push
 * inflates to at most DEFLATE_MAX_RATIO x this (about 16 MiB), plus its 32 KiB window.
 */
export const GZIP_CHUNK_BYTES = 16384;

/** Options of {@link parseIdx}. */
export interface ParseIdxOptions {
  /**
   * Largest gunzipped size (header + data, bytes) to accept; a larger declared size is an
   * error before anything is allocated. Default {@link DEFAULT_MAX_OUTPUT_BYTES}.
   */
  maxOutputBytes?: number;
  /**
   * Called with the size of every buffer the parser itself allocates for output (for tests
   * and diagnostics). A raw file allocates nothing; a gzipped one allocates one buffer.
   */
  onAllocate?: (bytes: number) => void;
}

interface Header {
  type: IdxType;
  dims: number[];
  headerBytes: number;
  dataBytes: number;
}

function hex(b: number): string {
  return b.toString(16).padStart(2, "0");
}

function describe(h: Header): string {
  return `${h.dims.join("x")} ${h.type} (${h.dataBytes} bytes of data)`;
}

/**
 * Reads the header from the first bytes of a file. Returns null when `p` is too short to
 * hold the whole header (but throws as soon as a byte that is there is wrong).
 */
function readHeader(p: Uint8Array, name: string): Header | null {
  if (p.length >= 1 && p[0] !== 0 || p.length >= 2 && p[1] !== 0) {
    const got = Array.from(p.subarray(0, 2), hex).join(" ");
    throw new IdxError(`${name}: not an IDX file: starts with ${got}, expected 00 00`);
  }
  if (p.length < 4) return null;
  const type = TYPE_BY_CODE.get(p[2]);
  if (type === undefined) {
    const known = [...TYPE_BY_CODE].map(([c, t]) => `0x${hex(c)} ${t}`).join(", ");
    throw new IdxError(`${name}: unknown IDX element type 0x${hex(p[2])} (known: ${known})`);
  }
  const ndims = p[3];
  if (ndims < 1 || ndims > 4) {
    throw new IdxError(`${name}: IDX header has ${ndims} dimensions, expected 1 to 4`);
  }
  const headerBytes = 4 + 4 * ndims;
  if (p.length < headerBytes) return null;
  const view = new DataView(p.buffer, p.byteOffset, headerBytes);
  const dims: number[] = [];
  let elements = 1;
  for (let i = 0; i < ndims; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    if (d === 0) {
      throw new IdxError(`${name}: IDX dimension ${i + 1} of ${ndims} is 0`);
    }
    dims.push(d);
    elements *= d;
  }
  // May exceed 2^53 for a lying header; then it is inexact but still far above any real size.
  return { type, dims, headerBytes, dataBytes: elements * IDX_ELEMENT_BYTES[type] };
}

function truncatedHeader(name: string, got: number, what: string): IdxError {
  if (got === 0) return new IdxError(`${name}: empty ${what}, no IDX header`);
  return new IdxError(`${name}: truncated: ${what} has ${got} bytes, too short for its IDX header`);
}

/**
 * Parses an IDX file, raw or gzipped (detected from the `1f 8b` gzip magic).
 *
 * @param bytes The whole file.
 * @param name The file's name or path, used in error messages.
 * @throws IdxError when the file is not a complete, well-formed IDX file (bad magic,
 *   unknown type, 0 or more than 4 dimensions, a zero dimension, truncated or trailing
 *   data, a corrupt gzip stream, or a declared size above `maxOutputBytes`).
 */
export function parseIdx(bytes: Uint8Array, name: string, opts: ParseIdxOptions = {}): IdxArray {
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    return parseGzipped(bytes, name, opts);
  }
  const h = readHeader(bytes, name);
  if (h === null) throw truncatedHeader(name, bytes.length, "file");
  const have = bytes.length - h.headerBytes;
  if (have < h.dataBytes) {
    throw new IdxError(`${name}: truncated: header says ${describe(h)}, file has ${have}`);
  }
  if (have > h.dataBytes) {
    throw new IdxError(
      `${name}: trailing bytes: header says ${describe(h)}, file has ${have} ` +
        `(${have - h.dataBytes} extra)`,
    );
  }
  return { type: h.type, dims: h.dims, data: bytes.subarray(h.headerBytes) };
}

// ---- CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), as gzip trailers use ----

const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/**
 * Continues a CRC-32 over `data`. Start from 0; the result is the finished CRC (as an
 * unsigned 32-bit number) and can be passed back in to continue over more data.
 */
export function crc32(data: Uint8Array, crc = 0): number {
  let c = ~crc;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

function readU32LE(b: Uint8Array, at: number): number {
  return (b[at] | b[at + 1] << 8 | b[at + 2] << 16 | b[at + 3] << 24) >>> 0;
}

function parseGzipped(bytes: Uint8Array, name: string, opts: ParseIdxOptions): IdxArray {
  const cap = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  // No gzip file this size can inflate to more than this (see DEFLATE_MAX_RATIO).
  const possible = DEFLATE_MAX_RATIO * bytes.length;

  let header: Header | null = null;
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  let out = new Uint8Array(0);
  let outBytes = 0;
  // The current gzip member's running CRC-32 and length, checked against its trailer.
  let memberCrc = 0;
  let memberBytes = 0;

  const place = (chunk: Uint8Array) => {
    const h = header!;
    if (outBytes + chunk.length > out.length) {
      throw new IdxError(
        `${name}: trailing bytes: header says ${describe(h)}, gunzipped file has more ` +
          `(at least ${outBytes + chunk.length - h.headerBytes})`,
      );
    }
    out.set(chunk, outBytes);
    outBytes += chunk.length;
  };

  const tryHeader = (final: boolean) => {
    const prefix = new Uint8Array(Math.min(pendingBytes, 20));
    let at = 0;
    for (const c of pending) {
      if (at >= prefix.length) break;
      const part = c.subarray(0, prefix.length - at);
      prefix.set(part, at);
      at += part.length;
    }
    const h = readHeader(prefix, name);
    if (h === null) {
      if (final) throw truncatedHeader(name, pendingBytes, "gunzipped file");
      return;
    }
    const total = h.headerBytes + h.dataBytes;
    if (total > cap) {
      throw new IdxError(
        `${name}: header says ${describe(h)}, more than the ${cap}-byte limit on gunzipped size`,
      );
    }
    if (total > possible) {
      throw new IdxError(
        `${name}: truncated: header says ${describe(h)}, but a ${bytes.length}-byte gzip ` +
          `file cannot inflate to more than ${possible} bytes`,
      );
    }
    header = h;
    opts.onAllocate?.(total);
    out = new Uint8Array(total);
    const held = pending;
    pending = [];
    pendingBytes = 0;
    for (const c of held) place(c);
  };

  const gunzip = new Gunzip((chunk: Uint8Array) => {
    if (chunk.length === 0) return;
    memberCrc = crc32(chunk, memberCrc);
    memberBytes += chunk.length;
    if (header !== null) {
      place(chunk);
    } else {
      pending.push(chunk);
      pendingBytes += chunk.length;
      tryHeader(false);
    }
  });
  const checkTrailer = (end: number) => {
    if (
      end < 8 || readU32LE(bytes, end - 8) !== memberCrc ||
      readU32LE(bytes, end - 4) !== (memberBytes >>> 0)
    ) {
      throw new IdxError(
        `${name}: corrupt gzip data: CRC-32 or length trailer does not match the contents ` +
          `(damaged or truncated file)`,
      );
    }
  };
  gunzip.onmember = (offset: number) => {
    // A new member starts at `offset`; the previous one's 8-byte trailer ends there.
    checkTrailer(offset);
    memberCrc = 0;
    memberBytes = 0;
  };

  try {
    for (let at = 0; at < bytes.length; at += GZIP_CHUNK_BYTES) {
      gunzip.push(bytes.subarray(at, at + GZIP_CHUNK_BYTES), false);
    }
    gunzip.push(new Uint8Array(0), true);
  } catch (e) {
    if (e instanceof IdxError) throw e;
    const why = e instanceof Error ? e.message : String(e);
    throw new IdxError(`${name}: corrupt or truncated gzip data (${why})`);
  }

  if (header === null) tryHeader(true);
  const h = header! as Header;
  const have = outBytes - h.headerBytes;
  if (have < h.dataBytes) {
    throw new IdxError(
      `${name}: truncated: header says ${describe(h)}, gunzipped file has ${have}`,
    );
  }
  checkTrailer(bytes.length);
  return { type: h.type, dims: h.dims, data: out.subarray(h.headerBytes) };
}

/** Options of {@link readIdxFile}. */
export interface ReadIdxFileOptions extends ParseIdxOptions {
  /** What to tell the user when the file is missing (default: check the path). */
  missingHint?: string;
}

/**
 * Reads and parses an IDX file (raw or gzipped) from disk. Needs --allow-read.
 *
 * @param path The file; also the name used in error messages.
 * @throws IdxError for a missing or unreadable file (one line: the path and what to do) or
 *   any problem {@link parseIdx} finds.
 */
export async function readIdxFile(
  path: string | URL,
  opts: ReadIdxFileOptions = {},
): Promise<IdxArray> {
  const name = path instanceof URL ? decodeURIComponent(path.pathname) : path;
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new IdxError(`${name}: file not found; ${opts.missingHint ?? "check the path"}`);
    }
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
      throw new IdxError(`${name}: not allowed to read it; run with --allow-read`);
    }
    const why = e instanceof Error ? e.message : String(e);
    throw new IdxError(`${name}: cannot read: ${why}`);
  }
  return parseIdx(bytes, name, opts);
}

/**
 * The values of an IDX array as a native typed array (big-endian payload decoded). For `u8`
 * and `i8` this is a view of `data`; the wider types are decoded into a new array.
 */
export function decodeIdxValues(
  arr: IdxArray,
): Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array {
  const d = arr.data;
  const view = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const n = d.length / IDX_ELEMENT_BYTES[arr.type];
  switch (arr.type) {
    case "u8":
      return d;
    case "i8":
      return new Int8Array(d.buffer, d.byteOffset, d.length);
    case "i16":
      return bigEndian(new Int16Array(n), (at) => view.getInt16(at, false));
    case "i32":
      return bigEndian(new Int32Array(n), (at) => view.getInt32(at, false));
    case "f32":
      return bigEndian(new Float32Array(n), (at) => view.getFloat32(at, false));
    case "f64":
      return bigEndian(new Float64Array(n), (at) => view.getFloat64(at, false));
  }
}

/** Fills `o` with the big-endian values read by `get` at byte offsets i * element size. */
function bigEndian<T extends Int16Array | Int32Array | Float32Array | Float64Array>(
  o: T,
  get: (at: number) => number,
): T {
  for (let i = 0; i < o.length; i++) o[i] = get(o.BYTES_PER_ELEMENT * i);
  return o;
}

/**
 * Serializes an IDX file (uncompressed): header then `data` as given (which must already be
 * big-endian for multi-byte types).
 *
 * @throws RangeError when the dims are not 1 to 4 integers in 1..2^32-1 or `data.length`
 *   does not match them.
 */
export function encodeIdx(arr: IdxArray): Uint8Array {
  const { type, dims, data } = arr;
  if (dims.length < 1 || dims.length > 4) {
    throw new RangeError(`encodeIdx: ${dims.length} dimensions, expected 1 to 4`);
  }
  let elements = 1;
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 1 || d > 0xffffffff) {
      throw new RangeError(`encodeIdx: bad dimension ${d}`);
    }
    elements *= d;
  }
  if (elements * IDX_ELEMENT_BYTES[type] !== data.length) {
    throw new RangeError(
      `encodeIdx: ${dims.join("x")} ${type} needs ${elements * IDX_ELEMENT_BYTES[type]} ` +
        `bytes, data has ${data.length}`,
    );
  }
  const headerBytes = 4 + 4 * dims.length;
  const out = new Uint8Array(headerBytes + data.length);
  const view = new DataView(out.buffer);
  out[2] = IDX_TYPE_CODES[type];
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, headerBytes);
  return out;
}
