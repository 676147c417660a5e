/**
 * MRtrix .tck reader and writer: hand-built files (independent of writeTck) in all four
 * datatypes with an offset past extra header lines, empty streamlines dropped, every
 * validation a one-line TckError naming the file, an exact writer round trip, and a seeded
 * fuzz of mutated and truncated files that either parse to finite streamlines (no bigger
 * than the file) or throw TckError.
 */

import assert from "node:assert/strict";
import { parseTck, TckError, type TckTractogram, writeTck } from "../src/data/tck.ts";
import { mulberry32 } from "../src/io/random.ts";

interface Spec {
  datatype?: string;
  /** Header lines after the magic line, before file/END (default: count + datatype). */
  lines?: string[];
  /** Extra bytes between END and the data (the offset accounts for them). */
  gap?: number;
  /** Streamlines, each a list of points; null writes a bare NaN triplet. */
  records: (number[][] | null)[];
  /** Skip the Inf end marker. */
  noEnd?: boolean;
  /** Override the offset written in `file: . N`. */
  offset?: number;
}

/** Builds a .tck file by hand from MRtrix's format description (not via writeTck). */
function build(o: Spec): Uint8Array {
  const dt = o.datatype ?? "Float32LE";
  const size = dt.startsWith("Float64") ? 8 : 4, le = dt.endsWith("LE");
  const lines = o.lines ??
    [`count: ${o.records.filter((r) => r?.length).length}`, `datatype: ${dt}`];
  const head = ["mrtrix tracks", ...lines].join("\n") + "\n";
  // Offset with three digits, then padded with the gap.
  const fixed = head.length + "file: . 000\nEND\n".length + (o.gap ?? 0);
  const text = `${head}file: . ${String(o.offset ?? fixed).padStart(3, "0")}\nEND\n`;
  const values: number[] = [];
  for (const r of o.records) {
    if (r) { for (const p of r) values.push(...p); }
    values.push(NaN, NaN, NaN);
  }
  if (!o.noEnd) values.push(Infinity, Infinity, Infinity);
  const out = new Uint8Array(fixed + values.length * size);
  out.set(new TextEncoder().encode(text));
  const v = new DataView(out.buffer);
  values.forEach((x, i) => {
    if (size === 8) v.setFloat64(fixed + 8 * i, x, le);
    else v.setFloat32(fixed + 4 * i, x, le);
  });
  return out;
}

const A = [[1.5, -2.25, 3], [4, 5.125, -6], [7.5, 8, 9.75]];
const B = [[-10, 20, 30.5]];
const C = [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]];

function assertPoints(got: Float32Array, want: number[][]) {
  assert.deepEqual(Array.from(got), want.flat().map(Math.fround));
}

Deno.test("tck: hand-built files in all four datatypes, offset past extra lines, empty streamlines dropped", () => {
  for (const datatype of ["Float32LE", "Float32BE", "Float64LE", "Float64BE"]) {
    const bytes = build({
      datatype,
      lines: [
        "method: iFOD2",
        `datatype: ${datatype}`,
        "count: 3",
        "method: again",
        "timestamp: 1.5",
      ],
      gap: 5,
      records: [A, null, B, C],
    });
    const t = parseTck(bytes, `x-${datatype}.tck`);
    assert.equal(t.header.datatype, datatype);
    assert.equal(t.header.count, 3);
    assert.deepEqual(t.header.fields, { method: "iFOD2\nagain", timestamp: "1.5" });
    assert.equal(t.streamlines.length, 3);
    assertPoints(t.streamlines[0], A);
    assertPoints(t.streamlines[1], B);
    assertPoints(t.streamlines[2], C);
  }
  // No count line is fine; zero streamlines is fine.
  const none = parseTck(build({ lines: ["datatype: Float32LE"], records: [] }), "none.tck");
  assert.equal(none.streamlines.length, 0);
});

Deno.test("tck: writeTck -> parseTck round trip, all datatypes, header fields", () => {
  const next = mulberry32(5);
  const lines = [3, 1, 17, 2].map((p) =>
    Float32Array.from({ length: 3 * p }, () => (next() - 0.5) * 300)
  );
  for (const datatype of ["Float32LE", "Float32BE", "Float64LE", "Float64BE"] as const) {
    const bytes = writeTck(lines, {
      datatype,
      fields: { generator: "webgpu-vae", step_size: "0.5" },
    });
    const t = parseTck(bytes, "rt.tck");
    assert.deepEqual(t.streamlines, lines);
    assert.deepEqual(t.header.fields, { generator: "webgpu-vae", step_size: "0.5" });
    assert.equal(t.header.offset, new TextDecoder().decode(bytes).indexOf("END\n") + 4);
  }
  assert.throws(() => writeTck([new Float32Array(4)]), RangeError);
  assert.throws(() => writeTck([Float32Array.of(0, NaN, 0)]), RangeError);
  assert.throws(() => writeTck([], { fields: { count: "3" } }), RangeError);
  assert.throws(() => writeTck([], { fields: { note: "a:b" } }), RangeError);
  assert.throws(() => writeTck([], { fields: { "bad\nkey": "x" } }), RangeError);
});

