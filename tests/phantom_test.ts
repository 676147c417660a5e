/**
 * Synthetic phantom: deterministic from its seed, every point inside its bundle's tube
 * (radius + noise from the centre curve), lengths varying within each bundle, bundles of
 * equal size, streamlines running start to end, and a writeTrk -> parseTrk round trip.
 */

import assert from "node:assert/strict";
import { CENTRE_POINTS, phantomBundles } from "../src/data/phantom.ts";
import { arcLength, bundleWidth, orientAlike, resample } from "../src/data/streamlines.ts";
import { parseTrk, writeTrk } from "../src/data/trk.ts";

/** Distance from point p to the polyline `line` (closest point on any segment). */
function distanceToPolyline(p: number[], line: Float32Array): number {
  let best = Infinity;
  for (let i = 0; i + 5 < line.length; i += 3) {
    const a = [line[i], line[i + 1], line[i + 2]];
    const d = [line[i + 3] - a[0], line[i + 4] - a[1], line[i + 5] - a[2]];
    const w = [p[0] - a[0], p[1] - a[1], p[2] - a[2]];
    const dd = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
    const t = dd > 0 ? Math.min(1, Math.max(0, (w[0] * d[0] + w[1] * d[1] + w[2] * d[2]) / dd)) : 0;
    best = Math.min(best, Math.hypot(w[0] - t * d[0], w[1] - t * d[1], w[2] - t * d[2]));
  }
  return best;
}

Deno.test("phantom: deterministic from the seed", () => {
  const a = phantomBundles({ count: 60, seed: 3 });
  const b = phantomBundles({ count: 60, seed: 3 });
  assert.deepEqual(a.streamlines, b.streamlines);
  assert.deepEqual(a.bundle, b.bundle);
  const c = phantomBundles({ count: 60, seed: 4 });
  const same = c.streamlines.filter((s, k) => s.every((v, i) => v === a.streamlines[k][i]));
  assert.equal(same.length, 0, "a different seed changed nothing");
  assert.equal(a.streamlines[0].length, 3 * 120, "default 120 points");
  assert.equal(phantomBundles({ count: 2, seed: 1, points: 7 }).streamlines[1].length, 21);
  assert.throws(() => phantomBundles({ count: -1, seed: 1 }), RangeError);
  assert.throws(() => phantomBundles({ count: 1, seed: 1, points: 1 }), RangeError);
  assert.throws(() => phantomBundles({ count: 1, seed: 1, noise: NaN }), RangeError);
});

