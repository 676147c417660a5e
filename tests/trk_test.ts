/**
 * TrackVis .trk reader and writer: hand-built files (independent of writeTrk) with points
 * worked out by hand, scalars and properties skipped, big-endian files, version-1 files with
 * no matrix, every validation as a one-line TrkError naming the file, an exact writer round
 * trip, and a seeded fuzz of mutated and truncated files that either parse to finite
 * streamlines (no bigger than the file) or throw TrkError.
 */

import assert from "node:assert/strict";
import { parseTrk, type Tractogram, TrkError, writeTrk } from "../src/data/trk.ts";
import { mulberry32 } from "../src/io/random.ts";

interface Spec {
  le?: boolean;
  version?: number;
  dims?: number[];
  vs?: number[];
  affine?: number[];
  order?: string;
  ns?: number;
  np?: number;
  nCount?: number;
  hdrSize?: number;
  magic?: string;
  /** Each record: its points (voxmm); scalar and property slots are filled with `fill`. */
  records: number[][][];
  fill?: number;
}

/** Builds a .trk file by hand from the TrackVis header layout (not via writeTrk). */
function build(o: Spec): Uint8Array {
  const le = o.le ?? true, ns = o.ns ?? 0, np = o.np ?? 0;
  let size = 1000;
  for (const r of o.records) size += 4 + 4 * (r.length * (3 + ns) + np);
  const b = new Uint8Array(size);
  const v = new DataView(b.buffer);
  b.set(new TextEncoder().encode(o.magic ?? "TRACK"));
  (o.dims ?? [10, 10, 10]).forEach((d, i) => v.setInt16(6 + 2 * i, d, le));
  (o.vs ?? [1, 1, 1]).forEach((d, i) => v.setFloat32(12 + 4 * i, d, le));
  v.setInt16(36, ns, le);
  v.setInt16(238, np, le);
  (o.affine ?? [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]).forEach((d, i) =>
    v.setFloat32(440 + 4 * i, d, le)
  );
  b.set(new TextEncoder().encode(o.order ?? "RAS"), 948);
  v.setInt32(988, o.nCount ?? o.records.length, le);
  v.setInt32(992, o.version ?? 2, le);
  v.setInt32(996, o.hdrSize ?? 1000, le);
  let at = 1000;
  for (const r of o.records) {
    v.setInt32(at, r.length, le);
    at += 4;
    for (const p of r) {
      for (const x of p) v.setFloat32((at += 4) - 4, x, le);
      for (let j = 0; j < ns; j++) v.setFloat32((at += 4) - 4, o.fill ?? NaN, le);
    }
    for (let j = 0; j < np; j++) v.setFloat32((at += 4) - 4, o.fill ?? NaN, le);
  }
  return b;
}

function assertPoints(got: Float32Array, want: number[][], tol = 1e-5) {
  assert.equal(got.length, 3 * want.length);
  want.flat().forEach((w, i) => {
    assert.ok(Math.abs(got[i] - w) <= tol, `coordinate ${i}: got ${got[i]}, want ${w}`);
  });
}

/** A LAS affine with 2 x 2 x 3 mm voxels and a translation (the hand-worked example). */
const LAS = [-2, 0, 0, 90, 0, 2, 0, -126, 0, 0, 3, -72, 0, 0, 0, 1];

Deno.test("trk: hand-built file, voxmm to RAS worked by hand, scalars and properties skipped", () => {
  for (const le of [true, false]) {
    // voxmm (3, 5, 7.5) / (2, 2, 3) - 0.5 = voxel (1, 2, 2); LAS affine: (-2+90, 4-126, 6-72).
    // voxmm (0, 0, 0) -> voxel (-0.5, -0.5, -0.5) -> (91, -127, -73.5).
    const file = build({
      le,
      vs: [2, 2, 3],
      affine: LAS,
      order: "LAS",
      ns: 2,
      np: 3,
      records: [[[3, 5, 7.5], [0, 0, 0]], [[3, 5, 7.5]]],
    });
    const t = parseTrk(file, "hand.trk");
    assert.equal(t.header.littleEndian, le);
    assert.deepEqual(t.header.dimensions, [10, 10, 10]);
    assert.deepEqual(t.header.voxelSize, [2, 2, 3]);
    assert.equal(t.header.voxelOrder, "LAS");
    assert.equal(t.header.scalars, 2);
    assert.equal(t.header.properties, 3);
    assert.equal(t.header.count, 2);
    assert.equal(t.header.version, 2);
    assert.equal(t.streamlines.length, 2);
    assertPoints(t.streamlines[0], [[88, -122, -66], [91, -127, -73.5]]);
    assertPoints(t.streamlines[1], [[88, -122, -66]]);
  }
});

