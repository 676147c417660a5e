/** SVG line plots: well-formed XML, every point inside the plot area, gaps for NaN. */
import assert from "node:assert/strict";
import { linePlot, ticks } from "../src/eval/svg.ts";

/** Checks tags nest and close properly (a small well-formedness check for this output). */
function assertWellFormed(svg: string): void {
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z]+)([^>]*?)(\/?)>/g)) {
    const [, close, name, attrs, self] = m;
    for (const a of attrs.matchAll(/\s([a-zA-Z-:]+)=("[^"]*")?/g)) {
      assert.ok(a[2], `attribute ${a[1]} unquoted`);
    }
    if (self) continue;
    if (close) assert.equal(stack.pop(), name, `</${name}> closes the wrong tag`);
    else stack.push(name);
  }
  assert.deepEqual(stack, []);
  assert.ok(
    !/[<>&](?![a-zA-Z/#!]|amp;|lt;|gt;|quot;)/.test(svg.replace(/<[^>]*>/g, "")),
    "stray markup character",
  );
}

Deno.test("svg: a loss plot is well formed and keeps every point inside the axes", () => {
  const x = [1, 2, 3, 4, 5];
  const svg = linePlot("loss <nats> & KL", "epoch", x, [
    { name: "train", color: "#1f77b4", values: [300, 260, 250, 246, 244] },
    { name: "test", color: "#d62728", values: [290, 262, NaN, 247, 245] },
  ]);
  assertWellFormed(svg);
  assert.match(svg, /loss &lt;nats&gt; &amp; KL/);
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
