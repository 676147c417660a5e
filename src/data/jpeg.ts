/**
 * JPEG decoding through the `jpeg-js` npm package (pure JavaScript, BSD-3): baseline and
 * progressive Huffman JPEG, restart intervals, 1, 3 (YCbCr) and 4 (CMYK / Adobe YCCK)
 * components. It is a dependency rather than hand code because progressive files (what many
 * cameras, phones and web tools save) need a second decoder path (spectral selection,
 * successive approximation, EOB runs) that a hand-written baseline decoder would lack.
 *
 * Its chroma upsampling is nearest-neighbour, where libjpeg (and so PIL) interpolates
 * ("fancy upsampling"); its IDCT is a float one where libjpeg's default is an integer one. So
 * on 4:4:4 files pixels agree with PIL's to within a few levels, and on subsampled (4:2:0)
 * files chroma edges differ more (see tests/images_test.ts for the measured numbers).
 * Arithmetic-coded and lossless JPEG are refused.
 *
 * The file's own markers are read here first (component count, frame type) so that a grey
 * JPEG comes out as 1 channel, and so that an unsupported kind is named in the error.
 */

import { decode } from "jpeg-js";
import type { DecodedImage } from "./png_decode.ts";

/** A file that is not a JPEG this decoder can read: one line saying why. */
export class JpegError extends Error {
  /**
   * Makes the error.
   * @param message One line: what is wrong with the file.
   */
  constructor(message: string) {
    super(message);
    this.name = "JpegError";
  }
}

/** True when `bytes` start like a JPEG file (SOI marker followed by another marker). */
export function isJpeg(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

/** What the frame header (SOFn) says. */
export interface JpegFrame {
  /** SOF marker number n: 0 baseline, 1 extended, 2 progressive, others unsupported. */
  sof: number;
  /** Width and height from the frame header. */
  width: number;
  /** Height from the frame header. */
  height: number;
  /** Number of components (1 grey, 3 YCbCr or RGB, 4 CMYK). */
  components: number;
}

/** Reads markers up to the first SOFn and returns its header, or throws a {@link JpegError}. */
export function jpegFrame(bytes: Uint8Array): JpegFrame {
  if (!isJpeg(bytes)) throw new JpegError("not a JPEG (no SOI marker)");
  let at = 2;
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) throw new JpegError(`expected a marker at byte ${at}`);
    const m = bytes[at + 1];
    if (m === 0xff) { // fill byte
      at++;
      continue;
    }
    const len = (bytes[at + 2] << 8) | bytes[at + 3];
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
      if (at + 10 > bytes.length) break;
      return {
        sof: m - 0xc0,
        height: (bytes[at + 5] << 8) | bytes[at + 6],
        width: (bytes[at + 7] << 8) | bytes[at + 8],
        components: bytes[at + 9],
      };
    }
    if (m === 0xd9 || m === 0xda) break; // EOI or SOS before any frame header
    at += 2 + len;
  }
  throw new JpegError("no frame header (SOF) found; truncated?");
}

/**
 * Decode a JPEG file to 8-bit grey (1 component) or RGB (3 or 4 components). Damaged data
 * (truncated scans, bad Huffman codes) is an error, not a partly grey picture.
 */
export function decodeJpeg(bytes: Uint8Array): DecodedImage {
  const frame = jpegFrame(bytes);
  if (![0, 1, 2].includes(frame.sof)) {
    const kind = frame.sof === 3 ? "lossless" : frame.sof >= 9 ? "arithmetic-coded" : "SOF" +
      frame.sof;
    throw new JpegError(`${kind} JPEG is not supported (baseline and progressive are)`);
  }
  if (frame.width === 0 || frame.height === 0) {
    throw new JpegError(`bad size ${frame.width}x${frame.height}`);
  }
  let rgb;
  try {
    rgb = decode(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      tolerantDecoding: false,
      maxResolutionInMP: 256,
      maxMemoryUsageInMB: 2048,
    });
  } catch (e) {
    const msg = (e instanceof Error ? e.message : String(e)).split("\n")[0];
    throw new JpegError(`damaged JPEG (${msg})`);
  }
  const { width, height } = rgb;
  if (width !== frame.width || height !== frame.height) {
    throw new JpegError(
      `decoded ${width}x${height} but the frame says ${frame.width}x${frame.height}`,
    );
  }
  if (frame.components !== 1) return { width, height, channels: 3, data: rgb.data };
  const grey = new Uint8Array(width * height);
  for (let i = 0; i < grey.length; i++) grey[i] = rgb.data[3 * i];
  return { width, height, channels: 1, data: grey };
}
