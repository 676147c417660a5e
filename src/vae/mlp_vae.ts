/**
 * The MLP VAE: encoder F (+C) -> H1 -> ... -> Hn (ReLU) -> [mu | logvar] (2Z), the Gaussian
 * latent head, decoder Z (+C) -> Hn -> ... -> H1 (ReLU) -> F logits (or means, for the
 * Gaussian loss); a conditional model appends its conditions c [B, C] to x and to z.
 *
 * Legend: B batch, F input features, C condition values, H hidden width, Z latent size.
 */

import type { Gpu } from "../gpu/device.ts";
import type { ParamLayout } from "../nn/params.ts";
import type { DecodeProgram, StepProgram, VaeLossConfig } from "./common.ts";
import { conditionConcat } from "./condition_concat.ts";
import { denseStack } from "./dense.ts";
import type { Layer } from "./layer.ts";
import { priorLayers } from "./prior.ts";
import { concatConditions, regressionLayers } from "./regression.ts";
import { buildLayersDecode, buildLayersStep, layersLayout } from "./step.ts";
import type { DecodeArgs, StepArgs, VaeLayers } from "./step.ts";

/** Shape and loss settings of an MLP VAE. */
export interface MlpVaeConfig extends VaeLossConfig {
  /** Model family tag (absent in configs written before the conv model existed). */
  kind?: "mlp";
  /** Input features F (784 for 28x28 images). */
  inputs: number;
  /** Hidden widths of the encoder, first to last; the decoder mirrors them. */
  hidden: number[];
}

/** The MLP VAE's layers: encoder and decoder dense stacks, and the learned prior's. */
export function mlpVaeLayers(cfg: MlpVaeConfig): VaeLayers {
  const F = cfg.inputs, Z = cfg.z, C = concatConditions(cfg);
  const encoder: Layer[] = C ? [conditionConcat("xc", 1, F, C)] : [];
  encoder.push(
    ...denseStack("encoder", F + C, cfg.hidden, {
      name: "encoder.head",
      outputs: 2 * Z,
      out: "mulogvar",
    }),
  );
  const decoder: Layer[] = C ? [conditionConcat("zc", 1, Z, C)] : [];
  decoder.push(
    ...denseStack("decoder", Z + C, [...cfg.hidden].reverse(), {
      name: "decoder.out",
      outputs: F,
      out: "logits",
    }),
  );
  const regression = regressionLayers(cfg, F);
  return { features: F, encoder, decoder, prior: priorLayers(cfg), regression };
}

/** Parameter names and shapes of an MLP VAE, in the order they sit in the flat buffer. */
export function mlpVaeLayout(cfg: MlpVaeConfig): ParamLayout {
  return layersLayout(mlpVaeLayers(cfg));
}

/** An MLP VAE's step program (see `buildVaeStep` in model.ts). */
export function buildStep(gpu: Gpu, cfg: MlpVaeConfig, ...args: StepArgs): Promise<StepProgram> {
  return buildLayersStep(gpu, cfg, mlpVaeLayers(cfg), ...args);
}

/** An MLP VAE's decoder alone for `batch` codes at a time (see `buildVaeDecode`). */
export function buildDecode(
  gpu: Gpu,
  cfg: MlpVaeConfig,
  ...args: DecodeArgs
): Promise<DecodeProgram> {
  return buildLayersDecode(gpu, cfg, mlpVaeLayers(cfg), ...args);
}
