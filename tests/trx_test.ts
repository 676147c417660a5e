/**
 * TRX reader and writer: hand-built archives (independent of writeTrx) with float16/32/64
 * positions, uint32/64 offsets with and without the sentinel, dpv/dps/dpg and groups, a
 * folder nested one level in the zip; float16 conversion against the platform's
 * DataView.setFloat16 where it exists; every validation a one-line TrxError naming the file;
 * a writer round trip; and a seeded fuzz of mutated entries that either parse to finite
 * streamlines or throw TrxError.
 */

import assert from "node:assert/strict";
import { zipSync } from "fflate";
import {
  halfToNumber,
  numberToHalf,
  parseTrx,
  parseTrxEntries,
  TrxError,
  type TrxTractogram,
  writeTrx,
} from "../src/data/trx.ts";
import { spaceFromAffine } from "../src/data/tractogram.ts";
import { mulberry32 } from "../src/io/random.ts";

const AFFINE = [[-2, 0, 0, 90], [0, 2, 0, -126], [0, 0, 3, -72], [0, 0, 0, 1]];
const enc = new TextEncoder();

function header(ns: number, nv: number, extra: Record<string, unknown> = {}): Uint8Array {
  return enc.encode(JSON.stringify({
    VOXEL_TO_RASMM: AFFINE,
    DIMENSIONS: [91, 109, 91],
    NB_STREAMLINES: ns,
    NB_VERTICES: nv,
    ...extra,
  }));
}

function f32(values: number[]): Uint8Array {
  const b = new Uint8Array(4 * values.length), v = new DataView(b.buffer);
  values.forEach((x, i) => v.setFloat32(4 * i, x, true));
  return b;
}
function f64(values: number[]): Uint8Array {
  const b = new Uint8Array(8 * values.length), v = new DataView(b.buffer);
  values.forEach((x, i) => v.setFloat64(8 * i, x, true));
  return b;
}
function u32(values: number[]): Uint8Array {
  const b = new Uint8Array(4 * values.length), v = new DataView(b.buffer);
  values.forEach((x, i) => v.setUint32(4 * i, x, true));
  return b;
}
function u64(values: number[]): Uint8Array {
  const b = new Uint8Array(8 * values.length), v = new DataView(b.buffer);
  values.forEach((x, i) => v.setBigUint64(8 * i, BigInt(x), true));
  return b;
}
/** float16 bits written by hand: exact small values (1.5 = 0x3e00, -2 = 0xc000, 0.25 = 0x3400). */
function f16bits(bits: number[]): Uint8Array {
  const b = new Uint8Array(2 * bits.length), v = new DataView(b.buffer);
  bits.forEach((x, i) => v.setUint16(2 * i, x, true));
  return b;
}

// Three streamlines of 2, 1 and 3 points.
const P = [1, 2, 3, 4, 5, 6, -7, 8.5, 9, 10, 11, 12, 13, 14, 15, 16.25, 17, 18];
const LINES = [P.slice(0, 6), P.slice(6, 9), P.slice(9)];

function base(): Record<string, Uint8Array> {
  return {
    "header.json": header(3, 6),
    "positions.3.float32": f32(P),
    "offsets.uint64": u64([0, 2, 3, 6]),
    "dpv/fa.float32": f32([0, 0, 0, 0, 0, 0]),
    "dps/w.2.float64": f64([0, 0, 0, 0, 0, 0]),
    "groups/G.uint32": u32([2, 0]),
    "dpg/G/mean.float32": f32([0.5]),
    "notes/readme.txt": enc.encode("hello"),
  };
}

Deno.test("trx: hand-built archives: dtypes, sentinel or not, dpv/dps/dpg skipped, groups read", () => {
  const t = parseTrx(zipSync(base()), "a.trx");
  assert.deepEqual(t.streamlines.map((s) => Array.from(s)), LINES);
  assert.deepEqual(t.header.dpv, ["dpv/fa.float32"]);
  assert.deepEqual(t.header.dps, ["dps/w.2.float64"]);
  assert.deepEqual(t.header.dpg, ["dpg/G/mean.float32"]);
  assert.deepEqual(t.header.ignored, ["notes/readme.txt"]);
  assert.deepEqual(Array.from(t.groups.G), [2, 0]);
  assert.equal(t.header.sentinel, true);
  assert.deepEqual(t.space.voxelSize, [2, 2, 3]);
  assert.equal(t.space.voxelOrder, "LAS");

  // uint32 offsets without the sentinel, float64 positions, in a deflated zip nested in a folder.
  const nested = zipSync({
    "tract/header.json": header(3, 6),
    "tract/positions.3.float64": f64(P),
    "tract/offsets.uint32": u32([0, 2, 3]),
  }, { level: 6 });
  const n = parseTrx(nested, "nested.trx");
  assert.deepEqual(n.streamlines.map((s) => Array.from(s)), LINES);
  assert.equal(n.header.sentinel, false);

  // float16 positions by hand: 1.5, -2, 0.25 and 65504 (the largest half).
  const h = parseTrxEntries({
    "header.json": header(1, 2),
    "positions.3.float16": f16bits([0x3e00, 0xc000, 0x3400, 0x7bff, 0, 0x8000]),
    "offsets.uint32": u32([0, 2]),
  }, "half.trx");
  assert.deepEqual(Array.from(h.streamlines[0]), [1.5, -2, 0.25, 65504, 0, -0]);
});

