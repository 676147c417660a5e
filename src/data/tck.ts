/**
 * MRtrix `.tck` reader and writer (streamline tractograms).
 *
 * The format, per MRtrix's "Tracks file format (.tck)" documentation: a text header, then
 * binary points.
 *
 *   mrtrix tracks                  the first line, exactly
 *   key: value                     one pair a line; a key may repeat (values join with \n)
 *   datatype: Float32LE            Float32LE, Float32BE, Float64LE or Float64BE
 *   file: . 67                     "." (this file) and the byte offset of the points
 *   count: 12                      number of streamlines (optional; checked when present)
 *   END                            the header's last line
 *
 * From the offset on, the file is a sequence of x, y, z triplets in RAS+ mm (the world
 * space, so a .tck file needs no affine and carries none): a streamline's points, then a
 * triplet of NaN closing it, ..., and one triplet of Inf marking the end of the data.
 *
 * The reader never trusts a count it cannot see: what it allocates is bounded by the file's
 * own size. Every problem is a one-line {@link TckError} naming the file.
 */

import { TractogramError } from "./tractogram.ts";

/** A malformed, truncated or unsupported .tck file: one line, naming the file. */
export class TckError extends TractogramError {
  /**
   * Makes the error.
   * @param message The file, what is wrong and what to do; collapsed to one line.
   */
  constructor(message: string) {
    super(message);
    this.name = "TckError";
  }
}

/** The point encodings a .tck file may declare. */
export type TckDatatype = "Float32LE" | "Float32BE" | "Float64LE" | "Float64BE";

const DATATYPES: readonly TckDatatype[] = ["Float32LE", "Float32BE", "Float64LE", "Float64BE"];

/** The first line of every .tck file. */
export const TCK_MAGIC = "mrtrix tracks";

/** The header of a .tck file. */
export interface TckHeader {
  /** How points are stored. */
  datatype: TckDatatype;
  /** Byte offset of the first point (from `file: . OFFSET`). */
  offset: number;
  /** Number of streamlines read (equals `count` when the header gives one). */
  count: number;
  /** Every other key of the header, as written (repeated keys joined with "\n"). */
  fields: Record<string, string>;
}

/** A parsed .tck file. */
export interface TckTractogram {
  /** The header. */
  header: TckHeader;
  /** One array per streamline: P points as x, y, z triples (length 3P), RAS+ millimetres. */
  streamlines: Float32Array[];
}

const DEC = new TextDecoder("latin1");

/**
 * Parses an MRtrix .tck file into streamlines in RAS+ mm. Empty streamlines (two NaN
 * triplets in a row) are dropped, as MRtrix and nibabel do.
 *
 * @param bytes The whole file.
 * @param name The file's name or path, used in error messages (default "tck").
 * @throws TckError when the file is not a complete, well-formed, supported .tck file.
 */
export function parseTck(bytes: Uint8Array, name = "tck"): TckTractogram {
  const fix = "the file is damaged or not an MRtrix .tck file; re-export it";
  const first = TCK_MAGIC.length + 1;
  if (DEC.decode(bytes.subarray(0, first)) !== TCK_MAGIC + "\n") {
    const got = JSON.stringify(DEC.decode(bytes.subarray(0, TCK_MAGIC.length)));
    throw new TckError(
      `${name}: not an MRtrix .tck file: starts with ${got}, expected "mrtrix tracks"`,
    );
  }
  // The header: lines up to "END".
  const raw: Record<string, string[]> = {};
  let at = first, end = -1, line = 1;
  while (at < bytes.length) {
    let nl = bytes.indexOf(0x0a, at);
    if (nl < 0) nl = bytes.length;
    const text = DEC.decode(bytes.subarray(at, nl)).replace(/\r$/, "").trim();
    line++;
    at = nl + 1;
    if (text === "END") {
      end = Math.min(at, bytes.length);
      break;
    }
    if (text === "") continue;
    const colon = text.indexOf(":");
    if (colon <= 0) {
      throw new TckError(
        `${name}: header line ${line} ${
          JSON.stringify(text.slice(0, 40))
        } is not "key: value"; ${fix}`,
      );
    }
    const key = text.slice(0, colon).trim();
    (raw[key] ??= []).push(text.slice(colon + 1).trim());
  }
  if (end < 0) throw new TckError(`${name}: truncated: the header has no END line; ${fix}`);
  const one = (key: string): string | undefined => {
    const v = raw[key];
    if (v && v.length > 1) {
      throw new TckError(`${name}: the header gives "${key}" ${v.length} times`);
    }
    return v?.[0];
  };
  const dt = one("datatype");
  if (dt === undefined) throw new TckError(`${name}: the header has no datatype; ${fix}`);
  if (!DATATYPES.includes(dt as TckDatatype)) {
    throw new TckError(
      `${name}: unsupported datatype "${dt}" (expected ${DATATYPES.join(", ")})`,
    );
  }
  const datatype = dt as TckDatatype;
  const file = one("file");
  const m = file?.match(/^\.\s+(\d+)$/);
  if (!m) {
    throw new TckError(
      `${name}: the header's file entry is ${JSON.stringify(file ?? "missing")}, expected ` +
        `". OFFSET" (points in this file); separate data files are not supported`,
    );
  }
  const offset = Number(m[1]);
  if (offset < end || offset > bytes.length) {
    throw new TckError(
      `${name}: data offset ${offset} is ${
        offset < end
          ? "inside the header (which ends at " + end + ")"
          : "past the end of the " + bytes.length + "-byte file"
      }; ${fix}`,
    );
  }
  const countText = one("count");
  let count: number | null = null;
  if (countText !== undefined) {
    if (!/^\d+$/.test(countText)) {
      throw new TckError(`${name}: count "${countText}" is not an integer`);
    }
    count = Number(countText);
  }

  const size = datatype.startsWith("Float64") ? 8 : 4, le = datatype.endsWith("LE");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const read = size === 8
    ? (o: number) => view.getFloat64(o, le)
    : (o: number) => view.getFloat32(o, le);
  const streamlines: Float32Array[] = [];
  let start = offset, q = offset, finished = false;
  const triplet = 3 * size;
  for (; q + triplet <= bytes.length; q += triplet) {
    const x = read(q), y = read(q + size), z = read(q + 2 * size);
    if (Number.isNaN(x) && Number.isNaN(y) && Number.isNaN(z)) {
      const p = (q - start) / triplet;
      if (p > 0) {
        const s = new Float32Array(3 * p);
        for (let i = 0; i < 3 * p; i++) s[i] = read(start + i * size);
        streamlines.push(s);
      }
      start = q + triplet;
      continue;
    }
    if (x === Infinity && y === Infinity && z === Infinity) {
      finished = true;
      break;
    }
    const f = [Math.fround(x), Math.fround(y), Math.fround(z)];
    if (!f.every(Number.isFinite)) {
      const k = streamlines.length;
      throw new TckError(
        `${name}: streamline ${k} point ${(q - start) / triplet} is not finite in float32 ` +
          `(${x} ${y} ${z}); ${fix}`,
      );
    }
  }
  if (!finished) {
    throw new TckError(
      `${name}: truncated: no end marker (Inf Inf Inf) after ${streamlines.length} ` +
        `streamlines${(bytes.length - offset) % triplet ? " and a partial point" : ""}; ${fix}`,
    );
  }
  if (q > start) {
    throw new TckError(
      `${name}: streamline ${streamlines.length} is not closed by a NaN triplet before the ` +
        `end marker; ${fix}`,
    );
  }
  if (q + triplet < bytes.length) {
    throw new TckError(`${name}: ${bytes.length - q - triplet} bytes after the end marker; ${fix}`);
  }
  if (count !== null && count !== streamlines.length) {
    throw new TckError(
      `${name}: the header's count is ${count} but the file holds ${streamlines.length} ` +
        `streamlines; ${fix}`,
    );
  }
  const fields: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (k !== "datatype" && k !== "file" && k !== "count") fields[k] = v.join("\n");
  }
  return { header: { datatype, offset, count: streamlines.length, fields }, streamlines };
}

