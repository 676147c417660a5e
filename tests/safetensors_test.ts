/**
 * safetensors: round trips, the exact byte layout of a small file checked against the format by
 * hand-built bytes, and a seeded fuzz of mutated and truncated files (each must parse
 * consistently or throw SafetensorsError, nothing else).
 */

import assert from "node:assert/strict";
import {
  encodeSafetensors,
  MAX_HEADER_BYTES,
  type ParsedSafetensors,
  parseSafetensors,
  type SafeTensor,
  SafetensorsError,
} from "../src/io/safetensors.ts";

/** mulberry32: a small seeded generator, uniform in [0, 1). */
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

const utf8 = new TextEncoder();

function le64(n: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, n, true);
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A file from a header object (serialized as given) and a byte buffer. */
function buildFile(header: unknown, buffer: Uint8Array, pad = true): Uint8Array {
  let json = utf8.encode(JSON.stringify(header));
  if (pad && json.length % 8 !== 0) {
    const padded = new Uint8Array(Math.ceil(json.length / 8) * 8).fill(0x20);
    padded.set(json);
    json = padded;
  }
  return concat(le64(BigInt(json.length)), json, buffer);
}

function sample(): SafeTensor[] {
  return [
    {
      name: "w",
      dtype: "F32",
      shape: [2, 3],
      data: new Float32Array([1, -2, 3.5, NaN, -0, 1e-30]),
    },
    { name: "bytes", dtype: "U8", shape: [5], data: new Uint8Array([0, 1, 127, 128, 255]) },
    { name: "step", dtype: "U32", shape: [], data: new Uint32Array([4294967295]) },
    { name: "idx", dtype: "I32", shape: [3, 1], data: new Int32Array([-2147483648, 0, 7]) },
    { name: "f64", dtype: "F64", shape: [1, 2, 1], data: new Float64Array([Math.PI, -Infinity]) },
    { name: "empty", dtype: "F32", shape: [0, 4], data: new Float32Array(0) },
    { name: "odd", dtype: "U8", shape: [3], data: new Uint8Array([9, 8, 7]) },
    { name: "après", dtype: "F32", shape: [1], data: new Float32Array([0.25]) },
  ];
}

function assertSame(parsed: ParsedSafetensors, tensors: SafeTensor[]): void {
  assert.deepEqual([...parsed.tensors.keys()], tensors.map((t) => t.name));
  for (const t of tensors) {
    const got = parsed.tensors.get(t.name)!;
    assert.equal(got.dtype, t.dtype, t.name);
    assert.deepEqual(got.shape, t.shape, t.name);
    assert.equal(got.data.constructor, t.data.constructor, t.name);
    assert.deepEqual(Array.from(got.data), Array.from(t.data), t.name);
    // Bit-exact, including NaN and -0.
    const a = new Uint8Array(got.data.buffer, got.data.byteOffset, got.data.byteLength);
    const b = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    assert.deepEqual(a, b, t.name);
  }
}

Deno.test("safetensors round trip: every dtype, scalar, empty, odd lengths, metadata", () => {
  const tensors = sample();
  const metadata = { config: JSON.stringify({ z: 20, beta: 1 }), step: "1200", "é": "ü\n" };
  const bytes = encodeSafetensors(tensors, metadata);
  const parsed = parseSafetensors(bytes, "rt.safetensors");
  assert.deepEqual(parsed.metadata, metadata);
  assertSame(parsed, tensors);
  // The byte buffer starts 8-byte aligned and the offsets are contiguous, in order.
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(n % 8, 0);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  let at = 0;
  for (const t of tensors) {
    assert.deepEqual(header[t.name].data_offsets, [at, at + t.data.byteLength]);
    at += t.data.byteLength;
  }
  assert.equal(bytes.length, 8 + n + at);
});

