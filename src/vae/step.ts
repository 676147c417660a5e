/**
 * The training step of any VAE here, written out as one explicit sequence over its layers
 * (llm.c's gpt2_forward / gpt2_backward): gather the batch, encoder forward, the learned
 * prior's forward, the latent head, decoder forward, losses and metrics; then the decoder's
 * backward in reverse, the latent head's, the prior's, the encoder's, and Adam. The same
 * decoder layers, in evaluation mode, are the decoder program that samples, figures and the
 * web page run.
 *
 * Legend: B batch, F values per example, C condition values, Z latent size.
 */

import type { Tensor } from "../gpu/buffer.ts";
import type { Gpu } from "../gpu/device.ts";
import type { Dispatch } from "../gpu/kernel.ts";
import { activationForward } from "../nn/activation.ts";
import { type AdamConfig, adamStep } from "../nn/adam.ts";
import { ParamLayout } from "../nn/params.ts";
import {
  type DecodeProgram,
  gatherInput,
  lossesAndMetrics,
  type StepProgram,
  tensorMaker,
  type VaeLossConfig,
} from "./common.ts";
import { addLayers, backwardLayers, forwardLayers, type Layer, type VaeTuning } from "./layer.ts";
import { latentHead } from "./latent_head.ts";
import { regressionLoss } from "./regression.ts";
import type { BatchSource } from "./source.ts";
import type { ModelState } from "./state.ts";

/** A model resolved to its layers (by mlpVaeLayers or convVaeLayers). */
export interface VaeLayers {
  /** F, values per example the model reads and writes. */
  features: number;
  /** x (with c) -> [mu | logvar] [B, 2Z] (output tensor "mulogvar"). */
  encoder: Layer[];
  /** z (with c) -> logits [B, F] (output tensor "logits"). */
  decoder: Layer[];
  /** c (or r^) -> [mp | pv] [B, 2Z] (output tensor "prior"); empty for the N(0, I) prior. */
  prior: Layer[];
  /** x -> r^ [B, 1] (output tensor "regression"), a regression VAE's head; absent or empty. */
  regression?: Layer[];
}

/** The flat parameter layout of a model's layers (see {@linkcode addLayers}). */
export function layersLayout(m: VaeLayers): ParamLayout {
  const layout = new ParamLayout();
  addLayers(layout, [...m.encoder, ...m.decoder, ...m.prior, ...m.regression ?? []]);
  return layout;
}

/**
 * A step's arguments after the model: its state, where batches come from, the metrics buffer,
 * the batch size, Adam's settings (absent: evaluation), the noise stream (default 0 for
 * training, 1 for evaluation) and kernel choices.
 */
export type StepArgs = [
  state: ModelState,
  source: BatchSource,
  metrics: Tensor,
  batch: number,
  adam?: AdamConfig,
  stream?: number,
  tuning?: VaeTuning,
];

/** A decoder program's arguments after the model: its state, codes per run, kernel choices. */
export type DecodeArgs = [state: ModelState, batch: number, tuning?: VaeTuning];

/**
 * Every dispatch of a step at batch size `batch`, built once: with `adam` a training step,
 * without it the forward, losses and metrics in evaluation mode (batch norm on its running
 * statistics) and an empty `backward`. `stream` keys the noise: training draws stream 0,
 * evaluation stream 1, so they never share eps.
 */
