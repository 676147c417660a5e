/**
 * `deno task sample runs/NAME [--n 64] [--out FILE.png] [--seed S] [--cols C]`: decode n
 * codes drawn from the prior (N(0, I) or a learned p(z | c)) with the run's last checkpoint
 * (batch norm in evaluation mode) and write them as one PNG grid (an SVG for streamlines).
 * Only `model.safetensors` is read: the model spec in its metadata gives every shape, the
 * image size or the streamline geometry and the condition; the dataset is never loaded.
 */

import { parseArgs } from "node:util";
import { readback, write } from "../gpu/buffer.ts";
import { requestGpu } from "../gpu/device.ts";
import { submit } from "../gpu/kernel.ts";
import { encodePng, imageGrid } from "../eval/png.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { ConfigError } from "../train/config.ts";
import { priorSample } from "../io/random.ts";
import { PriorSampler } from "../vae/prior_sample.ts";
import { ModelState } from "../vae/common.ts";
import { buildVaeDecode, vaeLayout } from "../vae/model.ts";
import { runMain } from "./_main.ts";
import { readRunModel } from "./_model_file.ts";
import { type Condition, conditionRows } from "../vae/condition.ts";
import { arcLength, denormalize, lengthRangeWarning } from "../data/streamlines.ts";
import { tractogramFormat, writeTractogram } from "../data/tractogram_io.ts";
import { streamlinesSvg } from "../eval/streamline_svg.ts";

const USAGE = "usage: deno task sample runs/NAME [--n 64] " +
  "[--out FILE.png|.svg|.trk|.tck|.trx] [--seed S] [--cols C] [--class K] [--length MM] " +
  "[--temperature T]";

const HELP = `deno task sample runs/NAME [flags]: decode codes drawn from a trained model's prior

  --n N              how many samples (default 64)
  --out FILE         .png (images) or .svg, .trk, .tck, .trx (streamlines);
                     default runs/NAME/samples-N.png or .svg
  --seed S           seed of the codes (default 0)
  --cols C           columns of the grid (default about the square root of N)
  --class K          a label-conditioned model: the class number (default: the classes in turn)
  --length MM        a length-conditioned model: the length in mm (default: the training mean)
  --temperature T    scale of the codes' standard deviation (default 1)
  --help             this text`;

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
        temperature: { type: "string", default: "1" },
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
  if (!dir || parsed.positionals.length > 1) throw new ConfigError(USAGE);
  const n = positive("n", parsed.values.n, 1);
  const seed = positive("seed", parsed.values.seed, 0);
  const temperature = Number(parsed.values.temperature);
  if (!Number.isFinite(temperature) || temperature < 0) {
    throw new ConfigError(
      `--temperature: '${parsed.values.temperature}' is not a number >= 0 (${USAGE})`,
    );
  }
  const cols = parsed.values.cols === undefined
    ? Math.ceil(Math.sqrt(n))
    : positive("cols", parsed.values.cols, 1);
  // Everything comes from model.safetensors: the spec (shapes, geometry, condition) and the
  // weights. Neither config.json nor the dataset is read.
  const { spec, params, step } = await readRunModel(dir);
  const cfg = spec.model, g = spec.data;
  const ext = g.kind === "sequence" ? ".svg" : ".png";
  const out = parsed.values.out ?? `${dir}/samples-${n}${ext}`;
  const tractogram = g.kind === "sequence" ? tractogramFormat(out) : null;
  if (!out.endsWith(ext) && !tractogram) {
    throw new ConfigError(
      `--out: '${out}' must end in ${ext}${g.kind === "sequence" ? ", .trk, .tck or .trx" : ""}`,
    );
  }
  if ((await Deno.permissions.query({ name: "write", path: out })).state !== "granted") {
    throw new ConfigError(
      `--out ${out}: not allowed to write there (deno task sample writes under runs/ only)`,
    );
  }
  const asked = askedConditions(cfg.condition, n, parsed.values.class, parsed.values.length);
  const info = spec.condition;
  if (asked && info?.kind === "length") {
    const warning = lengthRangeWarning(asked.values[0], info.min, info.max);
    if (warning) console.error(warning);
  }
  const gpu = await requestGpu();
  const state = new ModelState(gpu, vaeLayout(cfg), params);
  const program = await buildVaeDecode(gpu, cfg, state, n);
  const rows = asked ? conditionRows(cfg.condition!, asked.values) : undefined;
  const eps = priorSample(n * cfg.z, seed);
  write(
    gpu.device,
    program.z,
    await new PriorSampler(gpu, cfg, state).codes(eps, n, rows, temperature),
  );
  if (rows) write(gpu.device, program.c!, rows);
  submit(gpu.device, program.dispatches, "samples");
  const images = await readback(gpu.device, program.mean);
  const hot = temperature === 1 ? "" : `, temperature ${temperature}`;
  const what =
    `${n} samples from the prior (seed ${seed}${hot})${asked ? `, ${asked.text},` : ""} of ` +
    `${dir} at step ${step}`;
  if (g.kind === "sequence") {
    const F = g.points * g.pointSize, norm = g.normalization;
    const lines = Array.from(
      { length: n },
      (_, i) => denormalize(images.slice(i * F, (i + 1) * F), norm),
    );
    if (tractogram) {
      // RAS+ mm in the training source's space (a 1 mm grid around them for older runs).
      await writeTractogram(out, lines, g.space ?? null, { generator: `webgpu-vae sample` });
    } else {
      const svg = streamlinesSvg([{ label: "sample", color: "#2ca02c", streamlines: lines }], {
        title: what.replace(` of ${dir}`, ""),
      });
      await writeFileAtomic(out, new TextEncoder().encode(svg));
    }
    // Lengths as dipy measures them: the arc length through every decoded point.
    const mm = lines.map((s) => arcLength(s));
    console.log(
      `wrote ${out}: ${what}; lengths ${Math.min(...mm).toFixed(1)}-${
        Math.max(...mm).toFixed(1)
      } mm`,
    );
  } else {
    if (g.channels !== 1 && g.channels !== 3) throw new Error(`${g.channels}-channel images`);
    const grid = imageGrid(images, n, g.height, g.width, cols, 1, g.channels);
    await writeFileAtomic(out, encodePng(grid.width, grid.height, grid.pixels, g.channels));
    console.log(`wrote ${out}: ${what}, ${grid.width}x${grid.height} pixels`);
  }
  gpu.destroy();
});
