/**
 * `deno task train [flags]`: train a VAE and write a run folder (config.json,
 * metrics.jsonl, model.safetensors, optimizer.safetensors). `--help` lists the flags.
 *
 * The folder is locked (`.lock`, holding the PID) before anything else of it is read or
 * written. Every epoch is committed as a whole (see src/train/checkpoint.ts): after a crash at
 * any point, `--resume` finds weights, config and metrics that agree. SIGINT and SIGTERM stop
 * after the current step, save, and exit 130 / 143.
 *
 * Test-only hooks (environment): WEBGPU_VAE_FAULT=FILE:POINT@EPOCH stops the process (it
 * blocks, for the test to SIGKILL it) at that write point of that epoch's commit;
 * WEBGPU_VAE_FAULT=pause-after-step:N blocks after optimizer step N until the file
 * RUN/.fault-continue appears; WEBGPU_VAE_TEST_CLOCK=steps times by steps (1 s each) so
 * metrics.jsonl is reproducible byte for byte.
 */

import {
  checkReconRange,
  classNames,
  type Dataset,
  imageChannels,
  loadDataset,
} from "../data/datasets.ts";
import { latentStats } from "../eval/metrics.ts";
import { requestGpu } from "../gpu/device.ts";
import { setImmediate } from "node:timers";
import {
  type Checkpoint,
  configText,
  type EpochLine,
  type OpenCheckpoint,
  openCheckpoint,
  repairRun,
  saveCheckpoint,
} from "../train/checkpoint.ts";
import { saveTunerOrWarn, trainingTuner, tuneCachePath } from "./_tune_cache.ts";
import {
  ConfigError,
  helpText,
  parseTrainArgs,
  readRunConfig,
  type TrainArgs,
  type TrainConfig,
  validateRunConfig,
} from "../train/config.ts";
import { removeStaleTemps, writeTextAtomic } from "../io/atomic.ts";
import { describeHolder, lockHolder, lockRunFolder, type RunLock } from "../train/lock.ts";
import {
  DivergenceWatch,
  type EpochRecord,
  firstNonFinite,
  modelConfig,
  NonFiniteError,
  type Progress,
  splitPlacement,
  Trainer,
} from "../train/trainer.ts";
import { describeModel, vaeLayout } from "../vae/model.ts";
import { modelSpec } from "../vae/spec.ts";
import { writeShards } from "../data/shards.ts";
import { runMain } from "./_main.ts";
import { writeReport } from "../eval/report.ts";
import { testSplitFactorTable } from "../eval/factors.ts";
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

/** A number for a console line: fixed digits when finite, else as JS prints it. */
function fix(v: number, digits = 2): string {
  return Number.isFinite(v) ? v.toFixed(digits) : String(v);
}

function progressLine(p: Progress): string {
  const l = p.losses;
  return `epoch ${p.epoch + 1}/${p.epochs} step ${p.step}/${p.steps}  loss ${fix(l.total)} ` +
    `= recon ${fix(l.recon)} + KL ${fix(l.kl)}  ${fix(p.imagesPerSecond, 0)} img/s  ` +
    `ETA ${clock(p.eta)}`;
}

/** Settings that may change on --resume (lowering lr after a NaN, more epochs). */
const RESUMABLE: (keyof TrainConfig)[] = ["epochs", "lr"];

/** Settings that must not change on --resume. */
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
  "eps-std",
  "regression",
  "regression-hidden",
];

/** The files a trainer writes into its run folder: the commit's four, kept epochs, the report's. */
const RUN_FILES =
  /^(optimizer\.safetensors|model\.safetensors|model-epoch-\d{4,}\.safetensors|config\.json|metrics\.jsonl|report\.html|[\w-]+\.(png|svg))$/;

/** The exit status after a signal stopped the run: 128 + the signal's number. */
const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;

/** A test hook's variable: unset unless the process may read it (the task does not grant it). */
function testEnv(name: string): string | undefined {
  const granted = Deno.permissions.querySync({ name: "env", variable: name }).state === "granted";
  return granted ? Deno.env.get(name) : undefined;
}

