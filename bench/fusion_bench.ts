/**
 * Fused and vectorised kernels against the passes they replace, on the mlp reference
 * model's shapes at batch 128 (encoder 784 -> 512 -> 512 -> 2 x 20, decoder 20 -> 512 -> 512
 * -> 784, Bernoulli likelihood; Adam over the model's flat parameters). Prints a markdown
 * table with the speedup of each fusion, all measured in this one run, and writes it, with
 * the raw numbers as JSON, to bench/results/fusion_<adapter>-<backend>_<date>.{md,json}.
 *
 *   deno run --allow-read --allow-env --allow-write=bench/results --allow-sys=loadavg \
 *     bench/fusion_bench.ts
 *   DENO_WEBGPU_BACKEND=gl deno run ... (the same on the GL backend)
 *
 * Timing: a row's dispatches (e.g. dense forward then ReLU) are encoded `reps` times into one
 * compute pass, submitted once, and the wall time to `onSubmittedWorkDone` is divided by
 * `reps` (GPU-synchronised; `reps` is calibrated so one round lasts at least TARGET_MS, which
 * keeps the one wait small beside it). The unfused and fused versions of a row are measured in
 * interleaved rounds (unfused, fused, unfused, ...); reported are the median over ROUNDS
 * rounds of each, and the speedup as the median of the per-round ratios, which pairs the two
 * measurements taken under the same load (this machine's CPU adapter shares its cores). The
 * fastest round of each is reported too: under load from other processes it is the steadier
 * estimate of what a kernel costs.
 */

import { requestGpu } from "../src/gpu/device.ts";
import { type Tensor, upload } from "../src/gpu/buffer.ts";
import { type Dispatch, submit } from "../src/gpu/kernel.ts";
import { activationBackward, activationForward } from "../src/nn/activation.ts";
import { adamStep } from "../src/nn/adam.ts";
import { denseBackward, denseForward } from "../src/nn/dense.ts";
import { klBackward, klForward } from "../src/nn/kl.ts";
import {
  latentBackward,
  latentBackwardKl,
  latentForward,
  latentForwardKl,
  type LatentShape,
} from "../src/nn/latent.ts";
import { ParamLayout } from "../src/nn/params.ts";
import { reconBackward, reconForward, reconForwardBackward } from "../src/nn/recon.ts";

const B = 128;
const F = 784;
const H = 512;
const Z = 20;
const TARGET_MS = 150;
const ROUNDS = 11;
const MAX_REPS = 8192;

/** 1-minute load average, for the record (needs --allow-sys=loadavg; "?" without it). */
function loadAverage(): string {
  try {
    return Deno.loadavg()[0].toFixed(2);
  } catch {
    return "?";
  }
}

const loadStart = loadAverage();
const gpu = await requestGpu();
const device = gpu.device;

function random(shape: number[], label: string, lo = -1, hi = 1): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = lo + (hi - lo) * Math.random();
  return upload(device, "f32", shape, data, label);
}

async function wall(ds: Dispatch[], reps: number): Promise<number> {
  const list: Dispatch[] = [];
  for (let r = 0; r < reps; r++) list.push(...ds);
  const t0 = performance.now();
  submit(device, list, "bench");
  await device.queue.onSubmittedWorkDone();
  return performance.now() - t0;
}

/**
 * Repetitions per round: doubled from 2 until one submit lasts TARGET_MS, so the one wait per
 * submit (~12 ms on llvmpipe, included in every measurement) is a small share of it.
 */
async function calibrate(ds: Dispatch[]): Promise<number> {
  await wall(ds, 1); // compiles and warms up
  let reps = 2;
  while (reps < MAX_REPS && (await wall(ds, reps)) < TARGET_MS) reps *= 2;
  return Math.min(reps, MAX_REPS);
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/**
 * ms per repetition of two dispatch lists, measured in interleaved rounds: the median of
 * each, and the median of the per-round ratios a / b.
 */
async function measure(
  a: Dispatch[],
  b: Dispatch[],
  c: Dispatch[],
): Promise<[number, number, number, number, number, number]> {
  const ra = await calibrate(a), rb = await calibrate(b);
  const rc = c.length ? await calibrate(c) : 0;
  const ta: number[] = [], tb: number[] = [], tc: number[] = [], ratio: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    ta.push((await wall(a, ra)) / ra);
    tb.push((await wall(b, rb)) / rb);
    if (rc) tc.push((await wall(c, rc)) / rc);
    ratio.push(ta[r] / tb[r]);
  }
  const removed = tc.length ? median(tc) : NaN;
  return [median(ta), median(tb), median(ratio), Math.min(...ta), Math.min(...tb), removed];
}