Deno.test("trx: float16 conversion: every half round-trips; rounding matches DataView.setFloat16", () => {
  for (let b = 0; b < 65536; b++) {
    const v = halfToNumber(b);
    if (!Number.isNaN(v)) assert.equal(numberToHalf(v), b, `bits ${b}`);
  }
  const dv = new DataView(new ArrayBuffer(2)) as DataView & {
    setFloat16?: (o: number, v: number) => void;
  };
  const next = mulberry32(16);
  let checked = 0;
  if (typeof dv.setFloat16 === "function") {
    for (let i = 0; i < 100000; i++) {
      const x = (next() - 0.5) * 2 ** (next() * 44 - 26);
      dv.setFloat16(0, x);
      assert.equal(numberToHalf(x), dv.getUint16(0), `value ${x}`);
      checked++;
    }
  } else {
    // Without the platform's conversion: ties to even and overflow by hand.
    assert.equal(numberToHalf(1 + 2 ** -11), 0x3c00); // halfway between 1 and 1 + 2^-10: even
    assert.equal(numberToHalf(1 + 3 * 2 ** -11), 0x3c02);
    assert.equal(numberToHalf(65520), 0x7c00);
  }
  console.log(`float16: 65536 round trips, ${checked} values against setFloat16`);
});

Deno.test("trx: writeTrx -> parseTrx round trip: positions dtypes, offsets dtypes, groups, deflate", () => {
  const next = mulberry32(3);
  const lines = [5, 1, 12, 2].map((p) =>
    Float32Array.from({ length: 3 * p }, () => (next() - 0.5) * 200)
  );
  const space = spaceFromAffine(AFFINE.flat(), [91, 109, 91]);
  for (const positions of ["float32", "float64"] as const) {
    for (const offsets of ["uint32", "uint64"] as const) {
      const bytes = writeTrx(lines, space, {
        positions,
        offsets,
        groups: { A: [3, 1] },
        compress: offsets === "uint32",
      });
      const t = parseTrx(bytes, "rt.trx");
      assert.deepEqual(t.streamlines, lines);
      assert.deepEqual(t.space, space);
      assert.deepEqual(Array.from(t.groups.A), [3, 1]);
      assert.equal(t.header.sentinel, true);
    }
  }
  // float16: each value is the nearest half.
  const t16 = parseTrx(writeTrx(lines, space, { positions: "float16" }), "h.trx");
  t16.streamlines.forEach((s, k) =>
    s.forEach((v, i) => assert.equal(v, halfToNumber(numberToHalf(lines[k][i]))))
  );
  assert.throws(() => writeTrx([new Float32Array(4)], space), RangeError);
  assert.throws(() => writeTrx(lines, space, { groups: { "../x": [0] } }), RangeError);
  assert.throws(() => writeTrx(lines, space, { groups: { A: [4] } }), RangeError);
});

