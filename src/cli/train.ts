/**
 * `deno task train [flags]`: train a VAE and write a run folder (config.json,
 * metrics.jsonl, model.safetensors, optimizer.safetensors). `--help` lists the flags.
 */

import { classNames, loadDataset } from "../data/datasets.ts";
import { latentStats } from "../eval/metrics.ts";
import { requestGpu } from "../gpu/device.ts";
import { saveTunerOrWarn, trainingTuner, tuneCachePath } from "./_tune_cache.ts";
import { loadCheckpoint, saveCheckpoint } from "../train/checkpoint.ts";
import {
  ConfigError,
  DEFAULTS,
  helpText,
  parseTrainArgs,
  type TrainConfig,
} from "../train/config.ts";
import { writeTextAtomic } from "../train/atomic.ts";
import {
  type EpochRecord,
  modelConfig,
  NonFiniteError,
  type Progress,
  Trainer,
} from "../train/trainer.ts";
import { describeModel, vaeLayout } from "../vae/model.ts";
import { modelSpec } from "../vae/spec.ts";
import { runMain } from "./_main.ts";
import { writeReport } from "../eval/report.ts";
import { classCheckLine } from "../eval/classify.ts";
import {
  type ClassChecker,
  classSampleCheck,
  fitClassCheckers,
  streamlineReport,
} from "../eval/conditional.ts";

/** Shown on the progress and epoch lines once an epoch ends with no active latent unit. */
const COLLAPSE_WARNING =
  "WARNING: 0 active units, the posterior has collapsed (try --kl-schedule linear or --free-bits)";