interface Row {
  name: string;
  unfused: string;
  fused: string;
  dispatchesBefore: number;
  dispatchesAfter: number;
  unfusedMs: number;
  fusedMs: number;
  speedup: number;
  unfusedMinMs: number;
  fusedMinMs: number;
  /** Median ms of the pass the fusion removes, timed alone (NaN where none is removed). */
  removedMs: number;
}

const rows: Row[] = [];
const tensors: Tensor[] = [];
const t = (shape: number[], label: string, lo?: number, hi?: number) => {
  const x = random(shape, label, lo, hi);
  tensors.push(x);
  return x;
};

/** Measure unfused `a` against fused `b`; `removed`: the passes b no longer runs, timed alone. */
async function row(
  name: string,
  unfused: string,
  fused: string,
  a: Dispatch[],
  b: Dispatch[],
  removed: Dispatch[] = [],
) {
  const [unfusedMs, fusedMs, speedup, unfusedMinMs, fusedMinMs, removedMs] = await measure(
    a,
    b,
    removed,
  );
  rows.push({
    name,
    unfused,
    fused,
    dispatchesBefore: a.length,
    dispatchesAfter: b.length,
    unfusedMs,
    fusedMs,
    speedup,
    unfusedMinMs,
    fusedMinMs,
    removedMs,
  });
  console.error(
    `  ${name}: ${unfusedMs.toFixed(3)} -> ${fusedMs.toFixed(3)} ms (${speedup.toFixed(2)}x)`,
  );
}

// ---- Adam over the mlp's flat parameters ----
const layout = new ParamLayout();
for (
  const [name, k, n] of [
    ["encoder.0", F, H],
    ["encoder.1", H, H],
    ["encoder.head", H, 2 * Z],
    ["decoder.0", Z, H],
    ["decoder.1", H, H],
    ["decoder.out", H, F],
  ] as const
) {
  layout.add(`${name}.weight`, [k, n]);
  layout.add(`${name}.bias`, [n]);
}
const P = layout.trainableSize;
{
  const params = t([P], "params"), grads = t([P], "grads", -1e-3, 1e-3);
  const m = t([P], "m", -1e-3, 1e-3), v = t([P], "v", 0, 1e-6);
  const counter = upload(device, "u32", [1], [0], "counter");
  const opt = { params, grads, m, v, counter };
  const [scalar] = await adamStep(gpu, opt, { lr: 1e-3 }, { variant: "scalar" });
  const [vec4] = await adamStep(gpu, opt, { lr: 1e-3 });
  await row(`adam, ${P} params`, "update (scalar)", "update_vec4", [scalar], [vec4]);
  counter.destroy();
}

