/**
 * Convolution kernels: ms and GFLOP/s of forward, dx, dw and db of every conv2d and
 * transposed conv2d layer of the conv VAE at batch 128, of the streamline model's conv1d
 * layers at batch 64 beside 2-D convolutions of about the same work (does the one-row mapping
 * cost anything?), and the share of a matmul ceiling (dense vec4 forward at 1024^3) measured
 * in the same run. Prints a markdown table and writes it, with the rows as JSON, to
 * bench/results/conv_<adapter>-<backend>_<date>.{md,json}.
 *
 *   deno run --allow-read --allow-env --allow-write=bench/results bench/conv_bench.ts
 *
 * Timing: the op's dispatches are encoded `reps` times into one compute pass and submitted
 * once; wall time to onSubmittedWorkDone / reps (the one wait, ~10 ms on llvmpipe, is included
 * and kept small by choosing reps so a round lasts ~TARGET_MS). One warm-up round (compiles),
 * then the median of ROUNDS rounds. GFLOP/s counts each dispatch's declared flops
 * (2 multiply-adds per (output, tap, in channel, out channel), plus bias adds).
 *
 * Other scripts call {@linkcode runConvBench}; nothing runs on import.
 */

import { type Gpu, requestGpu } from "../src/gpu/device.ts";
import { type Tensor, upload } from "../src/gpu/buffer.ts";
import { type Dispatch, submit } from "../src/gpu/kernel.ts";
import {
  conv2dBackwardDb,
  conv2dBackwardDw,
  conv2dBackwardDx,
  conv2dDxKernel,
  conv2dForward,
  conv2dOutputSize,
  type Conv2dShape,
} from "../src/nn/conv2d.ts";
import {
  convTranspose2dBackward,
  convTranspose2dForward,
  convTranspose2dOutputSize,
  convTranspose2dPartner,
  type ConvTranspose2dShape,
} from "../src/nn/conv_transpose2d.ts";
import {
  conv1dAs2d,
  type Conv1dShape,
  convTranspose1dAs2d,
  type ConvTranspose1dShape,
} from "../src/nn/conv1d.ts";
import { denseForward } from "../src/nn/dense.ts";
import { same } from "./conv_probe.ts";
import process from "node:process";

/** One measured op of one layer. */
export interface ConvBenchRow {
  /** Which table: the conv VAE, the streamline model, the ceiling. */
  group: "conv vae" | "streamline" | "ceiling";
  /** Layer, e.g. "enc 28x28x32->64 s2". */
  layer: string;
  /** forward, dx, dw or db; "dx (before)" / "forward (before)": the kernel it replaced. */
  op: string;
  /** Entry points run, in order. */
  kernels: string[];
  /** Launches of the op per submit. */
  reps: number;
  /** Median ms per launch. */
  ms: number;
  gflops: number;
  /** gflops / the matmul ceiling of the same run. */
  ofCeiling: number;
}

/** Options of {@linkcode runConvBench}. */
export interface ConvBenchOptions {
  /** Device to use (default: a new one, destroyed at the end). */
  gpu?: Gpu;
  /** Write bench/results/conv_*.{md,json} (default true). */
  write?: boolean;
  /** Print the table (default true). */
  print?: boolean;
  /** Target wall time of one round in ms (default 150). */
  targetMs?: number;
}

const ROUNDS = 5;
/**
 * CONV_BENCH_CPU=1: time by this process's CPU time divided by the cores (llvmpipe runs the
 * kernels on its threads in this process), for a machine loaded by other work, where wall
 * time measures the load; on an idle machine the two agree within llvmpipe's idle threads.
 */
const CPU_TIME = Deno.env.get("CONV_BENCH_CPU") === "1";
const CPU_CORES = navigator.hardwareConcurrency || 1;

/** The 1-minute load average (Linux), for the report. */
function loadAverage(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ")[0];
  } catch {
    return "not readable without --allow-sys";
  }
}
const MAX_REPS = 1000;
const BATCH = 128;

function sameT(h: number, ci: number, co: number, st: number): ConvTranspose2dShape {
  return { ...same(h, ci, co, st), padding: "same" };
}

