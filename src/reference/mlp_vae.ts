/**
 * Float64 reference of the whole MLP VAE (src/vae/mlp_vae.ts), composed of reference layers
 * (vae_layers.ts): forward, loss, every parameter gradient, and Adam steps. It draws the
 * reparameterization noise with the GPU's own generator (normals()), so a GPU run and this
 * reference see the same eps and can be compared step by step.
 *
 * Legend: B batch, F input features, C condition values, Z latent size.
 */

import type { MlpVaeConfig } from "../vae/mlp_vae.ts";
import { priorReference, refConcatConditions, regressionReference } from "./prior.ts";
import {
  refConcat,
  refDenseStack,
  type ReferenceForward,
  type ReferenceStep,
  refForward,
  type RefModel,
  refStep,
  type RefStepArgs,
  refTrain,
  type RefTrainArgs,
} from "./vae_layers.ts";

export type { ReferenceForward, ReferenceStep } from "./vae_layers.ts";

/**
 * The MLP VAE as reference layers: [x | c] -> hidden (ReLU) -> [mu | logvar]; [z | c] ->
 * the hidden widths reversed (ReLU) -> F.
 */
export function mlpVaeReference(cfg: MlpVaeConfig): RefModel {
  const F = cfg.inputs, Z = cfg.z, C = refConcatConditions(cfg);
  const back = [...cfg.hidden].reverse();
  return {
    features: F,
    encoder: [
      ...C ? [refConcat(1, F, C)] : [],
      ...refDenseStack("encoder", F + C, cfg.hidden, "encoder.head", 2 * Z),
    ],
    decoder: [
      ...C ? [refConcat(1, Z, C)] : [],
      ...refDenseStack("decoder", Z + C, back, "decoder.out", F),
    ],
    prior: priorReference(cfg),
    regression: regressionReference(cfg, F),
  };
}

/**
 * The forward of the MLP VAE on batch `x` [B, F] with noise `eps` [B, Z]; a conditional
 * model's conditions `c` [B, C] are appended to x and to z.
 */
export function mlpVaeForward(cfg: MlpVaeConfig, ...args: RefStepArgs): ReferenceForward {
  return refForward(cfg, mlpVaeReference(cfg), true, ...args);
}

/**
 * Loss and gradient of the MLP VAE at `params` for batch `x` [B, F] with noise `eps` [B, Z]
 * (and conditions `c` [B, C] for a conditional model).
 */
export function mlpVaeStep(cfg: MlpVaeConfig, ...args: RefStepArgs): ReferenceStep {
  return refStep(cfg, mlpVaeReference(cfg), ...args);
}

/**
 * `steps` Adam steps on the same batch (and conditions `c`), step s drawing its noise as the
 * GPU does (normals(seed, 0, s, B * Z)). Returns each step's loss terms, computed before its
 * update; `params` is updated in place.
 */
export function mlpVaeTrain(cfg: MlpVaeConfig, ...args: RefTrainArgs): ReferenceStep[] {
  return refTrain(cfg, mlpVaeReference(cfg), ...args);
}