/** Options of {@link writeTck}. */
export interface WriteTckOptions {
  /** How to store points (default Float32LE, as MRtrix and nibabel write). */
  datatype?: TckDatatype;
  /**
   * Extra header entries (e.g. `{ generator: "webgpu-vae" }`): keys of letters, digits, `_`,
   * `-`, `.` or spaces; values on one line without `:` (nibabel refuses a second colon).
   */
  fields?: Record<string, string>;
}

/**
 * Serializes streamlines (RAS+ mm) as an MRtrix .tck file: the exact inverse of
 * {@link parseTck} (points kept to float32, or exactly with a Float64 datatype).
 *
 * @throws RangeError for an empty or ragged streamline, a non-finite point, a bad datatype
 *   or a header entry that cannot be written.
 */
export function writeTck(streamlines: Float32Array[], opts: WriteTckOptions = {}): Uint8Array {
  const datatype = opts.datatype ?? "Float32LE";
  if (!DATATYPES.includes(datatype)) throw new RangeError(`writeTck: datatype ${datatype}`);
  const lines = [TCK_MAGIC, `count: ${streamlines.length}`, `datatype: ${datatype}`];
  for (const [k, v] of Object.entries(opts.fields ?? {})) {
    if (!/^[A-Za-z0-9_.\- ]+$/.test(k) || ["count", "datatype", "file", "END"].includes(k.trim())) {
      throw new RangeError(`writeTck: header key ${JSON.stringify(k)} cannot be written`);
    }
    if (/[:\r\n]/.test(v)) {
      throw new RangeError(`writeTck: header value of ${k} must be one line without ':'`);
    }
    lines.push(`${k}: ${v}`);
  }
  let points = 0;
  streamlines.forEach((s, k) => {
    if (s.length === 0 || s.length % 3 !== 0) {
      throw new RangeError(`writeTck: streamline ${k} has ${s.length} values, not 3P with P >= 1`);
    }
    if (!s.every(Number.isFinite)) throw new RangeError(`writeTck: streamline ${k} is not finite`);
    points += s.length / 3;
  });
  const head = lines.join("\n") + "\n";
  // "file: . OFFSET\nEND\n" where OFFSET is the header's own length: grow until it holds.
  let offset = head.length;
  for (;;) {
    const total = head.length + `file: . ${offset}\nEND\n`.length;
    if (total === offset) break;
    offset = total;
  }
  const size = datatype.startsWith("Float64") ? 8 : 4, le = datatype.endsWith("LE");
  const out = new Uint8Array(offset + 3 * size * (points + streamlines.length + 1));
  out.set(new TextEncoder().encode(head + `file: . ${offset}\nEND\n`), 0);
  const view = new DataView(out.buffer);
  const put = size === 8
    ? (o: number, v: number) => view.setFloat64(o, v, le)
    : (o: number, v: number) => view.setFloat32(o, v, le);
  let at = offset;
  for (const s of streamlines) {
    for (let i = 0; i < s.length; i++, at += size) put(at, s[i]);
    for (let i = 0; i < 3; i++, at += size) put(at, NaN);
  }
  for (let i = 0; i < 3; i++, at += size) put(at, Infinity);
  return out;
}
