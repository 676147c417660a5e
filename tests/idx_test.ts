/**
 * IDX reader: every element type and rank, raw and gzipped; each error names the file on one
 * line; gzip bombs and lying headers cost bounded memory and time; and a seeded fuzz of
 * mutated and truncated files (raw and gzipped) either parses consistently or throws IdxError.
 */

import assert from "node:assert/strict";
import { gzipSync } from "fflate";
import {
  crc32,
  decodeIdxValues,
  DEFAULT_MAX_OUTPUT_BYTES,
  DEFLATE_MAX_RATIO,
  encodeIdx,
  IDX_ELEMENT_BYTES,
  type IdxArray,
  IdxError,
  type IdxType,
  parseIdx,
  type ParseIdxOptions,
  readIdxFile,
} from "../src/data/idx.ts";

const TYPES: [IdxType, number][] = [
  ["u8", 0x08],
  ["i8", 0x09],
  ["i16", 0x0b],
  ["i32", 0x0c],
  ["f32", 0x0d],
  ["f64", 0x0e],
];

/** A small seeded PRNG (mulberry32), so every run tests the same files. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Builds an IDX file by hand (independently of encodeIdx): magic, BE dims, payload. */
function build(typeCode: number, dims: number[], payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + payload.length);
  const v = new DataView(out.buffer);
  out[2] = typeCode;
  out[3] = dims.length;
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d, false));
  out.set(payload, 4 + 4 * dims.length);
  return out;
}

/** Big-endian payload holding `values` as `type`. */
function payloadOf(type: IdxType, values: number[]): Uint8Array {
  const size = IDX_ELEMENT_BYTES[type];
  const out = new Uint8Array(values.length * size);
  const v = new DataView(out.buffer);
  values.forEach((x, i) => {
    const at = i * size;
    if (type === "u8") v.setUint8(at, x);
    else if (type === "i8") v.setInt8(at, x);
    else if (type === "i16") v.setInt16(at, x, false);
    else if (type === "i32") v.setInt32(at, x, false);
    else if (type === "f32") v.setFloat32(at, x, false);
    else v.setFloat64(at, x, false);
  });
  return out;
}

function sampleValues(type: IdxType, n: number, next: () => number): number[] {
  return Array.from({ length: n }, () => {
    const r = next();
    if (type === "u8") return Math.floor(r * 256);
    if (type === "i8") return Math.floor(r * 256) - 128;
    if (type === "i16") return Math.floor(r * 65536) - 32768;
    if (type === "i32") return Math.floor(r * 2 ** 32) - 2 ** 31;
    if (type === "f32") return Math.fround((r - 0.5) * 1e3);
    return (r - 0.5) * 1e300;
  });
}

function gz(bytes: Uint8Array, opts: { filename?: string } = {}): Uint8Array {
  return gzipSync(bytes, { level: 6, mtime: 0, ...opts });
}

function product(dims: number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** Asserts `f` throws an IdxError whose one-line message starts with `name: ` and matches. */
function assertIdxError(f: () => unknown, name: string, pattern: RegExp): IdxError {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof IdxError, `expected IdxError, got ${e}`);
    assert.ok(e.message.startsWith(`${name}: `), `message does not name ${name}: ${e.message}`);
    assert.ok(!e.message.includes("\n"), `message is not one line: ${e.message}`);
    assert.match(e.message, pattern);
    return e;
  }
  assert.fail(`expected an IdxError matching ${pattern}`);
}

Deno.test("idx: every element type and rank parses, raw and gzipped", () => {
  const next = rng(7);
  const shapes = [[5], [3, 4], [2, 3, 5], [2, 1, 3, 2], [1]];
  for (const [type, code] of TYPES) {
    for (const dims of shapes) {
      const values = sampleValues(type, product(dims), next);
      const payload = payloadOf(type, values);
      const raw = build(code, dims, payload);
      for (const [label, file] of [["raw", raw], ["gz", gz(raw)]] as const) {
        const arr = parseIdx(file, `${type}-${dims.join("x")}.${label}`);
        assert.equal(arr.type, type);
        assert.deepEqual(arr.dims, dims);
        assert.deepEqual(arr.data, payload);
        assert.deepEqual(Array.from(decodeIdxValues(arr)), values, `${type} ${label}`);
      }
      // encodeIdx writes what build writes.
      assert.deepEqual(encodeIdx({ type, dims, data: payload }), raw);
    }
  }
});

