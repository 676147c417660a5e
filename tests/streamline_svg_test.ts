/**
 * Streamline figures: parse as XML, two named views, one polyline per streamline per group
 * and view, points where a hand-computed projection puts them (same mm scale in both views,
 * equal aspect, checked against the scale bar too), everything finite and inside the
 * viewBox, and degenerate inputs (one repeated point, empty groups, nothing) still valid.
 */
import assert from "node:assert/strict";
import {
  interpolationSvg,
  type StreamlineGroup,
  streamlinesSvg,
} from "../src/eval/streamline_svg.ts";
import { mulberry32 } from "../src/io/random.ts";
import { type Document, type Element, elements, parseSvg } from "./_images.ts";

function views(doc: Document): Element[] {
  return elements(doc, "g").filter((g) => g.getAttribute("class") === "view");
}

function points(p: Element): number[][] {
  const s = p.getAttribute("points")!.trim();
  return s ? s.split(/\s+/).map((xy) => xy.split(",").map(Number)) : [];
}

/** Every number in a geometric attribute is finite and inside the viewBox. */
function assertInside(label: string, doc: Document): void {
  const [, , w, h] = doc.documentElement!.getAttribute("viewBox")!.split(" ").map(Number);
  let checked = 0;
  for (const p of elements(doc, "polyline")) {
    for (const [x, y] of points(p)) {
      assert.ok(Number.isFinite(x) && Number.isFinite(y), `${label}: ${x},${y}`);
      assert.ok(x >= 0 && x <= w && y >= 0 && y <= h, `${label}: ${x},${y} outside ${w}x${h}`);
      checked++;
    }
  }
  for (const tag of ["line", "rect", "text"]) {
    for (const e of elements(doc, tag)) {
      for (const a of ["x", "y", "x1", "x2", "y1", "y2", "width", "height"]) {
        const v = e.getAttribute(a);
        if (v === null || v === "") continue;
        assert.ok(Number.isFinite(+v) && +v >= 0 && +v <= Math.max(w, h), `${label}: ${a}=${v}`);
      }
    }
  }
  console.log(`  ${label}: ${checked} projected points finite and inside ${w}x${h}`);
}

/** A random walk of `p` points in mm around `origin`. */
function walk(next: () => number, p: number, origin: number[]): Float32Array {
  const out = new Float32Array(p * 3);
  const at = [...origin];
  for (let i = 0; i < p; i++) {
    for (let a = 0; a < 3; a++) {
      at[a] += 4 * (next() - 0.5);
      out[3 * i + a] = at[a];
    }
  }
  return out;
}

Deno.test("streamlines: two views, one polyline per streamline, legend, scale bar", () => {
  const next = mulberry32(5);
  const groups: StreamlineGroup[] = [
    {
      label: "original <CST> & co",
      color: "#1f77b4",
      streamlines: [5, 9, 13].map((p) => walk(next, p, [0, 0, 0])),
    },
    {
      label: "reconstruction",
      color: "#d62728",
      dashed: true,
      streamlines: [7, 7].map((p) => walk(next, p, [3, -2, 10])),
    },
  ];
  const svg = streamlinesSvg(groups, { title: "bundle 1 & 2" });
  const doc = parseSvg("streamlines", svg);
  const vs = views(doc);
  assert.deepEqual(vs.map((v) => v.getAttribute("data-view")), ["axial", "sagittal"]);
  const texts = elements(doc, "text").map((t) => t.textContent);
  for (const t of ["bundle 1 & 2", "axial (x right, y up)", "sagittal (y right, z up)"]) {
    assert.ok(texts.includes(t), t);
  }
  assert.ok(texts.includes("original <CST> & co (3)") && texts.includes("reconstruction (2)"));
  for (const v of vs) {
    const gs = elements(v, "g");
    assert.equal(gs.length, groups.length);
    gs.forEach((g, k) => {
      const lines = elements(g, "polyline");
      assert.equal(lines.length, groups[k].streamlines.length);
      lines.forEach((l, i) => assert.equal(points(l).length, groups[k].streamlines[i].length / 3));
      assert.equal(g.getAttribute("stroke"), groups[k].color);
      assert.equal(g.hasAttribute("stroke-dasharray"), !!groups[k].dashed);
    });
  }
  assert.equal(elements(doc, "polyline").length, 2 * 5);
  assertInside("streamlines", doc);
  assert.throws(
    () => streamlinesSvg([{ label: "x", color: "red", streamlines: [new Float32Array(4)] }]),
    /multiple of 3/,
  );
});

