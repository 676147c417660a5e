/**
 * PNG decoding, written here over fflate's inflate: every colour type (grey, grey + alpha, RGB,
 * RGBA, palette), every bit depth the format allows (1, 2, 4, 8, 16), all five row filters,
 * Adam7 interlacing, and tRNS transparency. Out comes 8 bits per sample:
 *
 * - 16-bit samples keep their high byte (v >> 8), as libpng's "strip 16" does;
 * - 1, 2 and 4-bit grey is scaled to 0..255 (v * 255 / (2^depth - 1)), palette indices are not;
 * - a palette image comes out as RGB, or RGBA when it has a tRNS chunk;
 * - a tRNS colour key on a grey or RGB image adds an alpha channel (0 where the raw sample,
 *   before any reduction, equals the key; 255 elsewhere).
 *
 * Format facts from the PNG specification (ISO/IEC 15948 / W3C PNG 2nd edition): signature,
 * chunk layout (length, type, data, CRC-32 over type and data), IHDR fields, filter
 * definitions (Sub, Up, Average, Paeth), Adam7 pass origins and steps.
 */

import { unzlibSync } from "fflate";
import { crc32 } from "./idx.ts";

/** A decoded image: `height x width x channels` bytes, row-major, samples interleaved. */
export interface DecodedImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA. */
  channels: 1 | 2 | 3 | 4;
  /** `height * width * channels` bytes. */
  data: Uint8Array;
}

/** A file that is not a PNG this decoder can read: one line saying why. */
export class PngError extends Error {
  /**
   * Makes the error.
   * @param message One line: what is wrong with the file.
   */
  constructor(message: string) {
    super(message);
    this.name = "PngError";
  }
}

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];

/** True when `bytes` start with the PNG signature. */
export function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && SIGNATURE.every((b, i) => bytes[i] === b);
}

/** Samples per pixel of each colour type. */
const SAMPLES: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
/** Allowed bit depths of each colour type. */
const DEPTHS: Record<number, number[]> = {
  0: [1, 2, 4, 8, 16],
  2: [8, 16],
  3: [1, 2, 4, 8],
  4: [8, 16],
  6: [8, 16],
};

/** Adam7 passes: [x0, y0, dx, dy]. */
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
];

/** Largest image accepted, in pixels (a guard against a forged IHDR asking for gigabytes). */
export const PNG_MAX_PIXELS = 1 << 28;

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  return pb <= pc ? b : c;
}

/**
 * Undo the row filters of one (sub-)image of `rows` rows of `stride` bytes in place: `raw`
 * holds `rows * (1 + stride)` bytes, each row led by its filter type; `bpp` is the byte
 * distance to the corresponding byte of the previous pixel (at least 1).
 * Returns the unfiltered rows, `rows * stride` bytes.
 */
function unfilter(raw: Uint8Array, rows: number, stride: number, bpp: number): Uint8Array {
  const out = new Uint8Array(rows * stride);
  for (let y = 0; y < rows; y++) {
    const type = raw[y * (stride + 1)];
    const src = y * (stride + 1) + 1;
    const dst = y * stride;
    const up = dst - stride; // previous row in `out` (absent on row 0: treated as zeros)
    for (let i = 0; i < stride; i++) {
      const x = raw[src + i];
      const a = i >= bpp ? out[dst + i - bpp] : 0;
      const b = y > 0 ? out[up + i] : 0;
      let v: number;
      switch (type) {
        case 0:
          v = x;
          break;
        case 1:
          v = x + a;
          break;
        case 2:
          v = x + b;
          break;
        case 3:
          v = x + ((a + b) >> 1);
          break;
        case 4:
          v = x + paeth(a, b, i >= bpp && y > 0 ? out[up + i - bpp] : 0);
          break;
        default:
          throw new PngError(`bad row filter type ${type} (row ${y})`);
      }
      out[dst + i] = v & 255;
    }
  }
  return out;
}

/**
 * Decode a PNG file. Checks the signature, every chunk's CRC, the IHDR fields and the amount
 * of image data; a problem is a {@link PngError} with one line.
 */