export async function buildLayersStep(
  gpu: Gpu,
  cfg: VaeLossConfig,
  m: VaeLayers,
  ...[state, source, metrics, batch, adam, stream = adam ? 0 : 1, tuning = {}]: StepArgs
): Promise<StepProgram> {
  const B = batch, train = adam !== undefined;
  const t: Record<string, Tensor> = {};
  const mk = tensorMaker(gpu.device, t);
  const { gather, x, condGather, c } = await gatherInput(
    gpu,
    source,
    B,
    m.features,
    mk,
    cfg.conditions ?? 0,
  );
  const ctx = { gpu, state, batch: B, train, c, mk, tuning };

  // Forward: encoder, prior, latent head, decoder, losses (with d(loss)/d(logits) in training).
  const fwd: Dispatch[] = condGather ? [condGather] : [];
  const enc = await forwardLayers(ctx, m.encoder, x);
  fwd.push(...enc.dispatches);
  // A regression VAE's prior reads the predicted attribute r^, not the given one.
  const reg = m.regression?.length ? await forwardLayers(ctx, m.regression, x) : null;
  if (reg) fwd.push(...reg.dispatches);
  const prior = m.prior.length ? await forwardLayers(ctx, m.prior, reg ? reg.y : c!) : null;
  if (prior) fwd.push(...prior.dispatches);
  const head = await latentHead(ctx, cfg, enc.y, stream, prior?.y);
  fwd.push(...head.dispatches);
  const dec = await forwardLayers(ctx, m.decoder, head.z);
  fwd.push(...dec.dispatches);
  // The decoder's output [B, H, W, C] is the [B, F] the losses read: same buffer, flat shape.
  const logits = t.logits = dec.y.reshape([B, m.features]);
  const counter = train ? state.counter : undefined;
  const losses = await lossesAndMetrics(
    gpu,
    cfg,
    { logits, x, kl: head.kl, metrics, counter },
    head.latent,
    mk,
    train,
  );
  fwd.push(...losses.dispatches);
  const regLoss = reg ? await regressionLoss(ctx, cfg, reg.y, c!) : null;
  if (regLoss) fwd.push(...regLoss.dispatches);
  const program = { batch: B, gather, condGather, forward: fwd, tensors: t };
  if (!adam) return { ...program, backward: [], klBackward: null };

  // Backward, in reverse: decoder (to dz), latent head (to d[mu | logvar], and the prior's
  // d[mp | pv]), prior network, encoder; then Adam over every trained parameter.
  const bwd: Dispatch[] = [];
  const decB = await backwardLayers(m.decoder, dec.saved, losses.dlogits!, true);
  bwd.push(...decB.dispatches);
  const latB = await head.backward(decB.dx!);
  bwd.push(...latB.dispatches);
  if (prior) {
    bwd.push(...(await backwardLayers(m.prior, prior.saved, latB.dprior!, false)).dispatches);
  }
  bwd.push(...(await backwardLayers(m.encoder, enc.saved, latB.dmulogvar, false)).dispatches);
  if (reg) {
    bwd.push(
      ...(await backwardLayers(m.regression!, reg.saved, regLoss!.drhat!, false)).dispatches,
    );
  }
  bwd.push(...await adamStep(gpu, state.optimized(), adam));
  return { ...program, backward: bwd, klBackward: latB.klBackward };
}

/**
 * The decoder alone for `batch` codes at a time, in evaluation mode: write z (and a
 * conditional model's c), run the dispatches, read the means (sigmoid of the logits for bce,
 * the output itself for mse).
 */
export async function buildLayersDecode(
  gpu: Gpu,
  cfg: VaeLossConfig,
  m: VaeLayers,
  ...[state, batch, tuning = {}]: DecodeArgs
): Promise<DecodeProgram> {
  const t: Record<string, Tensor> = {};
  const mk = tensorMaker(gpu.device, t);
  const z = mk("decode.z", [batch, cfg.z]);
  const c = cfg.conditions ? mk("decode.c", [batch, cfg.conditions]) : undefined;
  const ctx = { gpu, state, batch, train: false, c, mk, tuning };
  const dec = await forwardLayers(ctx, m.decoder, z);
  const logits = dec.y.reshape([batch, m.features]);
  if (cfg.recon === "mse") return { z, c, mean: logits, dispatches: dec.dispatches };
  const mean = mk("decode.mean", [batch, m.features]);
  const dispatches = [
    ...dec.dispatches,
    await activationForward(gpu, "sigmoid", { y: mean, x: logits }),
  ];
  return { z, c, mean, dispatches };
}