Deno.test("trk: n_count 0 reads to the end; version 1 without a matrix uses diag(voxel size)", () => {
  const recs = [[[3, 5, 7.5]], [[1, 1, 1], [2, 2, 2]], [[0, 0, 0]]];
  const t = parseTrk(build({ nCount: 0, records: recs }), "open.trk");
  assert.equal(t.streamlines.length, 3);
  assertPoints(t.streamlines[1], [[0.5, 0.5, 0.5], [1.5, 1.5, 1.5]]);
  // All-zero matrix: RAS = voxmm - voxel_size / 2 = (3 - 1, 5 - 1, 7.5 - 1.5).
  const zero = new Array(16).fill(0);
  const v1 = parseTrk(
    build({ version: 1, vs: [2, 2, 3], affine: zero, order: "LPS", records: recs }),
    "v1.trk",
  );
  assertPoints(v1.streamlines[0], [[2, 4, 6]]);
  assert.deepEqual(v1.header.voxelToRas, [2, 0, 0, 0, 0, 2, 0, 0, 0, 0, 3, 0, 0, 0, 0, 1]);
  // An empty file (no streamlines) is valid.
  assert.equal(parseTrk(build({ records: [] }), "empty.trk").streamlines.length, 0);
});

Deno.test("trk: writeTrk -> parseTrk round trip (oblique affine, scalars, properties, both endians)", () => {
  const next = mulberry32(7);
  const streamlines = Array.from(
    { length: 25 },
    (_, k) => Float32Array.from({ length: 3 * (1 + (k % 9) * 7) }, () => (next() - 0.5) * 200),
  );
  const c = Math.cos(0.3), s = Math.sin(0.3);
  const affine = [1.5 * c, -1.5 * s, 0, -80, 1.5 * s, 1.5 * c, 0, 100, 0, 0, 2.5, -30, 0, 0, 0, 1];
  for (const bigEndian of [false, true]) {
    for (const [scalars, properties] of [[0, 0], [3, 2], [10, 10]]) {
      const bytes = writeTrk(streamlines, {
        voxelSize: [1.5, 1.5, 2.5],
        dimensions: [128, 128, 60],
        voxelToRas: affine,
        scalars,
        properties,
        bigEndian,
      });
      const t = parseTrk(bytes, "roundtrip.trk");
      assert.equal(t.header.count, 25);
      assert.equal(t.header.scalars, scalars);
      assert.equal(t.header.properties, properties);
      assert.equal(t.header.littleEndian, !bigEndian);
      assert.deepEqual(t.header.dimensions, [128, 128, 60]);
      let maxErr = 0;
      t.streamlines.forEach((g, k) => {
        assert.equal(g.length, streamlines[k].length);
        g.forEach((v, i) => maxErr = Math.max(maxErr, Math.abs(v - streamlines[k][i])));
      });
      // float32 voxmm of coordinates up to ~200 mm: a few ulps of 256 (1.5e-5 each).
      console.log(`round trip (be=${bigEndian}, ${scalars}/${properties}): max err ${maxErr} mm`);
      assert.ok(maxErr < 1e-4, `round-trip error ${maxErr} mm`);
    }
  }
  // Identity with 1 mm voxels (what the phantom uses) is bit-exact for these points.
  const simple = [Float32Array.of(1.25, 2.5, -3.75, 10, 20, 30)];
  assert.deepEqual(parseTrk(writeTrk(simple)).streamlines, simple);
});

