/**
 * `deno task convert runs/NAME`: give a run written before model specs existed its spec
 * (src/vae/spec.ts), so that `sample`, `eval` and `export` can read it from
 * `model.safetensors` alone. The spec is rebuilt as training builds it, from the run's
 * config.json and its dataset (which must still be where the run found it), checked against
 * the shapes of the weights, and added to the metadata of model.safetensors and
 * optimizer.safetensors and to config.json, each rewritten atomically. Weights and every
 * other metadata key are kept as they are. A run that already has a spec is left alone.
 */

import { classNames, loadDataset } from "../data/datasets.ts";
import { writeFileAtomic, writeTextAtomic } from "../io/atomic.ts";
import { ConfigError, DEFAULTS, type TrainConfig } from "../train/config.ts";
import { encodeSafetensors, parseSafetensors } from "../io/safetensors.ts";
import { modelConfig } from "../train/trainer.ts";
import { flatParams, modelSpec, parseModelSpec } from "../vae/spec.ts";
import { runMain } from "./_main.ts";

const USAGE = "usage: deno task convert runs/NAME";

/** Rewrite a safetensors file with `spec` added to its metadata, atomically. */
async function addSpec(path: string, spec: string): Promise<void> {
  const f = parseSafetensors(await Deno.readFile(path), path);
  const tensors = [...f.tensors].map(([name, t]) => ({ name, ...t }));
  await writeFileAtomic(path, encodeSafetensors(tensors, { ...f.metadata, spec }));
}

await runMain(async () => {
  if (Deno.args.length === 1 && Deno.args[0] === "--help") {
    console.log(
      `${USAGE}: add the model spec to a run folder written before runs carried it, so that ` +
        "sample, eval and export take it (the weights are not changed)",
    );
    return;
  }
  const flag = Deno.args.find((a) => a.startsWith("-"));
  if (flag) throw new ConfigError(`unknown option '${flag}' (${USAGE})`);
  const dir = Deno.args[0]?.replace(/\/+$/, "");
  if (!dir || Deno.args.length > 1) throw new ConfigError(USAGE);
  const modelPath = `${dir}/model.safetensors`;
  let model;
  try {
    model = parseSafetensors(await Deno.readFile(modelPath), modelPath);
  } catch (e) {
    throw new ConfigError(`${dir}: no readable model.safetensors (${(e as Error).message})`);
  }
  if (model.metadata.spec !== undefined) {
    parseModelSpec(model.metadata.spec, modelPath);
    console.log(`${dir} already has a model spec; nothing to do`);
    return;
  }
  let saved: Record<string, unknown>;
  try {
    saved = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
  } catch (e) {
    throw new ConfigError(`${dir}: no readable config.json (${(e as Error).message})`);
  }
  const config = { ...DEFAULTS, ...saved } as TrainConfig;
  const data = await loadDataset(config.dataset, { dataDir: config["data-dir"] || undefined });
  const spec = modelSpec(config.model, modelConfig(config, data), data, classNames(data));
  // The weights must be the model the spec describes, name by name and shape by shape.
  flatParams(spec, model, modelPath);
  const text = JSON.stringify(spec);
  const optimizer = `${dir}/optimizer.safetensors`;
  const hasOptimizer = await Deno.stat(optimizer).then(() => true, () => false);
  if (hasOptimizer) await addSpec(optimizer, text);
  await addSpec(modelPath, text);
  await writeTextAtomic(`${dir}/config.json`, JSON.stringify({ ...saved, spec }, null, 2) + "\n");
  console.log(
    `converted ${dir}: model spec added to model.safetensors` +
      `${hasOptimizer ? ", optimizer.safetensors" : ""} and config.json`,
  );
});