// ---- Dense + ReLU forward, and dx through the ReLU below ----
const hidden: [string, number, number][] = [
  ["enc 784->512", F, H],
  ["enc 512->512", H, H],
  ["dec 20->512", Z, H],
  ["dec 512->512", H, H],
];
for (const [name, K, N] of hidden) {
  const s = { batch: B, inFeatures: K, outFeatures: N };
  const x = t([B, K], "x"), W = t([K, N], "W", -0.1, 0.1), b = t([N], "b");
  const pre = t([B, N], "pre"), y = t([B, N], "y");
  const unfused = [
    ...await denseForward(gpu, { y: pre, x, W, b }, s),
    await activationForward(gpu, "relu", { y, x: pre }),
  ];
  const fused = await denseForward(gpu, { y, x, W, b }, s, { activation: "relu" });
  await row(`${name} forward`, "dense + relu", "dense+relu", unfused, fused, unfused.slice(1));
}
/** Layers whose input is a ReLU output, so their dx carries the ReLU backward. */
const below: [string, number, number][] = [
  ["enc head 512->40", H, 2 * Z],
  ["enc 512->512", H, H],
  ["dec 512->512", H, H],
  ["dec out 512->784", H, F],
];
for (const [name, K, N] of below) {
  const s = { batch: B, inFeatures: K, outFeatures: N };
  const x = t([B, K], "x", 0, 1), W = t([K, N], "W", -0.1, 0.1), dy = t([B, N], "dy");
  const dW = t([K, N], "dW"), db = t([N], "db");
  const dh = t([B, K], "dh"), dpre = t([B, K], "dpre");
  const [dx] = await denseBackward(gpu, { dx: dh, dW, db, dy, x, W }, s);
  const unfused = [dx, await activationBackward(gpu, "relu", { dx: dpre, dy: dh, x })];
  const [fused] = await denseBackward(gpu, { dx: dpre, dW, db, dy, x, W }, s, {
    dxActivation: "relu",
  });
  await row(`${name} dx`, "dx + relu backward", "dx+relu", unfused, [fused], unfused.slice(1));
}

// ---- dW and db in one dispatch, every layer ----
for (
  const [name, K, N] of [
    ["enc 784->512", F, H],
    ["enc 512->512", H, H],
    ["enc head 512->40", H, 2 * Z],
    ["dec 20->512", Z, H],
    ["dec 512->512", H, H],
    ["dec out 512->784", H, F],
  ] as const
) {
  const s = { batch: B, inFeatures: K, outFeatures: N };
  const x = t([B, K], "x", 0, 1), W = t([K, N], "W", -0.1, 0.1), dy = t([B, N], "dy");
  const dW = t([K, N], "dW"), db = t([N], "db");
  const unfused = await denseBackward(gpu, { dW, db, dy, x, W }, s);
  const fused = await denseBackward(gpu, { dW, db, dy, x, W }, s, { fuseDb: true });
  await row(`${name} dW, db`, "dW + db", "dW+db", unfused, fused, unfused.slice(1));
}

// ---- Reconstruction loss and its gradient ----
for (const kind of ["bce", "mse"] as const) {
  const logits = t([B, F], "logits", -4, 4), x = t([B, F], "x", 0, 1);
  const loss = t([B], "loss"), dlogits = t([B, F], "dlogits");
  const s = { batch: B, features: F, scale: 1 / B };
  const unfused = [
    await reconForward(gpu, kind, { loss, logits, x }, s),
    await reconBackward(gpu, kind, { dlogits, logits, x }, s),
  ];
  const fused = await reconForwardBackward(gpu, kind, { loss, dlogits, logits, x }, s);
  await row(`recon ${kind} ${B}x${F}`, "forward + backward", "forward_backward", unfused, [
    fused,
  ]);
}

// ---- Reparameterize + KL ----
{
  const s: LatentShape = { batch: B, z: Z, logvarMin: -30, logvarMax: 20, seed: 1 };
  const mulogvar = t([B, 2 * Z], "mulogvar"), dz = t([B, Z], "dz");
  const z = t([B, Z], "z"), eps = t([B, Z], "eps"), kl = t([B], "kl");
  const dmulogvar = t([B, 2 * Z], "dmulogvar");
  const counter = upload(device, "u32", [1], [5], "counter");
  await row(
    `latent + kl forward ${B}x${Z}`,
    "latent_forward + kl_forward",
    "latent_forward_kl",
    [
      await latentForward(gpu, { z, eps, mulogvar, counter }, s),
      await klForward(gpu, { kl, mulogvar }, s),
    ],
    [await latentForwardKl(gpu, { z, eps, kl, mulogvar, counter }, s)],
  );
  await row(
    `latent + kl backward ${B}x${Z}`,
    "latent_backward + kl_backward",
    "latent_backward_kl",
    [
      await latentBackward(gpu, { dmulogvar, dz, eps, mulogvar }, s),
      await klBackward(gpu, { dmulogvar, mulogvar }, { ...s, scale: 1 / B }),
    ],
    [await latentBackwardKl(gpu, { dmulogvar, dz, eps, mulogvar }, { ...s, scale: 1 / B })],
  );
  counter.destroy();
}

