/**
 * Training throughput, GPU memory and submits of the `mlp` and `conv` reference models at
 * batch 32, 128 and 512 through the real Trainer, beside the adapter's matmul ceiling (the
 * project's best dense kernel at 1024^3) measured in the same run; and what the profiler
 * costs training when it is compiled in but off. Uses full Fashion-MNIST when Debian's
 * dataset-fashion-mnist is installed, else the embedded subset (the table says which).
 * Writes bench/results/train_<adapter>-<backend>_<date>.{md,json}.
 *
 *   deno run --allow-read --allow-env --allow-write=bench/results bench/train_bench.ts [seconds]
 *
 * Throughput: each (model, batch) gets its own device, so memory figures start from zero.
 * Two warm-up steps (the second timed alone gives the step count for about `seconds`, default
 * 3, of timed steps), then the steps run as `deno task train` runs them: one submit each,
 * back to back, one wait at the end; images/s = steps * batch / wall seconds. The trainer's
 * metrics readbacks (8 per epoch) are switched off while timing so the submit count is the
 * steps' alone; the timed steps never cross an epoch's end.
 *
 * Memory: bytes of GPU buffers the device holds after Trainer.create (dataset, parameters,
 * gradients, Adam moments, activations and scratch of the train and test programs, uniform
 * buffers), and the peak over the whole measurement (a step should allocate nothing), from
 * gpuMemory().
 *
 * Submits: submitCount() over the timed steps, which must equal the steps.
 *
 * Profiling off: mlp at batch 128, plain training on a device without the timestamp-query
 * feature against training on a device with it and a Profiler constructed (never stepped),
 * in alternating rounds of the same run; steps/s and the process's CPU time per step.
 */

import process from "node:process";
import { type Dataset, loadDataset } from "../src/data/datasets.ts";
import { gpuMemory, submitCount, upload } from "../src/gpu/buffer.ts";
import { type Gpu, requestGpu } from "../src/gpu/device.ts";
import { submit } from "../src/gpu/kernel.ts";
import { Profiler } from "../src/gpu/profiler.ts";
import { openTuner, saveTunerOrWarn, tuneCachePath } from "../src/cli/_tune_cache.ts";
import { adapterKey, setTuner, type TuneCandidate, Tuner } from "../src/gpu/tuner.ts";
import { denseForward } from "../src/nn/dense.ts";
import { conv2dOutputSize } from "../src/nn/conv2d.ts";
import { DEFAULTS, type TrainConfig } from "../src/train/config.ts";
import { modelConfig, Trainer } from "../src/train/trainer.ts";
import { convVaeGeometry } from "../src/vae/conv_vae.ts";

type Model = "mlp" | "conv";

// Knobs for bench/device.sh and short runs (defaults: the full bench): BENCH_MODELS=mlp,conv,
// BENCH_BATCHES=32,128,512, BENCH_PROFILING_OFF=0 skips the profiling-off rounds,
// BENCH_TUNE=1 attaches the kernel tuner (its cache under runs/tune, src/cli/_tune_cache.ts;
// shapes it lacks are timed while the trainer is built), BENCH_RESULTS=DIR writes there.
const list = (name: string, dflt: string) =>
  (Deno.env.get(name) || dflt).split(",").map((v) => v.trim()).filter(Boolean);
const MODELS = list("BENCH_MODELS", "mlp,conv") as Model[];
const BATCHES = list("BENCH_BATCHES", "32,128,512").map(Number);
const PROFILING_OFF = Deno.env.get("BENCH_PROFILING_OFF") !== "0";
const TUNE = Deno.env.get("BENCH_TUNE") === "1";
const RESULTS = (Deno.env.get("BENCH_RESULTS") || "bench/results").replace(/\/+$/, "");
const seconds = Number(Deno.args[0] ?? 3);
/**
 * BENCH_BEFORE=1: after each conv row, the same with the input-gradient kernels of before the
 * sub-pixel one (every conv dx `direct`), in the same run.
 */
