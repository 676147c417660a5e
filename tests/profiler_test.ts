/**
 * The profiler on a tiny MLP VAE (12-8-2-8-12, batch 5): per-pass timestamps for every
 * dispatch, a table whose shares add up, a trace that opens in Perfetto, and numerics equal
 * bit for bit to unprofiled steps. The whole-submit fallback is tested by forcing it.
 */
import assert from "node:assert/strict";
import { readback, submitCount, Tensor, upload } from "../src/gpu/buffer.ts";
import type { Gpu } from "../src/gpu/device.ts";
import { type Dispatch, submit } from "../src/gpu/kernel.ts";
import { Profiler, type TraceEvent } from "../src/gpu/profiler.ts";
import { buildStep, type MlpVaeConfig, mlpVaeLayout } from "../src/vae/mlp_vae.ts";
import { initParams, METRIC, ModelState } from "../src/vae/common.ts";
import { gpuTest, Rng } from "./_helpers.ts";

const CFG: MlpVaeConfig = {
  inputs: 12,
  hidden: [8],
  z: 2,
  recon: "bce",
  reconWeight: 1,
  beta: 1,
  logvarClamp: [-30, 20],
  seed: 11,
};
const BATCH = 5;
const STEPS = 3;
const ADAM = { lr: 1e-2 };

/** A fresh model with its own state and one training step's dispatches. */
async function tinyModel(gpu: Gpu): Promise<{ state: ModelState; step: Dispatch[] }> {
  const d = gpu.device;
  const layout = mlpVaeLayout(CFG);
  const state = new ModelState(gpu, layout, initParams(layout, CFG.seed));
  const rng = new Rng(7);
  const bytes = Uint8Array.from({ length: BATCH * CFG.inputs }, () => Math.floor(rng.next() * 256));
  const source = {
    data: upload(d, "u8", [bytes.length], bytes, "data"),
    index: upload(d, "u32", [BATCH], Uint32Array.from({ length: BATCH }, (_, i) => i), "index"),
    scale: 1 / 255,
    shift: 0,
  };
  const metrics = new Tensor(d, "f32", [METRIC.size], "metrics");
  const p = await buildStep(gpu, CFG, state, source, metrics, BATCH, ADAM);
  return { state, step: [p.gather, ...p.forward, ...p.backward] };
}

function multiplicity(step: Dispatch[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const d of step) m.set(d.label, (m.get(d.label) ?? 0) + 1);
  return m;
}

/** Checks shared by both modes: the trace parses, has both tracks, spans are ordered. */
function checkTrace(p: Profiler, cpuSpans: number): TraceEvent[] {
  const json = JSON.parse(JSON.stringify(p.toChromeTrace()));
  const events: TraceEvent[] = json.traceEvents;
  assert.ok(Array.isArray(events));
  const names = events.filter((e) => e.ph === "M" && e.name === "thread_name")
    .map((e) => [e.tid, e.args?.name]);
  const tid = (track: string) => names.find(([, n]) => n === track)?.[0];
  assert.ok(tid("CPU") !== undefined, "a CPU track is named");
  assert.ok(tid("GPU passes") !== undefined, "a GPU passes track is named");
  const xs = events.filter((e) => e.ph === "X");
  for (const e of xs) {
    assert.ok(Number.isFinite(e.ts) && e.ts! >= 0, `${e.name}: ts ${e.ts}`);
    assert.ok(Number.isFinite(e.dur) && e.dur! >= 0, `${e.name}: dur ${e.dur}`);
  }
  const gpuEvents = xs.filter((e) => e.tid === tid("GPU passes")).sort((a, b) => a.ts! - b.ts!);
  const cpuEvents = xs.filter((e) => e.tid === tid("CPU"));
  assert.equal(cpuEvents.length, cpuSpans, "CPU spans");
  for (let i = 1; i < gpuEvents.length; i++) {
    const prev = gpuEvents[i - 1];
    // Microsecond floats: allow rounding of the last bit, not a real overlap.
    assert.ok(
      prev.ts! + prev.dur! <= gpuEvents[i].ts! + 1e-6,
      `GPU events overlap: ${prev.name} ends at ${prev.ts! + prev.dur!}, ` +
        `${gpuEvents[i].name} starts at ${gpuEvents[i].ts}`,
    );
  }
  return gpuEvents;
}

