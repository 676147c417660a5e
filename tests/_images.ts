/**
 * Test helpers for the figures: a small PNG decoder (every chunk's CRC checked, the zlib
 * stream inflated with fflate and its Adler-32 checked, all five row filters undone; 8-bit
 * gray, gray+alpha, RGB and RGBA, no interlace) and an SVG check with a real XML parser.
 */
import assert from "node:assert/strict";
import { unzlibSync } from "fflate";
import { type Document, DOMParser, type Element } from "@xmldom/xmldom";
import { crc32 } from "../src/data/idx.ts";

/** A decoded PNG: size, channels per pixel, row-major 8-bit samples, chunk types in order. */
export interface DecodedPng {
  width: number;
  height: number;
  channels: number;
  pixels: Uint8Array;
  chunks: string[];
  /** The filter type byte of each row. */
  filters: number[];
}

const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 4: 2, 6: 4 };

function adler32(bytes: Uint8Array): number {
  let a = 1, b = 0;
  for (let i = 0; i < bytes.length; i++) {
    a = (a + bytes[i]) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** PNG's Paeth predictor: whichever of left, up, upper-left is closest to left + up - upleft. */
function paeth(a: number, b: number, c: number): number {
  const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Decode `png`, throwing (assert) on anything malformed. */
export function decodePng(png: Uint8Array): DecodedPng {
  assert.deepEqual([...png.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10], "signature");
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let at = 8;
  let width = 0, height = 0, channels = 0;
  const idat: Uint8Array[] = [];
  const chunks: string[] = [];
  while (at < png.length) {
    assert.ok(at + 12 <= png.length, "truncated chunk");
    const len = view.getUint32(at);
    const type = String.fromCharCode(...png.subarray(at + 4, at + 8));
    assert.ok(at + 12 + len <= png.length, `${type} runs past the end`);
    const data = png.subarray(at + 8, at + 8 + len);
    assert.equal(
      view.getUint32(at + 8 + len),
      crc32(png.subarray(at + 4, at + 8 + len)),
      `${type} CRC`,
    );
    chunks.push(type);
    if (type === "IHDR") {
      assert.equal(len, 13);
      width = view.getUint32(at + 8);
      height = view.getUint32(at + 12);
      assert.equal(data[8], 8, "bit depth 8");
      channels = CHANNELS[data[9]];
      assert.ok(channels, `colour type ${data[9]}`);
      assert.deepEqual(
        [data[10], data[11], data[12]],
        [0, 0, 0],
        "deflate, filter 0, no interlace",
      );
    }
    if (type === "IDAT") idat.push(data);
    at += 12 + len;
  }
  assert.equal(chunks[0], "IHDR");
  assert.equal(chunks.at(-1), "IEND");
  assert.ok(width > 0 && height > 0, "size");
  const zlib = new Uint8Array(idat.reduce((n, c) => n + c.length, 0));
  idat.reduce((o, c) => (zlib.set(c, o), o + c.length), 0);
  const raw = unzlibSync(zlib);
  const z = new DataView(zlib.buffer, zlib.byteOffset, zlib.byteLength);
  assert.equal(z.getUint32(zlib.length - 4), adler32(raw), "Adler-32");
  const stride = width * channels;
  assert.equal(raw.length, (stride + 1) * height, "inflated size");
  const pixels = new Uint8Array(stride * height);
  const filters: number[] = [];
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)];
    filters.push(f);
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const o = y * stride;
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? pixels[o + i - channels] : 0;
      const b = y > 0 ? pixels[o - stride + i] : 0;
      const c = y > 0 && i >= channels ? pixels[o - stride + i - channels] : 0;
      const pred = [0, a, b, (a + b) >> 1, paeth(a, b, c)][f];
      assert.ok(pred !== undefined, `row ${y}: filter type ${f}`);
      pixels[o + i] = (line[i] + pred) & 255;
    }
  }
  return { width, height, channels, pixels, chunks, filters };
}

/** Decode and check size and that the image is not blank (at least `levels` distinct values). */
export function assertPng(
  label: string,
  png: Uint8Array,
  size?: { width: number; height: number },
  levels = 4,
): DecodedPng {
  const d = decodePng(png);
  if (size) assert.deepEqual([d.width, d.height], [size.width, size.height], `${label} size`);
  const distinct = new Set(d.pixels).size;
  assert.ok(distinct >= levels, `${label}: only ${distinct} distinct values (blank?)`);
  return d;
}

/**
 * Parse `svg` with a real XML parser (any error or warning fails), check the root is an SVG
 * element with a size, and return the document for queries.
 */
export function parseSvg(label: string, svg: string): Document {
  const fail = (level: string, msg: string) => {
    throw new Error(`${label}: SVG does not parse (${level}): ${msg}`);
  };
  const doc = new DOMParser({ onError: fail }).parseFromString(svg, "image/svg+xml");
  const root = doc.documentElement!;
  assert.equal(root.nodeName, "svg", `${label}: root element`);
  assert.equal(root.getAttribute("xmlns"), "http://www.w3.org/2000/svg", `${label}: namespace`);
  for (const a of ["width", "height", "viewBox"]) assert.ok(root.getAttribute(a), `${label}: ${a}`);
  // xmldom accepts a bare "&" in text; XML does not.
  assert.ok(!/&(?!amp;|lt;|gt;|quot;|apos;|#)/.test(svg), `${label}: unescaped &`);
  return doc;
}

export type { Document, Element };

/** Elements named `tag` under `root` (a document or an element), as an array. */
export function elements(root: Document | Element, tag: string): Element[] {
  return Array.from(root.getElementsByTagName(tag));
}
