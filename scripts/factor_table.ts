/**
 * `deno run --allow-read --allow-env scripts/factor_table.ts runs/NAME [--images N]`: for a
 * run trained on a dataset with known factors (`shapes`, `shapes-rgb`), the factor-vs-latent
 * table (src/eval/factors.ts) of the encoder's means on the first N test images (default all),
 * printed as Markdown.
 */

import { parseArgs } from "node:util";
import { loadDataset } from "../src/data/datasets.ts";
import { factorTableMarkdown, testSplitFactorTable } from "../src/eval/factors.ts";
import { latentStats } from "../src/eval/metrics.ts";
import { requestGpu } from "../src/gpu/device.ts";
import { loadCheckpoint } from "../src/train/checkpoint.ts";
import { ConfigError, DEFAULTS, type TrainConfig } from "../src/train/config.ts";
import { modelConfig, Trainer } from "../src/train/trainer.ts";
import { vaeLayout } from "../src/vae/model.ts";
import { runMain } from "../src/cli/_main.ts";

await runMain(async () => {
  const usage = "usage: scripts/factor_table.ts runs/NAME [--images N]";
  let parsed;
  try {
    parsed = parseArgs({
      args: Deno.args,
      options: { images: { type: "string" } },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw new ConfigError(`${(e as Error).message.split("\n")[0]} (${usage})`);
  }
  const dir = parsed.positionals[0]?.replace(/\/+$/, "");
  if (!dir || parsed.positionals.length > 1) throw new ConfigError(usage);
  let config: TrainConfig;
  try {
    config = { ...DEFAULTS, ...JSON.parse(await Deno.readTextFile(`${dir}/config.json`)) };
  } catch (e) {
    throw new ConfigError(`${dir}: no readable config.json (${(e as Error).message})`);
  }
  const data = await loadDataset(config.dataset, { dataDir: config["data-dir"] || undefined });
  if (!data.factors) {
    throw new ConfigError(`${config.dataset} has no known factors (train on shapes or shapes-rgb)`);
  }
  const n = parsed.values.images === undefined
    ? data.test.count
    : Math.min(Number(parsed.values.images), data.test.count);
  if (!Number.isInteger(n) || n < 2) throw new ConfigError(`--images: needs an integer >= 2`);
  const cfg = modelConfig(config, data);
  const checkpoint = await loadCheckpoint(dir, vaeLayout(cfg));
  const gpu = await requestGpu();
  const trainer = await Trainer.create(gpu, config, data, checkpoint);
  const stats = await latentStats(gpu, cfg, trainer.state, data.test, 256, n);
  const table = testSplitFactorTable(data.factors, stats.muRows, cfg.z);
  console.log(
    `${dir}: ${config.dataset}, beta ${config.beta}, z ${cfg.z}, step ${checkpoint.step}; ` +
      `${n} test images; ${stats.activeUnits}/${cfg.z} active units\n`,
  );
  console.log(factorTableMarkdown(table));
});