Deno.test("safetensors round trip: no metadata, empty metadata, no tensors, views", () => {
  const base = new Float32Array([0, 1, 2, 3, 4, 5]);
  const view = new Float32Array(base.buffer, 4, 3); // [1, 2, 3], at a byte offset
  const tensors: SafeTensor[] = [{ name: "v", dtype: "F32", shape: [3], data: view }];
  for (const meta of [undefined, {}]) {
    const parsed = parseSafetensors(encodeSafetensors(tensors, meta));
    assert.deepEqual(parsed.metadata, {});
    assertSame(parsed, tensors);
  }
  const none = parseSafetensors(encodeSafetensors([], { a: "b" }));
  assert.equal(none.tensors.size, 0);
  assert.deepEqual(none.metadata, { a: "b" });
  const nothing = encodeSafetensors([]);
  assert.deepEqual(Array.from(nothing), [
    8,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0x7b,
    0x7d,
    32,
    32,
    32,
    32,
    32,
    32,
  ]);
  assert.equal(parseSafetensors(nothing).tensors.size, 0);
});

Deno.test("safetensors exact bytes of a small file match the format", () => {
  const bytes = encodeSafetensors(
    [
      { name: "a", dtype: "F32", shape: [2], data: new Float32Array([1, -2]) },
      { name: "b", dtype: "U8", shape: [3], data: new Uint8Array([1, 2, 3]) },
      { name: "c", dtype: "I32", shape: [], data: new Int32Array([-1]) },
    ],
    { k: "v" },
  );
  const json = '{"__metadata__":{"k":"v"},' +
    '"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
    '"b":{"dtype":"U8","shape":[3],"data_offsets":[8,11]},' +
    '"c":{"dtype":"I32","shape":[],"data_offsets":[11,15]}}';
  assert.equal(json.length, 186); // padded to 192 with six spaces
  const expected = concat(
    new Uint8Array([192, 0, 0, 0, 0, 0, 0, 0]),
    utf8.encode(json),
    utf8.encode("      "),
    new Uint8Array([0x00, 0x00, 0x80, 0x3f]), // 1.0f little-endian
    new Uint8Array([0x00, 0x00, 0x00, 0xc0]), // -2.0f
    new Uint8Array([1, 2, 3]),
    new Uint8Array([0xff, 0xff, 0xff, 0xff]), // -1 (i32), unaligned in the buffer
  );
  assert.deepEqual(bytes, expected);
  const parsed = parseSafetensors(expected);
  assert.deepEqual(Array.from(parsed.tensors.get("c")!.data), [-1]);
  assert.deepEqual(parsed.tensors.get("c")!.shape, []);
});

Deno.test("safetensors reads files laid out differently by other writers", () => {
  // Unpadded header with whitespace, tensors stored out of header order, metadata last.
  const buffer = concat(new Uint8Array(new Float64Array([2.5]).buffer), new Uint8Array([7, 8]));
  const file = buildFile(
    {
      small: { dtype: "U8", shape: [2, 1], data_offsets: [8, 10] },
      big: { data_offsets: [0, 8], shape: [1], dtype: "F64" },
      __metadata__: { format: "pt" },
    },
    buffer,
    false,
  );
  const p = parseSafetensors(file, "other.safetensors");
  assert.deepEqual(p.metadata, { format: "pt" });
  assert.deepEqual(Array.from(p.tensors.get("big")!.data), [2.5]);
  assert.deepEqual(Array.from(p.tensors.get("small")!.data), [7, 8]);
});

Deno.test("safetensors data: aligned views share the file, unaligned ones are copies", () => {
  const bytes = encodeSafetensors([
    { name: "x", dtype: "F32", shape: [2], data: new Float32Array([1, 2]) },
  ]);
  const aligned = parseSafetensors(bytes).tensors.get("x")!.data;
  assert.equal(aligned.buffer, bytes.buffer);
  // The same file at an odd offset in a larger buffer: the F32 data must be copied.
  const shifted = new Uint8Array(bytes.length + 1);
  shifted.set(bytes, 1);
  const odd = parseSafetensors(shifted.subarray(1)).tensors.get("x")!.data;
  assert.notEqual(odd.buffer, shifted.buffer);
  assert.deepEqual(Array.from(odd), [1, 2]);
});