Deno.test("trk: writeTrk rejects bad input with RangeError", () => {
  assert.throws(() => writeTrk([new Float32Array(0)]), RangeError);
  assert.throws(() => writeTrk([new Float32Array(4)]), RangeError);
  assert.throws(() => writeTrk([], { voxelSize: [1, 0, 1] }), RangeError);
  assert.throws(() => writeTrk([], { scalars: 11 }), RangeError);
  assert.throws(() => writeTrk([], { voxelToRas: new Array(16).fill(0) }), RangeError);
  assert.throws(() => writeTrk([Float32Array.of(1e39, 0, 0)]), RangeError);
});

Deno.test("trk: every validation is a one-line TrkError naming the file", () => {
  const ok = { records: [[[1, 2, 3], [4, 5, 6]]] };
  const cases: [string, Uint8Array, RegExp][] = [
    ["short", new Uint8Array(500), /truncated: 500 bytes/],
    ["magic", build({ ...ok, magic: "TRACX" }), /not a TrackVis file/],
    ["hdr_size", build({ ...ok, hdrSize: 999 }), /hdr_size is 999/],
    ["version", build({ ...ok, version: 3 }), /version 3/],
    ["dims", build({ ...ok, dims: [10, 0, 10] }), /dimensions 10 0 10/],
    ["voxel size", build({ ...ok, vs: [1, -1, 1] }), /voxel sizes/],
    ["voxel size nan", build({ ...ok, vs: [1, NaN, 1] }), /voxel sizes/],
    ["n_scalars", build({ ...ok, ns: -1, records: [] }), /n_scalars is -1/],
    ["n_properties", build({ ...ok, np: 11, records: [] }), /n_properties is 11/],
    ["affine nan", build({ ...ok, affine: [NaN, ...LAS.slice(1)] }), /non-finite/],
    ["last row", build({ ...ok, affine: [...LAS.slice(0, 12), 0, 0, 1, 1] }), /last row/],
    [
      "singular",
      build({ ...ok, affine: [1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1] }),
      /singular/,
    ],
    ["order", build({ ...ok, order: "LPS" }), /voxel_order "LPS" disagrees/],
    ["n_count<0", build({ ...ok, nCount: -2 }), /n_count is -2/],
    ["n_count>", build({ ...ok, nCount: 2 }), /n_count says 2 .* holds 1/],
    ["trailing", build({ records: [[[1, 2, 3]], [[1, 2, 3]]], nCount: 1 }), /trailing bytes/],
    ["zero points", build({ records: [[]] }), /0 points/],
    ["nonfinite", build({ records: [[[1, Infinity, 3]]] }), /not finite/],
  ];
  const huge = build(ok);
  new DataView(huge.buffer).setInt32(1000, 2 ** 31 - 1, true);
  cases.push(["huge count", huge, /2147483647 points .* only 28 bytes remain/]);
  const cut = build(ok);
  cases.push(["cut record", cut.subarray(0, cut.length - 1), /truncated: streamline 0/]);
  cases.push(["cut count", build({ ...ok, nCount: 0 }).subarray(0, 1002), /too few/]);
  for (const [what, bytes, re] of cases) {
    assert.throws(() => parseTrk(bytes, "bad.trk"), (e: unknown) => {
      assert.ok(e instanceof TrkError, `${what}: ${e}`);
      assert.match(e.message, re, what);
      assert.match(e.message, /^bad\.trk: /, what);
      assert.ok(!e.message.includes("\n"), what);
      return true;
    });
  }
});

/** Throws unless `t` is a sane parse of `bytes`: finite points, no bigger than the file. */
function checkSane(t: Tractogram, bytes: Uint8Array) {
  let floats = 0;
  for (const s of t.streamlines) {
    if (s.length === 0 || s.length % 3 !== 0) throw new Error(`bad streamline length`);
    for (const v of s) if (!Number.isFinite(v)) throw new Error(`non-finite point`);
    floats += s.length;
  }
  // Every point costs at least 12 bytes of file, so the output is no bigger than the input.
  if (4 * floats > bytes.length) throw new Error(`output ${4 * floats} bytes > input`);
  if (t.header.count !== t.streamlines.length) throw new Error("count mismatch");
}

