/**
 * Training images/s with the training split resident on the GPU vs streamed in windows
 * (src/train/stream.ts, `--gpu-data-mb` below the split's size), through the real Trainer, in
 * alternating rounds so both see the same machine load; the median of each is reported. Also
 * checks that both end with the same weights (bit for bit).
 * Writes bench/results/stream_<backend>_<date>.{md,json}.
 *
 *   deno run --allow-read --allow-env --allow-write=bench/results bench/stream_bench.ts \
 *     [DATASET] [MODEL] [ROUNDS]
 *
 * Defaults: shapes-rgb:4000:1:32x32 (3600 training images of 3 KiB), the mlp model with one
 * hidden layer of 256 (so data movement is a visible share of a step), batch 64, one epoch a
 * round, a warm-up round then 5 counted; the streamed budget holds windows of 2 steps.
 */

import { loadDataset } from "../src/data/datasets.ts";
import { requestGpu } from "../src/gpu/device.ts";
import { DEFAULTS, type TrainConfig } from "../src/train/config.ts";
import { dataPlacement, MIB } from "../src/train/stream.ts";
import { Trainer } from "../src/train/trainer.ts";

const spec = Deno.args[0] ?? "shapes-rgb:4000:1:32x32";
const model = (Deno.args[1] ?? "mlp") as "mlp" | "conv";
const rounds = Number(Deno.args[2] ?? 5);
const backend = Deno.env.get("DENO_WEBGPU_BACKEND") ?? "vulkan";
const B = 64;
const data = await loadDataset(spec, {});
const budgetMb = +(3 * 2 * B * data.features / MIB).toFixed(4);
const place = dataPlacement(data.train.count, data.features, 1, B, budgetMb * MIB);

function config(mb: number): TrainConfig {
  return {
    ...structuredClone(DEFAULTS),
    dataset: spec,
    model,
    hidden: [256],
    z: 16,
    batch: B,
    epochs: 1,
    "gpu-data-mb": mb,
    seed: 3,
  };
}

const gpu = await requestGpu();
const rates: Record<"resident" | "streamed", number[]> = { resident: [], streamed: [] };
const params: Record<string, Float32Array> = {};
// Round 0 warms up (shader compiles, caches) and is not counted.
for (let r = 0; r <= rounds; r++) {
  for (const mode of ["resident", "streamed"] as const) {
    const t = await Trainer.create(gpu, config(mode === "resident" ? 0 : budgetMb), data);
    if (t.placement.mode !== mode) throw new Error(`expected a ${mode} split`);
    let rate = 0;
    await t.train({ onEpoch: (rec) => void (rate = rec.imagesPerSecond) });
    if (r > 0) rates[mode].push(rate);
    params[mode] = (await t.checkpoint()).params;
    console.log(`round ${r}${r ? "" : " (warm-up)"} ${mode}: ${rate.toFixed(1)} images/s`);
  }
}
const same = params.resident.length === params.streamed.length &&
  params.resident.every((v, i) => Object.is(v, params.streamed[i]));
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const result = {
  date: new Date().toISOString(),
  backend,
  adapter: gpu.adapterName,
  dataset: spec,
  trainImages: data.train.count,
  splitMiB: +(data.train.count * data.features / MIB).toFixed(3),
  model,
  batch: B,
  gpuDataMb: budgetMb,
  stepsPerWindow: place.stepsPerWindow,
  windows: place.windows,
  rounds,
  residentImagesPerSecond: rates.resident,
  streamedImagesPerSecond: rates.streamed,
  medianResident: median(rates.resident),
  medianStreamed: median(rates.streamed),
  identicalWeights: same,
};
const line = `| ${spec} | ${model} | ${B} | ${result.splitMiB} | ${budgetMb} | ` +
  `${place.stepsPerWindow} x ${place.windows} | ${result.medianResident.toFixed(1)} | ` +
  `${result.medianStreamed.toFixed(1)} | ${same ? "yes" : "NO"} |`;
const md = `# Resident vs streamed training split (${backend}, ${result.date.slice(0, 10)})\n\n` +
  `| dataset | model | batch | split MiB | --gpu-data-mb | steps x windows | resident img/s | ` +
  `streamed img/s | same weights |\n|---|---|---|---|---|---|---|---|---|\n${line}\n`;
const stem = `bench/results/stream_${backend}_${result.date.slice(0, 10)}`;
await Deno.writeTextFile(`${stem}.json`, JSON.stringify(result, null, 2) + "\n");
await Deno.writeTextFile(`${stem}.md`, md);
console.log(md);
gpu.destroy();
