/** SVG plots: parse as XML, every mark inside the plot area, gaps for NaN, legends, colours. */
import assert from "node:assert/strict";
import { heatColor, heatMap, linePlot, scatterPlot, ticks } from "../src/eval/svg.ts";
import { type Element, elements, parseSvg } from "./_images.ts";

Deno.test("svg: a loss plot is well formed and keeps every point inside the axes", () => {
  const x = [1, 2, 3, 4, 5];
  const svg = linePlot("loss <nats> & KL", "epoch", x, [
    { name: "train", color: "#1f77b4", values: [300, 260, 250, 246, 244] },
    { name: "test", color: "#d62728", values: [290, 262, NaN, 247, 245] },
  ]);
  const doc = parseSvg("loss", svg);
  assert.ok(elements(doc, "text").some((t) => t.textContent === "loss <nats> & KL"));
  const paths = [...svg.matchAll(/<path d="([^"]*)"/g)].map((m) => m[1]);
  assert.equal(paths.length, 2);
  assert.equal((paths[1].match(/M/g) ?? []).length, 2, "NaN splits the test curve");
  for (const p of paths) {
    for (const [, px, py] of p.matchAll(/[ML](-?[\d.]+),(-?[\d.]+)/g)) {
      assert.ok(
        +px >= 60 && +px <= 640 - 150 && +py >= 30 && +py <= 360 - 45,
        `${px},${py} outside`,
      );
    }
  }
});