Deno.test("trk: fuzz: mutated and truncated files parse to finite streamlines or throw TrkError", () => {
  const next = mulberry32(20261121);
  const int = (n: number) => Math.floor(next() * n);
  const rec = (p: number) =>
    Array.from({ length: p }, () => [next() * 50, next() * 50, next() * 20]);
  const bases = [
    build({ ns: 1, np: 2, fill: 1.5, records: [rec(3), rec(1), rec(5)] }),
    build({ nCount: 0, vs: [2, 2, 3], affine: LAS, order: "LAS", records: [rec(4), rec(2)] }),
    build({ le: false, version: 1, affine: new Array(16).fill(0), records: [rec(6)] }),
    writeTrk([Float32Array.of(1, 2, 3, 4, 5, 6)], { scalars: 2, properties: 1 }),
  ];
  // Header fields worth hitting more often than the unused padding.
  const hot = [
    ...[0, 6, 12, 36, 238, 440, 948, 988, 992, 996].flatMap((o) => [o, o + 1, o + 2, o + 3]),
    ...Array.from({ length: 64 }, (_, i) => 440 + i),
  ];
  const started = performance.now();
  let cases = 0, parsed = 0;
  const attempt = (bytes: Uint8Array, what: string) => {
    cases++;
    let t: Tractogram;
    try {
      t = parseTrk(bytes, "fuzz.trk");
    } catch (e) {
      if (e instanceof TrkError) return;
      throw new Error(`${what}: ${e instanceof Error ? e.stack : e}`);
    }
    checkSane(t, bytes);
    parsed++;
  };
  for (const base of bases) {
    // Truncation at every length.
    for (let n = 0; n <= base.length; n++) attempt(base.subarray(0, n), `cut ${n}`);
    for (let i = 0; i < 3000; i++) {
      const m = base.slice();
      const kind = i % 5;
      if (kind === 0) {
        // Bit flips anywhere.
        for (let f = 1 + int(3); f > 0; f--) m[int(m.length)] ^= 1 << int(8);
      } else if (kind === 1) {
        // Random bytes in the header fields that matter.
        for (let f = 1 + int(3); f > 0; f--) m[hot[int(hot.length)]] = int(256);
      } else if (kind === 2) {
        // Random bytes in the body.
        for (let f = 1 + int(4); f > 0; f--) m[1000 + int(m.length - 1000)] = int(256);
      } else if (kind === 3) {
        // Huge or negative counts: a point count, n_count, n_scalars or n_properties.
        const v = new DataView(m.buffer);
        const big = [2 ** 31 - 1, -(2 ** 31), 2 ** 30, 0x7fff, -1, 1e6, 65535][int(7)];
        const le = v.getInt32(996, true) === 1000;
        const field = int(4);
        if (field === 0) v.setInt32(1000, big | 0, le);
        if (field === 1) v.setInt32(988, big | 0, le);
        if (field === 2) v.setInt16(36, big << 16 >> 16, le);
        if (field === 3) v.setInt16(238, big << 16 >> 16, le);
      } else {
        // Bytes inserted or deleted in the body.
        const at = 1000 + int(m.length - 1000);
        const k = 1 + int(8);
        const out = next() < 0.5
          ? new Uint8Array([...m.subarray(0, at), ...new Uint8Array(k), ...m.subarray(at)])
          : new Uint8Array([...m.subarray(0, at), ...m.subarray(at + k)]);
        attempt(out, `insert/delete ${i}`);
        continue;
      }
      attempt(m, `mutation ${i} kind ${kind}`);
    }
  }
  const ms = performance.now() - started;
  console.log(`fuzz: ${cases} files, ${parsed} parsed, the rest TrkError, ${ms.toFixed(0)} ms`);
  assert.ok(cases >= 10000, `only ${cases} fuzz cases`);
  assert.ok(parsed > 100 && parsed < cases - 1000, `parsed ${parsed} of ${cases}`);
});
