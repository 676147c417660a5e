/**
 * The model families behind one interface: a config is either an MLP VAE's or a conv VAE's,
 * and these functions pick the family's layout, step builder and decoder.
 */

import type { Tensor } from "../gpu/buffer.ts";
import type { Gpu } from "../gpu/device.ts";
import type { AdamConfig } from "../nn/adam.ts";
import type { ParamLayout } from "../nn/params.ts";
import type { BatchSource, DecodeProgram, ModelState, StepProgram } from "./common.ts";
import { buildConvDecode, buildConvStep, type ConvVaeConfig, convVaeLayout } from "./conv_vae.ts";
import { buildDecode, buildStep, type MlpVaeConfig, mlpVaeLayout } from "./mlp_vae.ts";

/** Any model's config; `kind` tells which ("mlp" when absent). */
export type VaeConfig = MlpVaeConfig | ConvVaeConfig;

/** Values per example the model reads and writes. */
export function vaeFeatures(cfg: VaeConfig): number {
  return cfg.kind === "conv" ? cfg.height * cfg.width * cfg.channels : cfg.inputs;
}

/** The model's parameter layout. */
export function vaeLayout(cfg: VaeConfig): ParamLayout {
  return cfg.kind === "conv" ? convVaeLayout(cfg) : mlpVaeLayout(cfg);
}

/**
 * Every dispatch of a step at batch size `batch` (see the families' builders): with `adam`
 * a training step, without it the forward, losses and metrics in evaluation mode.
 */
export function buildVaeStep(
  gpu: Gpu,
  cfg: VaeConfig,
  state: ModelState,
  source: BatchSource,
  metrics: Tensor,
  batch: number,
  adam?: AdamConfig,
  stream = adam ? 0 : 1,
): Promise<StepProgram> {
  return cfg.kind === "conv"
    ? buildConvStep(gpu, cfg, state, source, metrics, batch, adam, stream)
    : buildStep(gpu, cfg, state, source, metrics, batch, adam, stream);
}

/** The decoder alone for `batch` codes at a time (evaluation mode). */
export function buildVaeDecode(
  gpu: Gpu,
  cfg: VaeConfig,
  state: ModelState,
  batch: number,
): Promise<DecodeProgram> {
  return cfg.kind === "conv"
    ? buildConvDecode(gpu, cfg, state, batch)
    : buildDecode(gpu, cfg, state, batch);
}

/** One line naming the model and its shape, e.g. "conv (filters 32,64,64,64, ..., z 16)". */
export function describeModel(cfg: VaeConfig): string {
  const c = cfg.condition;
  const cond = !c
    ? ""
    : (c.kind === "label"
      ? `, conditioned on the label (${c.classes} classes)`
      : `, conditioned on length (mean ${c.mean.toFixed(1)} mm, sd ${c.std.toFixed(1)} mm)`) +
      (cfg.prior
        ? `, learned prior p(z | c) (hidden ${cfg.prior.hidden.join(",") || "none"})`
        : "");
  if (cfg.kind !== "conv") return `mlp (hidden ${cfg.hidden.join(",")}, z ${cfg.z}${cond})`;
  const family = cfg.height === 1 ? "conv1d" : "conv";
  return `${family} (filters ${cfg.filters.join(",")}, strides ${cfg.strides.join(",")}, ` +
    `decoder ${cfg.decoderFilters.join(",")}, batch norm ${cfg.batchnorm ? "on" : "off"}, ` +
    `z ${cfg.z}${cond})`;
}