function stamp(): string {
  return new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

function clock(s: number): string {
  if (!Number.isFinite(s)) return "--:--";
  const m = Math.floor(s / 60), r = Math.round(s % 60);
  return `${m}:${String(r).padStart(2, "0")}`;
}

function progressLine(p: Progress): string {
  const l = p.losses;
  return `epoch ${p.epoch + 1}/${p.epochs} step ${p.step}/${p.steps}  loss ${l.total.toFixed(2)} ` +
    `= recon ${l.recon.toFixed(2)} + KL ${l.kl.toFixed(2)}  ${
      p.imagesPerSecond.toFixed(0)
    } img/s  ` +
    `ETA ${clock(p.eta)}`;
}

/** Settings that must not change on --resume (epochs and lr may: lowering lr after a NaN). */
const FIXED_ON_RESUME: (keyof TrainConfig)[] = [
  "dataset",
  "data-dir",
  "model",
  "condition",
  "prior",
  "prior-hidden",
  "hidden",
  "filters",
  "kernels",
  "strides",
  "decoder-filters",
  "decoder-kernels",
  "decoder-strides",
  "batchnorm",
  "upsample",
  "kl-schedule",
  "free-bits",
  "ae",
  "z",
  "batch",
  "beta",
  "recon",
  "recon-weight",
  "recon-smooth",
  "logvar-clamp",
  "seed",
];

await runMain(async () => {
  // --no-tune: default kernels, no timing and no kernel choice cache (src/gpu/tuner.ts).
  const tune = !Deno.args.includes("--no-tune");
  const args = await parseTrainArgs(Deno.args.filter((a) => a !== "--no-tune"));
  if (args.help) {
    console.log(helpText());
    return;
  }
  let config = args.config;
  let dir: string;
  let resume;
  if (args.resume) {
    dir = args.resume.replace(/\/+$/, "");
    let saved: TrainConfig;
    try {
      // The model spec beside the config (src/vae/spec.ts) is rebuilt, not a setting.
      const { spec: _spec, ...rest } = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
      saved = rest;
    } catch (e) {
      throw new ConfigError(
        `--resume ${dir}: no readable config.json there (${(e as Error).message})`,
      );
    }
    for (const key of FIXED_ON_RESUME) {
      if (
        Deno.args.some((a) => a === `--${key}` || a.startsWith(`--${key}=`)) &&
        JSON.stringify(config[key]) !== JSON.stringify(saved[key])
      ) {
        throw new ConfigError(
          `--${key} cannot change on --resume (the run used ${JSON.stringify(saved[key])})`,
        );
      }
    }
    const given = (k: string) => Deno.args.some((a) => a === `--${k}` || a.startsWith(`--${k}=`));
    config = {
      ...DEFAULTS, // keys a run written by an older version lacks keep their old meaning
      ...saved,
      epochs: given("epochs") ? config.epochs : saved.epochs,
      lr: given("lr") ? config.lr : saved.lr,
      out: dir,
    };
  } else {
    dir = (config.out || `runs/${stamp()}`).replace(/\/+$/, "");
    config = { ...config, out: dir };
    if (await exists(dir) && !args.force) {
      throw new ConfigError(
        `${dir} already exists: pass --resume ${dir} to continue it, --force to overwrite, or another --out`,
      );
    }
  }

  if ((await Deno.permissions.query({ name: "write", path: dir })).state !== "granted") {
    throw new ConfigError(
      `${args.resume ? "--resume" : "--out"} ${dir}: not allowed to write there ` +
        `(deno task train writes under runs/ only): pick a folder under runs/`,
    );
  }
  const data = await loadDataset(config.dataset, { dataDir: config["data-dir"] || undefined });
  if (args.resume) {
    const layout = vaeLayout(modelConfig(config, data));
    resume = await loadCheckpoint(dir, layout);
    if (resume.epoch >= config.epochs && resume.stepInEpoch === 0) {
      throw new ConfigError(
        `${dir} has already trained ${resume.epoch} epochs: pass --epochs N with N > ${resume.epoch}`,
      );
    }
  }
  const gpu = await requestGpu();
  const tuner = await trainingTuner(gpu, tune);
  const trainer = await Trainer.create(gpu, config, data, resume);
  if (tuner) await saveTunerOrWarn(tuner, tuneCachePath(gpu));

  await Deno.mkdir(dir, { recursive: true });
  if (!args.resume) await Deno.remove(`${dir}/metrics.jsonl`).catch(() => {});
  // The resolved model spec travels in config.json and both checkpoint files (src/vae/spec.ts).
  const spec = JSON.stringify(modelSpec(config.model, trainer.model, data, classNames(data)));
  await writeTextAtomic(
    `${dir}/config.json`,
    JSON.stringify({ ...config, spec: JSON.parse(spec) }, null, 2) + "\n",
  );
  const tty = Deno.stdout.isTerminal();
  console.log(
    `training ${describeModel(trainer.model)} on ${data.name}: ` +
      `${data.train.count} train / ${data.test.count} test, ${data.features} features, on ${gpu.adapterName}`,
  );
  console.log(`run folder: ${dir}`);

  let interrupted = false;
  const onSigint = () => {
    if (interrupted) Deno.exit(130);
    interrupted = true;
    console.error("\ninterrupt: finishing this step and saving (Ctrl-C again to quit at once)");
  };
  Deno.addSignalListener("SIGINT", onSigint);

  const encoder = new TextEncoder();
  let collapsed = false;
  const onProgress = (p: Progress) => {
    if (tty) {
      const filled = Math.round((20 * p.step) / p.steps);
      const bar = `[${"#".repeat(filled)}${".".repeat(20 - filled)}]`;
      const line = `${bar} ${progressLine(p)}${collapsed ? `  ${COLLAPSE_WARNING}` : ""}`;
      Deno.stdout.writeSync(encoder.encode(`\r\x1b[2K${line}`));
    } else console.log(progressLine(p) + (collapsed ? `  ${COLLAPSE_WARNING}` : ""));
  };
  const model = trainer.model;
  const names = classNames(data);
  const FIGURE_MU = Math.min(2000, data.test.count);
  let checkers: ClassChecker[] | undefined;
  const onEpoch = async (r: EpochRecord) => {
    if (tty) Deno.stdout.writeSync(encoder.encode("\r\x1b[2K"));
    // Collapse diagnostics over the test set: per-dimension KL, active units, mu/sigma ranges.
    const stats = await latentStats(gpu, model, trainer.state, data.test, 256, FIGURE_MU);
    const { muRows, ...diagnostics } = stats;
    r.diagnostics = diagnostics;
    collapsed = stats.activeUnits === 0;
    console.log(
      `epoch ${r.epoch}: train loss ${r.train.total.toFixed(2)}  test loss ${
        r.test.total.toFixed(2)
      } ` +
        `(recon ${r.test.recon.toFixed(2)} + KL ${r.test.kl.toFixed(2)}; -ELBO ${
          r.test.elbo.toFixed(2)
        }) ` +
        `${r.imagesPerSecond.toFixed(0)} img/s, ${r.seconds.toFixed(1)} s; ` +
        `${stats.activeUnits}/${model.z} active units` +
        (r.beta !== config.beta ? `, KL weight ${r.beta.toPrecision(3)}` : "") +
        (collapsed ? `  ${COLLAPSE_WARNING}` : ""),
    );
    await saveCheckpoint(dir, trainer.state.layout, { ...await trainer.checkpoint(), spec });
    // Conditional and streamline checks, measured every epoch and kept with its record.
    const extra: Record<string, unknown> = {};
    let classSamples, streamlines;
    if (model.condition?.kind === "label") {
      checkers ??= fitClassCheckers(data);
      classSamples = await classSampleCheck(trainer, data, names, checkers, {
        seed: config.seed,
      });
      const { checks, images } = classSamples;
      extra.classAgreement = Object.fromEntries(
        checks.map(({ metric, ...rest }) => [metric, rest]),
      );
      const n = images.length / data.features;
      for (const k of checks) {
        console.log(`  ${classCheckLine(k.metric, k.fraction, k.testAccuracy, n)}`);
      }
    }
    if (data.streamlines) {
      const s = await streamlineReport(trainer, data, muRows, { seed: config.seed });
      streamlines = s.input;
      extra.streamlines = s.stats;
      console.log(
        `  mean point-wise reconstruction distance ${s.stats.distanceMm.toFixed(2)} mm ` +
          `(bundle width ${s.input.widthMm!.toFixed(1)} mm)` +
          (s.stats.length
            ? `; asked vs produced length correlation ${s.stats.length.correlation.toFixed(3)}` +
              ` (at the prior mean: ${s.stats.length.correlationAtMean.toFixed(3)})`
            : ""),
      );
    }
    await Deno.writeTextFile(`${dir}/metrics.jsonl`, JSON.stringify({ ...r, ...extra }) + "\n", {
      append: true,
    });
    const records = (await Deno.readTextFile(`${dir}/metrics.jsonl`)).trim().split("\n")
      .map((l) => JSON.parse(l));
    const images = data.streamlines ? undefined : await trainer.reconstructions(8);
    await writeReport(dir, {
      config: { ...config },
      records,
      rows: data.streamlines ? undefined : data.rows,
      cols: data.streamlines ? undefined : data.cols,
      originals: images?.originals,
      reconstructions: images?.means,
      samples: data.streamlines ? undefined : await trainer.samples(32, config.seed),
      klSchedule: { schedule: trainer.klSchedule, totalSteps: trainer.totalSteps },
      latent: {
        z: model.z,
        decode: data.streamlines ? undefined : (z, n) => trainer.decode(z, n),
        mu: muRows,
        labels: data.test.labels?.subarray(0, FIGURE_MU),
        classNames: data.test.labels ? (data.streamlines?.bundles ?? names) : undefined,
      },
      classSamples,
      streamlines,
    });
  };

  let outcome;
  try {
    outcome = await trainer.train({ onProgress, onEpoch, stop: () => interrupted });
  } catch (e) {
    if (e instanceof NonFiniteError) {
      const kept = await exists(`${dir}/model.safetensors`)
        ? `the last good checkpoint (epoch ${trainer.epoch}) is kept in ${dir}`
        : "no checkpoint had been written yet";
      throw new Error(
        `${e.message}; stopped, ${kept}. Try a lower --lr or a tighter --logvar-clamp`,
      );
    }
    throw e;
  } finally {
    Deno.removeSignalListener("SIGINT", onSigint);
  }
  if (outcome === "stopped") {
    await saveCheckpoint(dir, trainer.state.layout, { ...await trainer.checkpoint(), spec });
    console.log(
      `\nstopped at epoch ${
        trainer.epoch + 1
      }, step ${trainer.stepInEpoch}; saved. Continue with: deno task train --resume ${dir}`,
    );
  } else {
    console.log(`done: ${dir}/model.safetensors`);
  }
  gpu.destroy();
});
