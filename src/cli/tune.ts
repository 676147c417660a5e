/**
 * `deno task tune`: fill the kernel choice cache ahead of training (src/gpu/tuner.ts). For
 * each model and batch size it builds the trainer exactly as `deno task train` would (train
 * and test programs), with the tuner attached, so every (op, shape) training will meet is
 * timed on this adapter once; then it writes the cache (runs/tune/<adapter>-<backend>.json)
 * and prints the choices. `deno task train` reads the same cache (and tunes what it lacks;
 * `--no-tune` uses the default kernels).
 *
 *   deno task tune [--model mlp,conv] [--batch 128,512] [--dataset NAME] [--retune]
 *
 * `--retune` ignores the cache's choices for this adapter (and replaces them).
 */

import { loadDataset } from "../data/datasets.ts";
import { requestGpu } from "../gpu/device.ts";
import { openTuner, saveTuner, tuneCachePath } from "./_tune_cache.ts";
import { DEFAULTS, type TrainConfig } from "../train/config.ts";
import { Trainer } from "../train/trainer.ts";
import { parseArgsOr, runMain } from "./_main.ts";

const USAGE = "usage: deno task tune [--model mlp,conv] [--batch 128,512] [--dataset NAME] " +
  "[--retune]";

async function main(): Promise<void> {
  const { values } = parseArgsOr({
    args: Deno.args,
    options: {
      model: { type: "string", default: "mlp,conv" },
      batch: { type: "string", default: "128" },
      dataset: { type: "string", default: "" },
      retune: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
    strict: true,
    allowPositionals: false,
  }, USAGE);
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const models = values.model.split(",").filter(Boolean);
  for (const m of models) {
    if (m !== "mlp" && m !== "conv") throw new Error(`--model: unknown model '${m}' (mlp, conv)`);
  }
  const batches = values.batch.split(",").map(Number);
  for (const b of batches) {
    if (!Number.isInteger(b) || b < 1) throw new Error(`--batch: ${b} is not an integer >= 1`);
  }
  // The train task's default dataset (full Fashion-MNIST when installed), else the embedded one.
  let spec = values.dataset || DEFAULTS.dataset;
  let data;
  try {
    data = await loadDataset(spec, {});
  } catch (e) {
    if (values.dataset) throw e;
    spec = "embedded";
    data = await loadDataset(spec, {});
  }
  const started = performance.now();
  let path = "";
  for (const model of models) {
    for (const batch of batches) {
      // A device per (model, batch), as training gets; the tuner carries the choices over.
      const gpu = await requestGpu();
      path = tuneCachePath(gpu);
      const tuner = await openTuner(gpu, { log: (l) => console.log(`  ${l}`) });
      if (values.retune) { for (const k of Object.keys(tuner.choices)) delete tuner.choices[k]; }
      console.log(`${model} batch ${batch} on ${gpu.adapterName}:`);
      const config: TrainConfig = {
        ...DEFAULTS,
        model: model as "mlp" | "conv",
        z: model === "conv" ? 16 : 20,
        batch,
        dataset: spec,
        out: "",
      };
      await Trainer.create(gpu, config, data);
      if (values.retune) tuner.changed = true;
      if (await saveTuner(tuner, path)) console.log(`  saved ${path}`);
      values.retune = false; // later models and batches add to the fresh cache
      gpu.destroy();
    }
  }
  console.log(`kernel choices in ${path} (${((performance.now() - started) / 1000).toFixed(0)} s)`);
}

if (import.meta.main) await runMain(main);