const BEFORE = Deno.env.get("BENCH_BEFORE") === "1";

/** A tuner that only answers `direct` for every conv dx (defaults elsewhere). */
class Before extends Tuner {
  override pick(
    op: string,
    shape: string,
    candidates: TuneCandidate[],
    cleanup?: () => void,
  ): Promise<string> {
    if (op !== "conv2d.dx") return super.pick(op, shape, candidates, cleanup);
    cleanup?.();
    return Promise.resolve("direct");
  }
}
const CORES = navigator.hardwareConcurrency || 1;
const backend = Deno.env.get("DENO_WEBGPU_BACKEND") ?? "vulkan";
const started = performance.now();

/** One (model, batch) measurement. */
interface Row {
  model: Model;
  batch: number;
  steps: number;
  seconds: number;
  imagesPerSecond: number;
  /** Images per (CPU seconds of this process / cores). */
  imagesPerCpuSecond: number;
  /** Submits counted over the timed steps. */
  submits: number;
  /** GPU bytes held after Trainer.create, all of them. */
  bytes: number;
  /** Of which the dataset (train and test images, their orders). */
  datasetBytes: number;
  /** Of which parameters, gradients and Adam moments. */
  stateBytes: number;
  /** Peak GPU bytes during the whole measurement. */
  peakBytes: number;
  /** FLOP of the matmuls and convolutions of one image (forward, dx, dW). */
  flopPerImage: number;
}

// ---- the ceiling: the dense forward at 1024^3, many launches in one submit, best of 3 ----