Deno.test("phantom: points inside their tube, in the box; lengths vary; bundles equal", () => {
  const noise = 0.3;
  const p = phantomBundles({ count: 300, seed: 11, noise });
  const B = p.bundles.length;
  assert.ok(B >= 5 && B <= 7, `${B} bundles`);
  assert.equal(p.streamlines.length, 300);
  for (const b of p.bundles) {
    assert.ok(b.radius >= 2 && b.radius <= 4, `${b.name} radius ${b.radius}`);
    assert.equal(b.centre.length, 3 * CENTRE_POINTS);
  }
  const lo = [Infinity, Infinity, Infinity], hi = [-Infinity, -Infinity, -Infinity];
  const worst = new Array(B).fill(0);
  const lengths: number[][] = p.bundles.map(() => []);
  const counts = new Array(B).fill(0);
  const curveLength = p.bundles.map((b) => arcLength(b.centre));
  p.streamlines.forEach((s, k) => {
    const b = p.bundle[k];
    counts[b]++;
    // Check every 7th point against the centre curve (all points cost too much time).
    for (let i = 0; i < s.length / 3; i++) {
      const pt = [s[3 * i], s[3 * i + 1], s[3 * i + 2]];
      pt.forEach((v, c) => (lo[c] = Math.min(lo[c], v), hi[c] = Math.max(hi[c], v)));
      if (i % 7 !== 0 && i !== s.length / 3 - 1) continue;
      const d = distanceToPolyline(pt, p.bundles[b].centre);
      worst[b] = Math.max(worst[b], d / p.bundles[b].radius);
      assert.ok(d <= p.bundles[b].radius + noise + 1e-3, `streamline ${k} point ${i}: ${d} mm`);
    }
    lengths[b].push(arcLength(s));
    // Oriented start -> end: the first point is nearer the curve's start than the last is.
    const c = p.bundles[b].centre;
    const d0 = Math.hypot(s[0] - c[0], s[1] - c[1], s[2] - c[2]);
    const n = s.length;
    const d1 = Math.hypot(s[n - 3] - c[0], s[n - 2] - c[1], s[n - 1] - c[2]);
    assert.ok(d0 < d1, `streamline ${k} runs backwards`);
  });
  for (let b = 0; b < B; b++) {
    assert.ok(Math.abs(counts[b] - 300 / B) <= 1, `bundle ${b}: ${counts[b]} streamlines`);
    const min = Math.min(...lengths[b]), max = Math.max(...lengths[b]);
    const w = bundleWidth(
      orientAlike(p.streamlines.filter((_, k) => p.bundle[k] === b).map((s) => resample(s, 64))),
    );
    console.log(
      `${p.bundles[b].name.padEnd(14)} r ${p.bundles[b].radius}  ${counts[b]} streamlines, ` +
        `centre ${curveLength[b].toFixed(1)} mm, lengths ${min.toFixed(1)}-${max.toFixed(1)} mm, ` +
        `max distance / radius ${worst[b].toFixed(3)}, width (resampled) ${w.toFixed(1)} mm`,
    );
    // Start in [0, 0.2], end in [0.8, 1]: 60% to 100% of the curve; a fixed offset on the
    // outside of a bend (the U-fibre's: radius of curvature 5.4 mm, tube 2 mm) is longer.
    assert.ok(min > 0.45 * curveLength[b] && max < 1.3 * curveLength[b], `lengths ${min} ${max}`);
    assert.ok(max - min > 0.15 * curveLength[b], `lengths barely vary: ${min}..${max}`);
    // The offsets fill the disc: some streamline comes near the tube's wall.
    assert.ok(worst[b] > 0.8, `bundle ${b} stays within ${worst[b]} of its radius`);
  }
  console.log(`box ${lo.map((v, c) => `${v.toFixed(1)}..${hi[c].toFixed(1)}`).join(" x ")} mm`);
  const box = [60, 60, 12];
  for (let c = 0; c < 3; c++) assert.ok(lo[c] >= -2 && hi[c] <= box[c] + 2, `axis ${c}`);
});

Deno.test("phantom: zero noise keeps points within the radius; writeTrk -> parseTrk", () => {
  const p = phantomBundles({ count: 30, seed: 5, noise: 0, points: 40 });
  p.streamlines.forEach((s, k) => {
    for (let i = 0; i < s.length; i += 3 * 13) {
      const d = distanceToPolyline([s[i], s[i + 1], s[i + 2]], p.bundles[p.bundle[k]].centre);
      assert.ok(d <= p.bundles[p.bundle[k]].radius + 1e-3, `${k}: ${d}`);
    }
  });
  const t = parseTrk(writeTrk(p.streamlines, { dimensions: [60, 60, 12] }), "phantom.trk");
  assert.deepEqual(t.header.dimensions, [60, 60, 12]);
  assert.equal(t.streamlines.length, 30);
  let err = 0;
  t.streamlines.forEach((s, k) =>
    s.forEach((v, i) => err = Math.max(err, Math.abs(v - p.streamlines[k][i])))
  );
  console.log(`phantom .trk round trip: max error ${err} mm`);
  assert.ok(err < 1e-5, `round trip error ${err}`);
});

Deno.test("phantom: several bundles cross (their tubes overlap somewhere)", () => {
  const { bundles } = phantomBundles({ count: 0, seed: 1 });
  const crossing: string[] = [];
  for (let a = 0; a < bundles.length; a++) {
    for (let b = a + 1; b < bundles.length; b++) {
      let d = Infinity;
      const c = bundles[a].centre;
      for (let i = 0; i < c.length; i += 3 * 8) {
        d = Math.min(d, distanceToPolyline([c[i], c[i + 1], c[i + 2]], bundles[b].centre));
      }
      if (d < bundles[a].radius + bundles[b].radius) {
        crossing.push(`${bundles[a].name}/${bundles[b].name} (${d.toFixed(1)} mm)`);
      }
    }
  }
  console.log(`overlapping pairs: ${crossing.join(", ")}`);
  assert.ok(crossing.length >= 3, `only ${crossing.length} pairs cross`);
});