/**
 * The test-only fault hook (module doc): a commit write point to stop at, or a step to pause
 * after. Stopping blocks the main thread for good; the test kills the process.
 */
function faultHook(): { point: string; epoch: number } | { pauseAfter: number } | null {
  const spec = testEnv("WEBGPU_VAE_FAULT");
  if (!spec) return null;
  const pause = /^pause-after-step:(\d+)$/.exec(spec);
  if (pause) return { pauseAfter: Number(pause[1]) };
  const at = /^(.+:(?:created|written|renamed))@(\d+)$/.exec(spec);
  if (!at) throw new ConfigError(`WEBGPU_VAE_FAULT: '${spec}' is not FILE:POINT@EPOCH`);
  return { point: at[1], epoch: Number(at[2]) };
}

function blockForever(line: string): never {
  Deno.stderr.writeSync(new TextEncoder().encode(`${line}\n`));
  const cell = new Int32Array(new SharedArrayBuffer(4));
  for (;;) Atomics.wait(cell, 0, 0);
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Let the runtime look for signals between steps. Deno delivers a signal through its async
 * runtime, which polls its signal driver when it parks (waits for a timer or I/O) or every
 * few dozen tasks: an immediate turn (~5 us) does not park, a zero timer does (~1-3 ms). So
 * each step gets two cheap turns, and the loop parks once whenever 25 ms of stepping have
 * passed since it last did: a signal is seen within a step or two (the loop also parks at each
 * metrics read), at a cost of a few percent of the loop's time at most.
 */
function signalYield(): () => Promise<void> {
  let parked = performance.now();
  return async () => {
    for (let i = 0; i < 2; i++) await new Promise<void>((resolve) => setImmediate(resolve));
    if (performance.now() - parked >= 25) {
      await new Promise<void>((resolve) => setTimeout(resolve, 0));
      parked = performance.now();
    }
  };
}

/** Make `dir` (its parents as needed); false when it already existed. */
async function makeFolder(dir: string): Promise<boolean> {
  const cut = dir.lastIndexOf("/");
  if (cut > 0) await Deno.mkdir(dir.slice(0, cut), { recursive: true });
  try {
    await Deno.mkdir(dir);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) return false;
    throw e;
  }
}

/** What a run folder holds of a run, for the error messages. */
async function isRun(dir: string): Promise<boolean> {
  return await exists(`${dir}/config.json`) || await exists(`${dir}/optimizer.safetensors`);
}

/**
 * Take the run folder: make it (new run) or find it (--resume), and lock it before anything
 * of it is read. Returns the lock and whether this process made the folder.
 */
async function takeFolder(
  args: TrainArgs,
  dir: string,
): Promise<{ lock: RunLock; created: boolean }> {
  if ((await Deno.permissions.query({ name: "write", path: dir })).state !== "granted") {
    throw new ConfigError(
      `${args.resume ? "--resume" : "--out"} ${dir}: not allowed to write there ` +
        `(deno task train writes under runs/ only): pick a folder under runs/`,
    );
  }
  let created = false;
  if (args.resume) {
    const info = await Deno.stat(dir).catch(() => null);
    if (!info?.isDirectory) throw new ConfigError(`--resume ${dir}: no such run folder`);
  } else {
    created = await makeFolder(dir);
    if (!created) {
      const holder = await lockHolder(dir);
      if (holder?.alive) throw new ConfigError(describeHolder(dir, holder));
      if (!args.force) {
        throw new ConfigError(
          await isRun(dir)
            ? `${dir} already exists: pass --resume ${dir} to continue it, --force to overwrite, ` +
              `or another --out`
            : `${dir} already exists (not a run folder): pass --force to write into it, or ` +
              `another --out`,
        );
      }
    }
  }
  const lock = await lockRunFolder(dir, { breakStale: args.breakLock });
  if (lock.brokeStale !== null) {
    console.error(`took over the lock of process ${lock.brokeStale}, which no longer runs`);
  }
  return { lock, created };
}