/** The conv VAE's encoder convolutions (all k3 "same"). */
const ENCODER: [string, Conv2dShape][] = [
  ["enc 28x28x1->32 s1", same(28, 1, 32, 1)],
  ["enc 28x28x32->64 s2", same(28, 32, 64, 2)],
  ["enc 14x14x64->64 s2", same(14, 64, 64, 2)],
  ["enc 7x7x64->64 s1", same(7, 64, 64, 1)],
];
/** The conv VAE's decoder transposed convolutions (all k3 "same"). */
const DECODER: [string, ConvTranspose2dShape][] = [
  ["dec 7x7x64->64 s1 (T)", sameT(7, 64, 64, 1)],
  ["dec 7x7x64->14x14x64 s2 (T)", sameT(7, 64, 64, 2)],
  ["dec 14x14x64->28x28x32 s2 (T)", sameT(14, 64, 32, 2)],
  ["dec 28x28x32->28x28x1 s1 (T)", sameT(28, 32, 1, 1)],
];

function conv1d(L: number, ci: number, co: number): Conv1dShape {
  return {
    batch: 64,
    length: L,
    inChannels: ci,
    outChannels: co,
    kernel: 3,
    stride: 2,
    padding: "same",
  };
}

/** The streamline model's encoder (batch 64, k3 s2 "same"). */
const STREAM_ENC: [string, Conv1dShape][] = [
  ["conv1d 256x3->32", conv1d(256, 3, 32)],
  ["conv1d 128x32->64", conv1d(128, 32, 64)],
  ["conv1d 64x64->128", conv1d(64, 64, 128)],
];
/** Its decoder's upsampling (batch 64, k3 s2 "same"). */
const STREAM_DEC: [string, ConvTranspose1dShape][] = [
  ["conv_transpose1d 32x128->64", conv1d(32, 128, 64)],
  ["conv_transpose1d 64x64->32", conv1d(64, 64, 32)],
  ["conv_transpose1d 128x32->3", conv1d(128, 32, 3)],
];

/**
 * A 2-D twin of a conv1d: the same channels, k3x3 s2 "same" on 16x16 images (8x8 outputs), the
 * batch chosen so the multiply-adds match within a few percent (3 taps x Lo vs 9 x 64 pixels).
 */
function twin(s: Conv1dShape): Conv2dShape {
  const lo = Math.ceil(s.length / s.stride);
  const b = Math.max(1, Math.round((s.batch * lo * 3) / (9 * 64)));
  return same(16, s.inChannels, s.outChannels, 2, b);
}

