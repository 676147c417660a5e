/**
 * Training images/s with the training split resident on the GPU vs streamed in windows
 * (src/train/stream.ts, `--gpu-data-mb` below the split's size) from host memory and from
 * disk shards (src/data/shards.ts, as the train task does, no host copy), through the real
 * Trainer, in alternating rounds so all see the same machine load; the median of each is
 * reported. Also checks that all end with the same weights (bit for bit). The shards were just
 * written, so their reads come from the OS page cache, as they do for a split that fits host
 * memory; the first epoch of a bigger one reads the disk.
 * Writes bench/results/stream_<backend>_<date>.{md,json}.
 *
 *   deno run --allow-read --allow-env --allow-write=bench/results,runs bench/stream_bench.ts \
 *     [DATASET] [MODEL] [ROUNDS]
 *
 * Defaults: shapes-rgb:4000:1:32x32 (3600 training images of 3 KiB), the mlp model with one
 * hidden layer of 256 (so data movement is a visible share of a step), batch 64, one epoch a
 * round, a warm-up round then 5 counted; the streamed budget holds windows of 2 steps.
 */

import { type Dataset, loadDataset } from "../src/data/datasets.ts";
import { writeShards } from "../src/data/shards.ts";
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
const shards = await writeShards(data.train.images, data.train.count);
const disk: Dataset = {
  ...data,
  train: { ...data.train, images: new Uint8Array(0), onDisk: shards.reader },
};
const MODES = ["resident", "streamed", "disk"] as const;
const rates: Record<typeof MODES[number], number[]> = { resident: [], streamed: [], disk: [] };
const params: Record<string, Float32Array> = {};
// Round 0 warms up (shader compiles, caches) and is not counted.
for (let r = 0; r <= rounds; r++) {
  for (const mode of MODES) {
    const t = await Trainer.create(
      gpu,
      config(mode === "resident" ? 0 : budgetMb),
      mode === "disk" ? disk : data,
    );
    if (t.placement.mode !== (mode === "disk" ? "streamed" : mode)) {
      throw new Error(`expected a ${mode} split`);
    }
    let rate = 0;
    await t.train({ onEpoch: (rec) => void (rate = rec.imagesPerSecond) });
    if (r > 0) rates[mode].push(rate);
    params[mode] = (await t.checkpoint()).params;
    console.log(`round ${r}${r ? "" : " (warm-up)"} ${mode}: ${rate.toFixed(1)} images/s`);
  }
}
const equal = (a: Float32Array, b: Float32Array) =>
  a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
const same = equal(params.resident, params.streamed) && equal(params.resident, params.disk);
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
  diskImagesPerSecond: rates.disk,
  medianResident: median(rates.resident),
  medianStreamed: median(rates.streamed),
  medianDisk: median(rates.disk),
  identicalWeights: same,
};
const line = `| ${spec} | ${model} | ${B} | ${result.splitMiB} | ${budgetMb} | ` +
  `${place.stepsPerWindow} x ${place.windows} | ${result.medianResident.toFixed(1)} | ` +
  `${result.medianStreamed.toFixed(1)} | ${result.medianDisk.toFixed(1)} | ${
    same ? "yes" : "NO"
  } |`;
const md = `# Resident vs streamed training split (${backend}, ${result.date.slice(0, 10)})\n\n` +
  `| dataset | model | batch | split MiB | --gpu-data-mb | steps x windows | resident img/s | ` +
  `streamed from memory img/s | streamed from disk img/s | same weights |\n` +
  `|---|---|---|---|---|---|---|---|---|---|\n${line}\n`;
const stem = `bench/results/stream_${backend}_${result.date.slice(0, 10)}`;
await Deno.writeTextFile(`${stem}.json`, JSON.stringify(result, null, 2) + "\n");
await Deno.writeTextFile(`${stem}.md`, md);
console.log(md);
shards.reader.close();
gpu.destroy();
