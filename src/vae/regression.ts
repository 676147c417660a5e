/**
 * The regression VAE (Zhao et al. 2019, "Variational AutoEncoder for Regression"; issue 19,
 * item 4; the tractoencoder's regression VAE): the encoder also predicts the attribute (a
 * streamline's length, normalized as the length condition is) from x alone, with its own loss,
 * and the learned prior p(z | r) reads the *predicted* attribute r^, so at test time the
 * attribute is estimated from the streamline alone while generating for a chosen length still
 * samples p(z | r = that length).
 *
 * Two layer kinds:
 * - the regression head: a dense stack x [B, F] -> hidden (ReLU) -> r^ [B, 1] (output tensor
 *   "regression"), a branch of the encoder beside the latent head's;
 * - the regression loss: loss[b] = (r^_b - r_b)^2 against the true normalized attribute r = c,
 *   weighted `weight` per example (batch mean), the Gaussian loss of shaders/recon.wgsl with
 *   one feature; its backward writes dr^ = (weight / B) 2 (r^ - r).
 *
 * The prior reads r^ with its gradient stopped: r^ is trained by its own loss alone, and the
 * KL trains the prior network and the encoder's latent head, as for a given condition.
 * Encoder and decoder do not take the condition (nothing to concatenate: concatConditions).
 *
 * Legend: B batch, F values per example, H hidden width.
 */

import type { Tensor } from "../gpu/buffer.ts";
import type { Dispatch } from "../gpu/kernel.ts";
import { reconForward, reconForwardBackward } from "../nn/recon.ts";
import type { VaeLossConfig } from "./common.ts";
import { denseStack } from "./dense.ts";
import type { Layer, LayerContext } from "./layer.ts";

/** Condition values concatenated to x and z: none for a regression VAE, else C. */
export function concatConditions(cfg: VaeLossConfig): number {
  return cfg.regression ? 0 : cfg.conditions ?? 0;
}

/** Layer kind: the regression head x [B, F] -> r^ [B, 1] ("regression"); none without one. */
export function regressionLayers(cfg: VaeLossConfig, features: number): Layer[] {
  if (!cfg.regression) return [];
  if (cfg.condition?.kind !== "length" || !cfg.prior) {
    throw new Error("a regression VAE needs --condition length and --prior learned");
  }
  return denseStack("regression", features, cfg.regression.hidden, {
    name: "regression.head",
    outputs: 1,
    out: "regression",
  });
}

/**
 * Layer kind: the regression loss of r^ [B, 1] against r [B, 1] (loss [B], unweighted); in
 * training, `backward` gives dr^ = (weight / B) * 2 (r^ - r), written by the same pass.
 */
export async function regressionLoss(
  ctx: LayerContext,
  cfg: VaeLossConfig,
  rhat: Tensor,
  r: Tensor,
): Promise<{ dispatches: Dispatch[]; loss: Tensor; drhat?: Tensor }> {
  const B = ctx.batch, weight = cfg.regression?.weight ?? 0;
  const loss = ctx.mk("regression.loss", [B]);
  const t = { loss, logits: rhat.reshape([B, 1]), x: r.reshape([B, 1]) };
  if (!ctx.train) {
    return { dispatches: [await reconForward(ctx.gpu, "mse", t, { batch: B, features: 1 })], loss };
  }
  const drhat = ctx.mk("regression.drhat", [B, 1]);
  const d = await reconForwardBackward(ctx.gpu, "mse", { ...t, dlogits: drhat }, {
    batch: B,
    features: 1,
    scale: weight / B,
  });
  return { dispatches: [d], loss, drhat };
}