Deno.test("safetensors encode rejects inconsistent tensors", () => {
  const bad: SafeTensor[][] = [
    [{ name: "a", dtype: "F32", shape: [3], data: new Float32Array(2) }],
    [{ name: "a", dtype: "F32", shape: [2], data: new Float64Array(2) }],
    [{ name: "a", dtype: "U8", shape: [-1], data: new Uint8Array(0) }],
    [{ name: "__metadata__", dtype: "U8", shape: [0], data: new Uint8Array(0) }],
    [
      { name: "a", dtype: "U8", shape: [0], data: new Uint8Array(0) },
      { name: "a", dtype: "U8", shape: [0], data: new Uint8Array(0) },
    ],
  ];
  for (const t of bad) assert.throws(() => encodeSafetensors(t), SafetensorsError);
  assert.throws(
    () => encodeSafetensors([], { n: 1 } as unknown as Record<string, string>),
    SafetensorsError,
  );
});

/** Parse, and require either a consistent result or a one-line SafetensorsError. */
function check(bytes: Uint8Array, label: string): "ok" | "error" {
  let parsed: ParsedSafetensors;
  try {
    parsed = parseSafetensors(bytes, "fuzz.safetensors");
  } catch (e) {
    if (!(e instanceof SafetensorsError)) {
      throw new Error(`${label}: not a SafetensorsError: ${e}`, { cause: e });
    }
    assert.ok(e.message.startsWith("fuzz.safetensors: "), e.message);
    assert.ok(
      !e.message.includes("\n"),
      `${label}: multi-line message ${JSON.stringify(e.message)}`,
    );
    assert.ok(e.message.length < 400, `${label}: long message`);
    return "error";
  }
  const sizes = { F32: 4, U32: 4, I32: 4, U8: 1, F64: 8 } as const;
  const ctors = {
    F32: Float32Array,
    U32: Uint32Array,
    I32: Int32Array,
    U8: Uint8Array,
    F64: Float64Array,
  } as const;
  let total = 0;
  for (const [name, t] of parsed.tensors) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    assert.equal(t.data.length, count, `${label}: ${name} length`);
    assert.ok(t.data instanceof ctors[t.dtype], `${label}: ${name} array type`);
    total += count * sizes[t.dtype];
  }
  assert.ok(total <= bytes.length, `${label}: tensors larger than the file`);
  for (const v of Object.values(parsed.metadata)) assert.equal(typeof v, "string");
  return "ok";
}

/** Set an own property, even "__proto__" (which plain assignment would treat specially). */
function setOwn(o: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

function headerOf(bytes: Uint8Array): { header: Record<string, unknown>; buffer: Uint8Array } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  return { header, buffer: bytes.slice(8 + n) };
}

