/**
 * A run's trained model read from its `model.safetensors` alone: the model spec in the
 * metadata (src/vae/spec.ts), the parameters by name checked against it, the optimizer step
 * and the training config. Nothing else of the run folder, and never the dataset. A run written
 * before specs existed is a one-line error naming the converter.
 */

import { type ParsedSafetensors, parseSafetensors } from "../io/safetensors.ts";
import { flatParams, type ModelSpec, specOfFile } from "../vae/spec.ts";

/** What {@linkcode readRunModel} returns. */
export interface RunModel {
  /** The model spec. */
  spec: ModelSpec;
  /** Flat parameters in the spec's layout. */
  params: Float32Array;
  /** Optimizer steps the weights have had. */
  step: number;
  /** The training config from the metadata (`{}` when absent). */
  config: Record<string, unknown>;
  /** The parsed file. */
  file: ParsedSafetensors;
  /** The file's path. */
  path: string;
}

/** The command that adds a spec to an older run folder `dir`. */
export function convertCommand(dir: string): string {
  return `deno task convert ${dir}`;
}

/** Read `dir/model.safetensors`; one-line errors for a missing, old or damaged file. */
export async function readRunModel(dir: string): Promise<RunModel> {
  const path = `${dir}/model.safetensors`;
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new Error(
      `${dir}: no readable model.safetensors (${(e as Error).message.split("\n")[0]}); ` +
        "is it a run folder?",
    );
  }
  const file = parseSafetensors(bytes, path);
  const spec = specOfFile(file, path, convertCommand(dir));
  const params = flatParams(spec, file, path);
  let config: Record<string, unknown> = {};
  try {
    config = JSON.parse(file.metadata.config ?? "{}");
  } catch {
    throw new Error(`${path}: the config in the metadata is not valid JSON`);
  }
  const step = Number(file.metadata.step ?? 0);
  return { spec, params, step: Number.isInteger(step) ? step : 0, config, file, path };
}
