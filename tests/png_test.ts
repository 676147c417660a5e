/**
 * PNG encoder and image grids (grey and colour): files decode back to the exact pixels, with
 * valid chunks; the colour grid also through PIL (python3-pil) and src/data/png_decode.ts.
 */
import assert from "node:assert/strict";
import { zlibSync } from "fflate";
import { crc32 } from "../src/data/idx.ts";
import { encodePng, imageGrid } from "../src/eval/png.ts";
import { Rng } from "./_helpers.ts";
import { assertPng, decodePng as decode } from "./_images.ts";
import { decodeImage } from "../src/data/images.ts";

Deno.test("png: gray and RGB images of odd sizes decode to the same pixels", () => {
  const rng = new Rng(5);
  for (const [w, h, c] of [[1, 1, 1], [29, 17, 1], [13, 31, 3]] as const) {
    const pixels = Uint8Array.from({ length: w * h * c }, () => Math.floor(rng.next() * 256));
    const got = decode(encodePng(w, h, pixels, c));
    assert.deepEqual([got.width, got.height, got.channels], [w, h, c]);
    assert.deepEqual(got.pixels, pixels);
    assert.deepEqual(got.chunks, ["IHDR", "IDAT", "IEND"]);
    assert.ok(got.filters.every((f) => f === 0));
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
  assertPng("grid", encodePng(g.width, g.height, g.pixels), g);
  const blank = imageGrid(new Float32Array(count * rows * cols), count, rows, cols, 2, 1);
  assert.throws(() => assertPng("blank", encodePng(blank.width, blank.height, blank.pixels)));
});

/** A chunk as the PNG specification lays it out (length, type, data, CRC over type and data). */
function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, data.length);
  out.set([...type].map((c) => c.charCodeAt(0)), 4);
  out.set(data, 8);
  v.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

Deno.test("png: the test decoder undoes every row filter and rejects a bad CRC", () => {
  // An RGB image written by hand with filter types 0..4 on successive rows (split over two
  // IDAT chunks), so the decoder the figure tests rely on is itself checked.
  const rng = new Rng(9);
  const w = 7, h = 10, c = 3, stride = w * c;
  const px = Uint8Array.from({ length: stride * h }, () => Math.floor(rng.next() * 256));
  const raw = new Uint8Array((stride + 1) * h);
  const paeth = (a: number, b: number, q: number) => {
    const p = a + b - q, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - q);
    return pa <= pb && pa <= pc ? a : pb <= pc ? b : q;
  };
  for (let y = 0; y < h; y++) {
    const f = y % 5;
    raw[y * (stride + 1)] = f;
    for (let i = 0; i < stride; i++) {
      const a = i >= c ? px[y * stride + i - c] : 0;
      const b = y > 0 ? px[(y - 1) * stride + i] : 0;
      const q = y > 0 && i >= c ? px[(y - 1) * stride + i - c] : 0;
      const pred = [0, a, b, (a + b) >> 1, paeth(a, b, q)][f];
      raw[y * (stride + 1) + 1 + i] = (px[y * stride + i] - pred) & 255;
    }
  }
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, w);
  new DataView(ihdr.buffer).setUint32(4, h);
  ihdr[8] = 8;
  ihdr[9] = 2;
  const z = zlibSync(raw);
  const parts = [
    Uint8Array.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk("IHDR", ihdr),
    chunk("IDAT", z.subarray(0, 20)),
    chunk("IDAT", z.subarray(20)),
    chunk("IEND", new Uint8Array(0)),
  ];
  const file = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((o, p) => (file.set(p, o), o + p.length), 0);
  const got = decode(file);
  assert.deepEqual(got.filters, [0, 1, 2, 3, 4, 0, 1, 2, 3, 4]);
  assert.deepEqual(got.pixels, px);
  const broken = file.slice();
  broken[8 + 8 + 3] ^= 1; // a byte of IHDR's data
  assert.throws(() => decode(broken), /IHDR CRC/);
});

Deno.test("png: a colour grid keeps each image's channels; PIL and the hand decoder read it back", async () => {
  const rng = new Rng(17);
  const rows = 5, cols = 7, count = 7, C = 3, gridCols = 3;
  const images = Float64Array.from(
    { length: count * rows * cols * C },
    () => rng.next() * 1.2 - 0.1,
  );
  const g = imageGrid(images, count, rows, cols, gridCols, 2, C);
  assert.equal(g.channels, 3);
  assert.deepEqual([g.width, g.height], [3 * 9 + 2, 3 * 7 + 2]);
  // image 4 sits in grid row 1, column 1: its pixel (3, 5), channel k
  for (let k = 0; k < 3; k++) {
    const v = images[((4 * rows + 3) * cols + 5) * C + k];
    const at = ((2 + 7 + 3) * g.width + 2 + 9 + 5) * C + k;
    assert.equal(g.pixels[at], Math.round(255 * Math.min(1, Math.max(0, v))));
  }
  assert.deepEqual([...g.pixels.subarray(0, 3)], [128, 128, 128], "border");
  // the two empty cells of the last grid row stay border grey
  assert.deepEqual([...g.pixels.subarray(-3)], [128, 128, 128]);
  const png = encodePng(g.width, g.height, g.pixels, g.channels);
  const mine = decodeImage(png);
  assert.deepEqual([mine.width, mine.height, mine.channels], [g.width, g.height, 3]);
  assert.deepEqual(mine.data, g.pixels);
  // PIL, independently
  const dir = await Deno.makeTempDir({ prefix: "webgpu-vae-png-" });
  await Deno.writeFile(`${dir}/grid.png`, png);
  const r = await new Deno.Command("/usr/bin/python3", {
    args: [
      "-c",
      "import sys; from PIL import Image; im = Image.open(sys.argv[1]); " +
      "print(im.mode, im.size[0], im.size[1]); open(sys.argv[2], 'wb').write(im.tobytes())",
      `${dir}/grid.png`,
      `${dir}/grid.raw`,
    ],
    stdout: "piped",
  }).output();
  assert.equal(r.code, 0);
  assert.equal(new TextDecoder().decode(r.stdout).trim(), `RGB ${g.width} ${g.height}`);
  assert.deepEqual(await Deno.readFile(`${dir}/grid.raw`), g.pixels);
  // grey grids are unchanged: one channel, and the default
  const grey = imageGrid(images, count, rows, cols, gridCols, 2);
  assert.equal(grey.channels, 1);
  assert.equal(grey.pixels.length, g.width * g.height);
  assert.throws(() => imageGrid(images.subarray(1), count, rows, cols, 3, 1, 3), /values for 7/);
});
