/**
 * The kernel tuner (src/gpu/tuner.ts): a corrupted or foreign cache is ignored with a warning,
 * never trusted; cached choices are used and only when they name a candidate; measured
 * choices build kernels that match the reference. Deno only (reads cache files).
 */

import { adapterKey, parseTuneCache, setTuner, Tuner } from "../src/gpu/tuner.ts";
import { openTuner } from "../src/cli/_tune_cache.ts";
import { conv2dBackward, type Conv2dShape } from "../src/nn/conv2d.ts";
import * as ref from "../src/reference/conv2d.ts";
import { assertClose, f32, gpuTest, out, Rng, run } from "./_helpers.ts";
import type { Gpu } from "../src/gpu/device.ts";

const SHAPE: Conv2dShape = {
  batch: 2,
  height: 9,
  width: 9,
  inChannels: 8,
  outChannels: 8,
  kernel: [3, 3],
  stride: [2, 2],
  padding: "same",
};
const DX_ID = "conv2d.dx 2x9x9x8->8 k3x3 s2x2 same";

/** Builds SHAPE's backward (dx, dw, db) on `gpu`, checks it against the reference, and
 * returns the entry points it used. */
async function checkedBackward(gpu: Gpu, seed: number): Promise<string[]> {
  const rng = new Rng(seed);
  const s = SHAPE;
  const X = 2 * 9 * 9 * 8, Y = 2 * 5 * 5 * 8, WN = 9 * 8 * 8;
  const x = rng.uniform(X), w = rng.uniform(WN, -0.5, 0.5), dy = rng.uniform(Y);
  const xT = f32(gpu, [X], x), wT = f32(gpu, [WN], w), dyT = f32(gpu, [Y], dy);
  const dxT = out(gpu, [X]), dwT = out(gpu, [WN]), dbT = out(gpu, [8]);
  const ds = await conv2dBackward(gpu, { dx: dxT, dw: dwT, db: dbT, dy: dyT, x: xT, w: wT }, s);
  const [dx, dw, db] = await run(gpu, ds, dxT, dwT, dbT);
  const want = ref.conv2dBackward(dy, x, w, s);
  const tag = ds.map((d) => d.entry).join(" + ");
  assertClose(`${tag} dx`, dx, want.dx, 1e-4);
  assertClose(`${tag} dw`, dw, want.dw, 1e-4);
  assertClose(`${tag} db`, db, want.db, 1e-4);
  for (const t of [xT, wT, dyT, dxT, dwT, dbT]) t.destroy();
  return ds.map((d) => d.entry);
}

gpuTest("tuner: a corrupted, foreign or malformed cache is ignored with a warning", async (gpu) => {
  const key = adapterKey(gpu.device, "vulkan");
  const good = new Tuner(gpu, key, { choices: { [DX_ID]: { pick: "direct", ms: {} } } });
  const text = good.toText();
  const parsed = parseTuneCache(text, key);
  if (parsed.warning || parsed.choices[DX_ID]?.pick !== "direct") {
    throw new Error(`a good cache was not read back: ${parsed.warning}`);
  }
  const o = JSON.parse(text);
  const bad: [string, string][] = [
    ["truncated", text.slice(0, text.length / 2)],
    ["not an object", "[1, 2]"],
    ["another format", JSON.stringify({ ...o, format: "something else" })],
    ["another version", JSON.stringify({ ...o, version: 2 })],
    ["another adapter", JSON.stringify({ ...o, adapter: { ...key, description: "other GPU" } })],
    ["another backend", JSON.stringify({ ...o, adapter: { ...key, backend: "gl-other" } })],
    ["a malformed choice", JSON.stringify({ ...o, choices: { [DX_ID]: { pick: 3, ms: {} } } })],
    [
      "a negative time",
      JSON.stringify({ ...o, choices: { [DX_ID]: { pick: "direct", ms: { direct: -1 } } } }),
    ],
  ];
  for (const [what, t] of bad) {
    const p = parseTuneCache(t, key);
    if (!p.warning?.startsWith("kernel choice cache ignored") || Object.keys(p.choices).length) {
      throw new Error(`${what}: not ignored with a warning (${p.warning})`);
    }
    console.log(`  ${what}: ${p.warning}`);
  }
  // From disk: the warning names the file, and the tuner starts empty.
  for (const file of ["tests/tune/corrupted.txt", "tests/tune/foreign.json"]) {
    const lines: string[] = [];
    const tuner = await openTuner(gpu, { path: file, measure: false, log: (l) => lines.push(l) });
    setTuner(gpu, undefined);
    if (!lines.some((l) => l.includes("ignored") && l.includes(file))) {
      throw new Error(`${file}: no warning (${lines.join("; ")})`);
    }
    if (Object.keys(tuner.choices).length) throw new Error(`${file}: its choices were kept`);
  }
});

gpuTest("tuner: cached picks are used only when they name a candidate", async (gpu) => {
  const key = adapterKey(gpu.device, "vulkan");
  try {
    // A cached pick replaces the default (subpixel needs Cin >= 32 by default: direct here,
    // so cache subpixel to see it used).
    setTuner(
      gpu,
      new Tuner(gpu, key, {
        choices: { [DX_ID]: { pick: "subpixel", ms: {} } },
        measure: false,
      }),
    );
    const used = await checkedBackward(gpu, 1);
    if (!used.includes("subpixel_weights")) throw new Error(`cached pick not used: ${used}`);
    // A pick that names no candidate is not trusted: the default is built.
    setTuner(
      gpu,
      new Tuner(gpu, key, {
        choices: { [DX_ID]: { pick: "bogus", ms: {} } },
        measure: false,
      }),
    );
    const dflt = await checkedBackward(gpu, 2);
    if (dflt.includes("subpixel_weights")) throw new Error(`unknown pick trusted: ${dflt}`);
  } finally {
    setTuner(gpu, undefined);
  }
});

gpuTest("tuner: measured choices are recorded and build correct kernels", async (gpu) => {
  const lines: string[] = [];
  const tuner = new Tuner(gpu, adapterKey(gpu.device, "vulkan"), { log: (l) => lines.push(l) });
  setTuner(gpu, tuner);
  try {
    await checkedBackward(gpu, 3);
  } finally {
    setTuner(gpu, undefined);
  }
  const dx = tuner.choices[DX_ID];
  // direct (the default here), then the sub-pixel dx with each forward block.
  const names = ["direct", "subpixel", "subpixel-w2", "subpixel-c32"];
  if (!dx || !names.includes(dx.pick)) {
    throw new Error(`no dx choice measured: ${JSON.stringify(tuner.choices)}`);
  }
  if (Object.keys(dx.ms).join() !== names.join() || !tuner.changed) {
    throw new Error(`dx candidates not all timed: ${JSON.stringify(dx)}`);
  }
  if (!Object.keys(tuner.choices).some((k) => k.startsWith("conv2d.dw "))) {
    throw new Error(`no dw choice: ${Object.keys(tuner.choices)}`);
  }
  console.log(lines.map((l) => `  ${l}`).join("\n"));
  // Read back: the cache round-trips.
  const again = parseTuneCache(tuner.toText(), tuner.key);
  if (again.warning || again.choices[DX_ID].pick !== dx.pick) throw new Error("no round trip");
});