Deno.test("svg: ticks are round numbers covering the range", () => {
  assert.deepEqual(ticks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(ticks(243.2, 258.9), [245, 250, 255]);
  assert.deepEqual(ticks(5, 5), [5]);
});

Deno.test("svg: dashed series and markers", () => {
  const svg = linePlot("w", "step", [0, 10, 20], [
    { name: "a", color: "red", values: [0, 1, 2], dash: "4 3" },
    { name: "b", color: "blue", values: [NaN, 0.5, NaN], markers: true },
  ]);
  const doc = parseSvg("dash", svg);
  const paths = elements(doc, "path");
  assert.equal(paths[0].getAttribute("stroke-dasharray"), "4 3");
  assert.equal(paths[1].getAttribute("stroke-dasharray"), null);
  const dots = elements(doc, "circle");
  assert.equal(dots.length, 1, "one marker for the one finite value");
  assert.equal(dots[0].parentNode && (dots[0].parentNode as Element).getAttribute("fill"), "blue");
});

Deno.test("svg: a scatter plot puts each point in the frame, grouped and counted", () => {
  const x = [0, 1, 2, 3, NaN, 5], y = [5, 4, 3, 2, 1, 0], g = [0, 1, 0, 2, 1, 7];
  const groups = [{ name: "T-shirt", color: "#111" }, { name: "a<b", color: "#222" }, {
    name: "c",
    color: "#333",
  }];
  const svg = scatterPlot("mu", { x: "mu[0]", y: "mu[1]" }, x, y, g, groups, {
    width: 400,
    height: 300,
  });
  const doc = parseSvg("scatter", svg);
  const legend = elements(doc, "text").map((t) => t.textContent);
  for (const want of ["T-shirt (2)", "a<b (1)", "c (1)", "mu[0]", "mu[1]"]) {
    assert.ok(legend.includes(want), `legend/axis text ${want} in ${legend}`);
  }
  // Points: in <g> per group, inside the frame (x 60..250, y 30..255); the NaN point and the
  // out-of-range group 7 are left out.
  const pts = elements(doc, "g").flatMap((grp) =>
    elements(grp, "circle").map((c) => ({
      fill: grp.getAttribute("fill"),
      cx: +c.getAttribute("cx")!,
      cy: +c.getAttribute("cy")!,
    }))
  );
  assert.deepEqual(pts.map((p) => p.fill), ["#111", "#111", "#222", "#333"]);
  for (const p of pts) assert.ok(p.cx > 60 && p.cx < 250 && p.cy > 30 && p.cy < 255);
  // Larger x is further right, larger y higher up.
  assert.ok(pts[1].cx > pts[0].cx && pts[1].cy > pts[0].cy);
});

Deno.test("svg: a heat map has one cell per value, coloured from lo to the max", () => {
  assert.equal(heatColor(0), "#440154");
  assert.equal(heatColor(1), "#fde725");
  assert.equal(heatColor(-3), "#440154");
  assert.equal(heatColor(0.5), "#21918c");
  assert.equal(heatColor(NaN), "#bbb");
  const values = [[0, 1, 2], [4, NaN, 3]];
  const svg = heatMap(
    "KL",
    { x: "epoch", y: "dim", value: "nats" },
    [1, 2, 3],
    ["z0", "z1"],
    values,
  );
  const doc = parseSvg("heat", svg);
  const cells = elements(doc, "rect").filter((r) => elements(r, "title").length);
  assert.equal(cells.length, 6);
  const fill = (k: number) => cells[k].getAttribute("fill");
  assert.equal(fill(0), "#440154", "0 is the bottom of the scale");
  assert.equal(fill(3), "#fde725", "the max is the top");
  assert.equal(fill(4), "#bbb", "NaN is gray");
  assert.equal(elements(cells[5], "title")[0].textContent, "z1, epoch 3: 3.000");
  // Row 1 sits below row 0; column 2 right of column 0.
  const xy = (k: number) => [+cells[k].getAttribute("x")!, +cells[k].getAttribute("y")!];
  assert.ok(xy(3)[1] > xy(0)[1] && xy(2)[0] > xy(0)[0]);
  const texts = elements(doc, "text").map((t) => t.textContent);
  for (const t of ["z0", "z1", "nats", "0", "4"]) assert.ok(texts.includes(t), t);
});

Deno.test("svg: non-finite and diverged values never crash or hang a plot (issue 18)", () => {
  // A diverged loss: huge values, their nearly equal neighbours, Infinity, NaN, and an x
  // axis with a hole. Every plot parses, and no coordinate is NaN.
  const noNaN = (label: string, svg: string) => {
    parseSvg(label, svg);
    assert.ok(!/="[^"]*NaN/.test(svg), `${label}: NaN in an attribute`);
  };
  assert.deepEqual(ticks(1.7e13, 1.7e13 + 0.01), [1.7e13, 1.7e13 + 0.01]);
  assert.deepEqual(ticks(NaN, 1), []);
  assert.deepEqual(ticks(0, Infinity), [0]);
  assert.deepEqual(ticks(-1.7e308, 1.7e308).length > 0, true);
  noNaN(
    "diverged",
    linePlot("loss", "epoch", [1, 2, NaN, 4], [
      { name: "train", color: "red", values: [550, 1.7e13, Infinity, NaN], markers: true },
      { name: "flat", color: "blue", values: [1.7e13, 1.7e13, 1.7e13, 1.7e13] },
    ]),
  );
  noNaN(
    "all NaN",
    linePlot("loss", "epoch", [1, 2], [{ name: "a", color: "red", values: [NaN, NaN] }]),
  );
  noNaN(
    "wide",
    linePlot("loss", "epoch", [1, 2], [{ name: "a", color: "red", values: [-1.7e308, 1.7e308] }]),
  );
  noNaN(
    "bad range",
    linePlot("w", "x", [0, 1], [{ name: "a", color: "red", values: [0, 1] }], {
      yRange: [NaN, Infinity],
    }),
  );
  noNaN(
    "scatter",
    scatterPlot("mu", { x: "a", y: "b" }, [NaN, Infinity, 1e308, -1e308], [0, 1, NaN, 2], [
      0,
      0,
      0,
      0,
    ], [{ name: "c", color: "red" }]),
  );
  noNaN(
    "heat",
    heatMap("kl", { x: "epoch", y: "z", value: "nats" }, [1, 2], ["z0", "z1"], [
      [NaN, Infinity],
      [1e300, -Infinity],
    ]),
  );
});
