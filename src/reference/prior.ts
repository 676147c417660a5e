/**
 * Float64 reference of the learned conditional prior p(z | c) = N(mp(c), exp(pv(c))) of
 * src/vae/prior.ts: the network c -> hidden (ReLU) -> [mp | pv] as reference dense layers
 * (its KL term and backward are in vae_layers.ts's step). Shared by the MLP and conv VAE
 * references.
 *
 * Legend: B batch, C condition values, Z latent size.
 */

import type { ParamLayout } from "../nn/params.ts";
import type { VaeLossConfig } from "../vae/common.ts";
import { refContext, refDenseStack, type RefLayer, runLayers } from "./vae_layers.ts";

/** The prior network's layers; none for the standard normal prior. */
export function priorReference(cfg: VaeLossConfig): RefLayer[] {
  if (!cfg.prior) return [];
  return refDenseStack("prior", cfg.conditions!, cfg.prior.hidden, "prior.head", 2 * cfg.z);
}

/**
 * A regression VAE's head (src/vae/regression.ts): x [B, F] -> hidden (ReLU) -> r^ [B, 1];
 * none without one. Its loss and backward are in vae_layers.ts's step.
 */
export function regressionReference(cfg: VaeLossConfig, features: number): RefLayer[] {
  if (!cfg.regression) return [];
  return refDenseStack("regression", features, cfg.regression.hidden, "regression.head", 1);
}

/** Condition values appended to x and z: none for a regression VAE (its prior reads r^). */
export function refConcatConditions(cfg: VaeLossConfig): number {
  return cfg.regression ? 0 : cfg.conditions ?? 0;
}

/** The prior network on conditions c [B, C]: its output [mp | pv] [B, 2Z]. */
export function priorForward(
  cfg: VaeLossConfig,
  layout: ParamLayout,
  params: Float64Array,
  c: Float64Array,
  batch: number,
): { prior: Float64Array } {
  const ctx = refContext(layout, params, new Float64Array(params.length), batch, false, c);
  return { prior: runLayers(ctx, priorReference(cfg), c).y };
}