gpuTest("profiler: per-pass timestamps for every dispatch, table and trace", async (gpu) => {
  if (!gpu.hasTimestamps) {
    console.warn(
      `\n!!! SKIPPING THE TIMESTAMP PROFILER TEST: ${gpu.adapterName} has no timestamp-query\n`,
    );
    return;
  }
  const { state, step } = await tinyModel(gpu);
  const p = new Profiler(gpu);
  assert.equal(p.mode, "timestamps");
  const s0 = submitCount(gpu.device);
  await p.run(STEPS, () => step);
  assert.equal(p.steps, STEPS);
  assert.equal(submitCount(gpu.device) - s0, STEPS, "one submit per profiled step");

  const stats = p.stats();
  const count = multiplicity(step);
  assert.deepEqual(new Set(stats.map((s) => s.label)), new Set(count.keys()));
  for (const s of stats) {
    assert.equal(s.calls, STEPS * count.get(s.label)!, `${s.label} calls`);
    assert.ok(Number.isFinite(s.totalNs) && s.totalNs > 0, `${s.label}: ${s.totalNs} ns`);
  }
  for (let i = 1; i < stats.length; i++) assert.ok(stats[i - 1].totalNs >= stats[i].totalNs);

  const table = p.table();
  console.log(table);
  const rows = table.split("\n").filter((l) => l.startsWith("| ") && !l.startsWith("| kernel"));
  assert.equal(rows.length, count.size);
  const shares = rows.map((r) => Number(r.split("|")[5]));
  const sum = shares.reduce((a, b) => a + b, 0);
  // Each share is rounded to 0.1%: the sum is 100 within half a unit per row.
  assert.ok(Math.abs(sum - 100) <= 0.05 * rows.length + 1e-9, `shares sum to ${sum}%`);
  assert.match(table, /GPU pass time: [0-9.]+ ms per step of [0-9.]+ ms step wall time/);
  assert.ok(p.gpuTotalMs > 0 && p.gpuTotalMs / STEPS <= p.stepWallMs, "GPU time fits the wall");

  // Steps submitted back to back: prepare, encode and submit each, one wait for them all.
  const gpuEvents = checkTrace(p, 3 * STEPS + 1);
  assert.equal(gpuEvents.length, STEPS * step.length, "one GPU event per pass");
  p.destroy();
  state.destroy();
});

gpuTest("profiler: a run longer than one query set waits and reads back per set", async (gpu) => {
  if (!gpu.hasTimestamps) return;
  const { state, step } = await tinyModel(gpu);
  const p = new Profiler(gpu);
  // Each step's queries start on a multiple of 32 (256-byte resolve offsets).
  const perSet = Math.floor(4096 / (Math.ceil((2 * step.length) / 32) * 32));
  const steps = perSet + 2;
  await p.run(steps, () => step);
  assert.equal(p.steps, steps);
  for (const s of p.stats()) {
    assert.equal(s.calls, steps * multiplicity(step).get(s.label)!, `${s.label} calls`);
    assert.ok(s.totalNs > 0, `${s.label}: ${s.totalNs} ns`);
  }
  const gpuEvents = checkTrace(p, 3 * steps + 2);
  assert.equal(gpuEvents.length, steps * step.length, "one GPU event per pass");
  p.destroy();
  state.destroy();
});

gpuTest("profiler: forced fallback times whole submits", async (gpu) => {
  const { state, step } = await tinyModel(gpu);
  const lines: string[] = [];
  const p = new Profiler(gpu, { timestamps: false, log: (l) => lines.push(l) });
  assert.equal(p.mode, "submit");
  assert.equal(lines.length, 1, "says so in one line");
  for (let s = 0; s < STEPS; s++) await p.step(step);
  const stats = p.stats();
  assert.equal(stats.length, 1);
  assert.equal(stats[0].calls, STEPS);
  assert.ok(Number.isFinite(stats[0].totalNs) && stats[0].totalNs > 0);
  const flops = step.reduce((s, d) => s + d.flops, 0);
  assert.equal(stats[0].flops, STEPS * flops);
  const table = p.table();
  assert.match(table, /submit-to-done time: .* \(no per-kernel times\)/);
  assert.equal(checkTrace(p, 3 * STEPS).length, STEPS, "encode, submit, wait per step");
  p.destroy();
  state.destroy();
});

gpuTest("profiler: profiled steps compute bit for bit what submit() computes", async (gpu) => {
  const plain = await tinyModel(gpu);
  const profiled = await tinyModel(gpu);
  const forced = await tinyModel(gpu);
  const p = new Profiler(gpu);
  const q = new Profiler(gpu, { timestamps: false, log: () => {} });
  for (let s = 0; s < STEPS; s++) {
    submit(gpu.device, plain.step);
    await p.step(profiled.step);
    await q.step(forced.step);
  }
  const want = await readback(gpu.device, plain.state.params);
  const start = initParams(plain.state.layout, CFG.seed);
  assert.ok(want.some((v, i) => v !== start[i]), "the steps changed the parameters");
  for (const [name, m] of [["timestamps", profiled], ["fallback", forced]] as const) {
    const got = await readback(gpu.device, m.state.params);
    const bits = new Uint32Array(got.buffer, got.byteOffset, got.length);
    const wantBits = new Uint32Array(want.buffer, want.byteOffset, want.length);
    const diff = bits.findIndex((b, i) => b !== wantBits[i]);
    assert.equal(diff, -1, `${name}: params differ first at ${diff}`);
    m.state.destroy();
  }
  p.destroy();
  q.destroy();
  plain.state.destroy();
});