Deno.test("idx: a raw file's data is a view of the input; gzip allocates exactly its size", () => {
  const raw = build(0x08, [4, 7], new Uint8Array(28).fill(3));
  const arr = parseIdx(raw, "view.idx", { onAllocate: () => assert.fail("raw allocated") });
  assert.equal(arr.data.buffer, raw.buffer);
  const sizes: number[] = [];
  parseIdx(gz(raw), "view.idx.gz", { onAllocate: (n) => sizes.push(n) });
  assert.deepEqual(sizes, [raw.length]);
});

Deno.test("idx: gzip variants: multi-member, file name field, a stream of many 16 KiB pushes", () => {
  const raw = build(0x08, [6, 5], Uint8Array.from({ length: 30 }, (_, i) => i * 7));
  // Split across two and three members (cat a.gz b.gz is a valid gzip file).
  for (const cuts of [[11], [3, 20], [0, 30]]) {
    const parts: Uint8Array[] = [];
    let at = 0;
    for (const c of [...cuts, raw.length]) {
      parts.push(gz(raw.subarray(at, c)));
      at = c;
    }
    const file = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) file.set(p, (o += p.length) - p.length);
    assert.deepEqual(parseIdx(file, "multi.gz").data, raw.subarray(12), `cuts ${cuts}`);
  }
  const named = gz(raw, { filename: "images-idx2-ubyte" });
  assert.equal(named[3] & 8, 8);
  assert.deepEqual(parseIdx(named, "named.gz").dims, [6, 5]);
  // A gzip stream over 16 KiB (several pushes) of incompressible data.
  const next = rng(3);
  const big = build(
    0x08,
    [300, 28, 28],
    Uint8Array.from({ length: 300 * 784 }, () => next() * 256),
  );
  assert.deepEqual(parseIdx(gz(big), "big.gz").data, big.subarray(16));
});

Deno.test("idx: each malformed file gives its one-line IdxError naming the file", () => {
  const good = build(0x08, [2, 3], new Uint8Array(6));
  const cases: [string, Uint8Array, RegExp, RegExp?][] = [
    ["empty", new Uint8Array(0), /empty file/],
    ["magic", Uint8Array.of(1, 0, 8, 1, 0, 0, 0, 1, 5), /not an IDX file: starts with 01 00/],
    ["magic2", Uint8Array.of(0, 7, 8, 1, 0, 0, 0, 1, 5), /not an IDX file: starts with 00 07/],
    ["text", new TextEncoder().encode("hello, world"), /not an IDX file/],
    ["type", Uint8Array.of(0, 0, 0x0a, 1, 0, 0, 0, 1, 5), /unknown IDX element type 0x0a/],
    ["ndims0", Uint8Array.of(0, 0, 8, 0), /0 dimensions, expected 1 to 4/],
    ["ndims5", build(0x08, [1, 1, 1, 1, 1], new Uint8Array(1)), /5 dimensions/],
    ["zero-dim", build(0x08, [3, 0, 2], new Uint8Array(0)), /dimension 2 of 3 is 0/],
    ["short", Uint8Array.of(0, 0), /truncated: file has 2 bytes, too short/],
    ["short-header", good.subarray(0, 9), /truncated: file has 9 bytes, too short/],
    [
      "truncated",
      good.subarray(0, 14),
      /truncated: header says 2x3 u8 \(6 bytes of data\), file has 2/,
    ],
    [
      "trailing",
      Uint8Array.of(...good, 1, 2),
      /trailing bytes: header says 2x3 u8 \(6 bytes of data\), file has 8 \(2 extra\)/,
      /trailing bytes: header says 2x3 u8 \(6 bytes of data\), gunzipped file has more/,
    ],
    [
      "i32-truncated",
      build(0x0c, [60000, 28, 28], new Uint8Array(1000)),
      /truncated: header says 60000x28x28 i32 \(188160000 bytes of data\), file has 1000/,
      /truncated: header says 60000x28x28 i32 .*, but a \d+-byte gzip file cannot inflate to/,
    ],
  ];
  for (const [name, bytes, pattern, gzOnly] of cases) {
    assertIdxError(() => parseIdx(bytes, `${name}.idx`), `${name}.idx`, pattern);
    // The same inside gzip: the same IDX check (with "gunzipped file" wording for sizes).
    const gzPattern = gzOnly ?? new RegExp(
      pattern.source.replace("file has", "gunzipped file has").replace(
        "empty file",
        "empty gunzipped file",
      ),
    );
    assertIdxError(() => parseIdx(gz(bytes), `${name}.gz`), `${name}.gz`, gzPattern);
  }
  // gzip-level damage.
  const z = gz(good);
  const flipped = z.slice();
  flipped[12] ^= 0x55;
  const badCrc = z.slice();
  badCrc[z.length - 6] ^= 1;
  const badSize = z.slice();
  badSize[z.length - 1] ^= 1;
  const method = z.slice();
  method[2] = 7;
  const gzCases: [string, Uint8Array, RegExp][] = [
    ["cut", z.subarray(0, z.length - 12), /truncated|corrupt/],
    ["cut-trailer", z.subarray(0, z.length - 3), /corrupt gzip data: CRC-32 or length/],
    ["no-trailer", z.subarray(0, z.length - 8), /corrupt gzip data: CRC-32 or length/],
    // A damaged deflate stream may inflate to a bad header before the CRC-32 is reached.
    ["flipped", flipped, /corrupt|not an IDX file|IDX/],
    ["bad-crc", badCrc, /corrupt gzip data: CRC-32/],
    ["bad-size", badSize, /corrupt gzip data: CRC-32 or length/],
    ["garbage-after", Uint8Array.of(...z, 9, 9, 9, 9, 9), /corrupt/],
    ["junk-after", Uint8Array.of(...z, 0), /corrupt/],
    ["method", method, /corrupt or truncated gzip data \(invalid gzip data\)/],
    ["magic-only", Uint8Array.of(0x1f, 0x8b), /empty gunzipped file/],
    ["empty-member", gz(new Uint8Array(0)), /empty gunzipped file/],
  ];
  for (const [name, bytes, pattern] of gzCases) {
    assertIdxError(() => parseIdx(bytes, `${name}.gz`), `${name}.gz`, pattern);
  }
});