Deno.test("safetensors fuzz: mutated and truncated files parse or fail cleanly", () => {
  const random = rng(0x5afe7e);
  const int = (n: number) => Math.floor(random() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];

  const bases: Uint8Array[] = [
    encodeSafetensors(sample(), { config: '{"z":20}', step: "3" }),
    encodeSafetensors(sample().slice(0, 3)),
    encodeSafetensors([{ name: "s", dtype: "F64", shape: [], data: new Float64Array([1]) }]),
    encodeSafetensors([
      { name: "a", dtype: "U8", shape: [4, 4], data: new Uint8Array(16).map((_, i) => i) },
      { name: "b", dtype: "I32", shape: [2, 2], data: new Int32Array([1, 2, 3, 4]) },
    ], { k: "v" }),
  ];
  for (const b of bases) assert.equal(check(b, "base"), "ok");

  const weird: unknown[] = [
    -1,
    1.5,
    -0.5,
    2 ** 53,
    2 ** 64,
    1e308,
    "3",
    null,
    true,
    [],
    {},
    [1, 2],
    [0],
    "F32",
    "F16",
    "BF16",
    "I64",
    "f32",
    "",
    0,
    1,
    4,
    7,
  ];
  const keys = ["dtype", "shape", "data_offsets"] as const;

  /** Structured edits of the header JSON. */
  function jsonEdit(src: Uint8Array): Uint8Array {
    const { header, buffer } = headerOf(src);
    const names = Object.keys(header).filter((k) => k !== "__metadata__");
    const edits = 1 + int(3);
    for (let e = 0; e < edits; e++) {
      const name = names.length > 0 ? pick(names) : "x";
      const current = header[name];
      const entry = (typeof current === "object" && current !== null && !Array.isArray(current)
        ? current
        : {}) as Record<string, unknown>;
      switch (int(12)) {
        case 0: // wrong dtype
          entry.dtype = pick(["F32", "U32", "I32", "U8", "F64", "F16", "XX", 3, null] as const);
          break;
        case 1: // a shape dimension changed
          if (Array.isArray(entry.shape) && entry.shape.length > 0) {
            entry.shape[int(entry.shape.length)] = pick(weird);
          } else entry.shape = [pick(weird)];
          break;
        case 2: // shape replaced
          entry.shape = pick([[], [1], [0], [2 ** 26, 2 ** 26, 2 ** 26], "2", null, [-3, -3]]);
          break;
        case 3: // one offset changed
          if (Array.isArray(entry.data_offsets)) {
            const o = entry.data_offsets as unknown[];
            o[int(2)] = random() < 0.5 ? pick(weird) : (o[int(2)] as number) + int(9) - 4;
          }
          break;
        case 4: // offsets replaced: swapped, out of range, wrong arity
          entry.data_offsets = pick([[8, 0], [0, 1e9], [0], [0, 4, 8], "0,4", null, [0, -4]]);
          break;
        case 5: // overlap: copy another tensor's offsets (or shift into it)
          if (names.length > 1) {
            const other = header[pick(names)] as Record<string, unknown> | null;
            const o = other?.data_offsets;
            if (Array.isArray(o)) {
              entry.data_offsets = o.map((x) =>
                Number(x) + int(3)
              );
            }
          }
          break;
        case 6: // a field removed
          delete entry[pick(keys)];
          break;
        case 7: // the entry replaced by a non-object
          header[name] = pick([null, 1, "x", [], [1, 2]]);
          continue;
        case 8: // metadata broken
          header.__metadata__ = pick([null, 1, "x", [], { a: 1 }, { a: null }, { a: ["b"] }, {}]);
          break;
        case 9: // an extra tensor
          header[`extra${int(100)}`] = {
            dtype: pick(["U8", "F32", "F64"]),
            shape: [int(5)],
            data_offsets: [int(40), int(40)],
          };
          break;
        case 10: // renamed
          delete header[name];
          setOwn(header, pick(["__proto__", "constructor", "", "x\ny", name + "2"]), entry);
          continue;
        default: // extra unknown field
          setOwn(entry, pick(["foo", "dtype2", "__proto__"]), pick(weird));
      }
      if (header[name] !== undefined || e === 0) header[name] = entry;
    }
    const out = buildFile(header, buffer, random() < 0.8);
    if (random() < 0.2) return out.subarray(0, int(out.length + 1));
    return out;
  }

  /** Raw byte edits: flips in header or data, the length field, truncation. */
  function byteEdit(src: Uint8Array): Uint8Array {
    const out = src.slice();
    const n = Number(new DataView(out.buffer).getBigUint64(0, true));
    switch (int(6)) {
      case 0: { // flips in the header JSON
        for (let k = 1 + int(3); k > 0; k--) out[8 + int(n)] ^= 1 << int(8);
        return out;
      }
      case 1: { // a header byte replaced by a JSON-significant character
        out[8 + int(n)] = utf8.encode(pick(['"', "{", "}", "[", "]", ",", ":", "-", "9", "\\"]))[0];
        return out;
      }
      case 2: { // flips in the data
        if (out.length > 8 + n) {
          for (let k = 1 + int(4); k > 0; k--) out[8 + n + int(out.length - 8 - n)] ^= 1 << int(8);
        }
        return out;
      }
      case 3: { // the header length field
        const v = pick([
          0n,
          1n,
          7n,
          BigInt(n - 1),
          BigInt(n + 1),
          BigInt(n + 8),
          BigInt(out.length - 8),
          BigInt(out.length),
          BigInt(MAX_HEADER_BYTES + 1),
          2n ** 32n - 1n,
          2n ** 32n,
          2n ** 32n + BigInt(n),
          2n ** 53n + 1n,
          2n ** 63n,
          2n ** 64n - 1n,
          BigInt(int(2 ** 31)),
        ]);
        out.set(le64(v));
        return out;
      }
      case 4: // one random byte of the length field
        out[int(8)] = int(256);
        return out;
      default: // truncated
        return out.subarray(0, int(out.length));
    }
  }

  const t0 = performance.now();
  const counts = { ok: 0, error: 0 };
  const N = 12_000;
  for (let i = 0; i < N; i++) {
    const base = pick(bases);
    let bytes = random() < 0.5 ? jsonEdit(base) : byteEdit(base);
    if (random() < 0.15) bytes = byteEdit(bytes.length >= 8 ? bytes : base);
    counts[check(bytes, `case ${i}`)]++;
  }
  // Every truncation of one file, byte by byte.
  const whole = bases[3];
  for (let len = 0; len < whole.length; len++) {
    assert.equal(check(whole.subarray(0, len), `truncated to ${len}`), "error");
  }
  const ms = performance.now() - t0;
  console.log(
    `fuzz: ${N + whole.length} files (${counts.ok} parsed, ${counts.error} rejected) ` +
      `in ${ms.toFixed(0)} ms`,
  );
  assert.ok(counts.ok > 100 && counts.error > 1000, "the fuzz should exercise both outcomes");
  assert.ok(ms < 60_000, "fuzz far slower than expected: a hang?");
});