/** The resume plan: config to train with and the checkpoint to start from (none: epoch 1). */
interface Resume {
  config: TrainConfig;
  open: OpenCheckpoint | null;
}

/** Read a locked run folder for --resume and merge the command line into its config. */
async function planResume(args: TrainArgs, dir: string): Promise<Resume> {
  let open: OpenCheckpoint | null = null;
  let saved: TrainConfig;
  if (await exists(`${dir}/optimizer.safetensors`)) {
    // The commit record holds the config of the last committed epoch: it wins over a
    // config.json a crash may have left newer or older.
    open = await openCheckpoint(dir);
    let raw: unknown;
    try {
      raw = JSON.parse(open.config);
    } catch {
      throw new ConfigError(`${open.path}: the config in its metadata is not valid JSON`);
    }
    saved = validateRunConfig(raw, `${open.path} (metadata config)`);
  } else if (await exists(`${dir}/config.json`)) {
    saved = await readRunConfig(dir);
  } else {
    throw new ConfigError(
      `--resume ${dir}: not a run folder (no config.json, no optimizer.safetensors)`,
    );
  }
  const given = (k: keyof TrainConfig) => args.given.has(k);
  for (const key of FIXED_ON_RESUME) {
    if (given(key) && JSON.stringify(args.config[key]) !== JSON.stringify(saved[key])) {
      throw new ConfigError(
        `--${key} cannot change on --resume (the run used ${JSON.stringify(saved[key])})`,
      );
    }
  }
  const config = { ...saved, out: dir };
  for (const key of RESUMABLE) {
    if (given(key) && args.config[key] !== saved[key]) {
      console.log(`--resume: ${key} ${saved[key]} -> ${args.config[key]}`);
      // deno-lint-ignore no-explicit-any
      (config as any)[key] = args.config[key];
    }
  }
  if (given("out") && args.config.out.replace(/\/+$/, "") !== dir) {
    console.log(`--resume: --out ${args.config.out} is ignored (the run stays in ${dir})`);
  }
  const done = open?.epoch ?? 0;
  if (open && done >= config.epochs && open.stepInEpoch === 0) {
    throw new ConfigError(
      `${dir} has already trained ${done} epochs: pass --epochs N with N > ${done}`,
    );
  }
  return { config, open };
}

/** --no-tune: default kernels, no timing and no kernel choice cache (src/gpu/tuner.ts). */
const tune = !Deno.args.includes("--no-tune");

await runMain(async () => {
  const args = await parseTrainArgs(Deno.args.filter((a) => a !== "--no-tune"));
  if (args.help) {
    console.log(helpText());
    return;
  }
  const fault = faultHook();
  const dir = args.resume
    ? args.resume.replace(/\/+$/, "")
    : (args.config.out || `runs/${stamp()}`).replace(/\/+$/, "");
  const { lock, created } = await takeFolder(args, dir);
  let wrote = false;
  try {
    await trainIn(args, dir, fault, () => wrote = true, lock);
  } catch (e) {
    // A folder this process made and wrote nothing into goes again (bad input, no adapter).
    if (created && !wrote) {
      await lock.release();
      await Deno.remove(dir).catch(() => {});
    }
    throw e;
  } finally {
    await lock.release();
  }
});

async function trainIn(
  args: TrainArgs,
  dir: string,
  fault: ReturnType<typeof faultHook>,
  wrote: () => void,
  lock: RunLock,
): Promise<void> {
  // Signals: the first stops after the current step (then save, exit 128 + signal number);
  // a second quits at once.
  let interrupted: keyof typeof SIGNAL_EXIT | null = null;
  const listeners = (["SIGINT", "SIGTERM"] as const).map((signal) => {
    const fn = () => {
      if (interrupted) {
        lock.releaseSync();
        Deno.exit(SIGNAL_EXIT[signal]);
      }
      interrupted = signal;
      console.error(
        `\n${signal}: finishing this step and saving (send it again to quit at once)`,
      );
    };
    Deno.addSignalListener(signal, fn);
    return () => Deno.removeSignalListener(signal, fn);
  });
  try {
    await trainLocked(args, dir, fault, wrote, () => interrupted);
  } finally {
    for (const remove of listeners) remove();
  }
}

