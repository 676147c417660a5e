/**
 * `deno task eval runs/NAME [--k 64] [--images 1000]`: the trained model's test negative ELBO
 * (reconstruction + KL), the importance-weighted estimate of -log p(x) with k samples per
 * image on the first `images` test images, active units and KL per latent dimension. Prints
 * a table and writes runs/NAME/eval.json. The model is read from model.safetensors (its spec
 * and weights); the dataset named in its training config gives the test split. For streamlines,
 * `--reconstructions FILE.{trk,tck,trx}` also writes the test split's reconstructions (decoded
 * means of one z sample each) in the source's RAS+ mm space, to overlay the input in a viewer.
 */

import { parseArgs } from "node:util";
import { checkReconRange, loadDataset } from "../data/datasets.ts";
import { streamlinesInMm } from "../data/streamline_dataset.ts";
import { tractogramFormat, writeTractogram } from "../data/tractogram_io.ts";
import { requestGpu } from "../gpu/device.ts";
import { iwaeEstimate, latentStats } from "../eval/metrics.ts";
import { writeTextAtomic } from "../io/atomic.ts";
import type { Checkpoint } from "../train/checkpoint.ts";
import { ConfigError, DEFAULTS, type TrainConfig } from "../train/config.ts";
import { modelConfig, Trainer } from "../train/trainer.ts";
import { describeModel } from "../vae/model.ts";
import { runMain } from "./_main.ts";
import { readRunModel } from "./_model_file.ts";

const USAGE =
  "usage: deno task eval runs/NAME [--k 64] [--images 1000] [--reconstructions FILE.trk|.tck|.trx]";

const HELP = `deno task eval runs/NAME [flags]: the model's test -ELBO (reconstruction + KL), the
importance-weighted estimate of -log p(x), active units and KL per dimension; a table, and
runs/NAME/eval.json

  --k K                    importance samples per image of the IWAE bound (default 64)
  --images N               test images the bound is taken over (default 1000)
  --reconstructions FILE   a streamline model: write the test reconstructions (.trk, .tck, .trx)
  --help                   this text`;

