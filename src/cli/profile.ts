/**
 * `deno task profile [flags]`: time every pass of a model's training step on the GPU and
 * write `profile.md` (the per-kernel table and the cost of profiling) and `trace.json` (open
 * it in https://ui.perfetto.dev or chrome://tracing) to the output folder. `--help` lists the
 * flags.
 *
 * The model is the trainer's (the `mlp` or `conv` defaults of `deno task train`, built by
 * the same step builders), on real batches of the dataset. Before profiling, the same step is timed as
 * training runs it (one pass, one submit per step, no waits in between) so the table comes
 * with what profiling itself costs.
 */

import { loadDataset } from "../data/datasets.ts";
import { gpuMemory, readback, submitCount, Tensor } from "../gpu/buffer.ts";
import { type Gpu, requestGpu } from "../gpu/device.ts";
import { type Dispatch, submit } from "../gpu/kernel.ts";
import { Profiler } from "../gpu/profiler.ts";
import { writeTextAtomic } from "../io/atomic.ts";
import { DEFAULTS } from "../train/config.ts";
import { epochOrder } from "../io/random.ts";
import { modelConfig } from "../train/trainer.ts";
import {
  initParams,
  METRIC,
  ModelState,
  setBatchOffset,
  type StepProgram,
  uploadSource,
} from "../vae/common.ts";
import { buildVaeStep, describeModel, vaeLayout } from "../vae/model.ts";
import { CONV_DEFAULTS } from "../vae/conv_vae.ts";
import { parseArgsOr, runMain } from "./_main.ts";

const HELP = `deno task profile [flags]: per-kernel GPU times of one training step

  --model mlp|conv   model family, with the train task's defaults (default mlp)
  --batch N          examples per step (default 128)
  --steps N          steps profiled (default 20)
  --warmup N         untimed steps first (default 3)
  --dataset SPEC     embedded | fashion-mnist | mnist | idx:IMAGES[,LABELS] (default embedded)
  --data-dir DIR     folder with the IDX files (fashion-mnist, mnist)
  --out DIR          where profile.md and trace.json go (default runs/profile-<date-time>)
  --timestamps off   time whole submits even when the GPU has timestamp queries`;

/** The parsed flags. */
interface ProfileArgs {
  model: "mlp" | "conv";
  batch: number;
  steps: number;
  warmup: number;
  dataset: string;
  dataDir: string;
  out: string;
  timestamps: boolean;
}

function count(flag: string, v: string | undefined, fallback: number, min: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    throw new Error(`--${flag} must be an integer >= ${min} (got '${v}')`);
  }
  return n;
}

function parse(args: string[]): ProfileArgs | null {
  const p = parseArgsOr({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      help: { type: "boolean", short: "h" },
      model: { type: "string" },
      batch: { type: "string" },
      steps: { type: "string" },
      warmup: { type: "string" },
      dataset: { type: "string" },
      "data-dir": { type: "string" },
      out: { type: "string" },
      timestamps: { type: "string" },
    },
  }, "see --help");
  const v = p.values;
  if (v.help) return null;
  const model = v.model ?? "mlp";
  if (model !== "mlp" && model !== "conv") {
    throw new Error(`--model ${model}: unknown model; use mlp or conv`);
  }
  if (v.timestamps !== undefined && v.timestamps !== "on" && v.timestamps !== "off") {
    throw new Error(`--timestamps must be on or off (got '${v.timestamps}')`);
  }
  return {
    model,
    batch: count("batch", v.batch, 128, 1),
    steps: count("steps", v.steps, 20, 1),
    warmup: count("warmup", v.warmup, 3, 0),
    dataset: v.dataset ?? "embedded",
    dataDir: v["data-dir"] ?? "",
    out: (v.out ?? `runs/profile-${stamp()}`).replace(/\/+$/, ""),
    timestamps: v.timestamps !== "off",
  };
}

function stamp(): string {
  return new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
}

/** Steps per round of each way of running a step (one wait for the GPU per round). */
const ROUND = 20;

/** The step's dispatches for the `i`-th batch of the shuffled index (wrapping around). */
function batchAt(program: StepProgram, i: number, batches: number): Dispatch[] {
  setBatchOffset(program, (i % batches) * program.batch);
  return [program.gather, ...program.forward, ...program.backward];
}

/** Seconds taken by `n` training steps run as the trainer runs them (one pass each). */
async function normalSteps(
  gpu: Gpu,
  steps: () => Dispatch[],
  n: number,
  waitEach: boolean,
): Promise<number> {
  await gpu.sync();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    submit(gpu.device, steps());
    if (waitEach) await gpu.sync();
  }
  await gpu.sync();
  return (performance.now() - t0) / 1000;
}

/** Steps per second, with its time per step. */
function rate(steps: number, seconds: number): string {
  return `${(steps / seconds).toFixed(1)} steps/s (${(1000 * seconds / steps).toFixed(2)} ms/step)`;
}

/** Bytes in MiB, two decimals. */
function mib(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(2);
}

/** The change from `a` seconds to `b`, in signed percent. */
function change(a: number, b: number): string {
  const p = (b / a - 1) * 100;
  return `${p >= 0 ? "+" : ""}${p.toFixed(0)}%`;
}

