/**
 * What every VAE here shares around its layers: the latent and loss settings, the batch
 * gather, the two loss terms with their metrics and NaN guards (and the loss's gradient with
 * respect to the logits), and the step and decode programs. The flat state (state.ts) and
 * batch sources (source.ts) are re-exported from here.
 *
 * Loss per batch = reconWeight * mean_b sum_f recon + beta * mean_b sum_d KL, in nats per
 * example. Legend: B batch, F values per example, Z latent size.
 */

import { Tensor } from "../gpu/buffer.ts";
import type { Gpu } from "../gpu/device.ts";
import type { Dispatch } from "../gpu/kernel.ts";
import { gatherBatch } from "../nn/gather.ts";
import type { LatentShape } from "../nn/latent.ts";
import {
  reconForward,
  reconForwardBackward,
  type ReconKind,
  type ReconSmooth,
} from "../nn/recon.ts";
import { accumulate, finiteGuard } from "../nn/reduce.ts";
import type { Condition } from "./condition.ts";
import type { BatchSource } from "./source.ts";

export { initParams, ModelState } from "./state.ts";
export { type BatchSource, destroySource, identityOrder, uploadSource } from "./source.ts";

/** Latent and loss settings every model has. */
export interface VaeLossConfig {
  /** Latent dimensions Z. */
  z: number;
  /** Reconstruction likelihood: Bernoulli from logits ("bce") or Gaussian ("mse"). */
  recon: ReconKind;
  /** Weight of the reconstruction term. */
  reconWeight: number;
  /**
   * mse of curves: adds `weight` * sum_f (e_f - e_{f-stride})^2, e = output - x, to each
   * example's loss (a Gaussian whose errors are smooth along the curve; shaders/recon.wgsl);
   * `stride` values per point. Absent: plain mse.
   */
  reconSmooth?: ReconSmooth;
  /** Weight of the KL term (beta-VAE; 1 is the ELBO). */
  beta: number;
  /**
   * Free bits (Kingma et al. 2016): a per-dimension floor in nats under the batch mean of
   * KL_d; dimensions below it get no KL gradient. 0 or absent: off.
   */
  freeBits?: number;
  /** logvar is clamped to [lo, hi] before exp, in the sample and in the KL. */
  logvarClamp: [number, number];
  /** Seed of the initial weights and of the reparameterization noise. */
  seed: number;
  /**
   * Standard deviation of eps in training's reparameterization (absent: 1); evaluation
   * programs always draw eps ~ N(0, I).
   */
  epsStd?: number;
  /**
   * Condition values C per example (conditional VAE, Sohn et al. 2015): a one-hot label or a
   * continuous value appended to the encoder's input (as extra channels for a conv model)
   * and to z before the decoder. 0 or absent: unconditional.
   */
  conditions?: number;
  /** What the conditions mean (labels, or lengths with their scaling); with `conditions`. */
  condition?: Condition;
  /**
   * A learned conditional prior p(z | c) = N(mp(c), exp(pv(c))) (Sohn et al. 2015) in place
   * of N(0, I): a dense network c -> hidden (ReLU) -> [mp | pv] trained with the rest; the
   * KL term is then KL(q(z | x, c) || p(z | c)) and samples are drawn from p(z | c).
   * Conditional models only; absent: the standard normal prior.
   */
  prior?: { hidden: number[] };
  /**
   * A regression VAE (regression.ts): the encoder also predicts the condition (a length)
   * from x through a dense stack of `hidden` widths, with loss weight `weight`; the learned
   * prior reads the prediction; encoder and decoder take no condition. Absent: off.
   */
  regression?: { hidden: number[]; weight: number };
}

/**
 * Slots of the metrics buffer: running sums over examples of the per-example reconstruction
 * loss and KL, a count of launches that saw a NaN or Inf in either, and (training only) the
 * 1-based optimizer step where that first happened.
 */
export const METRIC = { recon: 0, kl: 1, nonfinite: 2, firstBadStep: 3, size: 4 } as const;

/** Makes a named activation tensor and records it by name. */
export type MakeTensor = (name: string, shape: number[]) => Tensor;

/** A tensor factory that records every tensor in `t` under its name. */
export function tensorMaker(device: GPUDevice, t: Record<string, Tensor>): MakeTensor {
  return (name, shape) => (t[name] = new Tensor(device, "f32", shape, name));
}

/**
 * The batch x [B, F] gathered from `source` (move it with {@linkcode setBatchOffset}), and
 * for a conditional model (`conditions` C > 0) its conditions c [B, C] by the same index.
 */