Deno.test("trx: every validation is a one-line TrxError naming the file", () => {
  const without = (k: string) => {
    const e = base();
    delete e[k];
    return e;
  };
  const withEntry = (k: string, v: Uint8Array) => ({ ...base(), [k]: v });
  const cases: [Record<string, Uint8Array>, RegExp][] = [
    [without("header.json"), /no header\.json/],
    [withEntry("header.json", enc.encode("{nope")), /header\.json is not valid JSON/],
    [withEntry("header.json", enc.encode("[1]")), /not a JSON object/],
    [withEntry("header.json", header(-1, 6)), /NB_STREAMLINES is -1/],
    [
      withEntry("header.json", header(3, 6, { VOXEL_TO_RASMM: [[1, 0, 0]] })),
      /VOXEL_TO_RASMM is not 4 lists/,
    ],
    [
      withEntry(
        "header.json",
        header(3, 6, { VOXEL_TO_RASMM: [[0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]] }),
      ),
      /is singular/,
    ],
    [withEntry("header.json", header(3, 6, { DIMENSIONS: [1, 0, 2] })), /DIMENSIONS is \[1,0,2\]/],
    [without("positions.3.float32"), /no positions arrays/],
    [withEntry("positions.3.float64", f64(P)), /2 positions arrays/],
    [without("offsets.uint64"), /no offsets arrays/],
    [
      withEntry("positions.3.float32", f32(P.slice(1))),
      /positions\.3\.float32 has 68 bytes, its shape needs 72/,
    ],
    [withEntry("offsets.uint64", u64([0, 2])), /not 3 or 4 \(with the sentinel\) offsets/],
    [withEntry("offsets.uint64", u64([0, 2, 3, 5])), /sentinel is 5, NB_VERTICES is 6/],
    [withEntry("offsets.uint64", u64([1, 2, 3, 6])), /first offset is 1/],
    [withEntry("offsets.uint64", u64([0, 3, 2, 6])), /offsets decrease .* at streamline 1/],
    [
      withEntry("offsets.uint64", u64([0, 2, 9])),
      /offsets decrease or pass NB_VERTICES at streamline 2/,
    ],
    [
      withEntry("positions.3.float32", f32([...P.slice(0, 5), NaN, ...P.slice(6)])),
      /streamline 0 point 1 is not finite/,
    ],
    [
      withEntry("dps/w.2.float64", f64([0, 0, 0])),
      /dps\/w\.2\.float64 has 24 bytes, its shape needs 48/,
    ],
    [withEntry("dpv/fa.float32", f32([0])), /dpv\/fa\.float32 has 4 bytes/],
    [withEntry("groups/G.uint32", u32([3])), /groups\/G\.uint32 index 0 is 3, not in 0\.\.2/],
    [
      withEntry("groups/H.float32", f32([0])),
      /group groups\/H\.float32 must be one column of integers/,
    ],
    [withEntry("dpg/X/m.float32", f32([0])), /group "X", which has no groups\/ array/],
    [withEntry("positions.float32", f32(P)), /unsupported array positions\.float32/],
  ];
  for (const [entries, re] of cases) {
    assert.throws(() => parseTrx(zipSync(entries), "bad.trx"), (e: unknown) => {
      assert.ok(e instanceof TrxError, String(e));
      assert.match(e.message, re);
      assert.match(e.message, /^bad\.trx: /);
      assert.ok(!e.message.includes("\n"));
      return true;
    });
  }
  assert.throws(() => parseTrx(new Uint8Array(8), "z.trx"), /z\.trx: not a zipped TRX file/);
  assert.throws(
    () => parseTrx(zipSync(base()).slice(0, 50), "z.trx"),
    /z\.trx: damaged or unsupported zip/,
  );
});

Deno.test("trx: fuzz: mutated entries parse to finite streamlines or throw TrxError", () => {
  const next = mulberry32(777);
  const int = (n: number) => Math.floor(next() * n);
  let cases = 0, parsed = 0;
  const keys = Object.keys(base());
  for (let i = 0; i < 6000; i++) {
    const e = base();
    const k = keys[int(keys.length)];
    const m = e[k].slice();
    const kind = i % 3;
    if (kind === 0 && m.length) {
      for (let f = 1 + int(3); f > 0; f--) m[int(m.length)] ^= 1 << int(8);
      e[k] = m;
    } else if (kind === 1) {
      e[k] = m.subarray(0, int(m.length + 1));
    } else if (k === "header.json") {
      const h = JSON.parse(new TextDecoder().decode(m));
      const field = ["NB_STREAMLINES", "NB_VERTICES", "DIMENSIONS"][int(3)];
      h[field] = [0, 1, 7, 2 ** 32, 2 ** 53, -3, 1.5, "6", null][int(9)];
      e[k] = enc.encode(JSON.stringify(h));
    } else {
      e[k] = new Uint8Array([...m, ...Array.from({ length: 1 + int(8) }, () => int(256))]);
    }
    cases++;
    let t: TrxTractogram;
    try {
      t = parseTrxEntries(e, "fuzz.trx");
    } catch (err) {
      if (err instanceof TrxError) continue;
      throw new Error(`case ${i} (${k}): ${err instanceof Error ? err.stack : err}`);
    }
    let values = 0;
    for (const s of t.streamlines) {
      for (const v of s) assert.ok(Number.isFinite(v));
      values += s.length;
    }
    assert.ok(values <= 3 * 6 * 2);
    parsed++;
  }
  console.log(`fuzz: ${cases} archives, ${parsed} parsed, the rest TrxError`);
  assert.ok(parsed > 100 && parsed < cases - 1000, `parsed ${parsed} of ${cases}`);
});