/** Run the whole benchmark; returns its rows (printing and writing them unless told not to). */
export async function runConvBench(options: ConvBenchOptions = {}): Promise<ConvBenchRow[]> {
  const gpu = options.gpu ?? await requestGpu();
  const device = gpu.device;
  const target = options.targetMs ?? 150;
  const tensors: Tensor[] = [];
  const random = (n: number): Tensor => {
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = Math.random() * 2 - 1;
    const t = upload(device, "f32", [n], data, "bench");
    tensors.push(t);
    return t;
  };
  const wall = async (ds: Dispatch[], reps: number): Promise<number> => {
    const list: Dispatch[] = [];
    for (let r = 0; r < reps; r++) list.push(...ds);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    submit(device, list, "bench");
    await device.queue.onSubmittedWorkDone();
    const c = process.cpuUsage(c0);
    return CPU_TIME ? (c.user + c.system) / 1000 / CPU_CORES : performance.now() - t0;
  };
  const measure = async (ds: Dispatch[]): Promise<{ reps: number; ms: number }> => {
    await wall(ds, 1); // compile, warm up
    const one = await wall(ds, 2) / 2;
    const reps = Math.max(1, Math.min(MAX_REPS, Math.round(target / Math.max(one, 1e-3))));
    await wall(ds, reps);
    const times: number[] = [];
    for (let r = 0; r < ROUNDS; r++) times.push((await wall(ds, reps)) / reps);
    times.sort((a, b) => a - b);
    return { reps, ms: times[ROUNDS >> 1] };
  };

  const timed: Omit<ConvBenchRow, "ofCeiling">[] = [];
  const time = async (group: ConvBenchRow["group"], layer: string, op: string, ds: Dispatch[]) => {
    const { reps, ms } = await measure(ds);
    const flops = ds.reduce((a, d) => a + d.flops, 0);
    timed.push({
      group,
      layer,
      op,
      kernels: ds.map((d) => d.entry),
      reps,
      ms,
      gflops: flops / ms / 1e6,
    });
  };

  // The ceiling first, so a slow start of the machine does not flatter the shares.
  {
    const n = 1024;
    const x = random(n * n), W = random(n * n), b = random(n), y = random(n * n);
    const s = { batch: n, inFeatures: n, outFeatures: n };
    const [d] = await denseForward(gpu, { y, x, W, b }, s, { variant: "vec4" });
    await time("ceiling", "dense 1024^3", "forward", [d]);
  }

  /** forward, dx, dw, db of one conv2d shape. */
  const conv2dOps = async (group: ConvBenchRow["group"], layer: string, s: Conv2dShape) => {
    const o = conv2dOutputSize(s);
    const X = s.batch * s.height * s.width * s.inChannels;
    const Y = s.batch * o.height * o.width * s.outChannels;
    const WN = s.kernel[0] * s.kernel[1] * s.inChannels * s.outChannels;
    const x = random(X), w = random(WN), b = random(s.outChannels), dy = random(Y);
    const y = random(Y), dx = random(X), dw = random(WN), db = random(s.outChannels);
    await time(group, layer, "forward", await conv2dForward(gpu, { y, x, w, b }, s));
    await time(group, layer, "dx", [...await conv2dBackwardDx(gpu, { dx, dy, w }, s)]);
    if (conv2dDxKernel(s) !== "direct") {
      // The kernel this replaced, timed in the same run.
      const before = await conv2dBackwardDx(gpu, { dx, dy, w }, s, { dx: "direct" });
      await time(group, layer, "dx (before)", [...before]);
    }
    await time(group, layer, "dw", await conv2dBackwardDw(gpu, { dw, dy, x }, s));
    await time(group, layer, "db", [await conv2dBackwardDb(gpu, { db, dy }, s)]);
    for (const t of tensors.splice(0)) t.destroy();
  };
  const transposeOps = async (
    group: ConvBenchRow["group"],
    layer: string,
    s: ConvTranspose2dShape,
  ) => {
    const o = convTranspose2dOutputSize(s);
    const X = s.batch * s.height * s.width * s.inChannels;
    const Y = s.batch * o.height * o.width * s.outChannels;
    const WN = s.kernel[0] * s.kernel[1] * s.inChannels * s.outChannels;
    const x = random(X), w = random(WN), b = random(s.outChannels), dy = random(Y);
    const y = random(Y), dx = random(X), dw = random(WN), db = random(s.outChannels);
    await time(group, layer, "forward", await convTranspose2dForward(gpu, { y, x, w, b }, s));
    if (conv2dDxKernel(convTranspose2dPartner(s)) !== "direct") {
      // The kernels this replaced (the partner's direct dx, then the bias pass), same run.
      const before = await convTranspose2dForward(gpu, { y, x, w, b }, s, { dx: "direct" });
      await time(group, layer, "forward (before)", before);
    }
    // [dx, dw (and its chunk sum), db]
    const ds = await convTranspose2dBackward(gpu, { dx, dw, db, dy, x, w }, s);
    await time(group, layer, "dx", ds.slice(0, 1));
    await time(group, layer, "dw", ds.slice(1, -1));
    await time(group, layer, "db", ds.slice(-1));
    for (const t of tensors.splice(0)) t.destroy();
  };

  const started = performance.now();
  const progress = (what: string) =>
    console.error(`  measured ${what} (${((performance.now() - started) / 1000).toFixed(0)} s)`);
  for (const [name, s] of ENCODER) {
    await conv2dOps("conv vae", name, s);
    progress(name);
  }
  for (const [name, s] of DECODER) {
    await transposeOps("conv vae", name, s);
    progress(name);
  }
  for (const [name, s] of STREAM_ENC) {
    await conv2dOps("streamline", name, conv1dAs2d(s));
    const t = twin(s);
    await conv2dOps("streamline", `2-D twin ${t.batch}x16x16x${t.inChannels}->${t.outChannels}`, t);
    progress(name);
  }
  for (const [name, s] of STREAM_DEC) {
    await transposeOps("streamline", name, convTranspose1dAs2d(s));
    progress(name);
  }
  if (!options.gpu) gpu.destroy();

  const ceiling = timed[0].gflops;
  const rows: ConvBenchRow[] = timed.map((r) => ({ ...r, ofCeiling: r.gflops / ceiling }));
  const table = report(rows, gpu.adapterName);
  if (options.print ?? true) console.log(table);
  if (options.write ?? true) await write(rows, table, gpu.adapterName);
  return rows;
}