async function trainLocked(
  args: TrainArgs,
  dir: string,
  fault: ReturnType<typeof faultHook>,
  wrote: () => void,
  interrupted: () => keyof typeof SIGNAL_EXIT | null,
): Promise<void> {
  // Under the lock no other trainer writes here: temp files of the run's own files are
  // left by a killed one (eval and sample write other names).
  const removed = await removeStaleTemps(dir, (target) => RUN_FILES.test(target));
  if (removed.length) {
    console.log(
      `removed ${removed.length} temporary file(s) of an interrupted write: ` +
        removed.join(", "),
    );
  }
  let config: TrainConfig;
  let open: OpenCheckpoint | null = null;
  if (args.resume) {
    ({ config, open } = await planResume(args, dir));
  } else {
    config = { ...args.config, out: dir };
  }
  const data = await loadDataset(config.dataset, { dataDir: config["data-dir"] || undefined });
  checkReconRange(data, config.recon);
  const layout = vaeLayout(modelConfig(config, data));
  let resume: Checkpoint | undefined;
  let records: EpochLine[] = [];
  if (open) {
    resume = open.load(layout);
    const copy = { ...resume };
    const fixed = await repairRun(dir, layout, copy);
    records = copy.records!;
    if (fixed.length) {
      console.log(`rewrote ${fixed.join(", ")} from the last commit (optimizer.safetensors)`);
    }
    console.log(
      resume.stepInEpoch === 0
        ? `resuming ${dir} after epoch ${resume.epoch} (step ${resume.step}): ` +
          `training epochs ${resume.epoch + 1}-${config.epochs}` +
          (removed.length ? `; whatever came after epoch ${resume.epoch} is redone` : "")
        : `resuming ${dir} in epoch ${resume.epoch + 1} after its step ${resume.stepInEpoch} ` +
          `(step ${resume.step} in all), where it was saved`,
    );
  } else if (args.resume) {
    console.log(`resuming ${dir}: no epoch was committed yet, starting at epoch 1`);
  }
  const gpu = await requestGpu();
  const tuner = await trainingTuner(gpu, tune);
  // A split over the GPU budget is streamed from disk shards (src/data/shards.ts); the host
  // copy is let go, so the run holds only a window and two staging copies of it in memory.
  const shards = await shardsIfStreamed(gpu.device, config, data);
  const trainer = await Trainer.create(gpu, config, data, resume);
  if (tuner) await saveTunerOrWarn(tuner, tuneCachePath(gpu));
  // The resolved model spec travels in config.json and both checkpoint files (src/vae/spec.ts).
  const spec = JSON.stringify(modelSpec(config.model, trainer.model, data, classNames(data)));

  if (!args.resume) {
    if (args.force) {
      // An overwritten folder must not keep another run's commit record or metrics.
      for (const f of ["optimizer.safetensors", "model.safetensors", "metrics.jsonl"]) {
        await Deno.remove(`${dir}/${f}`).catch(() => {});
      }
      for await (const e of Deno.readDir(dir)) {
        if (/^model-epoch-\d{4,}\.safetensors$/.test(e.name)) await Deno.remove(`${dir}/${e.name}`);
      }
    }
    // Written now so a run killed before its first commit can be resumed (from epoch 1).
    wrote();
    await writeTextAtomic(`${dir}/config.json`, configText(JSON.stringify(config), spec));
  }
  const tty = Deno.stdout.isTerminal();
  console.log(
    `training ${describeModel(trainer.model)} on ${data.name}: ` +
      `${data.train.count} train / ${data.test.count} test, ${data.features} features, on ${gpu.adapterName}`,
  );
  console.log(`run folder: ${dir}`);
  const place = trainer.placement;
  if (place.mode === "streamed") {
    console.log(
      `training split ${(place.bytes / 2 ** 20).toFixed(1)} MiB is over --gpu-data-mb ` +
        `${(place.budget / 2 ** 20).toFixed(1)}: streamed in ${place.windows} windows of ` +
        `${place.stepsPerWindow} steps from ${shards}`,
    );
  }
  const testPlace = trainer.testPlacement;
  if (testPlace.mode === "streamed") {
    console.log(
      `test split ${(testPlace.bytes / 2 ** 20).toFixed(1)} MiB is over --gpu-data-mb too: ` +
        `evaluated in ${testPlace.windows} windows of ${testPlace.stepsPerWindow} batches from memory`,
    );
  }

  /** Commit the trainer's state with the records so far (the fault hook may stop us). */
  const commit = async () => {
    const epoch = trainer.epoch;
    await saveCheckpoint(dir, trainer.state.layout, {
      ...await trainer.checkpoint(),
      spec,
      records,
    }, {
      at: fault && "point" in fault && fault.epoch === epoch
        ? (point) => {
          if (point === fault.point) blockForever(`fault: at ${point} of epoch ${epoch}`);
        }
        : undefined,
    });
  };

  const encoder = new TextEncoder();
  let collapsed = false;
  const watch = new DivergenceWatch();
  let diverged: string | null = null;
  const onProgress = (p: Progress) => {
    if (diverged === null) {
      const d = watch.see(p.losses.total, `epoch ${p.epoch + 1}, step ${p.step}`);
      if (d) {
        diverged = d;
        if (tty) Deno.stdout.writeSync(encoder.encode("\r\x1b[2K"));
        console.error(
          `warning: ${d}; try a lower --lr` +
            (args.stopOnDivergence ? "" : " (--stop-on-divergence stops a run here)"),
        );
      }
    }
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
  /** The error that ends a run stopped for divergence; the diverged weights are not saved. */
  const divergenceStop = async (what: string) =>
    new Error(
      `${what}; stopped (--stop-on-divergence) without saving the diverged weights, ` +
        (await exists(`${dir}/optimizer.safetensors`)
          ? `the last good checkpoint (epoch ${records.length}) is kept in ${dir}`
          : "no checkpoint had been written yet"),
    );
  const onEpoch = async (r: EpochRecord) => {
    // Divergence seen at an epoch's last step: the epoch is not committed.
    if (args.stopOnDivergence && diverged !== null) throw await divergenceStop(diverged);
    if (tty) Deno.stdout.writeSync(encoder.encode("\r\x1b[2K"));
    // Collapse diagnostics over the test set: per-dimension KL, active units, mu/sigma ranges.
    const stats = await latentStats(gpu, model, trainer.state, data.test, 256, FIGURE_MU);
    const { muRows, ...diagnostics } = stats;
    r.diagnostics = diagnostics;
    const bad = firstNonFinite(diagnostics);
    if (bad) throw new NonFiniteError(`epoch ${r.epoch}'s latent statistics: ${bad}`);
    collapsed = stats.activeUnits === 0;
    console.log(
      `epoch ${r.epoch}: train loss ${fix(r.train.total)}  test loss ${fix(r.test.total)} ` +
        `(recon ${fix(r.test.recon)} + KL ${fix(r.test.kl)}; -ELBO ${fix(r.test.elbo)}) ` +
        `${fix(r.imagesPerSecond, 0)} img/s, ${fix(r.seconds, 1)} s; ` +
        `${stats.activeUnits}/${model.z} active units` +
        (r.beta !== config.beta ? `, KL weight ${r.beta.toPrecision(3)}` : "") +
        (collapsed ? `  ${COLLAPSE_WARNING}` : ""),
    );
    // Conditional and streamline checks, measured every epoch and kept with its record.
    const extra: Record<string, unknown> = {};
    // Seed 001's knob, with the epoch it shaped (absent at 1, as in runs before it existed).
    if (config["eps-std"] !== 1) extra.epsStd = config["eps-std"];
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
            : "") +
          (s.stats.regression
            ? `; predicted length R^2 ${s.stats.regression.r2.toFixed(3)} ` +
              `(MSE ${s.stats.regression.mse.toFixed(2)} mm^2)`
            : ""),
      );
    }
    const line: EpochLine = { ...r, ...extra };
    const badLine = firstNonFinite(line);
    if (badLine) throw new NonFiniteError(`epoch ${r.epoch}'s record: ${badLine}`);
    // The epoch's commit: weights, optimizer state and every epoch's record in one record.
    records = [...records, JSON.parse(JSON.stringify(line))];
    await commit();
    const images = data.streamlines ? undefined : await trainer.reconstructions(8);
    await writeReport(dir, {
      config: { ...config },
      records: records as unknown as EpochRecord[],
      rows: data.streamlines ? undefined : data.rows,
      cols: data.streamlines ? undefined : data.cols,
      channels: data.streamlines ? undefined : imageChannels(data),
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
        factors: data.factors ? testSplitFactorTable(data.factors, muRows, model.z) : undefined,
      },
      classSamples,
      streamlines,
    });
  };

  const yieldToEvents = signalYield();
  let outcome;
  try {
    outcome = await trainer.train({
      onProgress,
      onEpoch,
      stop: () => interrupted() !== null || (args.stopOnDivergence && diverged !== null),
      afterStep: async () => {
        if (fault && "pauseAfter" in fault && trainer.step === fault.pauseAfter) {
          Deno.stderr.writeSync(encoder.encode(`fault: paused after step ${trainer.step}\n`));
          // Held synchronously: a signal sent now is seen only where the loop yields.
          for (;;) {
            try {
              Deno.removeSync(`${dir}/.fault-continue`);
              break;
            } catch {
              sleepSync(20);
            }
          }
        }
        await yieldToEvents();
      },
      clock: testEnv("WEBGPU_VAE_TEST_CLOCK") === "steps" ? () => trainer.step * 1000 : undefined,
    });
  } catch (e) {
    if (e instanceof NonFiniteError) {
      const kept = await exists(`${dir}/optimizer.safetensors`)
        ? `the last good checkpoint (epoch ${records.length}) is kept in ${dir}`
        : "no checkpoint had been written yet";
      throw new Error(
        `${e.message}; stopped, ${kept}. Try a lower --lr or a tighter --logvar-clamp`,
      );
    }
    throw e;
  }
  const signal = interrupted();
  if (outcome === "stopped" && signal === null && diverged !== null) {
    throw await divergenceStop(diverged);
  }
  if (outcome === "stopped") {
    await commit();
    console.log(
      `\nstopped at epoch ${
        trainer.epoch + 1
      }, step ${trainer.stepInEpoch}; saved. Continue with: deno task train --resume ${dir}`,
    );
  } else {
    console.log(`done: ${dir}/model.safetensors`);
  }
  if (signal !== null) Deno.exitCode = SIGNAL_EXIT[signal];
  gpu.destroy();
}

/**
 * When `data`'s training split is over the GPU budget, put it into disk shards (or find them
 * from an earlier run), read it from there and drop the host copy; returns the shards' folder
 * (with "(reused)" when found), or null when the split stays resident.
 */
async function shardsIfStreamed(
  device: GPUDevice,
  config: TrainConfig,
  data: Dataset,
): Promise<string | null> {
  if (splitPlacement(device, config, data.train, data.features).mode !== "streamed") return null;
  const split = data.train;
  const { reader, path, reused } = await writeShards(split.images, split.count);
  split.onDisk = reader;
  split.images = split.images instanceof Uint8Array ? new Uint8Array(0) : new Float32Array(0);
  return reused ? `${path} (reused)` : path;
}
