/**
 * Streamline bundles: the real DIPY bundles (Debian python3-dipy's minimal_bundles.zip)
 * load, lie in a brain-sized box and resample with their arc length kept; resample, orient,
 * normalize and width checked on constructed curves with known answers (straight lines, a
 * circle arc, a helix, tubes with a uniform disc cross-section); zip handling and errors.
 */

import assert from "node:assert/strict";
import { zipSync } from "fflate";
import {
  arcLength,
  bundleWidth,
  denormalize,
  fitNormalization,
  lengthRangeWarning,
  meanPointDistance,
  normalize,
  orientAlike,
  parseStreamlineBundles,
  readStreamlineBundles,
  resample,
  reversed,
} from "../src/data/streamlines.ts";
import { writeTck } from "../src/data/tck.ts";
import { TractogramError } from "../src/data/tractogram.ts";
import { parseTrk, trkSpace, writeTrk } from "../src/data/trk.ts";
import { writeTrx } from "../src/data/trx.ts";

const DIPY_BUNDLES = "/usr/lib/python3/dist-packages/dipy/data/files/minimal_bundles.zip";

/** Straight-line distance between points i and i + 1 of each consecutive pair. */
function spacings(s: Float32Array): number[] {
  const out: number[] = [];
  for (let i = 0; i + 5 < s.length; i += 3) {
    out.push(Math.hypot(s[i + 3] - s[i], s[i + 4] - s[i + 1], s[i + 5] - s[i + 2]));
  }
  return out;
}

/** Cumulative arc length at each vertex. */
function cumulative(s: Float32Array): number[] {
  const d = spacings(s);
  const c = [0];
  for (const x of d) c.push(c[c.length - 1] + x);
  return c;
}

function curve(n: number, f: (t: number) => number[]): Float32Array {
  return flat(n, (i) => f(i / (n - 1)));
}

function flat(n: number, f: (i: number) => number[]): Float32Array {
  return Float32Array.from(Array.from({ length: n }, (_, i) => f(i)).flat());
}

Deno.test("streamlines: DIPY minimal_bundles.zip loads, lies in a brain box, resamples", async () => {
  try {
    await Deno.stat(DIPY_BUNDLES);
  } catch {
    throw new Error(
      `${DIPY_BUNDLES} is missing: install Debian's DIPY data with ` +
        "`apt-get install python3-dipy` (this test needs the real bundles; it does not skip)",
    );
  }
  const bundles = await readStreamlineBundles(DIPY_BUNDLES);
  const want = [1, 2, 3, 4, 5].flatMap((s) =>
    ["AF_L", "CC_ForcepsMajor", "CST_R"].map((b) => `sub_${s}/${b}`)
  );
  assert.deepEqual(bundles.map((b) => b.name), want);
  const lo = [Infinity, Infinity, Infinity], hi = [-Infinity, -Infinity, -Infinity];
  const n = 256;
  let worstLength = 0, worstSpacing = 0, corners = 0, segments = 0;
  const rows: string[] = [];
  for (const b of bundles) {
    // Observed: 50 streamlines of 20 points in every bundle.
    assert.equal(b.streamlines.length, 50, b.name);
    const lengths: number[] = [];
    const resampled = b.streamlines.map((s) => {
      assert.equal(s.length, 3 * 20, b.name);
      s.forEach((v, i) => {
        assert.ok(Number.isFinite(v), `${b.name}: non-finite coordinate`);
        lo[i % 3] = Math.min(lo[i % 3], v);
        hi[i % 3] = Math.max(hi[i % 3], v);
      });
      const len = arcLength(s);
      lengths.push(len);
      const r = resample(s, n);
      assert.equal(r.length, 3 * n);
      assert.deepEqual([...r.subarray(0, 3)], [...s.subarray(0, 3)], "first point kept");
      assert.deepEqual([...r.subarray(-3)], [...s.subarray(-3)], "last point kept");
      worstLength = Math.max(worstLength, Math.abs(arcLength(r) - len) / len);
      // Equal spacing: every step of h along the polyline; a chord that spans no original
      // vertex is exactly h long, one that cuts a corner is a little shorter.
      const h = len / (n - 1), vertices = cumulative(s);
      spacings(r).forEach((d, k) => {
        segments++;
        const cut = vertices.some((c) => c > k * h + 1e-9 && c < (k + 1) * h - 1e-9);
        assert.ok(d <= h * (1 + 1e-3), `${b.name}: step ${k} is ${d}, h ${h}`);
        if (cut) corners++;
        else worstSpacing = Math.max(worstSpacing, Math.abs(d - h) / h);
      });
      return r;
    });
    const oriented = orientAlike(resampled);
    const width = bundleWidth(oriented), unoriented = bundleWidth(resampled);
    assert.ok(width > 5 && width < 60, `${b.name}: width ${width} mm`);
    assert.ok(width <= unoriented, `${b.name}: orienting widened the bundle`);
    const flips = oriented.filter((s, k) => s !== resampled[k]).length;
    rows.push(
      `${b.name.padEnd(22)} 50 x 20 pts  length ${Math.min(...lengths).toFixed(1)}-` +
        `${Math.max(...lengths).toFixed(1)} mm  flipped ${flips}  width ${width.toFixed(1)} mm ` +
        `(unoriented ${unoriented.toFixed(1)})`,
    );
  }
  console.log(rows.join("\n"));
  console.log(
    `box x ${lo[0].toFixed(1)}..${hi[0].toFixed(1)}, y ${lo[1].toFixed(1)}..${hi[1].toFixed(1)}` +
      `, z ${lo[2].toFixed(1)}..${hi[2].toFixed(1)} mm; resampled arc length within ` +
      `${(100 * worstLength).toFixed(2)}%; spacing within ${worstSpacing.toExponential(1)} of h ` +
      `on ${segments - corners} steps (${corners} steps cut a corner, all <= h)`,
  );
  // Observed box: x -67.5..52.6, y -71.5..74.9, z -81.4..96.8 mm (RAS+, MNI-like space; the
  // corticospinal tract reaches into the brainstem). A brain fits in about 180 x 230 x 210 mm.
  const box = [[-90, 90], [-130, 100], [-100, 110]];
  for (let c = 0; c < 3; c++) {
    assert.ok(lo[c] >= box[c][0] && hi[c] <= box[c][1], `axis ${c}: ${lo[c]}..${hi[c]}`);
    assert.ok(hi[c] - lo[c] > 80, `axis ${c} spans only ${hi[c] - lo[c]} mm`);
  }
  assert.ok(worstLength < 0.01, `arc length changed by ${worstLength}`);
  assert.ok(worstSpacing < 1e-3, `spacing off by ${worstSpacing}`);
});