await runMain(async () => {
  let parsed;
  try {
    parsed = parseArgs({
      args: Deno.args,
      options: {
        k: { type: "string", default: "64" },
        images: { type: "string", default: "1000" },
        reconstructions: { type: "string" },
        help: { type: "boolean", default: false },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw new ConfigError(`${(e as Error).message.split("\n")[0]} (${USAGE})`);
  }
  if (parsed.values.help) {
    console.log(HELP);
    return;
  }
  const dir = parsed.positionals[0]?.replace(/\/+$/, "");
  if (!dir || parsed.positionals.length > 1) {
    throw new ConfigError(USAGE);
  }
  const k = Number(parsed.values.k), images = Number(parsed.values.images);
  if (!Number.isInteger(k) || k < 1) {
    throw new ConfigError(`--k: '${parsed.values.k}' is not a positive integer`);
  }
  if (!Number.isInteger(images) || images < 1) {
    throw new ConfigError(`--images: '${parsed.values.images}' is not a positive integer`);
  }
  const reconOut = parsed.values.reconstructions;
  if (reconOut !== undefined) {
    if (!tractogramFormat(reconOut)) {
      throw new ConfigError(`--reconstructions: '${reconOut}' must end in .trk, .tck or .trx`);
    }
    if ((await Deno.permissions.query({ name: "write", path: reconOut })).state !== "granted") {
      throw new ConfigError(
        `--reconstructions ${reconOut}: not allowed to write there (deno task eval writes ` +
          `under runs/ only)`,
      );
    }
  }
  // The model (spec and weights) comes from model.safetensors; the dataset, named by the
  // training config in the same file's metadata, gives the test split and must give this model.
  const model = await readRunModel(dir);
  if (typeof model.config.dataset !== "string") {
    throw new ConfigError(`${model.path}: no training config (dataset) in the metadata`);
  }
  const config = { ...DEFAULTS, ...model.config } as TrainConfig;
  const data = await loadDataset(config.dataset, { dataDir: config["data-dir"] || undefined });
  checkReconRange(data, config.recon);
  if (reconOut !== undefined && !data.streamlines) {
    throw new ConfigError(`--reconstructions: ${config.dataset} is not a streamline dataset`);
  }
  const cfg = model.spec.model;
  const same = (v: unknown) => JSON.stringify(JSON.parse(JSON.stringify(v)));
  if (same(modelConfig(config, data)) !== same(cfg)) {
    throw new ConfigError(
      `${dir}: the dataset ${config.dataset} (${data.rows}x${data.cols}, ${data.features} values ` +
        `per example) does not give the model in ${model.path} (${describeModel(cfg)})`,
    );
  }
  const zeros = new Float32Array(model.params.length);
  const checkpoint: Checkpoint = {
    params: model.params,
    m: zeros,
    v: zeros,
    step: model.step,
    epoch: 0,
    stepInEpoch: 0,
    sums: [],
    config: JSON.stringify(config),
  };
  const gpu = await requestGpu();
  const trainer = await Trainer.create(gpu, config, data, checkpoint);
  const elbo = await trainer.evaluate();
  const stats = await latentStats(gpu, cfg, trainer.state, data.test);
  const n = Math.min(images, data.test.count);
  const iwae = cfg.recon === "bce"
    ? await iwaeEstimate(gpu, cfg, trainer.state, data.test, { k, images: n })
    : null;
  const result = {
    run: dir,
    step: checkpoint.step,
    testImages: data.test.count,
    test: { recon: elbo.recon, kl: elbo.kl, negativeElbo: elbo.elbo },
    iwae: iwae === null ? null : { k, images: n, nll: iwae },
    activeUnits: stats.activeUnits,
    klPerDim: stats.klPerDim,
    muVariance: stats.muVariance,
    mu: stats.mu,
    sigma: stats.sigma,
  };
  const f = (v: number) => v.toFixed(2);
  console.log(
    `run ${dir} (step ${checkpoint.step}), ${data.test.count} test images of ${data.name}`,
  );
  console.log(`| metric | nats per image |\n|---|---:|`);
  console.log(`| test reconstruction | ${f(elbo.recon)} |\n| test KL | ${f(elbo.kl)} |`);
  console.log(`| test negative ELBO | ${f(elbo.elbo)} |`);
  if (iwae !== null) console.log(`| IWAE -log p(x), k = ${k}, first ${n} images | ${f(iwae)} |`);
  else console.log("(IWAE needs --recon bce; skipped)");
  console.log(`active units: ${stats.activeUnits} of ${cfg.z} (Var of E_q[z_d] > 0.01)`);
  console.log(`KL per dimension: ${stats.klPerDim.map(f).join(" ")}`);
  console.log(
    `mu in [${f(stats.mu.min)}, ${f(stats.mu.max)}] (mean ${f(stats.mu.mean)}); ` +
      `sigma in [${f(stats.sigma.min)}, ${f(stats.sigma.max)}] (mean ${f(stats.sigma.mean)})`,
  );
  if (reconOut !== undefined) {
    const { means } = await trainer.reconstructions();
    const lines = streamlinesInMm(means, data);
    // The spec's space first (what sample writes in), else the dataset's as loaded now.
    const g = model.spec.data;
    const space = (g.kind === "sequence" ? g.space : undefined) ?? data.streamlines!.space ?? null;
    await writeTractogram(reconOut, lines, space, { generator: "webgpu-vae eval" });
    console.log(`wrote ${reconOut}: ${lines.length} test reconstructions (RAS+ mm)`);
  }
  await writeTextAtomic(`${dir}/eval.json`, JSON.stringify(result, null, 2) + "\n");
  console.log(`wrote ${dir}/eval.json`);
  gpu.destroy();
});