Deno.test("tck: every validation is a one-line TckError naming the file", () => {
  const enc = new TextEncoder();
  const good = build({ records: [A, B] });
  const cases: [Uint8Array, RegExp][] = [
    [enc.encode("TRACK not a tck"), /not an MRtrix \.tck file: starts with "TRACK not a t"/],
    [enc.encode("mrtrix tracks\ndatatype: Float32LE\nfile: . 60\n"), /no END line/],
    [
      enc.encode("mrtrix tracks\ndatatype: Float32LE\nno colon here\nEND\n"),
      /header line 3 "no colon here"/,
    ],
    [build({ lines: ["count: 2"], records: [A, B] }), /has no datatype/],
    [build({ datatype: "Int16LE", records: [A] }), /unsupported datatype "Int16LE"/],
    [
      build({ lines: ["datatype: Float32LE", "datatype: Float32BE"], records: [A] }),
      /gives "datatype" 2 times/,
    ],
    [
      enc.encode("mrtrix tracks\ndatatype: Float32LE\nfile: other.dat 0\nEND\n"),
      /separate data files/,
    ],
    [build({ records: [A], offset: 10 }), /inside the header/],
    [build({ records: [A], offset: 999 }), /past the end of the \d+-byte file/],
    [
      build({ lines: ["count: x2", "datatype: Float32LE"], records: [A] }),
      /count "x2" is not an integer/,
    ],
    [
      build({ lines: ["count: 5", "datatype: Float32LE"], records: [A, B] }),
      /count is 5 but the file holds 2/,
    ],
    [build({ records: [A, B], noEnd: true }), /truncated: no end marker .* after 2 streamlines/],
    [good.slice(0, good.length - 2), /truncated: no end marker .* and a partial point/],
    [new Uint8Array([...good, 0, 0, 0, 0]), /4 bytes after the end marker/],
    [build({ records: [[[1, NaN, 2]]] }), /streamline 0 point 0 is not finite/],
    [
      build({ datatype: "Float64LE", records: [B, [[1e300, 0, 0]]] }),
      /streamline 1 point 0 is not finite in float32/,
    ],
  ];
  // A streamline not closed by NaN before the end marker: drop the last NaN triplet.
  const open = build({ records: [A] });
  const unclosed = new Uint8Array([
    ...open.subarray(0, open.length - 24),
    ...open.subarray(open.length - 12),
  ]);
  cases.push([unclosed, /streamline 0 is not closed by a NaN triplet/]);
  for (const [bytes, re] of cases) {
    assert.throws(() => parseTck(bytes, "bad.tck"), (e: unknown) => {
      assert.ok(e instanceof TckError, String(e));
      assert.match(e.message, re);
      assert.match(e.message, /^bad\.tck: /);
      assert.ok(!e.message.includes("\n"));
      return true;
    });
  }
});

function checkSane(t: TckTractogram, bytes: Uint8Array) {
  let values = 0;
  for (const s of t.streamlines) {
    assert.ok(s.length > 0 && s.length % 3 === 0);
    for (const v of s) assert.ok(Number.isFinite(v));
    values += s.length;
  }
  assert.ok(4 * values <= bytes.length, "more points than the file holds");
}

Deno.test("tck: fuzz: mutated and truncated files parse to finite streamlines or throw TckError", () => {
  const next = mulberry32(20261204);
  const int = (n: number) => Math.floor(next() * n);
  const rec = (p: number) =>
    Array.from({ length: p }, () => [next() * 50, next() * 50, next() * 20]);
  const bases = [
    build({ records: [rec(3), rec(1), rec(5)] }),
    build({
      datatype: "Float64BE",
      lines: ["datatype: Float64BE", "method: x"],
      records: [rec(4), rec(2)],
    }),
    writeTck([Float32Array.of(1, 2, 3, 4, 5, 6)], { datatype: "Float32BE" }),
  ];
  let cases = 0, parsed = 0;
  const attempt = (bytes: Uint8Array, what: string) => {
    cases++;
    let t: TckTractogram;
    try {
      t = parseTck(bytes, "fuzz.tck");
    } catch (e) {
      if (e instanceof TckError) return;
      throw new Error(`${what}: ${e instanceof Error ? e.stack : e}`);
    }
    checkSane(t, bytes);
    parsed++;
  };
  for (const base of bases) {
    const end = new TextDecoder().decode(base).indexOf("END\n") + 4;
    for (let n = 0; n <= base.length; n++) attempt(base.subarray(0, n), `cut ${n}`);
    for (let i = 0; i < 3000; i++) {
      const m = base.slice();
      const kind = i % 4;
      if (kind === 0) {
        for (let f = 1 + int(3); f > 0; f--) m[int(m.length)] ^= 1 << int(8);
      } else if (kind === 1) {
        // Header text: random printable characters, digits and newlines.
        const chars = "0123456789:. \nENDFloat";
        for (let f = 1 + int(3); f > 0; f--) m[int(end)] = chars.charCodeAt(int(chars.length));
      } else if (kind === 2) {
        // Body bytes: random, or the exponent byte of NaN / Inf patterns.
        for (let f = 1 + int(4); f > 0; f--) {
          m[end + int(m.length - end)] = [0x7f, 0xff, 0xc0, 0x80, int(256)][int(5)];
        }
      } else {
        const at = end + int(m.length - end), k = 1 + int(8);
        const out = next() < 0.5
          ? new Uint8Array([...m.subarray(0, at), ...new Uint8Array(k), ...m.subarray(at)])
          : new Uint8Array([...m.subarray(0, at), ...m.subarray(at + k)]);
        attempt(out, `insert/delete ${i}`);
        continue;
      }
      attempt(m, `mutation ${i} kind ${kind}`);
    }
  }
  console.log(`fuzz: ${cases} files, ${parsed} parsed, the rest TckError`);
  assert.ok(cases >= 9000, `only ${cases} fuzz cases`);
  assert.ok(parsed > 100 && parsed < cases - 1000, `parsed ${parsed} of ${cases}`);
});
