/** PNG encoder and image grid: files decode back to the exact pixels, with valid chunks. */
import assert from "node:assert/strict";
import { unzlibSync } from "fflate";
import { crc32 } from "../src/data/idx.ts";
import { encodePng, imageGrid } from "../src/eval/png.ts";
import { Rng } from "./_helpers.ts";

/** A small PNG reader for the test: checks every chunk's CRC, returns size and raw pixels. */
function decode(png: Uint8Array) {
  assert.deepEqual([...png.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10]);
  const view = new DataView(png.buffer, png.byteOffset);
  let at = 8;
  let width = 0, height = 0, colour = -1;
  const idat: Uint8Array[] = [];
  const types: string[] = [];
  while (at < png.length) {
    const len = view.getUint32(at);
    const type = String.fromCharCode(...png.subarray(at + 4, at + 8));
    const data = png.subarray(at + 8, at + 8 + len);
    assert.equal(
      view.getUint32(at + 8 + len),
      crc32(png.subarray(at + 4, at + 8 + len)),
      `${type} CRC`,
    );
    types.push(type);
    if (type === "IHDR") {
      width = view.getUint32(at + 8);
      height = view.getUint32(at + 12);
      assert.equal(data[8], 8);
      colour = data[9];
    }
    if (type === "IDAT") idat.push(data);
    at += 12 + len;
  }
  assert.deepEqual(types, ["IHDR", "IDAT", "IEND"]);
  const channels = colour === 0 ? 1 : 3;
  const raw = unzlibSync(idat[0]);
  const stride = width * channels;
  assert.equal(raw.length, (stride + 1) * height);
  const pixels = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    assert.equal(raw[y * (stride + 1)], 0, "filter type 0");
    pixels.set(raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)), y * stride);
  }
  return { width, height, channels, pixels };
}

Deno.test("png: gray and RGB images of odd sizes decode to the same pixels", () => {
  const rng = new Rng(5);
  for (const [w, h, c] of [[1, 1, 1], [29, 17, 1], [13, 31, 3]] as const) {
    const pixels = Uint8Array.from({ length: w * h * c }, () => Math.floor(rng.next() * 256));
    const got = decode(encodePng(w, h, pixels, c));
    assert.deepEqual([got.width, got.height, got.channels], [w, h, c]);
    assert.deepEqual(got.pixels, pixels);
  }
  assert.throws(() => encodePng(3, 3, new Uint8Array(8)), /8 bytes for 3x3x1/);
  assert.throws(() => encodePng(0, 3, new Uint8Array(0)), /bad size/);
});

Deno.test("png: an image grid places each image, clamps to [0, 1], and is not blank", () => {
  const rows = 3, cols = 4, count = 5;
  const images = Float64Array.from({ length: count * rows * cols }, (_, i) => (i % 7) / 6 - 0.1);
  const g = imageGrid(images, count, rows, cols, 2, 1);
  assert.deepEqual([g.width, g.height], [2 * 5 + 1, 3 * 4 + 1]);
  // image 3 sits in grid row 1, column 1: its pixel (2, 3) is images[3*12 + 2*4 + 3].
  const v = images[3 * 12 + 2 * 4 + 3];
  assert.equal(
    g.pixels[(1 + 4 + 2) * g.width + 1 + 5 + 3],
    Math.round(255 * Math.min(1, Math.max(0, v))),
  );
  assert.equal(g.pixels[0], 128, "border");
  const png = decode(encodePng(g.width, g.height, g.pixels));
  assert.ok(new Set(png.pixels).size > 3, "not blank");
});