function backendName(): string {
  return Deno.env.get("DENO_WEBGPU_BACKEND") ?? "vulkan";
}

/** Markdown: one table per group plus the conv VAE's per-step sums. */
function report(rows: ConvBenchRow[], adapter: string): string {
  const date = new Date().toISOString().slice(0, 10);
  const ceiling = rows.find((r) => r.group === "ceiling")!;
  const lines: string[] = [];
  lines.push(`# Convolution kernels on ${adapter}`);
  lines.push("");
  lines.push(
    `${date}, Deno ${Deno.version.deno}, WebGPU backend \`${backendName()}\`. ` +
      (CPU_TIME
        ? `Times are this process's CPU time / ${CPU_CORES} cores (CONV_BENCH_CPU=1: the ` +
          `machine was loaded by other work, load average ${loadAverage()}). `
        : "") +
      `Median of ` +
      `${ROUNDS} rounds, each one submit of many launches (wall time, nothing subtracted). ` +
      `Matmul ceiling (dense vec4 forward, 1024^3): **${ceiling.gflops.toFixed(2)} GFLOP/s**.`,
  );
  const table = (group: ConvBenchRow["group"], title: string) => {
    lines.push("");
    lines.push(`## ${title}`);
    lines.push("");
    lines.push("| layer | op | kernels | ms | GFLOP/s | of ceiling |");
    lines.push("|---|---|---|---:|---:|---:|");
    for (const r of rows.filter((r) => r.group === group)) {
      lines.push(
        `| ${r.layer} | ${r.op} | ${r.kernels.join(" + ")} | ${r.ms.toFixed(3)} | ` +
          `${r.gflops.toFixed(2)} | ${(100 * r.ofCeiling).toFixed(0)}% |`,
      );
    }
  };
  table("conv vae", 'Conv VAE layers, batch 128 (k3, "same"; (T) = transposed)');
  // A training step runs every op of every layer except the first layer's dx.
  const step = rows.filter((r) =>
    r.group === "conv vae" && !(r.layer.startsWith("enc 28x28x1") && r.op === "dx") &&
    !r.op.endsWith("(before)")
  );
  // The same step with the kernels the "(before)" rows replaced.
  const replaced = new Set(
    rows.filter((r) => r.op.endsWith("(before)")).map((r) => `${r.layer}|${r.op.split(" ")[0]}`),
  );
  const beforeStep = rows.filter((r) =>
    r.group === "conv vae" && !(r.layer.startsWith("enc 28x28x1") && r.op === "dx") &&
    (r.op.endsWith("(before)") || !replaced.has(`${r.layer}|${r.op}`))
  );
  const beforeMs = beforeStep.reduce((a, r) => a + r.ms, 0);
  const ms = step.reduce((a, r) => a + r.ms, 0);
  const flops = step.reduce((a, r) => a + r.gflops * r.ms * 1e6, 0);
  lines.push("");
  lines.push(
    `Conv part of a training step (all of the above but the first layer's dx): ` +
      `${ms.toFixed(1)} ms per batch of ${BATCH}, ${
        (flops / ms / 1e6).toFixed(2)
      } GFLOP/s overall, ` +
      `${(BATCH / ms * 1000).toFixed(0)} images/s. With the kernels the "(before)" rows ` +
      `replaced (timed in this run): ${beforeMs.toFixed(1)} ms, ` +
      `${(BATCH / beforeMs * 1000).toFixed(0)} images/s.`,
  );
  table(
    "streamline",
    'Streamline model, batch 64 (k3 s2 "same"): conv1d as one-row 2-D beside a 2-D twin of ' +
      "about the same work",
  );
  return lines.join("\n") + "\n";
}

async function write(rows: ConvBenchRow[], table: string, adapter: string): Promise<void> {
  const date = new Date().toISOString().slice(0, 10);
  const slug = (adapter.split(/[^A-Za-z0-9]+/)[0] || "adapter").toLowerCase();
  const base = new URL(`./results/conv_${slug}-${backendName()}_${date}`, import.meta.url);
  await Deno.writeTextFile(new URL(`${base.href}.md`), table);
  await Deno.writeTextFile(
    new URL(`${base.href}.json`),
    JSON.stringify(
      { adapter, backend: backendName(), date, deno: Deno.version.deno, rows },
      null,
      2,
    ) +
      "\n",
  );
  console.error(`wrote ${base.pathname}.md and .json`);
}

if (import.meta.main) await runConvBench();