Deno.test("streamlines: resample a straight line with uneven points (odd n) exactly", () => {
  const s = Float32Array.of(0, 0, 0, 1, 0, 0, 1.5, 0, 0, 10, 0, 0);
  assert.equal(arcLength(s), 10);
  const r = resample(s, 7);
  for (let k = 0; k < 7; k++) {
    assert.ok(Math.abs(r[3 * k] - (10 * k) / 6) < 1e-6, `point ${k}: ${r[3 * k]}`);
    assert.equal(r[3 * k + 1], 0);
  }
  assert.deepEqual([...resample(Float32Array.of(0, 0, 0, 2, 4, 6), 3)], [
    0,
    0,
    0,
    1,
    2,
    3,
    2,
    4,
    6,
  ]);
  // Default n is 256; duplicate points (zero-length segments) are harmless.
  const dup = Float32Array.of(0, 0, 0, 0, 0, 0, 3, 0, 0, 3, 0, 0);
  assert.equal(resample(dup).length, 3 * 256);
  assert.ok(Math.abs(resample(dup)[3 * 85] - 1) < 1e-6);
});

Deno.test("streamlines: resample a circle arc and a helix onto their known points", () => {
  // Circle of radius 20 mm, angle 0..2 rad, densely sampled; resampled point k sits at angle
  // 2k / (n - 1) (arc length is proportional to angle).
  const R = 20, A = 2;
  const arc = curve(4001, (t) => [R * Math.cos(A * t), R * Math.sin(A * t), 5]);
  assert.ok(Math.abs(arcLength(arc) - R * A) < 1e-4 * R * A, `arc ${arcLength(arc)}`);
  let err = 0;
  const n = 101;
  const r = resample(arc, n);
  for (let k = 0; k < n; k++) {
    const a = (A * k) / (n - 1);
    err = Math.max(err, Math.hypot(r[3 * k] - R * Math.cos(a), r[3 * k + 1] - R * Math.sin(a)));
  }
  console.log(`circle arc: max distance from the exact point ${err.toExponential(2)} mm`);
  assert.ok(err < 1e-4, `arc points off by ${err}`);

  // Helix (a cos t, a sin t, c t), t in [0, 6 pi]: length 6 pi sqrt(a^2 + c^2).
  const a = 5, c = 2, T = 6 * Math.PI;
  const helix = curve(6001, (t) => [a * Math.cos(T * t), a * Math.sin(T * t), c * T * t]);
  const L = T * Math.hypot(a, c);
  assert.ok(Math.abs(arcLength(helix) - L) / L < 1e-5, `helix length ${arcLength(helix)} vs ${L}`);
  const m = 257;
  const hr = resample(helix, m);
  let herr = 0;
  for (let k = 0; k < m; k++) {
    const t = (T * k) / (m - 1);
    herr = Math.max(
      herr,
      Math.hypot(
        hr[3 * k] - a * Math.cos(t),
        hr[3 * k + 1] - a * Math.sin(t),
        hr[3 * k + 2] - c * t,
      ),
    );
  }
  // Chord of arc h on a curve of curvature k: h (1 - k^2 h^2 / 24), here 1 - 2e-4.
  const h = L / (m - 1), d = spacings(hr);
  const spread = (Math.max(...d) - Math.min(...d)) / h;
  console.log(`helix: max point error ${herr.toExponential(2)} mm, spacing spread ${spread}`);
  assert.ok(herr < 1e-3, `helix points off by ${herr}`);
  assert.ok(spread < 1e-3 && Math.abs(Math.max(...d) - h) / h < 1e-3, `spread ${spread}`);
});

