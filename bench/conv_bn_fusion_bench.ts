/**
 * The conv VAE's training step (DESIGN.md's `conv` at batch 128, the trainer's defaults, on
 * the embedded dataset) with BatchNorm and LeakyReLU fused (batchNormLeaky*, the default)
 * against the two run apart (buildVaeStep's tuning `{ fuseBatchNorm: false }`): ms per step and
 * images/s.
 *
 *   deno run --allow-read --allow-env bench/conv_bn_fusion_bench.ts [rounds] [steps per round]
 *
 * A third variant keeps the fused launches scalar (tuning batchNormVec4: false), to show
 * what the vec4 launches add. Each variant gets its own model state from the same initial
 * parameters; before timing, all run the same CHECK_STEPS batches and the bench prints how
 * many parameters, gradients and metrics differ bit for bit from the unfused run (expected:
 * none). Timing: a round submits `steps` training steps of one variant back to back, one
 * submit per step as the trainer does, and waits once at the end; rounds cycle through the
 * variants so all see the same load (the CPU adapter shares its cores with whatever else
 * runs). Reported: the median and the fastest round of each, and the median of the per-round
 * ratios to the unfused run. Prints a markdown table.
 */

import { loadDataset } from "../src/data/datasets.ts";
import { readback, Tensor } from "../src/gpu/buffer.ts";
import { requestGpu } from "../src/gpu/device.ts";
import { submit } from "../src/gpu/kernel.ts";
import { DEFAULTS } from "../src/train/config.ts";
import { epochOrder } from "../src/io/random.ts";
import { modelConfig } from "../src/train/trainer.ts";
import {
  initParams,
  METRIC,
  ModelState,
  setBatchOffset,
  type StepProgram,
  uploadSource,
} from "../src/vae/common.ts";
import { CONV_DEFAULTS } from "../src/vae/conv_vae.ts";
import { buildVaeStep, describeModel, vaeLayout } from "../src/vae/model.ts";

const ROUNDS = Number(Deno.args[0] ?? 7);
const STEPS = Number(Deno.args[1] ?? 2);
const B = 128;
const CHECK_STEPS = 3;

const data = await loadDataset("embedded");
const config = { ...DEFAULTS, model: "conv" as const, z: CONV_DEFAULTS.z, batch: B };
const cfg = modelConfig(config, data);
const gpu = await requestGpu();
const d = gpu.device;
const layout = vaeLayout(cfg);
const init = initParams(layout, cfg.seed);
const order = epochOrder(data.train.count, cfg.seed, 0);
const source = uploadSource(d, data.train.images, order, "train");

async function build(name: string, fuse: boolean, vec4 = true) {
  const state = new ModelState(gpu, layout, init);
  const metrics = new Tensor(d, "f32", [METRIC.size], "train metrics");
  const adam = { lr: config.lr };
  const tuning = { fuseBatchNorm: fuse, batchNormVec4: vec4 };
  const program = await buildVaeStep(gpu, cfg, state, source, metrics, B, adam, 0, tuning);
  return { name, state, metrics, program };
}

const variants = [
  await build("BN, LeakyReLU apart", false),
  await build("fused, scalar launches", true, false),
  await build("fused, vec4 launches (default)", true),
];
const batches = Math.floor(data.train.count / B);
let next = 0;

/** ms per step over `n` steps submitted back to back, one wait at the end. */
async function round(program: StepProgram, n: number): Promise<number> {
  await gpu.sync();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    setBatchOffset(program, (next++ % batches) * B);
    submit(d, [program.gather, ...program.forward, ...program.backward]);
  }
  await gpu.sync();
  return (performance.now() - t0) / n;
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

console.log(
  `${describeModel(cfg)} at batch ${B} on ${gpu.adapterName}; dispatches per step: ` +
    variants.map((v) => `${v.name} ${v.program.forward.length + v.program.backward.length + 1}`)
      .join(", "),
);
// The same CHECK_STEPS batches through both (pipelines compiled, caches warm), then compare.
const start = next;
const outputs: Float32Array[][] = [];
for (const v of variants) {
  next = start;
  await round(v.program, CHECK_STEPS);
  outputs.push(
    await Promise.all([v.state.params, v.state.grads, v.metrics].map((t) => readback(d, t))),
  );
}
for (let j = 1; j < variants.length; j++) {
  const differ = ["params", "grads", "metrics"].map((n, k) => {
    const [a, b] = [outputs[0][k], outputs[j][k]];
    return `${n} ${a.filter((x, i) => !Object.is(x, b[i])).length} of ${a.length}`;
  });
  console.log(
    `after ${CHECK_STEPS} steps, ${variants[j].name} vs ${variants[0].name}, values not ` +
      `bit-identical: ${differ.join(", ")}`,
  );
}
const ms: number[][] = variants.map(() => []);
for (let r = 0; r < ROUNDS; r++) {
  for (const [k, v] of variants.entries()) ms[k].push(await round(v.program, STEPS));
  console.log(`  round ${r + 1}: ${ms.map((m) => m.at(-1)!.toFixed(1)).join(" ms, ")} ms`);
}
console.log(
  `\n${ROUNDS} interleaved rounds of ${STEPS} steps\n\n` +
    "| variant | median ms/step | images/s | fastest ms/step | images/s |\n" +
    "|---|---:|---:|---:|---:|",
);
for (const [k, v] of variants.entries()) {
  const m = median(ms[k]), f = Math.min(...ms[k]);
  const ips = (t: number) => (1000 * B / t).toFixed(1);
  console.log(`| ${v.name} | ${m.toFixed(1)} | ${ips(m)} | ${f.toFixed(1)} | ${ips(f)} |`);
}
for (let j = 1; j < variants.length; j++) {
  const ratio = median(ms[0].map((a, r) => ms[j][r] / a));
  console.log(
    `\n${variants[j].name} / apart, median of per-round ratios: ${ratio.toFixed(3)} ` +
      `(${(median(ms[0]) - median(ms[j])).toFixed(1)} ms/step saved, medians)`,
  );
}