await runMain(async () => {
  const args = parse(Deno.args);
  if (!args) {
    console.log(HELP);
    return;
  }
  // Checked before the GPU work: the task may write under runs/ only.
  if ((await Deno.permissions.query({ name: "write", path: args.out })).state !== "granted") {
    throw new Error(
      `--out ${args.out}: not allowed to write there (deno task profile writes under runs/ ` +
        `only): pick a folder under runs/`,
    );
  }

  const data = await loadDataset(args.dataset, { dataDir: args.dataDir || undefined });
  const B = Math.min(args.batch, data.train.count);
  const z = args.model === "conv" ? CONV_DEFAULTS.z : 20;
  const config = { ...DEFAULTS, model: args.model, z, dataset: args.dataset, batch: B };
  const cfg = modelConfig(config, data);
  const gpu = await requestGpu({ timestamps: args.timestamps });
  const d = gpu.device;
  const layout = vaeLayout(cfg);
  const state = new ModelState(gpu, layout, initParams(layout, cfg.seed));
  const order = epochOrder(data.train.count, cfg.seed, 0);
  const source = uploadSource(d, data.train.images, order, "train");
  const metrics = new Tensor(d, "f32", [METRIC.size], "train metrics");
  const program = await buildVaeStep(gpu, cfg, state, source, metrics, B, { lr: config.lr });
  const batches = Math.floor(data.train.count / B);
  const n = program.forward.length + program.backward.length + 1;
  console.log(
    `profiling ${describeModel(cfg)} at batch ${B} on ${data.name}, ` +
      `${n} dispatches per step, on ${gpu.adapterName}`,
  );

  const profiler = new Profiler(gpu, { timestamps: args.timestamps });
  let i = 0;
  const next = () => batchAt(program, i++, batches);
  // Warm-up in both encodings: pipelines, caches and the query set are ready before timing.
  for (let w = 0; w < args.warmup; w++) submit(d, next());
  const warm = new Profiler(gpu, { timestamps: args.timestamps, log: () => {} });
  await warm.run(Math.min(args.warmup, 2), next);
  warm.destroy();
  // The three ways of running a step take turns in rounds of ROUND steps, so a machine whose
  // load drifts (shared CPU cores under llvmpipe) slows all three alike. Each round ends with
  // one wait for the GPU, inside the time measured.
  const secs = { pipelined: 0, waited: 0, profiled: 0 };
  const submits0 = submitCount(d);
  let submitted = 0;
  for (let done = 0; done < args.steps;) {
    const k = Math.min(ROUND, args.steps - done);
    secs.pipelined += await normalSteps(gpu, next, k, false);
    secs.waited += await normalSteps(gpu, next, k, true);
    const t0 = performance.now();
    await profiler.run(k, next);
    secs.profiled += (performance.now() - t0) / 1000;
    submitted += 3 * k;
    done += k;
  }
  const submits = submitCount(d) - submits0;
  if (submits !== submitted) {
    throw new Error(`expected one submit per step (${submitted}), counted ${submits}`);
  }
  const memory = gpuMemory(d);
  const m = await readback(d, metrics);
  if (m[METRIC.nonfinite] > 0) console.warn("warning: the loss went NaN or Inf while profiling");

  const n0 = args.steps;
  const how = profiler.mode === "timestamps"
    ? "one pass per dispatch + timestamps"
    : "one pass, whole submit timed";
  const cost = [
    "| how the step runs | throughput |",
    "|---|---:|",
    `| training: one pass, submits back to back (as the trainer) | ${rate(n0, secs.pipelined)} |`,
    `| training: one pass, waiting after every step | ${rate(n0, secs.waited)} |`,
    `| profiled: ${how}, submits back to back, one wait and readback per round | ` +
    `${rate(n0, secs.profiled)} |`,
    "",
    `Time per profiled step: ${change(secs.pipelined, secs.profiled)} against training as it ` +
    `runs, ${change(secs.waited, secs.profiled)} against training that waits after every step ` +
    `(rounds of ${ROUND} steps, each ending with one wait). Normal training never goes ` +
    "through the profiler and pays nothing.",
    "",
    `Queue submits counted: ${submits} for ${submitted} steps (one per step, every way). ` +
    `GPU buffers: ${mib(memory.live)} MiB live, ${mib(memory.peak)} MiB peak ` +
    "(model state, dataset, activations, uniforms, the profiler's query buffers).",
  ].join("\n");
  const table = profiler.table();
  const backend = Deno.env.get("DENO_WEBGPU_BACKEND") ?? "vulkan";
  const md = [
    `# Profile: ${args.model} training step on ${gpu.adapterName}`,
    "",
    `${new Date().toISOString()}, Deno ${Deno.version.deno}, WebGPU backend \`${backend}\`, ` +
    `dataset \`${args.dataset}\`, batch ${B}, ${describeModel(cfg)}, ` +
    `${args.steps} steps profiled after warm-up, ${n} dispatches per step.`,
    ...(profiler.notice ? ["", profiler.notice] : []),
    "",
    table,
    "",
    cost,
    "",
  ].join("\n");
  console.log(`\n${table}\n\n${cost}`);
  await Deno.mkdir(args.out, { recursive: true });
  await writeTextAtomic(`${args.out}/profile.md`, md);
  await writeTextAtomic(`${args.out}/trace.json`, JSON.stringify(profiler.toChromeTrace()));
  console.log(
    `\nwrote ${args.out}/profile.md and ${args.out}/trace.json (open in ui.perfetto.dev)`,
  );
  profiler.destroy();
  gpu.destroy();
});