Deno.test("idx: readIdxFile reads a file and says which path is missing and what to do", async () => {
  const dir = await Deno.makeTempDir({ prefix: "idx_test_" });
  try {
    const raw = build(0x0d, [2, 2], payloadOf("f32", [1.5, -2, 0, 8]));
    await Deno.writeFile(`${dir}/a.idx.gz`, gz(raw));
    const arr = await readIdxFile(`${dir}/a.idx.gz`);
    assert.deepEqual(Array.from(decodeIdxValues(arr)), [1.5, -2, 0, 8]);
    const missing = `${dir}/nope.idx`;
    await assert.rejects(
      () => readIdxFile(missing, { missingHint: "pass --data-dir DIR" }),
      (e: Error) =>
        e instanceof IdxError &&
        e.message === `${missing}: file not found; pass --data-dir DIR`,
    );
    await assert.rejects(
      () => readIdxFile(missing),
      (e: Error) =>
        e instanceof IdxError && /nope\.idx: file not found; check the path/.test(e.message),
    );
    await assert.rejects(
      () => readIdxFile(dir),
      (e: Error) => e instanceof IdxError && e.message.startsWith(`${dir}: `),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("idx: gzip bombs and lying headers fail fast with bounded allocation", () => {
  const MiB = 1 << 20;
  const zerosMember = gz(new Uint8Array(MiB)); // ~1 KiB that inflates to 1 MiB
  assert.ok(zerosMember.length < 2048, `zeros member is ${zerosMember.length} bytes`);

  // 1. A ~1 MiB gzip inflating to 1 GiB, whose header claims 10x10 u8: aborted at once.
  const first = gz(build(0x08, [10, 10], new Uint8Array(100 + MiB)));
  const bomb = new Uint8Array(first.length + 1023 * zerosMember.length);
  bomb.set(first);
  for (let i = 0; i < 1023; i++) bomb.set(zerosMember, first.length + i * zerosMember.length);
  const allocs: number[] = [];
  let t = performance.now();
  assertIdxError(
    () => parseIdx(bomb, "bomb.gz", { onAllocate: (n) => allocs.push(n) }),
    "bomb.gz",
    /trailing bytes: header says 10x10 u8 \(100 bytes of data\), gunzipped file has more/,
  );
  assert.ok(performance.now() - t < 2000, `bomb took ${performance.now() - t} ms`);
  assert.deepEqual(allocs, [112]);

  // 2. A 1 KiB gzip whose header claims 1000x1000x1000 u8 (1 GB): it cannot hold that,
  // so nothing is allocated at all.
  const liar = gz(build(0x08, [1000, 1000, 1000], new Uint8Array(MiB)));
  assert.ok(liar.length < 2048);
  allocs.length = 0;
  t = performance.now();
  assertIdxError(
    () => parseIdx(liar, "liar.gz", { onAllocate: (n) => allocs.push(n) }),
    "liar.gz",
    /truncated: header says 1000x1000x1000 u8 .* cannot inflate to more than/,
  );
  assert.ok(performance.now() - t < 2000);
  assert.equal(allocs.length, 0);

  // 3. The maxOutputBytes cap: a real 1 MB file of zeros (1 KiB gzipped) is refused under a
  // smaller cap before any allocation, and read under the default one.
  const honest = gz(build(0x08, [100, 100, 100], new Uint8Array(1e6)));
  allocs.length = 0;
  const capped: ParseIdxOptions = { maxOutputBytes: 65536, onAllocate: (n) => allocs.push(n) };
  assertIdxError(() => parseIdx(honest, "honest.gz", capped), "honest.gz", /65536-byte limit/);
  assert.equal(allocs.length, 0);
  parseIdx(honest, "honest.gz", { onAllocate: (n) => allocs.push(n) });
  assert.deepEqual(allocs, [1e6 + 16]);

  // 4. A header over the default 2 GiB cap (u32 dims can claim ~2^128 bytes).
  const huge = gz(build(0x0e, [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], new Uint8Array(8)));
  assertIdxError(() => parseIdx(huge, "huge.gz"), "huge.gz", /2147483648-byte limit/);
  assert.equal(DEFAULT_MAX_OUTPUT_BYTES, 2 ** 31);
});

Deno.test("idx: crc32 matches known values", () => {
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
  const a = new TextEncoder().encode("hello, ");
  const b = new TextEncoder().encode("world");
  assert.equal(crc32(b, crc32(a)), crc32(new TextEncoder().encode("hello, world")));
});

// ---- fuzz ----

type Mutation = (f: Uint8Array, next: () => number) => Uint8Array;

const pick = (next: () => number, n: number) => Math.floor(next() * n);

const MUTATIONS: [string, Mutation][] = [
  ["set-byte", (f, next) => {
    const o = f.slice();
    if (o.length) o[pick(next, o.length)] = pick(next, 256);
    return o;
  }],
  ["flip-bit", (f, next) => {
    const o = f.slice();
    if (o.length) o[pick(next, o.length)] ^= 1 << pick(next, 8);
    return o;
  }],
  ["insert", (f, next) => {
    const at = pick(next, f.length + 1);
    const extra = Uint8Array.from({ length: 1 + pick(next, 8) }, () => pick(next, 256));
    return Uint8Array.of(...f.subarray(0, at), ...extra, ...f.subarray(at));
  }],
  ["delete", (f, next) => {
    const at = pick(next, f.length + 1);
    return Uint8Array.of(...f.subarray(0, at), ...f.subarray(at + 1 + pick(next, 8)));
  }],
  ["truncate", (f, next) => f.slice(0, pick(next, f.length))],
  [
    "append",
    (f, next) =>
      Uint8Array.of(...f, ...Array.from({ length: 1 + pick(next, 16) }, () => pick(next, 256))),
  ],
  ["header-type", (f, next) => {
    const o = f.slice();
    if (o.length > 2) {
      o[2] = next() < 0.5 ? [8, 9, 0x0b, 0x0c, 0x0d, 0x0e][pick(next, 6)] : pick(next, 256);
    }
    return o;
  }],
  ["header-ndims", (f, next) => {
    const o = f.slice();
    if (o.length > 3) o[3] = pick(next, 7);
    return o;
  }],
  ["header-dim", (f, next) => {
    const o = f.slice();
    const nd = Math.min(o[3] ?? 0, 4);
    if (nd === 0 || o.length < 4 + 4 * nd) return o;
    const v = new DataView(o.buffer);
    const at = 4 + 4 * pick(next, nd);
    const old = v.getUint32(at, false);
    const r = next();
    const value = r < 0.4
      ? old + pick(next, 5) - 2
      : r < 0.6
      ? 0
      : r < 0.8
      ? old * (2 + pick(next, 1000))
      : pick(next, 2 ** 32);
    v.setUint32(at, Math.max(0, Math.min(value, 0xffffffff)), false);
    return o;
  }],
];

function mutate(f: Uint8Array, next: () => number): Uint8Array {
  let o = f;
  const rounds = next() < 0.7 ? 1 : 2 + pick(next, 3);
  for (let i = 0; i < rounds; i++) o = MUTATIONS[pick(next, MUTATIONS.length)][1](o, next);
  return o;
}

Deno.test("idx: fuzz: 12000 mutated and truncated files, raw and gzipped, never misbehave", () => {
  const next = rng(20240611);
  const bases: Uint8Array[] = [];
  const shapes = [[7], [4, 5], [3, 4, 5], [2, 2, 3, 2], [1, 1], [40, 28]];
  for (const [type, code] of TYPES) {
    for (const dims of shapes) {
      bases.push(build(code, dims, payloadOf(type, sampleValues(type, product(dims), next))));
    }
  }
  const stats = { parsed: 0, errors: 0, cases: 0, maxMs: 0 };
  const kinds = new Map<string, number>();
  const t0 = performance.now();

  const check = (file: Uint8Array, original: IdxArray | null) => {
    const allocs: number[] = [];
    const t = performance.now();
    let arr: IdxArray | null = null;
    try {
      arr = parseIdx(file, "fuzz.idx", { onAllocate: (n) => allocs.push(n) });
    } catch (e) {
      if (!(e instanceof IdxError)) throw new Error(`not an IdxError: ${e}`, { cause: e });
      assert.ok(e.message.startsWith("fuzz.idx: ") && !e.message.includes("\n"), e.message);
      const kind = e.message.slice(10).replace(/[^a-z ].*$/i, "").trim();
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
      stats.errors++;
    }
    stats.maxMs = Math.max(stats.maxMs, performance.now() - t);
    stats.cases++;
    // Never allocate more than the file could hold, nor over the cap.
    const bound = Math.min(DEFAULT_MAX_OUTPUT_BYTES, DEFLATE_MAX_RATIO * file.length);
    for (const n of allocs) assert.ok(n <= bound, `allocated ${n} for a ${file.length}-byte file`);
    if (file[0] !== 0x1f) assert.equal(allocs.length, 0);
    if (arr === null) return;
    stats.parsed++;
    assert.ok(arr.dims.length >= 1 && arr.dims.length <= 4);
    assert.ok(arr.dims.every((d) => Number.isInteger(d) && d >= 1));
    assert.equal(arr.data.length, product(arr.dims) * IDX_ELEMENT_BYTES[arr.type]);
    // A gzip stream damaged after compression that still parses must decode to the original
    // (the CRC-32 trailer check); only header bytes like the mtime can change harmlessly.
    if (original !== null) {
      assert.deepEqual(arr.dims, original.dims);
      assert.deepEqual(arr.data, original.data);
    }
  };

  const N = 4000;
  for (let i = 0; i < N; i++) {
    const base = bases[i % bases.length];
    // 1. Raw: mutate the IDX bytes.
    check(mutate(base, next), null);
    // 2. Gzipped: mutate the IDX bytes, then compress (the IDX checks behind gunzip).
    check(gz(mutate(base, next)), null);
    // 3. Gzipped: compress, then damage the gzip stream itself (one mutation).
    const z = gz(base);
    const [, m] = MUTATIONS[pick(next, 6)]; // byte-level mutations only
    check(m(z, next), parseIdx(base, "base"));
  }
  const ms = performance.now() - t0;
  console.log(
    `fuzz: ${stats.cases} files in ${ms.toFixed(0)} ms (slowest ${stats.maxMs.toFixed(1)} ms): ` +
      `${stats.parsed} parsed, ${stats.errors} IdxError`,
  );
  console.log(`fuzz errors: ${[...kinds].map(([k, n]) => `${k} ${n}`).join(", ")}`);
  assert.equal(stats.cases, 3 * N);
  assert.ok(stats.parsed > 100 && stats.errors > 3 * N / 2, "fuzz should hit both outcomes");
  assert.ok(stats.maxMs < 1000, `one file took ${stats.maxMs} ms`);
});
