/**
 * A run folder without training: `model.safetensors` holding a model spec (src/vae/spec.ts)
 * and initial weights, as the trainer would have written it before its first step. For tests
 * of what reads a run (export, sample, the decoder) where the numbers need not be trained.
 */

import { encodeSafetensors } from "../src/io/safetensors.ts";
import { initParams } from "../src/vae/common.ts";
import type { ConvVaeConfig } from "../src/vae/conv_vae.ts";
import type { MlpVaeConfig } from "../src/vae/mlp_vae.ts";
import { type VaeConfig, vaeLayout } from "../src/vae/model.ts";
import { type ModelSpec, modelSpec, type SpecData } from "../src/vae/spec.ts";

/** Loss settings every test model shares; override any of them. */
export const LOSS_DEFAULTS = {
  z: 2,
  recon: "bce",
  reconWeight: 1,
  beta: 1,
  logvarClamp: [-30, 20],
  seed: 1,
  conditions: 0,
} as const;

/** A model config from the family's own keys and any loss settings to change. */
export function testModel(
  m: Partial<MlpVaeConfig> | Partial<ConvVaeConfig>,
): VaeConfig {
  return { ...LOSS_DEFAULTS, logvarClamp: [-30, 20], ...m } as VaeConfig;
}

/** The spec and initial parameters of `model` on data of `geometry`. */
export function specAndParams(
  model: Partial<MlpVaeConfig> | Partial<ConvVaeConfig>,
  geometry: Partial<SpecData> & { rows: number; cols: number },
  family: ModelSpec["family"] = model.kind === "conv" ? "conv" : "mlp",
  classNames?: string[],
): { spec: ModelSpec; params: Float32Array } {
  const cfg = testModel(model);
  const data: SpecData = { features: geometry.rows * geometry.cols, ...geometry };
  const spec = modelSpec(family, cfg, data, classNames);
  return { spec, params: initParams(vaeLayout(cfg), cfg.seed) };
}

/**
 * Write `dir/model.safetensors` for `model` (see {@linkcode specAndParams}); with
 * `withoutSpec` as a run written before specs existed (config metadata only).
 */
export async function writeSpecRun(
  dir: string,
  model: Partial<MlpVaeConfig> | Partial<ConvVaeConfig>,
  geometry: Partial<SpecData> & { rows: number; cols: number },
  options: { withoutSpec?: boolean; params?: Float32Array } = {},
): Promise<ModelSpec> {
  const { spec, params: initial } = specAndParams(model, geometry);
  const params = options.params ?? initial;
  const tensors = vaeLayout(spec.model).entries.map((e) => ({
    name: e.name,
    dtype: "F32" as const,
    shape: e.shape,
    data: params.subarray(e.offset, e.offset + e.length),
  }));
  const metadata: Record<string, string> = {
    format: "webgpu-vae/1",
    config: JSON.stringify({ model: spec.family, z: spec.model.z }),
    step: "0",
  };
  if (!options.withoutSpec) metadata.spec = JSON.stringify(spec);
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeFile(`${dir}/model.safetensors`, encodeSafetensors(tensors, metadata));
  return spec;
}