Deno.test("streamlines: resample rejects 1-point and zero-length streamlines and bad n", () => {
  assert.throws(() => resample(Float32Array.of(1, 2, 3)), /1 point/);
  assert.throws(() => resample(Float32Array.of(1, 2, 3, 1, 2, 3, 1, 2, 3)), /zero length/);
  assert.throws(() => resample(Float32Array.of(0, 0, 0, 1, 1, 1), 1), RangeError);
  assert.throws(() => resample(Float32Array.of(0, 0, 0, 1, 1)), RangeError);
});

Deno.test("streamlines: orientAlike makes a bundle run one way; meanPointDistance", () => {
  // 21 parallel 50 mm lines along x at y = k, every other one stored backwards.
  const lines = Array.from({ length: 21 }, (_, k) => {
    const s = resample(Float32Array.of(0, k, 0, 50, k, 1), 33);
    return k % 2 ? reversed(s) : s;
  });
  const copy = lines.map((s) => s.slice());
  const o = orientAlike(lines);
  o.forEach((s, k) => {
    assert.ok(Math.abs(s[0]) < 1e-6 && Math.abs(s[3 * 32] - 50) < 1e-6, `line ${k} not oriented`);
    assert.equal(s === lines[k], k % 2 === 0, "unflipped kept, flipped copied");
  });
  lines.forEach((s, k) => assert.deepEqual(s, copy[k], "input untouched"));
  // Starting from a reversed first line, everything follows it.
  const o2 = orientAlike([reversed(lines[0]), ...lines.slice(1)]);
  for (const s of o2) assert.ok(Math.abs(s[0] - 50) < 1e-6);
  assert.throws(() => orientAlike([lines[0], new Float32Array(6)]), /resample first/);
  // meanPointDistance: lines k apart in y are k apart at every point.
  assert.ok(Math.abs(meanPointDistance(lines[0], lines[4]) - 4) < 1e-6);
  // Against its reverse, point i is |2i/32 - 1| L away: mean over 33 points is 17/33 L.
  const rev = meanPointDistance(lines[0], reversed(lines[0]));
  assert.ok(Math.abs(rev - (17 / 33) * Math.hypot(50, 1)) < 1e-5, `reverse distance ${rev}`);
  assert.throws(() => meanPointDistance(lines[0], new Float32Array(3)), RangeError);
});

Deno.test("streamlines: fitNormalization / normalize / denormalize", () => {
  // Points (1,2,3), (3,2,3), (2,0,3), (2,4,3): mean (2,2,3), distances 1,1,2,2, RMS sqrt(2.5).
  const s = [Float32Array.of(1, 2, 3, 3, 2, 3), Float32Array.of(2, 0, 3, 2, 4, 3)];
  const n = fitNormalization(s);
  assert.deepEqual(n.center, [2, 2, 3]);
  assert.ok(Math.abs(n.scale - 1 / Math.sqrt(2.5)) < 1e-12);
  const z = s.map((x) => normalize(x, n));
  const all = z.flatMap((x) => [...x]);
  const ms = all.reduce((a, v) => a + v * v, 0) / 4;
  assert.ok(Math.abs(ms - 1) < 1e-6, `mean squared norm ${ms}`);
  for (let c = 0; c < 3; c++) {
    assert.ok(Math.abs(all.filter((_, i) => i % 3 === c).reduce((a, v) => a + v, 0)) < 1e-6);
  }
  z.forEach((x, k) => {
    const back = denormalize(x, n);
    back.forEach((v, i) => assert.ok(Math.abs(v - s[k][i]) < 1e-6));
  });
  assert.throws(() => fitNormalization([]), /no points/);
  assert.throws(() => fitNormalization([Float32Array.of(1, 1, 1, 1, 1, 1)]), /RMS/);
});

