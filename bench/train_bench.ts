/**
 * Training throughput of the `mlp` and `conv` reference models at batch 128, beside the adapter's
 * matmul ceiling (the project's best dense kernel at 1024^3) measured in the same run.
 * Uses full Fashion-MNIST when Debian's dataset-fashion-mnist is installed, else the
 * embedded subset (the table says which). Writes bench/results/train_<adapter>_<date>.{md,json}.
 *
 *   deno run --allow-read --allow-env --allow-write=bench/results bench/train_bench.ts [steps]
 *
 * Throughput: `steps` training steps submitted back to back (one submit each, as the
 * trainer does), one wait at the end; images/s = steps * 128 / wall seconds (the conv model
 * runs steps / 10 steps). The FLOP share divides the matmul/convolution FLOP of a step
 * (forward, dx, dW) by the ceiling's rate.
 */

import { loadDataset } from "../src/data/datasets.ts";
import { upload } from "../src/gpu/buffer.ts";
import { requestGpu } from "../src/gpu/device.ts";
import { type Dispatch, submit } from "../src/gpu/kernel.ts";
import { denseBackward, denseForward } from "../src/nn/dense.ts";
import { DEFAULTS } from "../src/train/config.ts";
import { modelConfig, Trainer } from "../src/train/trainer.ts";
import { convVaeGeometry } from "../src/vae/conv_vae.ts";
import { conv2dOutputSize } from "../src/nn/conv2d.ts";

const steps = Number(Deno.args[0] ?? 200);
const gpu = await requestGpu();
const d = gpu.device;
const backend = Deno.env.get("DENO_WEBGPU_BACKEND") ?? "vulkan";

