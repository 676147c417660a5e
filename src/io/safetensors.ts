/**
 * Reading and writing the safetensors format, so that checkpoints open as they are in PyTorch
 * (`safetensors.torch.load_file`) and other tools.
 *
 * Layout: an unsigned 64-bit little-endian header length N, then N bytes of UTF-8 JSON mapping
 * each tensor name to `{dtype, shape, data_offsets: [begin, end]}` (plus an optional
 * `"__metadata__"` object of string values), then the byte buffer. Offsets are relative to the
 * start of the byte buffer; values are little-endian. The writer pads the header with spaces to
 * a multiple of 8 bytes so the buffer starts 8-byte aligned, and lays tensors out back to back.
 *
 * The reader treats the file as untrusted: everything is checked before anything is allocated,
 * no allocation is larger than the file, and every problem is one {@linkcode SafetensorsError}
 * line naming the file. No Deno APIs here: this module also runs in the browser.
 */

/** The element types this library reads and writes (safetensors dtype names). */
export type SafetensorsDtype = "F32" | "U32" | "I32" | "U8" | "F64";

/** The typed array that holds the elements of a tensor of each dtype. */
export interface SafetensorsArrays {
  /** 32-bit float. */
  F32: Float32Array;
  /** 32-bit unsigned integer. */
  U32: Uint32Array;
  /** 32-bit signed integer. */
  I32: Int32Array;
  /** 8-bit unsigned integer. */
  U8: Uint8Array;
  /** 64-bit float. */
  F64: Float64Array;
}

/** Any of the typed arrays in {@linkcode SafetensorsArrays}. */
export type SafetensorsData = SafetensorsArrays[SafetensorsDtype];

/** One named tensor to write: row-major `data` with `product(shape)` elements. */
export interface SafeTensor {
  /** The tensor's key in the file (unique, not "__metadata__"). */
  name: string;
  /** Element type; must match the kind of `data`. */
  dtype: SafetensorsDtype;
  /** Dimensions, outermost first; `[]` is a scalar (one element). */
  shape: number[];
  /** The elements, row-major. */
  data: SafetensorsData;
}

/** One tensor read from a file (a view into the file's bytes when aligned, else a copy). */
export interface ParsedTensor {
  /** Element type. */
  dtype: SafetensorsDtype;
  /** Dimensions, outermost first. */
  shape: number[];
  /** The elements, row-major; `data.length` is the product of `shape`. */
  data: SafetensorsData;
}

/** The contents of a safetensors file. */
export interface ParsedSafetensors {
  /** The header's `__metadata__` (empty when the file has none). */
  metadata: Record<string, string>;
  /** The tensors by name, in header order. */
  tensors: Map<string, ParsedTensor>;
}

/** A malformed safetensors file, or tensors that cannot be written: one line, naming the file. */
export class SafetensorsError extends Error {
  /**
   * Make the error.
   * @param message One line: the file and the problem.
   */
  constructor(message: string) {
    super(message);
    this.name = "SafetensorsError";
  }
}

/** Largest header the reader accepts, in bytes (the same cap as the reference implementation). */
export const MAX_HEADER_BYTES = 100_000_000;

const METADATA_KEY = "__metadata__";

interface DtypeInfo {
  size: number;
  make: (buffer: ArrayBufferLike, byteOffset: number, length: number) => SafetensorsData;
  is: (data: SafetensorsData) => boolean;
}

/** A typed-array class: element size, a view constructor and instanceof. */
interface TypedArrayClass {
  readonly BYTES_PER_ELEMENT: number;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): SafetensorsData;
}

function dtypeInfo(c: TypedArrayClass): DtypeInfo {
  return {
    size: c.BYTES_PER_ELEMENT,
    make: (b, o, n) => new c(b, o, n),
    is: (d) => d instanceof c,
  };
}

const DTYPES: Record<SafetensorsDtype, DtypeInfo> = {
  F32: dtypeInfo(Float32Array),
  U32: dtypeInfo(Uint32Array),
  I32: dtypeInfo(Int32Array),
  U8: dtypeInfo(Uint8Array),
  F64: dtypeInfo(Float64Array),
};