/** Offsets filling a disc of radius r uniformly (Vogel's sunflower spiral). */
function disc(count: number, r: number): [number, number][] {
  const golden = Math.PI * (3 - Math.sqrt(5));
  return Array.from({ length: count }, (_, i) => {
    const rho = r * Math.sqrt((i + 0.5) / count);
    return [rho * Math.cos(i * golden), rho * Math.sin(i * golden)];
  });
}

Deno.test("streamlines: bundleWidth of tubes with a uniform disc cross-section is ~1.9 r", () => {
  const r = 3, count = 2000;
  const straight = disc(count, r).map(([u, v]) => resample(Float32Array.of(0, u, v, 40, u, v), 65));
  // A quarter torus: centre circle of radius 30 in the xy plane, offsets in (radial, z).
  const bent = disc(count, r).map(([u, v]) =>
    flat(64, (i) => {
      const t = (Math.PI / 2) * (i / 63);
      return [(30 + u) * Math.cos(t), (30 + u) * Math.sin(t), v];
    })
  );
  const expected = 2 * r * Math.sqrt(0.9);
  for (const [what, b] of [["straight", straight], ["bent", bent]] as const) {
    const w = bundleWidth(b);
    console.log(`${what} tube r=${r}: width ${w.toFixed(3)} mm, expected ${expected.toFixed(3)}`);
    assert.ok(Math.abs(w - expected) / expected < 0.02, `${what}: ${w} vs ${expected}`);
  }
  // Twice the radius, twice the width.
  const wide = disc(count, 2 * r).map(([u, v]) => Float32Array.of(0, u, v, 40, u, v));
  assert.ok(Math.abs(bundleWidth(wide) - 2 * expected) / expected < 0.04);
  assert.throws(() => bundleWidth([]), RangeError);
});

Deno.test("streamlines: zip and .trk bytes, errors are TractogramErrors", async () => {
  const a = [Float32Array.of(0, 0, 0, 1, 1, 1)];
  const b = [Float32Array.of(5, 5, 5, 6, 6, 6), Float32Array.of(7, 7, 7)];
  const zip = zipSync({
    "x/b.trk": writeTrk(b),
    "a.trk": writeTrk(a),
    "notes.txt": new TextEncoder().encode("hi"),
  });
  const got = parseStreamlineBundles(zip, "two.zip");
  assert.deepEqual(got.map((g) => g.name), ["a", "x/b"]);
  assert.deepEqual(got[1].streamlines, b);
  const one = parseStreamlineBundles(writeTrk(b), "/some/dir/CST_L.trk");
  assert.deepEqual(one, [{
    name: "CST_L",
    streamlines: b,
    space: trkSpace(parseTrk(writeTrk(b)).header),
  }]);
  // .tck and .trx entries sit beside .trk ones; a .tck records no space.
  const mixed = parseStreamlineBundles(
    zipSync({ "c.tck": writeTck(a), "d.trx": writeTrx(b, got[0].space!), "a.trk": writeTrk(a) }),
    "mixed.zip",
  );
  assert.deepEqual(mixed.map((g) => [g.name, g.streamlines]), [["a", a], ["c", a], ["d", b]]);
  assert.equal(mixed[1].space, null);
  assert.deepEqual(mixed[2].space, got[0].space);

  const bad: [Uint8Array, string, RegExp][] = [
    [zipSync({ "notes.txt": new Uint8Array(3) }), "none.zip", /no \.trk, \.tck or \.trx file/],
    [zip.slice(0, 60), "cut.zip", /damaged or unsupported zip/],
    [zipSync({ "c.trk": writeTrk(a).slice(0, 1010) }), "inner.zip", /inner\.zip:c\.trk: truncated/],
    [new Uint8Array(10), "plain.zip", /not a zip file/],
    [new Uint8Array(10), "plain.trk", /plain\.trk: truncated/],
  ];
  for (const [bytes, name, re] of bad) {
    assert.throws(() => parseStreamlineBundles(bytes, name), (e: unknown) => {
      assert.ok(e instanceof TractogramError, `${name}: ${e}`);
      assert.match(e.message, re);
      return true;
    });
  }
  await assert.rejects(
    () => readStreamlineBundles("/nonexistent/bundles.zip"),
    (e: unknown) => e instanceof TractogramError && /file not found/.test(e.message),
  );
});

Deno.test("lengthRangeWarning: null inside the training range, one line with it outside", () => {
  assert.equal(lengthRangeWarning(40, 18.2, 63.4), null);
  assert.equal(lengthRangeWarning(18.2, 18.2, 63.4), null);
  const w = lengthRangeWarning(500, 18.2, 63.4)!;
  assert.match(w, /^warning: --length 500\.0 mm is outside the training lengths 18\.2-63\.4 mm;/);
  assert.ok(!w.includes("\n"));
  assert.match(lengthRangeWarning(3, 18.2, 63.4)!, /--length 3\.0 mm is outside/);
});
