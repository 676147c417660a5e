/**
 * The Gaussian latent head: from the encoder's [mu | logvar] [B, 2Z], the reparameterized
 * sample z = mu + exp(0.5 clamp(logvar)) eps (eps drawn on the GPU, keyed by the step
 * counter and a noise stream) and each example's KL from the prior: N(0, I) in the same
 * pass, or a learned prior's [mp | pv] (prior.ts) in a second one. Its backward takes dz to
 * d[mu | logvar], adding the KL's share (beta / B per example; with free bits, gated), and
 * gives a learned prior its d[mp | pv].
 *
 * Legend: B batch, Z latent size.
 */

import type { Tensor } from "../gpu/buffer.ts";
import type { Dispatch } from "../gpu/kernel.ts";
import { klBackward, klPriorBackward, klPriorForward } from "../nn/kl.ts";
import {
  latentBackward,
  latentBackwardKl,
  latentForward,
  latentForwardKl,
  type LatentShape,
} from "../nn/latent.ts";
import type { VaeLossConfig } from "./common.ts";
import type { LayerContext } from "./layer.ts";

/**
 * The latent op's sizes for a batch of `batch` and noise stream `stream`; `train` applies the
 * config's eps standard deviation (evaluation draws eps ~ N(0, I)).
 */
function latentShape(
  cfg: VaeLossConfig,
  batch: number,
  stream: number,
  train: boolean,
): LatentShape {
  const [lo, hi] = cfg.logvarClamp;
  const epsStd = train && cfg.epsStd !== undefined ? { epsStd: cfg.epsStd } : {};
  return { batch, z: cfg.z, logvarMin: lo, logvarMax: hi, seed: cfg.seed, stream, ...epsStd };
}

/** The latent head's backward: d[mu | logvar], a learned prior's d[mp | pv]. */
export interface LatentBackward {
  /** Dispatches, in order. */
  dispatches: Dispatch[];
  /** The dispatch whose `scale` (beta / B) a KL schedule changes. */
  klBackward: Dispatch;
  /** d[mu | logvar] [B, 2Z]. */
  dmulogvar: Tensor;
  /** d[mp | pv] [B, 2Z], with a learned prior. */
  dprior?: Tensor;
}

/**
 * z, eps and the KL [B] from `mulogvar` [B, 2Z] (and a learned prior's output `prior`
 * [B, 2Z]) with noise stream `stream`; `backward` builds the head's backward from dz.
 */
export async function latentHead(
  ctx: LayerContext,
  cfg: VaeLossConfig,
  mulogvar: Tensor,
  stream: number,
  prior?: Tensor,
): Promise<{
  dispatches: Dispatch[];
  latent: LatentShape;
  z: Tensor;
  eps: Tensor;
  kl: Tensor;
  backward: (dz: Tensor) => Promise<LatentBackward>;
}> {
  const { gpu, mk, batch: B } = ctx;
  const counter = ctx.state.counter;
  const latent = latentShape(cfg, B, stream, ctx.train);
  const z = mk("z", [B, cfg.z]);
  const eps = mk("eps", [B, cfg.z]);
  const kl = mk("kl", [B]);
  const dispatches = prior
    ? [
      await latentForward(gpu, { z, eps, mulogvar, counter }, latent),
      await klPriorForward(gpu, { kl, mulogvar, prior }, latent),
    ]
    : [await latentForwardKl(gpu, { z, eps, kl, mulogvar, counter }, latent)];
  const scale = cfg.beta / B;
  const backward = async (dz: Tensor): Promise<LatentBackward> => {
    const dmulogvar = mk("dmulogvar", [B, 2 * cfg.z]);
    const t = { dmulogvar, dz, eps, mulogvar };
    if (prior) {
      if (cfg.freeBits) throw new Error("--free-bits does not work with --prior learned");
      const dprior = mk("dprior", [B, 2 * cfg.z]);
      const sample = await latentBackward(gpu, t, latent);
      const klb = await klPriorBackward(gpu, { dmulogvar, dprior, mulogvar, prior }, {
        ...latent,
        scale,
      });
      return { dispatches: [sample, klb], klBackward: klb, dmulogvar, dprior };
    }
    if (!cfg.freeBits) {
      // The sample's backward and the KL's share in one pass.
      const fused = await latentBackwardKl(gpu, t, { ...latent, scale });
      return { dispatches: [fused], klBackward: fused, dmulogvar };
    }
    const sample = await latentBackward(gpu, t, latent);
    const klb = await klBackward(gpu, { dmulogvar, mulogvar }, {
      ...latent,
      scale,
      freeBits: cfg.freeBits,
    });
    return { dispatches: [sample, klb], klBackward: klb, dmulogvar };
  };
  return { dispatches, latent, z, eps, kl, backward };
}