Deno.test("streamlines: 7 points land where the projection puts them, same scale in both views", () => {
  // x spans 60 mm (the widest), y 20 mm, z 10 mm; centre (30, 0, 1).
  const xyz = [
    [0, 0, 0],
    [10, 5, 2],
    [20, 10, -4],
    [30, 0, 6],
    [40, -10, 0],
    [50, -5, 3],
    [60, 2, 1],
  ];
  const line = Float32Array.from(xyz.flat());
  for (const [width, height] of [[800, 400], [700, 600]]) {
    const doc = parseSvg(
      "projection",
      streamlinesSvg([{ label: "a", color: "black", streamlines: [line] }], { width, height }),
    );
    const frames = views(doc).map((v) => {
      const r = elements(v, "rect")[0];
      return ["x", "y", "width", "height"].map((a) => +r.getAttribute(a)!);
    });
    const [pw, ph] = [frames[0][2], frames[0][3]];
    assert.deepEqual([frames[1][2], frames[1][3]], [pw, ph], "frames of one size");
    // The documented rule: s = min(pw / max(Ex, Ey), ph / max(Ey, Ez)) / 1.1.
    const s = Math.min(pw / 60, ph / 20) / 1.1;
    const centre = [30, 0, 1];
    const axes = [[0, 1], [1, 2]];
    let worst = 0;
    views(doc).forEach((v, k) => {
      const [fx, fy] = frames[k];
      const got = points(elements(v, "polyline")[0]);
      assert.equal(got.length, 7);
      xyz.forEach((p, i) => {
        const [r, u] = axes[k];
        const want = [fx + pw / 2 + (p[r] - centre[r]) * s, fy + ph / 2 - (p[u] - centre[u]) * s];
        worst = Math.max(worst, Math.abs(got[i][0] - want[0]), Math.abs(got[i][1] - want[1]));
      });
    });
    // Coordinates are written with 2 decimals.
    assert.ok(worst <= 0.0051, `max projection error ${worst} px`);
    // The scale bar says the same scale: its length in px over its label in mm.
    const bar = elements(doc, "g").find((g) => g.getAttribute("class") === "scale-bar")!;
    const l = elements(bar, "line")[0];
    const px = +l.getAttribute("x2")! - +l.getAttribute("x1")!;
    const mm = +elements(bar, "text")[0].textContent!.replace(" mm", "");
    assert.ok([1, 2, 5].some((m) => Math.abs(mm / 10 ** Math.floor(Math.log10(mm)) - m) < 1e-9));
    assert.ok(Math.abs(px / mm - s) < 0.01 / mm, `scale bar ${px} px for ${mm} mm, s = ${s}`);
    console.log(
      `  ${width}x${height}: s = ${s.toFixed(4)} px/mm, max error ${worst.toFixed(4)} px, ` +
        `scale bar ${mm} mm`,
    );
    assertInside(`${width}x${height}`, doc);
  }
});

Deno.test("streamlines: degenerate inputs still give valid SVG", () => {
  const same = new Float32Array(7 * 3);
  for (let i = 0; i < 7; i++) same.set([12.5, -3, 40], 3 * i);
  const cases: [string, StreamlineGroup[]][] = [
    ["one repeated point", [{ label: "p", color: "red", streamlines: [same, same.slice(0, 3)] }]],
    ["an empty group", [{ label: "e", color: "red", streamlines: [] }, {
      label: "p",
      color: "blue",
      streamlines: [same],
    }]],
    ["only empty groups", [{ label: "e", color: "red", streamlines: [] }]],
    ["no groups", []],
    ["an empty streamline", [{ label: "e", color: "red", streamlines: [new Float32Array(0)] }]],
    ["non-finite points", [{
      label: "n",
      color: "red",
      streamlines: [Float32Array.from([0, 0, 0, NaN, 1, 1, 5, 5, Infinity, 2, 2, 2])],
    }]],
  ];
  for (const [label, groups] of cases) {
    const doc = parseSvg(label, streamlinesSvg(groups));
    assert.equal(views(doc).length, 2, label);
    assert.equal(
      elements(doc, "polyline").length,
      2 * groups.reduce((n, g) => n + g.streamlines.length, 0),
      label,
    );
    assertInside(label, doc);
  }
  // One repeated point draws a dot at each frame's centre.
  const doc = parseSvg("dot", streamlinesSvg([{ label: "p", color: "red", streamlines: [same] }]));
  for (const v of views(doc)) {
    const r = elements(v, "rect")[0];
    const [x, y, w, h] = ["x", "y", "width", "height"].map((a) => +r.getAttribute(a)!);
    for (const p of points(elements(v, "polyline")[0])) {
      assert.ok(Math.abs(p[0] - (x + w / 2)) < 0.01 && Math.abs(p[1] - (y + h / 2)) < 0.01);
    }
  }
});

Deno.test("streamlines: an interpolation is coloured first to last in both views", () => {
  const next = mulberry32(9);
  const path = Array.from({ length: 9 }, (_, i) => walk(next, 11, [i, 0, 0]));
  const doc = parseSvg("interpolation", interpolationSvg(path));
  const texts = elements(doc, "text").map((t) => t.textContent);
  assert.ok(texts.includes("streamlines along a latent interpolation"));
  assert.ok(texts.includes("first") && texts.includes("last") && texts.includes("9 steps"));
  for (const v of views(doc)) {
    const gs = elements(v, "g");
    assert.equal(gs.length, 9);
    const colors = gs.map((g) => g.getAttribute("stroke"));
    assert.equal(colors[0], "#440154");
    assert.equal(colors[8], "#fde725");
    assert.equal(new Set(colors).size, 9, "a distinct colour per step");
    for (const g of gs) assert.equal(elements(g, "polyline").length, 1);
  }
  assertInside("interpolation", doc);
  parseSvg("one step", interpolationSvg([path[0]], { title: "one" }));
  parseSvg("no steps", interpolationSvg([]));
});
