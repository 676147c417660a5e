/**
 * `deno run --allow-read --allow-env bench/temperature_sweep.ts [--draws K] runs/NAME...`: how far a
 * conditional run's samples follow their condition as the spread of z grows. For each run, z is
 * a seeded prior draw scaled by a temperature t (t = 0: the prior mean, t = 1: the prior), decoded
 * with the run's last checkpoint, and checked as the report checks it:
 *
 * - label runs: the agreement of both nearest-class-mean classifiers (pooled-covariance and
 *   Euclidean distance, src/eval/classify.ts) over 20 samples per class, one line each, with the
 *   classifier's accuracy on the real test images;
 * - length runs: the correlation of 100 asked lengths (5th-95th percentile of the training
 *   lengths) with the lengths of the decoded streamlines (32 evenly spaced points, mm).
 *
 * Prints one line per run; reads only.
 */

import { loadDataset } from "../src/data/datasets.ts";
import { agreement } from "../src/eval/classify.ts";
import {
  askedLengths,
  correlation,
  decodedLengths,
  fitClassCheckers,
} from "../src/eval/conditional.ts";
import { readback, write } from "../src/gpu/buffer.ts";
import { requestGpu } from "../src/gpu/device.ts";
import { submit } from "../src/gpu/kernel.ts";
import { loadCheckpoint } from "../src/train/checkpoint.ts";
import { DEFAULTS } from "../src/train/config.ts";
import { priorSample } from "../src/io/random.ts";
import { modelConfig } from "../src/train/trainer.ts";
import { ModelState } from "../src/vae/common.ts";
import { conditionRows } from "../src/vae/condition.ts";
import { buildVaeDecode, vaeLayout } from "../src/vae/model.ts";
import { PriorSampler } from "../src/vae/prior_sample.ts";

const TEMPERATURES = [0, 0.25, 0.5, 0.75, 1];
// `--draws K` (default 1): K independent prior draws (seeds 0..K-1) per temperature, reported as
// their mean and range: one draw of 100 or 200 samples moves the figure by a few hundredths.
const at = Deno.args.indexOf("--draws");
const DRAWS = at >= 0 ? Number(Deno.args[at + 1]) : 1;
if (!(Number.isInteger(DRAWS) && DRAWS >= 1)) {
  throw new Error("--draws K: K must be an integer >= 1");
}
const RUNS = Deno.args.filter((_, i) => at < 0 || (i !== at && i !== at + 1));

for (const dir of RUNS) {
  const config = { ...DEFAULTS, ...JSON.parse(await Deno.readTextFile(`${dir}/config.json`)) };
  const data = await loadDataset(config.dataset, { dataDir: config["data-dir"] || undefined });
  const cfg = modelConfig(config, data);
  if (!cfg.condition) throw new Error(`${dir}: not a conditional run`);
  const layout = vaeLayout(cfg);
  const checkpoint = await loadCheckpoint(dir, layout);
  const gpu = await requestGpu();
  const state = new ModelState(gpu, layout, checkpoint.params);
  let asked: number[];
  // One score per line printed: a name and what it measures of the decoded batch.
  let scorers: { what: string; score: (decoded: Float32Array) => number }[];
  if (cfg.condition.kind === "label") {
    const K = cfg.condition.classes, perClass = 20;
    asked = Array.from({ length: K * perClass }, (_, i) => Math.floor(i / perClass));
    scorers = fitClassCheckers(data).map(({ model, testAccuracy }) => ({
      what: `class agreement, ${model.metric} distance (real test images: ` +
        `${testAccuracy.toFixed(3)})`,
      score: (decoded) => agreement(model, decoded, asked).fraction,
    }));
  } else {
    asked = askedLengths(data, 100);
    scorers = [{
      what: "length correlation",
      score: (decoded) => correlation(asked, decodedLengths(decoded, asked.length, data)),
    }];
  }
  const n = asked.length;
  const program = await buildVaeDecode(gpu, cfg, state, n);
  const rows = conditionRows(cfg.condition, asked);
  const prior = new PriorSampler(gpu, cfg, state);
  // scores[scorer][temperature]: one value per draw.
  const scores = scorers.map(() => TEMPERATURES.map((): number[] => []));
  for (let seed = 0; seed < DRAWS; seed++) {
    const draw = priorSample(n * cfg.z, seed);
    for (const [i, t] of TEMPERATURES.entries()) {
      write(gpu.device, program.z, await prior.codes(draw, n, rows, t));
      write(gpu.device, program.c!, rows);
      submit(gpu.device, program.dispatches, "temperature sweep");
      const decoded = await readback(gpu.device, program.mean);
      for (const [k, { score }] of scorers.entries()) scores[k][i].push(score(decoded));
    }
  }
  const show = (v: number[]) =>
    v.length === 1 ? v[0].toFixed(3) : `${(v.reduce((a, b) => a + b, 0) / v.length).toFixed(3)} ` +
      `(${Math.min(...v).toFixed(3)}-${Math.max(...v).toFixed(3)})`;
  for (const [k, { what }] of scorers.entries()) {
    console.log(
      `${dir} (step ${checkpoint.step}): ${what} at temperature ` +
        TEMPERATURES.map((t, i) => `${t} ${show(scores[k][i])}`).join(", ") +
        (DRAWS > 1 ? `; mean (min-max) over ${DRAWS} draws of ${n}` : ""),
    );
  }
  gpu.destroy();
}