function isDtype(value: unknown): value is SafetensorsDtype {
  return typeof value === "string" && Object.hasOwn(DTYPES, value);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Copy `src` to `dst` reversing every `size`-byte group (host order <-> little-endian). */
function swapInto(dst: Uint8Array, src: Uint8Array, size: number): void {
  for (let i = 0; i < src.length; i += size) {
    for (let j = 0; j < size; j++) dst[i + j] = src[i + size - 1 - j];
  }
}

/** A name or value quoted and shortened for a one-line message. */
function quote(value: unknown): string {
  let s: string;
  try {
    s = typeof value === "string" ? JSON.stringify(value) : String(JSON.stringify(value));
  } catch {
    s = String(value);
  }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Encode tensors (in the given order) and optional string metadata as a safetensors file.
 * Throws {@linkcode SafetensorsError} for a duplicate or reserved name, a dtype that does not
 * match the array, or a shape whose product differs from the array's length.
 */
export function encodeSafetensors(
  tensors: SafeTensor[],
  metadata?: Record<string, string>,
): Uint8Array {
  const where = "safetensors encode";
  const parts: string[] = [];
  if (metadata !== undefined) {
    if (!isPlainObject(metadata)) throw new SafetensorsError(`${where}: metadata is not an object`);
    const entries = Object.entries(metadata);
    for (const [key, value] of entries) {
      if (typeof value !== "string") {
        throw new SafetensorsError(`${where}: metadata ${quote(key)} is not a string`);
      }
    }
    if (entries.length > 0) {
      parts.push(`${JSON.stringify(METADATA_KEY)}:${JSON.stringify(Object.fromEntries(entries))}`);
    }
  }
  const seen = new Set<string>();
  let offset = 0;
  for (const t of tensors) {
    const name = t.name;
    if (typeof name !== "string") {
      throw new SafetensorsError(`${where}: a tensor name is not a string`);
    }
    if (name === METADATA_KEY) {
      throw new SafetensorsError(`${where}: ${quote(name)} is reserved for metadata`);
    }
    if (seen.has(name)) throw new SafetensorsError(`${where}: duplicate tensor ${quote(name)}`);
    seen.add(name);
    if (!isDtype(t.dtype)) {
      throw new SafetensorsError(
        `${where}: tensor ${quote(name)} has unknown dtype ${quote(t.dtype)}`,
      );
    }
    const info = DTYPES[t.dtype];
    if (!info.is(t.data)) {
      throw new SafetensorsError(
        `${where}: tensor ${quote(name)} is ${t.dtype} but its data is a ${
          t.data?.constructor?.name ?? typeof t.data
        }`,
      );
    }
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new SafetensorsError(
        `${where}: tensor ${quote(name)} shape ${quote(t.shape)} is not a list of sizes`,
      );
    }
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) {
      throw new SafetensorsError(
        `${where}: tensor ${quote(name)} shape [${t.shape}] holds ${count} elements, ` +
          `data has ${t.data.length}`,
      );
    }
    const end = offset + t.data.byteLength;
    parts.push(
      `${JSON.stringify(name)}:${
        JSON.stringify({ dtype: t.dtype, shape: t.shape, data_offsets: [offset, end] })
      }`,
    );
    offset = end;
  }
  const json = new TextEncoder().encode(`{${parts.join(",")}}`);
  const headerLength = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLength + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerLength, true);
  view.setUint32(4, Math.floor(headerLength / 2 ** 32), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let at = 8 + headerLength;
  for (const t of tensors) {
    const src = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    const dst = out.subarray(at, at + src.length);
    if (LITTLE_ENDIAN || DTYPES[t.dtype].size === 1) dst.set(src);
    else swapInto(dst, src, DTYPES[t.dtype].size);
    at += src.length;
  }
  return out;
}

/**
 * Parse and validate a safetensors file. `name` (a path, say) starts every error message.
 *
 * Checks, before allocating anything: the header length fits the file and the cap
 * {@linkcode MAX_HEADER_BYTES}; the header is a UTF-8 JSON object; each tensor has a known
 * dtype, a shape of non-negative integers, and `data_offsets` inside the byte buffer whose
 * length is exactly the shape's size; no two tensors' bytes overlap; `__metadata__`, if present,
 * maps strings to strings. Tensor data is a view into `bytes` when aligned for its type (so
 * writes to it show through), otherwise a copy.
 */
