/**
 * PNG encoding, written here: 8-bit grayscale or RGB, one zlib stream (fflate) in one IDAT
 * chunk, filter type 0 on every row. Enough for image grids of reconstructions and samples.
 * Format facts from the PNG specification (ISO/IEC 15948): signature, IHDR, IDAT, IEND, each
 * chunk = length, type, data, CRC-32 over type and data.
 */

import { zlibSync } from "fflate";
import { crc32 } from "../data/idx.ts";

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/**
 * Encode `pixels` (row-major, `channels` bytes per pixel: 1 gray, 3 RGB) as a PNG file.
 */
export function encodePng(
  width: number,
  height: number,
  pixels: Uint8Array,
  channels: 1 | 3 = 1,
): Uint8Array {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`png: bad size ${width}x${height}`);
  }
  if (pixels.length !== width * height * channels) {
    throw new Error(`png: ${pixels.length} bytes for ${width}x${height}x${channels}`);
  }
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr[8] = 8; // bit depth
  ihdr[9] = channels === 1 ? 0 : 2; // colour type: gray / truecolour
  // compression 0 (deflate), filter method 0, no interlace: bytes 10-12 stay 0
  const stride = width * channels;
  const raw = new Uint8Array((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (stride + 1)] = 0; // filter type None
    raw.set(pixels.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  }
  const parts = [
    Uint8Array.from(SIGNATURE),
    chunk("IHDR", ihdr),
    chunk("IDAT", zlibSync(raw, { level: 6 })),
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Tile `count` images of `rows` x `cols` x `channels` floats in [0, 1] (row-major, channels last,
 * one after another: 1 grey, 3 RGB) into a grid `gridCols` wide with a `pad`-pixel gray border,
 * as 8-bit pixels with the same channels (pass `channels` on to {@link encodePng}).
 */
export function imageGrid(
  images: ArrayLike<number>,
  count: number,
  rows: number,
  cols: number,
  gridCols: number,
  pad = 1,
  channels: 1 | 3 = 1,
): { width: number; height: number; pixels: Uint8Array; channels: 1 | 3 } {
  if (channels !== 1 && channels !== 3) throw new Error(`png grid: ${channels} channels`);
  if (images.length < count * rows * cols * channels) {
    throw new Error(
      `png grid: ${images.length} values for ${count} images of ${rows}x${cols}x${channels}`,
    );
  }
  const C = channels;
  const gridRows = Math.ceil(count / gridCols);
  const width = gridCols * (cols + pad) + pad;
  const height = gridRows * (rows + pad) + pad;
  const pixels = new Uint8Array(width * height * C).fill(128);
  for (let n = 0; n < count; n++) {
    const ox = pad + (n % gridCols) * (cols + pad);
    const oy = pad + Math.floor(n / gridCols) * (rows + pad);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        for (let k = 0; k < C; k++) {
          const v = images[((n * rows + r) * cols + c) * C + k];
          pixels[((oy + r) * width + ox + c) * C + k] = Math.round(
            255 * Math.min(1, Math.max(0, v)),
          );
        }
      }
    }
  }
  return { width, height, pixels, channels };
}
