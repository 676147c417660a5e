/**
 * `deno task sample runs/NAME [--n 64] [--out FILE.png] [--seed S] [--cols C]`: decode n
 * codes drawn from the prior N(0, I) with the run's last checkpoint (batch norm in
 * evaluation mode) and write them as one PNG grid. The run folder is only read.
 */

import { parseArgs } from "node:util";
import { loadDataset } from "../data/datasets.ts";
import { readback, write } from "../gpu/buffer.ts";
import { requestGpu } from "../gpu/device.ts";
import { submit } from "../gpu/kernel.ts";
import { encodePng, imageGrid } from "../eval/png.ts";
import { writeFileAtomic } from "../train/atomic.ts";
import { loadCheckpoint } from "../train/checkpoint.ts";
import { ConfigError, DEFAULTS, type TrainConfig } from "../train/config.ts";
import { priorSample } from "../train/random.ts";
import { modelConfig } from "../train/trainer.ts";
import { ModelState } from "../vae/common.ts";
import { buildVaeDecode, vaeLayout } from "../vae/model.ts";
import { runMain } from "./_main.ts";

const USAGE = "usage: deno task sample runs/NAME [--n 64] [--out FILE.png] [--seed S] [--cols C]";

function positive(flag: string, v: string, min: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    throw new ConfigError(`--${flag}: '${v}' is not an integer >= ${min} (${USAGE})`);
  }
  return n;
}

await runMain(async () => {
  let parsed;
  try {
    parsed = parseArgs({
      args: Deno.args,
      options: {
        n: { type: "string", default: "64" },
        out: { type: "string" },
        seed: { type: "string", default: "0" },
        cols: { type: "string" },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw new ConfigError(`${(e as Error).message.split("\n")[0]} (${USAGE})`);
  }
  const dir = parsed.positionals[0]?.replace(/\/+$/, "");
  if (!dir || parsed.positionals.length > 1) throw new ConfigError(USAGE);
  const n = positive("n", parsed.values.n, 1);
  const seed = positive("seed", parsed.values.seed, 0);
  const cols = parsed.values.cols === undefined
    ? Math.ceil(Math.sqrt(n))
    : positive("cols", parsed.values.cols, 1);
  const out = parsed.values.out ?? `${dir}/samples-${n}.png`;
  if (!out.endsWith(".png")) throw new ConfigError(`--out: '${out}' must end in .png`);
  let config: TrainConfig;
  try {
    config = { ...DEFAULTS, ...JSON.parse(await Deno.readTextFile(`${dir}/config.json`)) };
  } catch (e) {
    throw new ConfigError(
      `${dir}: no readable config.json (${(e as Error).message}); is it a run folder?`,
    );
  }
  // The dataset gives the image shape; only the decoder is built, for all n codes at once.
  const data = await loadDataset(config.dataset, { dataDir: config["data-dir"] || undefined });
  const cfg = modelConfig(config, data);
  const layout = vaeLayout(cfg);
  const checkpoint = await loadCheckpoint(dir, layout);
  const gpu = await requestGpu();
  const state = new ModelState(gpu, layout, checkpoint.params);
  const program = await buildVaeDecode(gpu, cfg, state, n);
  write(gpu.device, program.z, priorSample(n * cfg.z, seed));
  submit(gpu.device, program.dispatches, "samples");
  const images = await readback(gpu.device, program.mean);
  const grid = imageGrid(images, n, data.rows, data.cols, cols);
  await writeFileAtomic(out, encodePng(grid.width, grid.height, grid.pixels));
  console.log(
    `wrote ${out}: ${n} samples from the prior (seed ${seed}) of ${dir} at step ` +
      `${checkpoint.step}, ${grid.width}x${grid.height} pixels`,
  );
  gpu.destroy();
});
