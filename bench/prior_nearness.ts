/**
 * `deno run --allow-read --allow-env --allow-write=runs bench/prior_nearness.ts runs/NAME
 * [--n 120] [--temperatures 0,0.25,0.5,0.75,1] [--svg T]`: how bundle-like a streamline run's
 * prior samples are as the spread of z grows. For each temperature t, n prior samples (z = t
 * eps, or mp(c) + t sigma_p(c) eps; a label-conditioned run cycles the bundles) are decoded
 * with the run's last checkpoint and scored as the report scores them (src/eval/conditional.ts,
 * priorNearness): the median distance, mm, from each sample to its nearest training
 * streamline, beside the same for held-out streamlines (what samples like the data would
 * score). With --svg T, writes runs/NAME/prior_t{T}.svg: the samples at that temperature,
 * coloured by bundle.
 *
 * Prints one line per temperature.
 */

import { parseArgs } from "node:util";
import { readRunModel } from "../src/cli/_model_file.ts";
import { loadDataset } from "../src/data/datasets.ts";
import { streamlinesInMm } from "../src/data/streamline_dataset.ts";
import { bundleSamplesSvg, priorNearness } from "../src/eval/conditional.ts";
import { streamlinesSvg } from "../src/eval/streamline_svg.ts";
import { requestGpu } from "../src/gpu/device.ts";
import { DEFAULTS, type TrainConfig } from "../src/train/config.ts";
import { Trainer } from "../src/train/trainer.ts";

const { values, positionals } = parseArgs({
  args: Deno.args,
  options: {
    n: { type: "string", default: "120" },
    temperatures: { type: "string", default: "0,0.25,0.5,0.75,1" },
    svg: { type: "string" },
  },
  allowPositionals: true,
});
const dir = positionals[0]?.replace(/\/+$/, "");
if (!dir) throw new Error("usage: bench/prior_nearness.ts runs/NAME [--n N] [--temperatures ...]");
const model = await readRunModel(dir);
const config = { ...DEFAULTS, ...model.config } as TrainConfig;
const data = await loadDataset(config.dataset, { dataDir: config["data-dir"] || undefined });
const zeros = new Float32Array(model.params.length);
const gpu = await requestGpu();
const trainer = await Trainer.create(gpu, config, data, {
  params: model.params,
  m: zeros,
  v: zeros,
  step: model.step,
  epoch: 0,
  stepInEpoch: 0,
  sums: [],
  config: JSON.stringify(config),
});
const cond = model.spec.model.condition;
const K = cond?.kind === "label" ? cond.classes : 1;
const n = Math.ceil(Number(values.n) / K) * K;
// Bundle k's samples are rows k * n / K ..: the layout bundleSamplesSvg draws.
const asked = cond?.kind === "label"
  ? Array.from({ length: n }, (_, i) => Math.floor(i / (n / K)))
  : undefined;
const heldOut = streamlinesInMm(data.test.images as Float32Array, data);
console.log(`${dir} (step ${model.step}): ${n} prior samples, seed ${config.seed}`);
for (const t of values.temperatures!.split(",").map(Number)) {
  const decoded = await trainer.samples(n, config.seed, asked, t);
  const lines = streamlinesInMm(decoded, data);
  const p = priorNearness(lines, heldOut, data);
  console.log(
    `  t = ${t}: samples ${p.samplesMm.toFixed(2)} mm from the nearest training streamline ` +
      `(median; held-out streamlines ${p.heldOutMm.toFixed(2)} mm, ${p.reference} references)`,
  );
  if (values.svg !== undefined && Number(values.svg) === t) {
    const names = data.streamlines!.bundles;
    const svg = cond?.kind === "label"
      ? bundleSamplesSvg(decoded, n / K, names, data)
      : streamlinesSvg([{ label: "sample", color: "#2ca02c", streamlines: lines }], {
        title: `prior samples at t = ${t}`,
      });
    await Deno.writeTextFile(`${dir}/prior_t${t}.svg`, svg);
    console.log(`  wrote ${dir}/prior_t${t}.svg`);
  }
}
gpu.destroy();