// ---- report ----
const backend = Deno.env.get("DENO_WEBGPU_BACKEND") ?? "default";
const date = new Date().toISOString().slice(0, 10);
const slug = (gpu.adapterName.split(/[^A-Za-z0-9]+/)[0] || "adapter").toLowerCase();
const lines: string[] = [];
lines.push(`# Fused kernels on ${gpu.adapterName}`);
lines.push("");
lines.push(
  `${date}, Deno ${Deno.version.deno}, WebGPU backend \`${backend}\`. mlp shapes at batch ` +
    `${B}. ms per application: median of ${ROUNDS} interleaved rounds, each one submit of ` +
    `many repetitions, GPU-synchronised wall time. Speedup: median over the rounds of ` +
    `unfused / fused, each pair measured back to back in this run. Load average at the ` +
    `start ${loadStart}, end ${loadAverage()} (the adapter shares the machine's cores).`,
);
lines.push("");
lines.push(
  "| what | unfused | fused | dispatches | unfused ms | fused ms | speedup | " +
    "fastest: unfused ms | fused ms | speedup | removed pass alone ms |",
);
lines.push("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
let before = 0, after = 0, beforeMin = 0, afterMin = 0, removed = 0;
for (const r of rows) {
  if (Number.isFinite(r.removedMs)) removed += r.removedMs;
  before += r.unfusedMs;
  after += r.fusedMs;
  beforeMin += r.unfusedMinMs;
  afterMin += r.fusedMinMs;
  lines.push(
    `| ${r.name} | ${r.unfused} | ${r.fused} | ${r.dispatchesBefore} -> ${r.dispatchesAfter} | ` +
      `${r.unfusedMs.toFixed(3)} | ${r.fusedMs.toFixed(3)} | ` +
      `${r.speedup.toFixed(2)}x | ${r.unfusedMinMs.toFixed(3)} | ${r.fusedMinMs.toFixed(3)} | ` +
      `${(r.unfusedMinMs / r.fusedMinMs).toFixed(2)}x | ` +
      `${Number.isFinite(r.removedMs) ? r.removedMs.toFixed(3) : "-"} |`,
  );
}
const dBefore = rows.reduce((a, r) => a + r.dispatchesBefore, 0) - 1; // mse row is an alternative
const dAfter = rows.reduce((a, r) => a + r.dispatchesAfter, 0) - 1;
const mse = rows.find((r) => r.name.startsWith("recon mse"))!;
const stepBefore = before - mse.unfusedMs, stepAfter = after - mse.fusedMs;
const minBefore = beforeMin - mse.unfusedMinMs, minAfter = afterMin - mse.fusedMinMs;
lines.push("");
lines.push(
  `Per mlp training step (every row but mse, the bce model's step; ${dBefore} -> ${dAfter} ` +
    `dispatches): medians ${stepBefore.toFixed(2)} ms -> ${stepAfter.toFixed(2)} ms, ` +
    `fastest rounds ${minBefore.toFixed(2)} ms -> ${minAfter.toFixed(2)} ms ` +
    `(${(minBefore - minAfter).toFixed(2)} ms saved). The dense rows include their matrix ` +
    `product, which the fusion leaves as it is: what they save is the removed pass ` +
    `(ReLU forward, ReLU backward, db), timed alone in the last column ` +
    `(${removed.toFixed(2)} ms in all), less the epilogue's small cost; their difference of ` +
    `two large times is within the noise of a shared machine.`,
);
const table = lines.join("\n") + "\n";
console.log(table);
const base = new URL(`./results/fusion_${slug}-${backend}_${date}`, import.meta.url);
await Deno.writeTextFile(new URL(`${base.href}.md`), table);
await Deno.writeTextFile(
  new URL(`${base.href}.json`),
  JSON.stringify(
    { adapter: gpu.adapterName, backend, date, deno: Deno.version.deno, batch: B, rows },
    null,
    2,
  ) + "\n",
);
console.error(`wrote ${base.pathname}.md and .json`);
for (const x of tensors) x.destroy();
gpu.destroy();