export async function gatherInput(
  gpu: Gpu,
  source: BatchSource,
  batch: number,
  features: number,
  mk: MakeTensor,
  conditions = 0,
): Promise<{ gather: Dispatch; x: Tensor; condGather?: Dispatch; c?: Tensor }> {
  const x = mk("x", [batch, features]);
  const gather = await gatherBatch(gpu, { x, data: source.data, index: source.index }, {
    batch,
    features,
    offset: 0,
    scale: source.scale,
    shift: source.shift,
  });
  if (!conditions) return { gather, x };
  if (!source.cond) {
    throw new Error(`a conditional model needs ${conditions} condition values per example`);
  }
  const c = mk("c", [batch, conditions]);
  const condGather = await gatherBatch(gpu, { x: c, data: source.cond, index: source.index }, {
    batch,
    features: conditions,
    offset: 0,
    scale: 1,
    shift: 0,
  });
  return { gather, x, condGather, c };
}

/**
 * Per-example reconstruction loss (and in training, in the same pass, d(loss)/d(logits) =
 * reconWeight / B * d(recon_b)/d(logits) into a new `dlogits`), then the sums of it and of
 * the KL `kl` (from {@linkcode sampleLatent}) into `metrics` (slots of {@linkcode METRIC}),
 * each guarded for NaN/Inf (with the step recorded when `counter` is given, in training).
 */
export async function lossesAndMetrics(
  gpu: Gpu,
  cfg: VaeLossConfig,
  t: { logits: Tensor; x: Tensor; kl: Tensor; metrics: Tensor; counter?: Tensor },
  latent: LatentShape,
  mk: MakeTensor,
  train = false,
): Promise<{ dispatches: Dispatch[]; dlogits?: Tensor }> {
  const B = latent.batch;
  const F = t.x.length / B;
  const recon = mk("recon", [B]);
  const shape = { batch: B, features: F, smooth: cfg.reconSmooth };
  let dlogits: Tensor | undefined, loss: Dispatch;
  if (train) {
    dlogits = mk("dlogits", [B, F]);
    loss = await reconForwardBackward(gpu, cfg.recon, {
      loss: recon,
      dlogits,
      logits: t.logits,
      x: t.x,
    }, { ...shape, scale: cfg.reconWeight / B });
  } else {
    loss = await reconForward(gpu, cfg.recon, { loss: recon, logits: t.logits, x: t.x }, shape);
  }
  const out = [
    loss,
    await accumulate(gpu, { acc: t.metrics, x: recon }, { n: B, slot: METRIC.recon, scale: 1 }),
    await accumulate(gpu, { acc: t.metrics, x: t.kl }, { n: B, slot: METRIC.kl, scale: 1 }),
  ];
  for (const v of [recon, t.kl]) {
    out.push(
      await finiteGuard(gpu, { acc: t.metrics, x: v, counter: t.counter }, {
        n: B,
        slot: METRIC.nonfinite,
      }),
    );
  }
  return { dispatches: out, dlogits };
}

/** A decoder on its own: write z, run `dispatches`, read `mean` (the pixel means). */
export interface DecodeProgram {
  /** Latent codes to decode, [B, Z]. */
  z: Tensor;
  /** Conditions of a conditional model, [B, C]: write them with the codes. */
  c?: Tensor;
  /** Decoded means in data space, [B, F]: sigmoid(logits) for bce, the output for mse. */
  mean: Tensor;
  /** The decoder's dispatches, in order. */
  dispatches: Dispatch[];
}

/** Activations of one batch size, and the dispatch lists that use them. */
export interface StepProgram {
  /** Batch size the program was built for. */
  batch: number;
  /** Gather of the batch (update its `offset` per step with {@linkcode setBatchOffset}). */
  gather: Dispatch;
  /** A conditional model's gather of the conditions (the first dispatch of `forward`). */
  condGather?: Dispatch;
  /** Forward, losses and metrics (no backward): evaluation. */
  forward: Dispatch[];
  /** Backward and Adam: appended to `forward` for a training step. */
  backward: Dispatch[];
  /** Named activation tensors (x, mulogvar, z, logits, recon, kl, ...). */
  tensors: Record<string, Tensor>;
  /** The KL backward, whose scale (beta / B) a schedule may change; null when evaluating. */
  klBackward: Dispatch | null;
}

/** Free the activations a program allocated (its named tensors; views share them). */
export function destroyProgram(p: StepProgram): void {
  for (const t of Object.values(p.tensors)) t.destroy();
}

/** Point a program's gather at the batch starting at `offset` in the index. */
export function setBatchOffset(program: StepProgram, offset: number): void {
  program.gather.update("dims", { offset });
  program.condGather?.update("dims", { offset });
}