// Ceiling: the dense forward at 1024^3, many launches in one submit, best of 3.
const n = 1024;
const rnd = (len: number) =>
  Float32Array.from({ length: len }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
const x = upload(d, "f32", [n, n], rnd(n * n));
const W = upload(d, "f32", [n, n], rnd(n * n));
const b = upload(d, "f32", [n], rnd(n));
const y = upload(d, "f32", [n, n], new Float32Array(n * n));
const mm = await denseForward(gpu, { y, x, W, b }, { batch: n, inFeatures: n, outFeatures: n });
let ceiling = 0;
for (let round = 0; round < 3; round++) {
  const reps = 6;
  await gpu.sync();
  const t0 = performance.now();
  submit(d, Array.from({ length: reps }, () => mm).flat());
  await gpu.sync();
  ceiling = Math.max(ceiling, (2 * n ** 3 * reps) / ((performance.now() - t0) / 1000) / 1e9);
}

// The same dense kernels at the mlp's own shapes (batch 128), all layers of one step in one
// submit, timed the same way: how long a step would take if it were only its matmuls.
const layers: [number, number][] = [[784, 512], [512, 512], [512, 40], [20, 512], [512, 512], [
  512,
  784,
]];
const denseSteps: Dispatch[] = [];
for (const [i, [k, nn]] of layers.entries()) {
  const s = { batch: 128, inFeatures: k, outFeatures: nn };
  const t = (len: number) => upload(d, "f32", [len], rnd(len));
  const lx = t(128 * k), lw = t(k * nn), lb = t(nn), ly = t(128 * nn);
  denseSteps.push(...await denseForward(gpu, { y: ly, x: lx, W: lw, b: lb }, s));
  const bw = { dW: t(k * nn), db: t(nn), dy: t(128 * nn), x: lx, W: lw };
  denseSteps.push(...await denseBackward(gpu, i === 0 ? bw : { ...bw, dx: t(128 * k) }, s));
}
let denseMs = Infinity;
for (let round = 0; round < 3; round++) {
  const reps = 10;
  await gpu.sync();
  const t0 = performance.now();
  submit(d, Array.from({ length: reps }, () => denseSteps).flat());
  await gpu.sync();
  denseMs = Math.min(denseMs, (performance.now() - t0) / reps);
}

let spec = "fashion-mnist";
let data;
try {
  data = await loadDataset(spec, {});
} catch {
  spec = "embedded";
  data = await loadDataset(spec, {});
}
/** Images per second of `n` training steps of `model` (after 5 warm-up steps). */
async function throughput(model: "mlp" | "conv", n: number): Promise<number> {
  const z = model === "conv" ? 16 : 20;
  const config = { ...DEFAULTS, model, z, dataset: spec, epochs: 1000, out: "" };
  const trainer = await Trainer.create(gpu, config, data!);
  trainer.readEvery = Number.MAX_SAFE_INTEGER;
  let stop = 5;
  await trainer.train({ stop: () => --stop <= 0 });
  await gpu.sync();
  stop = n;
  const t0 = performance.now();
  await trainer.train({ stop: () => --stop <= 0 });
  await gpu.sync();
  trainer.state.destroy();
  return (n * 128) / ((performance.now() - t0) / 1000);
}
const imagesPerSecond = await throughput("mlp", steps);
const convSteps = Math.max(5, Math.round(steps / 10));
const convImagesPerSecond = await throughput("conv", convSteps);

// Conv model FLOP per image: each conv's 2 Ho Wo K K Cin Cout (a transposed conv's counted
// on its input side, the conv it is the gradient of) for forward, dx and dw, the first
// layer without dx; plus the two dense layers.
const conv = modelConfig({ ...DEFAULTS, model: "conv", z: 16 }, data);
if (conv.kind !== "conv") throw new Error("unreachable");
const g = convVaeGeometry(conv);
let convFlop = 0;
g.encoder.forEach((s, i) => {
  const o = conv2dOutputSize(s);
  const f = 2 * o.height * o.width * s.kernel[0] * s.kernel[1] * s.inChannels * s.outChannels;
  convFlop += f * (i === 0 ? 2 : 3);
});
for (const s of g.decoder) {
  convFlop += 3 * 2 * s.height * s.width * s.kernel[0] * s.kernel[1] * s.inChannels *
    s.outChannels;
}
const flat = g.map[0] * g.map[1] * g.map[2];
convFlop += 3 * 2 * flat * 2 * conv.z + 3 * 2 * conv.z * flat;
const convShare = (convImagesPerSecond * convFlop) / 1e9 / ceiling;

// Dense FLOP per image: forward 2KN per layer, dx 2KN (not for the first layer), dW 2KN.
const flopPerImage = layers.reduce((s, [k, nn], i) => s + 2 * k * nn * (i === 0 ? 2 : 3), 0);
const share = (imagesPerSecond * flopPerImage) / 1e9 / ceiling;

const date = new Date().toISOString().slice(0, 10);
const md = [
  `# Training throughput on ${gpu.adapterName}`,
  "",
  `${date}, Deno ${Deno.version.deno}, WebGPU backend \`${backend}\`, dataset \`${spec}\` ` +
  `(${data.train.count} train images), batch 128, ${steps} mlp and ${convSteps} conv steps timed ` +
  `after 5 warm-up steps.`,
  "",
  "| measure | value |",
  "|---|---:|",
  `| matmul ceiling (dense forward, 1024^3) | ${ceiling.toFixed(2)} GFLOP/s |`,
  `| mlp training | ${imagesPerSecond.toFixed(0)} images/s |`,
  `| dense FLOP per image (fwd + dx + dW) | ${(flopPerImage / 1e6).toFixed(2)} MFLOP |`,
  `| achieved dense rate / ceiling | ${(share * 100).toFixed(0)}% |`,
  `| dense kernels alone at the mlp shapes, one step | ${denseMs.toFixed(1)} ms ` +
  `(${((flopPerImage * 128) / denseMs / 1e6).toFixed(1)} GFLOP/s) |`,
  `| whole training step | ${((128 / imagesPerSecond) * 1000).toFixed(1)} ms ` +
  `(dense ${((denseMs / ((128 / imagesPerSecond) * 1000)) * 100).toFixed(0)}% of it) |`,
  `| conv training | ${convImagesPerSecond.toFixed(1)} images/s |`,
  `| conv FLOP per image (convs and dense, fwd + dx + dW) | ${(convFlop / 1e6).toFixed(2)} MFLOP |`,
  `| conv achieved rate / ceiling | ${(convShare * 100).toFixed(0)}% ` +
  `(${((convImagesPerSecond * convFlop) / 1e9).toFixed(2)} GFLOP/s) |`,
  "",
].join("\n");
console.log(md);
const base = `bench/results/train_${gpu.adapterName.split(" ")[0]}-${backend}_${date}`;
await Deno.writeTextFile(`${base}.md`, md);
await Deno.writeTextFile(
  `${base}.json`,
  JSON.stringify(
    {
      date,
      backend,
      dataset: spec,
      steps,
      ceiling,
      imagesPerSecond,
      flopPerImage,
      share,
      conv: { steps: convSteps, imagesPerSecond: convImagesPerSecond, flopPerImage: convFlop },
    },
    null,
    2,
  ) + "\n",
);
gpu.destroy();
