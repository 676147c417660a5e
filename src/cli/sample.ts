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
import { PriorSampler } from "../vae/prior_sample.ts";
import { modelConfig } from "../train/trainer.ts";
import { ModelState } from "../vae/common.ts";
import { buildVaeDecode, vaeLayout } from "../vae/model.ts";
import { runMain } from "./_main.ts";
import { type Condition, conditionRows } from "../vae/condition.ts";
import { coarseLength, denormalize } from "../data/streamlines.ts";
import { streamlinesSvg } from "../eval/streamline_svg.ts";

const USAGE = "usage: deno task sample runs/NAME [--n 64] [--out FILE.png|.svg] [--seed S] " +
  "[--cols C] [--class K] [--length MM]";

function positive(flag: string, v: string, min: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    throw new ConfigError(`--${flag}: '${v}' is not an integer >= ${min} (${USAGE})`);
  }
  return n;
}

/**
 * The conditions asked of a conditional model: --class K (every sample of class K; without
 * it the samples cycle through the classes) or --length MM (without it, the mean length).
 * Asking either of an unconditional model, or the wrong one, is an error.
 */
function askedConditions(
  c: Condition | undefined,
  n: number,
  cls: string | undefined,
  length: string | undefined,
): { values: number[]; text: string } | null {
  if (!c) {
    if (cls !== undefined || length !== undefined) {
      throw new ConfigError(
        `--${cls !== undefined ? "class" : "length"}: this run's model is not conditional ` +
          `(train with --condition label or length)`,
      );
    }
    return null;
  }
  if (c.kind === "label") {
    if (length !== undefined) {
      throw new ConfigError("--length: this model is conditioned on the label; use --class K");
    }
    if (cls === undefined) {
      return {
        values: Array.from({ length: n }, (_, i) => i % c.classes),
        text: "classes cycling",
      };
    }
    const k = Number(cls);
    if (!Number.isInteger(k) || k < 0 || k >= c.classes) {
      throw new ConfigError(`--class: '${cls}' is not a class of this model (0..${c.classes - 1})`);
    }
    return { values: new Array(n).fill(k), text: `class ${k}` };
  }
  if (cls !== undefined) {
    throw new ConfigError("--class: this model is conditioned on length; use --length MM");
  }
  const mm = length === undefined ? c.mean : Number(length);
  if (!Number.isFinite(mm) || mm <= 0) {
    throw new ConfigError(`--length: '${length}' is not a positive length in mm`);
  }
  return { values: new Array(n).fill(mm), text: `length ${mm.toFixed(1)} mm` };
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
        class: { type: "string" },
        length: { type: "string" },
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
  const ext = data.streamlines ? ".svg" : ".png";
  const out = parsed.values.out ?? `${dir}/samples-${n}${ext}`;
  if (!out.endsWith(ext)) throw new ConfigError(`--out: '${out}' must end in ${ext}`);
  const asked = askedConditions(cfg.condition, n, parsed.values.class, parsed.values.length);
  const layout = vaeLayout(cfg);
  const checkpoint = await loadCheckpoint(dir, layout);
  const gpu = await requestGpu();
  const state = new ModelState(gpu, layout, checkpoint.params);
  const program = await buildVaeDecode(gpu, cfg, state, n);
  const rows = asked ? conditionRows(cfg.condition!, asked.values) : undefined;
  const eps = priorSample(n * cfg.z, seed);
  write(gpu.device, program.z, await new PriorSampler(gpu, cfg, state).codes(eps, n, rows));
  if (rows) write(gpu.device, program.c!, rows);
  submit(gpu.device, program.dispatches, "samples");
  const images = await readback(gpu.device, program.mean);
  const what = `${n} samples from the prior (seed ${seed})${asked ? `, ${asked.text},` : ""} of ` +
    `${dir} at step ${checkpoint.step}`;
  if (data.streamlines) {
    const F = data.features, norm = data.streamlines.normalization;
    const lines = Array.from(
      { length: n },
      (_, i) => denormalize(images.slice(i * F, (i + 1) * F), norm),
    );
    const svg = streamlinesSvg([{ label: "sample", color: "#2ca02c", streamlines: lines }], {
      title: what.replace(` of ${dir}`, ""),
    });
    await writeFileAtomic(out, new TextEncoder().encode(svg));
    const mm = lines.map((s) => coarseLength(s));
    console.log(
      `wrote ${out}: ${what}; lengths ${Math.min(...mm).toFixed(1)}-${
        Math.max(...mm).toFixed(1)
      } mm`,
    );
  } else {
    const grid = imageGrid(images, n, data.rows, data.cols, cols);
    await writeFileAtomic(out, encodePng(grid.width, grid.height, grid.pixels));
    console.log(`wrote ${out}: ${what}, ${grid.width}x${grid.height} pixels`);
  }
  gpu.destroy();
});