Deno.test("safetensors errors name the file and the problem", () => {
  const good = encodeSafetensors([
    { name: "a", dtype: "F32", shape: [2], data: new Float32Array(2) },
    { name: "b", dtype: "F32", shape: [2], data: new Float32Array(2) },
  ]);
  const { header, buffer } = headerOf(good);
  const cases: [Uint8Array, RegExp][] = [
    [new Uint8Array(3), /too short/],
    [concat(le64(2n ** 60n), new Uint8Array(8)), /header length 1152921504606846976 is over/],
    [concat(le64(100n), utf8.encode("{}")), /more than the 2 bytes/],
    [concat(le64(2n), utf8.encode("[]")), /does not start with/],
    [concat(le64(2n), new Uint8Array([0x7b, 0xff])), /not valid UTF-8/],
    [concat(le64(3n), utf8.encode("{x}")), /not valid JSON/],
    [
      buildFile({ ...header, a: { dtype: "F16", shape: [2], data_offsets: [0, 4] } }, buffer),
      /dtype "F16"/,
    ],
    [
      buildFile({ ...header, a: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, buffer),
      /needs 12/,
    ],
    [
      buildFile({ ...header, a: { dtype: "F32", shape: [2], data_offsets: [4, 12] } }, buffer),
      /overlap/,
    ],
    [
      buildFile({ ...header, a: { dtype: "F32", shape: [1.5], data_offsets: [0, 8] } }, buffer),
      /not a non-negative/,
    ],
    [
      buildFile(
        { ...header, a: { dtype: "F32", shape: [2 ** 40, 2 ** 40], data_offsets: [0, 8] } },
        buffer,
      ),
      /needs more than/,
    ],
    [buildFile(header, buffer.subarray(0, 12)), /past the 12-byte buffer/],
    [buildFile({ ...header, __metadata__: { a: 1 } }, buffer), /__metadata__ "a" is not a string/],
    [buildFile({ ...header, a: { dtype: "F32", shape: [2] } }, buffer), /data_offsets is not/],
  ];
  for (const [bytes, pattern] of cases) {
    assert.throws(
      () => parseSafetensors(bytes, "runs/x/model.safetensors"),
      (e: unknown) =>
        e instanceof SafetensorsError && e.message.startsWith("runs/x/model.safetensors: ") &&
        pattern.test(e.message) && !e.message.includes("\n"),
      pattern.source,
    );
  }
});