export function parseSafetensors(bytes: Uint8Array, name = "file"): ParsedSafetensors {
  const fail = (problem: string): never => {
    throw new SafetensorsError(`${name}: ${problem}`);
  };
  if (!(bytes instanceof Uint8Array)) fail("not a byte array");
  if (bytes.length < 8) fail(`${bytes.length} bytes is too short for a safetensors header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, 8);
  const low = view.getUint32(0, true);
  const high = view.getUint32(4, true);
  const room = bytes.length - 8;
  if (high !== 0 || low > MAX_HEADER_BYTES) {
    const n = BigInt(high) * 2n ** 32n + BigInt(low);
    fail(`header length ${n} is over the ${MAX_HEADER_BYTES}-byte limit`);
  }
  const headerLength = low;
  if (headerLength > room) {
    fail(`header length ${headerLength} is more than the ${room} bytes after the length field`);
  }
  if (headerLength < 2) fail(`header length ${headerLength} is too short for a JSON object`);
  const headerBytes = bytes.subarray(8, 8 + headerLength);
  if (headerBytes[0] !== 0x7b) fail("header does not start with '{'");

  let text = "";
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(headerBytes);
  } catch {
    fail("header is not valid UTF-8");
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    const why = e instanceof Error ? e.message.split("\n")[0] : String(e);
    fail(`header is not valid JSON (${why})`);
  }
  if (!isPlainObject(header)) fail("header is not a JSON object");
  const entries = header as Record<string, unknown>;

  const dataStart = 8 + headerLength;
  const bufferLength = bytes.length - dataStart;

  const metadata: Record<string, string> = {};
  if (Object.hasOwn(entries, METADATA_KEY)) {
    const meta = entries[METADATA_KEY];
    if (!isPlainObject(meta)) fail(`${METADATA_KEY} is not an object`);
    for (const [key, value] of Object.entries(meta as Record<string, unknown>)) {
      if (typeof value !== "string") fail(`${METADATA_KEY} ${quote(key)} is not a string`);
      Object.defineProperty(metadata, key, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
  }

  interface Checked {
    key: string;
    dtype: SafetensorsDtype;
    shape: number[];
    begin: number;
    end: number;
  }
  const checked: Checked[] = [];
  for (const [key, entry] of Object.entries(entries)) {
    if (key === METADATA_KEY) continue;
    const what = `tensor ${quote(key)}`;
    if (!isPlainObject(entry)) fail(`${what} is not an object`);
    const e = entry as Record<string, unknown>;
    const dtype = e.dtype;
    if (!isDtype(dtype)) fail(`${what} has unsupported dtype ${quote(dtype)}`);
    const size = DTYPES[dtype as SafetensorsDtype].size;
    const shape = e.shape;
    if (!Array.isArray(shape)) fail(`${what} has no shape list`);
    let count = 1;
    let empty = false;
    for (const d of shape as unknown[]) {
      if (typeof d !== "number" || !Number.isSafeInteger(d) || d < 0) {
        fail(`${what} shape has ${quote(d)}, not a non-negative integer`);
      }
      if (d === 0) empty = true;
    }
    if (empty) count = 0;
    else {
      for (const d of shape as number[]) {
        count *= d;
        // Every element needs `size` bytes of the buffer: stop before the product overflows.
        if (count * size > bufferLength) {
          fail(`${what} shape ${quote(shape)} needs more than the ${bufferLength}-byte buffer`);
        }
      }
    }
    const offsets = e.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2) {
      fail(`${what} data_offsets is not a [begin, end] pair`);
    }
    const [begin, end] = offsets as unknown[];
    if (
      typeof begin !== "number" || typeof end !== "number" || !Number.isSafeInteger(begin) ||
      !Number.isSafeInteger(end) || begin < 0 || end < 0
    ) {
      fail(`${what} data_offsets ${quote(offsets)} are not non-negative integers`);
    }
    const b = begin as number;
    const en = end as number;
    if (b > en) fail(`${what} data_offsets begin ${b} is after end ${en}`);
    if (en > bufferLength) {
      fail(`${what} data_offsets end ${en} is past the ${bufferLength}-byte buffer (truncated?)`);
    }
    if (en - b !== count * size) {
      fail(
        `${what} has ${en - b} bytes but ${dtype} shape ${quote(shape)} needs ${count * size}`,
      );
    }
    checked.push({
      key,
      dtype: dtype as SafetensorsDtype,
      shape: (shape as number[]).slice(),
      begin: b,
      end: en,
    });
  }

  const ranges = checked.filter((c) => c.end > c.begin).sort((x, y) => x.begin - y.begin);
  for (let i = 1; i < ranges.length; i++) {
    if (ranges[i].begin < ranges[i - 1].end) {
      fail(
        `tensors ${quote(ranges[i - 1].key)} and ${quote(ranges[i].key)} overlap ` +
          `([${ranges[i - 1].begin}, ${ranges[i - 1].end}) and [${ranges[i].begin}, ${
            ranges[i].end
          }))`,
      );
    }
  }

  const tensors = new Map<string, ParsedTensor>();
  for (const c of checked) {
    const info = DTYPES[c.dtype];
    const length = (c.end - c.begin) / info.size;
    const at = bytes.byteOffset + dataStart + c.begin;
    let data: SafetensorsData;
    if (info.size === 1) {
      data = info.make(bytes.buffer, at, length);
    } else if (!LITTLE_ENDIAN) {
      const copy = new Uint8Array(c.end - c.begin);
      swapInto(copy, bytes.subarray(dataStart + c.begin, dataStart + c.end), info.size);
      data = info.make(copy.buffer, 0, length);
    } else if (at % info.size === 0) {
      data = info.make(bytes.buffer, at, length);
    } else {
      data = info.make(bytes.slice(dataStart + c.begin, dataStart + c.end).buffer, 0, length);
    }
    tensors.set(c.key, { dtype: c.dtype, shape: c.shape, data });
  }
  return { metadata, tensors };
}