export function decodePng(bytes: Uint8Array): DecodedImage {
  if (!isPng(bytes)) throw new PngError("not a PNG (bad signature)");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 8;
  let ihdr: Uint8Array | null = null;
  let palette: Uint8Array | null = null;
  let trns: Uint8Array | null = null;
  const idat: Uint8Array[] = [];
  let ended = false;
  while (!ended) {
    if (at + 12 > bytes.length) throw new PngError("truncated (no IEND chunk)");
    const length = view.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    if (length > bytes.length - at - 12) throw new PngError(`truncated inside the ${type} chunk`);
    const data = bytes.subarray(at + 8, at + 8 + length);
    if (crc32(bytes.subarray(at + 4, at + 8 + length)) !== view.getUint32(at + 8 + length)) {
      throw new PngError(`CRC mismatch in the ${type} chunk (the file is damaged)`);
    }
    at += 12 + length;
    if (ihdr === null && type !== "IHDR") throw new PngError("first chunk is not IHDR");
    switch (type) {
      case "IHDR":
        if (length !== 13) throw new PngError(`IHDR is ${length} bytes, not 13`);
        ihdr = data;
        break;
      case "PLTE":
        if (length % 3 !== 0 || length === 0 || length > 768) {
          throw new PngError(`PLTE is ${length} bytes (must be 3 to 768, a multiple of 3)`);
        }
        palette = data;
        break;
      case "tRNS":
        trns = data;
        break;
      case "IDAT":
        idat.push(data);
        break;
      case "IEND":
        ended = true;
        break;
      default:
        // Ancillary chunks (lower-case first letter) are skipped; an unknown critical one
        // would change how the image reads, so it is refused.
        if ((type.charCodeAt(0) & 32) === 0) {
          throw new PngError(`unknown critical chunk ${type}`);
        }
    }
  }
  const h = new DataView(ihdr!.buffer, ihdr!.byteOffset, 13);
  const width = h.getUint32(0), height = h.getUint32(4);
  const depth = ihdr![8], colour = ihdr![9], interlace = ihdr![12];
  if (width === 0 || height === 0) throw new PngError(`bad size ${width}x${height}`);
  if (width * height > PNG_MAX_PIXELS) {
    throw new PngError(`${width}x${height} is over the ${PNG_MAX_PIXELS}-pixel limit`);
  }
  if (!(colour in SAMPLES)) throw new PngError(`bad colour type ${colour}`);
  if (!DEPTHS[colour].includes(depth)) {
    throw new PngError(`bit depth ${depth} is not allowed for colour type ${colour}`);
  }
  if (ihdr![10] !== 0 || ihdr![11] !== 0) throw new PngError("unknown compression/filter method");
  if (interlace > 1) throw new PngError(`bad interlace method ${interlace}`);
  if (colour === 3 && palette === null) throw new PngError("palette image without a PLTE chunk");
  if (idat.length === 0) throw new PngError("no IDAT chunk");

  const joined = new Uint8Array(idat.reduce((n, d) => n + d.length, 0));
  let o = 0;
  for (const d of idat) {
    joined.set(d, o);
    o += d.length;
  }
  let raw: Uint8Array;
  try {
    raw = unzlibSync(joined);
  } catch (e) {
    throw new PngError(`image data does not inflate (${(e as Error).message})`);
  }

  const samples = SAMPLES[colour];
  const bitsPerPixel = samples * depth;
  const bpp = Math.max(1, bitsPerPixel >> 3);
  // Raw samples (before reduction), one number per sample, for the whole image.
  const full = new Uint16Array(width * height * samples);
  const passes = interlace === 1 ? ADAM7 : [[0, 0, 1, 1]];
  let offset = 0;
  for (const [x0, y0, dx, dy] of passes) {
    const pw = Math.ceil((width - x0) / dx), ph = Math.ceil((height - y0) / dy);
    if (pw <= 0 || ph <= 0) continue; // an empty pass has no bytes, not even filter types
    const stride = Math.ceil((pw * bitsPerPixel) / 8);
    const need = ph * (stride + 1);
    if (offset + need > raw.length) {
      throw new PngError(`too little image data (${raw.length} bytes; truncated?)`);
    }
    const rows = unfilter(raw.subarray(offset, offset + need), ph, stride, bpp);
    offset += need;
    for (let y = 0; y < ph; y++) {
      const row = y * stride;
      const fy = y0 + y * dy;
      for (let x = 0; x < pw; x++) {
        const base = ((fy * width) + x0 + x * dx) * samples;
        for (let s = 0; s < samples; s++) {
          const k = x * samples + s;
          let v: number;
          if (depth === 8) v = rows[row + k];
          else if (depth === 16) v = (rows[row + 2 * k] << 8) | rows[row + 2 * k + 1];
          else {
            const bit = k * depth;
            v = (rows[row + (bit >> 3)] >> (8 - depth - (bit & 7))) & ((1 << depth) - 1);
          }
          full[base + s] = v;
        }
      }
    }
  }

  const n = width * height;
  if (colour === 3) {
    const entries = palette!.length / 3;
    const alpha = trns !== null;
    const ch = alpha ? 4 : 3;
    const out = new Uint8Array(n * ch);
    for (let i = 0; i < n; i++) {
      const p = full[i];
      if (p >= entries) throw new PngError(`palette index ${p} past the ${entries} entries`);
      out[i * ch] = palette![3 * p];
      out[i * ch + 1] = palette![3 * p + 1];
      out[i * ch + 2] = palette![3 * p + 2];
      if (alpha) out[i * ch + 3] = p < trns!.length ? trns![p] : 255;
    }
    return { width, height, channels: ch as 3 | 4, data: out };
  }
  const reduce = depth === 16
    ? (v: number) => v >> 8
    : depth === 8
    ? (v: number) => v
    : (v: number) => (v * 255) / ((1 << depth) - 1);
  // A colour key (tRNS on grey or RGB) becomes an alpha channel.
  const key = trns !== null && (colour === 0 || colour === 2)
    ? Array.from({ length: samples }, (_, s) => {
      if (trns!.length < 2 * samples) throw new PngError(`tRNS is ${trns!.length} bytes`);
      return ((trns![2 * s] << 8) | trns![2 * s + 1]) & ((1 << depth) - 1);
    })
    : null;
  const outCh = samples + (key ? 1 : 0);
  const out = new Uint8Array(n * outCh);
  for (let i = 0; i < n; i++) {
    let keyed = key !== null;
    for (let s = 0; s < samples; s++) {
      const v = full[i * samples + s];
      out[i * outCh + s] = reduce(v);
      if (key && v !== key[s]) keyed = false;
    }
    if (key) out[i * outCh + samples] = keyed ? 0 : 255;
  }
  return { width, height, channels: outCh as 1 | 2 | 3 | 4, data: out };
}
