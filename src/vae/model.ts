/**
 * The model families behind one interface: a config is either an MLP VAE's or a conv VAE's
 * (the conv family covers images and, at height 1, streamlines); these functions resolve it
 * to its layers (mlp_vae.ts, conv_vae.ts) and build the step, the decoder and the layout
 * from them (step.ts).
 */

import type { Tensor } from "../gpu/buffer.ts";
import type { Gpu } from "../gpu/device.ts";
import type { AdamConfig } from "../nn/adam.ts";
import type { ParamLayout } from "../nn/params.ts";
import type { DecodeProgram, StepProgram } from "./common.ts";
import { type ConvVaeConfig, convVaeLayers } from "./conv_vae.ts";
import type { VaeTuning } from "./layer.ts";
import { type MlpVaeConfig, mlpVaeLayers } from "./mlp_vae.ts";
import type { BatchSource } from "./source.ts";
import type { ModelState } from "./state.ts";
import { buildLayersDecode, buildLayersStep, layersLayout, type VaeLayers } from "./step.ts";

/** Any model's config; `kind` tells which ("mlp" when absent). */
export type VaeConfig = MlpVaeConfig | ConvVaeConfig;

/** The model's layers: encoder, decoder and learned prior, from its config. */
export function vaeLayers(cfg: VaeConfig): VaeLayers {
  return cfg.kind === "conv" ? convVaeLayers(cfg) : mlpVaeLayers(cfg);
}

/** Values per example the model reads and writes. */
export function vaeFeatures(cfg: VaeConfig): number {
  return cfg.kind === "conv" ? cfg.height * cfg.width * cfg.channels : cfg.inputs;
}

/** The model's parameter layout. */
export function vaeLayout(cfg: VaeConfig): ParamLayout {
  return layersLayout(vaeLayers(cfg));
}

/**
 * Every dispatch of a step at batch size `batch` (see step.ts): with `adam` a training step,
 * without it the forward, losses and metrics in evaluation mode. `tuning` picks among
 * kernels with the same numbers (benchmarks).
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
  tuning: VaeTuning = {},
): Promise<StepProgram> {
  const m = vaeLayers(cfg);
  return buildLayersStep(gpu, cfg, m, state, source, metrics, batch, adam, stream, tuning);
}

/** The decoder alone for `batch` codes at a time (evaluation mode). */
export function buildVaeDecode(
  gpu: Gpu,
  cfg: VaeConfig,
  state: ModelState,
  batch: number,
  tuning: VaeTuning = {},
): Promise<DecodeProgram> {
  return buildLayersDecode(gpu, cfg, vaeLayers(cfg), state, batch, tuning);
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
        ? `, learned prior p(z | ${cfg.regression ? "r^" : "c"}) ` +
          `(hidden ${cfg.prior.hidden.join(",") || "none"})`
        : "") +
      (cfg.regression
        ? `, regression head (hidden ${cfg.regression.hidden.join(",") || "none"}, ` +
          `weight ${cfg.regression.weight})`
        : "");
  if (cfg.kind !== "conv") return `mlp (hidden ${cfg.hidden.join(",")}, z ${cfg.z}${cond})`;
  const family = cfg.height === 1 ? "conv1d" : "conv";
  return `${family} (filters ${cfg.filters.join(",")}, strides ${cfg.strides.join(",")}, ` +
    `decoder ${cfg.decoderFilters.join(",")}, batch norm ${cfg.batchnorm ? "on" : "off"}, ` +
    `z ${cfg.z}${cond})`;
}