async function matmulCeiling(gpu: Gpu): Promise<number> {
  const d = gpu.device;
  const n = 1024;
  const rnd = (len: number) =>
    Float32Array.from({ length: len }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
  const x = upload(d, "f32", [n, n], rnd(n * n));
  const W = upload(d, "f32", [n, n], rnd(n * n));
  const b = upload(d, "f32", [n], rnd(n));
  const y = upload(d, "f32", [n, n], new Float32Array(n * n));
  const mm = await denseForward(gpu, { y, x, W, b }, { batch: n, inFeatures: n, outFeatures: n });
  submit(d, [mm].flat());
  await gpu.sync();
  let best = 0;
  for (let round = 0; round < 3; round++) {
    const reps = 6;
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    submit(d, Array.from({ length: reps }, () => mm).flat());
    await gpu.sync();
    const c = process.cpuUsage(c0);
    best = Math.max(best, (2 * n ** 3 * reps) / ((performance.now() - t0) / 1000) / 1e9);
    ceilingByCpu = Math.max(
      ceilingByCpu,
      (2 * n ** 3 * reps) / ((c.user + c.system) / 1e6 / CORES) / 1e9,
    );
  }
  for (const t of [x, W, b, y]) t.destroy();
  return best;
}
/** The ceiling over CPU time / cores (see imagesPerCpuSecond), set by matmulCeiling. */
let ceilingByCpu = 0;

// ---- FLOP per image of each model (matmuls and convolutions: forward, dx, dW) ----

function flopPerImage(model: Model, data: Dataset): number {
  const config = { ...DEFAULTS, model, z: model === "conv" ? 16 : 20 };
  const cfg = modelConfig(config, data);
  if (cfg.kind !== "conv") {
    // Dense layers: forward 2KN, dx 2KN (not for the first layer), dW 2KN.
    const h = config.hidden;
    const f = data.features, z = config.z;
    const layers = [
      ...[f, ...h].slice(0, -1).map((k, i) => [k, h[i]]),
      [h[h.length - 1], 2 * z],
      ...[z, ...[...h].reverse()].map((k, i, a) => [k, i + 1 < a.length ? a[i + 1] : f]),
    ];
    return layers.reduce((s, [k, n], i) => s + 2 * k * n * (i === 0 ? 2 : 3), 0);
  }
  // Each conv's 2 Ho Wo K K Cin Cout (a transposed conv's counted on its input side, the conv
  // it is the gradient of) for forward, dx and dw, the first layer without dx; the two dense.
  const g = convVaeGeometry(cfg);
  let flop = 0;
  g.encoder.forEach((s, i) => {
    const o = conv2dOutputSize(s);
    const f = 2 * o.height * o.width * s.kernel[0] * s.kernel[1] * s.inChannels * s.outChannels;
    flop += f * (i === 0 ? 2 : 3);
  });
  for (const s of g.decoder) {
    flop += 3 * 2 * s.height * s.width * s.kernel[0] * s.kernel[1] * s.inChannels *
      s.outChannels;
  }
  const flat = g.map[0] * g.map[1] * g.map[2];
  return flop + 3 * 2 * flat * 2 * cfg.z + 3 * 2 * cfg.z * flat;
}

// ---- training ----

/** A tensor's buffer size for `bytes` of data (as Tensor rounds it). */
function tensorBytes(bytes: number): number {
  return Math.max(16, Math.ceil(bytes / 16) * 16);
}

function trainConfig(model: Model, batch: number, spec: string): TrainConfig {
  return { ...DEFAULTS, model, z: model === "conv" ? 16 : 20, batch, dataset: spec, out: "" };
}

/** Run `n` training steps (never past the epoch's end); seconds of wall time. */
async function timeSteps(gpu: Gpu, trainer: Trainer, n: number): Promise<number> {
  if (trainer.stepInEpoch + n >= trainer.stepsPerEpoch) {
    throw new Error(`${n} steps would cross the epoch's end`);
  }
  await gpu.sync();
  const t0 = performance.now();
  let left = n;
  await trainer.train({ stop: () => --left <= 0 });
  await gpu.sync();
  return (performance.now() - t0) / 1000;
}

async function measure(
  model: Model,
  batch: number,
  data: Dataset,
  spec: string,
  before = false,
): Promise<Row> {
  const gpu = await requestGpu();
  const d = gpu.device;
  const tuner = TUNE && !before ? await openTuner(gpu) : null;
  if (before) setTuner(gpu, new Before(gpu, adapterKey(d, backend), { measure: false }));
  const trainer = await Trainer.create(gpu, { ...trainConfig(model, batch, spec) }, data);
  if (tuner) await saveTunerOrWarn(tuner, tuneCachePath(gpu));
  trainer.readEvery = Number.MAX_SAFE_INTEGER;
  const bytes = gpuMemory(d).live;
  const stateBytes = [trainer.state.params, trainer.state.grads, trainer.state.m, trainer.state.v]
    .reduce((s, t) => s + t.buffer.size, 0);
  const datasetBytes = [data.train, data.test].reduce(
    (s, split) => s + tensorBytes(split.images.length) + tensorBytes(4 * split.count),
    0,
  );
  await timeSteps(gpu, trainer, 1); // compiles pipelines, first-touch of the buffers
  const one = await timeSteps(gpu, trainer, 1);
  const room = trainer.stepsPerEpoch - trainer.stepInEpoch - 1;
  const steps = Math.max(3, Math.min(200, room, Math.round(seconds / one)));
  const s0 = submitCount(d);
  const c0 = process.cpuUsage();
  const secs = await timeSteps(gpu, trainer, steps);
  const cpu = process.cpuUsage(c0);
  const submits = submitCount(d) - s0;
  const row: Row = {
    model: before ? "conv (direct dx, before)" as Model : model,
    batch,
    steps,
    seconds: secs,
    imagesPerSecond: (steps * batch) / secs,
    // The same over this process's CPU time / cores (llvmpipe's threads are in it): what a
    // machine loaded by other work leaves comparable across runs.
    imagesPerCpuSecond: (steps * batch) / ((cpu.user + cpu.system) / 1e6 / CORES),
    submits,
    bytes,
    datasetBytes,
    stateBytes,
    peakBytes: gpuMemory(d).peak,
    flopPerImage: flopPerImage(model, data),
  };
  console.error(
    `  ${model} batch ${batch}: ${row.imagesPerSecond.toFixed(1)} images/s, ${steps} steps, ` +
      `${submits} submits, ${mib(bytes)} MiB (${elapsed()})`,
  );
  gpu.destroy();
  return row;
}

/**
 * Steps/s of mlp training at batch 128, plain (a device without timestamp-query, no
 * profiler) against the same with the feature on and a Profiler constructed but never used;
 * ROUNDS alternating rounds of `n` steps on two trainers of the same run.
 */
async function profilingOff(data: Dataset, spec: string) {
  const plainGpu = await requestGpu({ timestamps: false });
  const withGpu = await requestGpu();
  const profiler = new Profiler(withGpu, { log: () => {} });
  const config = trainConfig("mlp", 128, spec);
  const plain = await Trainer.create(plainGpu, config, data);
  const withProfiler = await Trainer.create(withGpu, config, data);
  for (const t of [plain, withProfiler]) t.readEvery = Number.MAX_SAFE_INTEGER;
  await timeSteps(plainGpu, plain, 2);
  await timeSteps(withGpu, withProfiler, 2);
  const one = await timeSteps(plainGpu, plain, 1);
  const rounds = 12;
  const room = Math.floor((plain.stepsPerEpoch - plain.stepInEpoch - 2) / rounds);
  const n = Math.max(8, Math.min(room, Math.round(seconds / 6 / one)));
  const off: number[] = [], on: number[] = [];
  // llvmpipe runs the GPU work on this process's threads: its CPU time per step counts the
  // work done and is far less disturbed than wall time by other jobs on shared cores.
  const cpuOff: number[] = [], cpuOn: number[] = [];
  for (let r = 0; r < rounds; r++) {
    // Alternate which goes first, so neither always follows the other's wait.
    const pair = r % 2 === 0 ? [false, true] : [true, false];
    for (const withIt of pair) {
      const c0 = process.cpuUsage();
      const s = withIt
        ? await timeSteps(withGpu, withProfiler, n)
        : await timeSteps(plainGpu, plain, n);
      const c = process.cpuUsage(c0);
      (withIt ? on : off).push(n / s);
      (withIt ? cpuOn : cpuOff).push((c.user + c.system) / 1000 / n);
    }
  }
  const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
  const sd = (a: number[]) => Math.sqrt(mean(a.map((v) => (v - mean(a)) ** 2)));
  const median = (a: number[]) => {
    const b = [...a].sort((x, y) => x - y);
    return (b[(b.length - 1) >> 1] + b[b.length >> 1]) / 2;
  };
  // Each round's pair ran back to back: its ratio cancels most of the machine's drift.
  const ratios = on.map((v, i) => v / off[i] - 1);
  const cpuRatios = cpuOn.map((v, i) => v / cpuOff[i] - 1);
  const result = {
    stepsPerRound: n,
    rounds,
    timestampFeature: withGpu.hasTimestamps,
    plain: { mean: mean(off), sd: sd(off), rounds: off },
    profilerCompiledInOff: { mean: mean(on), sd: sd(on), rounds: on },
    change: mean(ratios),
    changeSd: sd(ratios),
    changeMedian: median(ratios),
    changeRounds: ratios,
    cpuMsPerStep: { plain: median(cpuOff), profilerCompiledInOff: median(cpuOn) },
    cpuChangeMedian: median(cpuRatios),
    cpuChangeSd: sd(cpuRatios),
    cpuChangeRounds: cpuRatios,
    profilerSteps: profiler.steps,
  };
  profiler.destroy();
  plainGpu.destroy();
  withGpu.destroy();
  console.error(`  profiling off: ${(100 * result.change).toFixed(1)}% (${elapsed()})`);
  return result;
}

function mib(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(1);
}

function pct(x: number): string {
  return `${x >= 0 ? "+" : ""}${(100 * x).toFixed(1)}%`;
}

function elapsed(): string {
  return `${((performance.now() - started) / 1000).toFixed(0)} s`;
}

// ---- run ----

let spec = "fashion-mnist";
let data: Dataset;
try {
  data = await loadDataset(spec, {});
} catch {
  spec = "embedded";
  data = await loadDataset(spec, {});
}
const first = await requestGpu();
const adapter = first.adapterName;
const ceiling = await matmulCeiling(first);
first.destroy();
console.error(`  ceiling ${ceiling.toFixed(2)} GFLOP/s (${elapsed()})`);
const rows: Row[] = [];
for (const model of MODELS) {
  for (const batch of BATCHES) {
    rows.push(await measure(model, batch, data, spec));
    if (BEFORE && model === "conv") rows.push(await measure(model, batch, data, spec, true));
  }
}
const off = PROFILING_OFF ? await profilingOff(data, spec) : null;
for (const r of rows) {
  if (r.submits !== r.steps) {
    throw new Error(`${r.model} batch ${r.batch}: ${r.submits} submits for ${r.steps} steps`);
  }
}

// ---- report ----

const date = new Date().toISOString().slice(0, 10);
const testSubmits = (b: number) => 2 + Math.ceil(data.test.count / b);
const md = [
  `# Training throughput, memory and submits on ${adapter}`,
  "",
  `${date}, Deno ${Deno.version.deno}, WebGPU backend \`${backend}\`, dataset \`${spec}\` ` +
  `(${data.train.count} train, ${data.test.count} test images), the train task's default ` +
  `models (mlp 784-512-512-20, conv 32-64-64-64 z = 16 with batch norm), Adam. Each row: ` +
  `a fresh device, 2 warm-up steps, then about ${seconds} s of steps submitted back to back ` +
  `(one wait at the end). The matmul ceiling (dense forward at 1024^3, best of 3) was ` +
  `measured in the same run: ${ceiling.toFixed(2)} GFLOP/s.`,
  "",
  "| model | batch | images/s | images/s by CPU time | ms/step | steps timed | submits / step | " +
  "GPU MiB (dataset + state + programs) | peak MiB | matmul/conv GFLOP/s | of ceiling | " +
  "of ceiling, both by CPU time |",
  "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|",
  ...rows.map((r) => {
    const gflops = (r.imagesPerSecond * r.flopPerImage) / 1e9;
    const programs = r.bytes - r.datasetBytes - r.stateBytes;
    return `| ${r.model} | ${r.batch} | ${r.imagesPerSecond.toFixed(1)} | ` +
      `${r.imagesPerCpuSecond.toFixed(1)} | ` +
      `${((1000 * r.seconds) / r.steps).toFixed(1)} | ${r.steps} | ` +
      `${(r.submits / r.steps).toFixed(2)} | ${mib(r.bytes)} (${mib(r.datasetBytes)} + ` +
      `${mib(r.stateBytes)} + ${mib(programs)}) | ${mib(r.peakBytes)} | ` +
      `${gflops.toFixed(2)} | ${((100 * gflops) / ceiling).toFixed(0)}% | ` +
      `${((100 * r.imagesPerCpuSecond * r.flopPerImage) / 1e9 / ceilingByCpu).toFixed(0)}% |`;
  }),
  "",
  `Images/s by CPU time: the timed steps' images over this process's CPU seconds / ${CORES} ` +
  "cores (llvmpipe runs the kernels on threads of this process), comparable across runs " +
  `when other work loads the machine (1-minute load average at the end: ${loadAverage()}); ` +
  "on an idle machine the two agree within llvmpipe's idle time. On a real GPU only " +
  "images/s means anything.",
  "",
  "GPU MiB: every buffer the device holds after `Trainer.create` (counted by gpuMemory() at " +
  "allocation): the dataset as bytes (train and test images and their orders), the state " +
  "(parameters, gradients, two Adam moments; for conv also the batch-norm running statistics " +
  "stored after the parameters), and the programs (activations, their gradients and " +
  "scratch of the train step and the test pass, the last partial batches' programs, uniform " +
  "buffers). Peak: the most the device held at any point, the timed steps included; equal " +
  "to the live bytes when a training step allocates nothing.",
  "",
  "Submits / step: queue submits counted over the timed steps (submitCount()), which must " +
  "equal the steps. An epoch adds, outside the steps: one to clear the metrics, one copy per " +
  "progress readback (8 per epoch by default) and one for the epoch record, and the test " +
  `pass: clear + one per test batch + readback (${testSubmits(128)} at batch 128).`,
  "",
  "GFLOP/s counts the matmul and convolution FLOP of an image (forward, dx, dW; the first " +
  `layer without dx): ${
    MODELS.map((m) =>
      `${m} ${(rows.find((r) => r.model === m)!.flopPerImage / 1e6).toFixed(2)} MFLOP`
    ).join(", ")
  }.`,
  "",
  ...(off ? profilingOffSection(off) : []),
  `Whole bench: ${elapsed()}${TUNE ? "; kernels chosen by the tuner (BENCH_TUNE=1)" : ""}.`,
  "",
].join("\n");

function profilingOffSection(off: Awaited<ReturnType<typeof profilingOff>>): string[] {
  return [
    "## Profiling off",
    "",
    `mlp at batch 128, ${off.rounds} alternating rounds of ${off.stepsPerRound} steps each on ` +
    "two trainers of one run: plain training on a device without the timestamp-query " +
    "feature and no profiler, against training on a device with the feature" +
    `${off.timestampFeature ? "" : " (this adapter lacks it)"} and a Profiler constructed but ` +
    "off. The profiler is a separate encode path (a pass per dispatch with timestamp writes, " +
    "only in `deno task profile`); training never calls it, so no query writes are recorded.",
    "",
    "| training | steps/s (mean of rounds) | sd over rounds |",
    "|---|---:|---:|",
    `| plain | ${off.plain.mean.toFixed(2)} | ${off.plain.sd.toFixed(2)} |`,
    `| profiler compiled in, off | ${off.profilerCompiledInOff.mean.toFixed(2)} | ` +
    `${off.profilerCompiledInOff.sd.toFixed(2)} |`,
    "",
    "Change in steps/s with the profiler compiled in and off, from each round's pair (the two " +
    `ran back to back): median ${pct(off.changeMedian)}, mean ${pct(off.change)}, sd over ` +
    `rounds ${(100 * off.changeSd).toFixed(1)}% (rounds: ${off.changeRounds.map(pct).join(", ")}).`,
    "",
    "CPU time of this process per step (llvmpipe's threads do the GPU work in it), median over " +
    `rounds: ${off.cpuMsPerStep.plain.toFixed(1)} ms plain, ` +
    `${off.cpuMsPerStep.profilerCompiledInOff.toFixed(1)} ms with the profiler compiled in and ` +
    `off; change per pair: median ${pct(off.cpuChangeMedian)}, sd ` +
    `${(100 * off.cpuChangeSd).toFixed(1)}% (rounds: ${off.cpuChangeRounds.map(pct).join(", ")}).`,
    "",
  ];
}
console.log(md);
const slug = (adapter.split(/[^A-Za-z0-9]+/)[0] || "adapter").toLowerCase();
const base = `${RESULTS}/train_${slug}-${backend}_${date}`;
await Deno.writeTextFile(`${base}.md`, md);
await Deno.writeTextFile(
  `${base}.json`,
  JSON.stringify(
    {
      adapter,
      date,
      deno: Deno.version.deno,
      backend,
      dataset: spec,
      ceilingGflops: ceiling,
      ceilingGflopsByCpu: ceilingByCpu,
      tuned: TUNE,
      rows,
      profilingOff: off,
    },
    null,
    2,
  ) + "\n",
);
console.error(`wrote ${base}.md and .json`);

/** The 1-minute load average (Linux), for the report. */
function loadAverage(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ")[0];
  } catch {
    return "not readable without --allow-sys";
  }
}
