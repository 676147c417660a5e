/**
 * The MLP VAE: encoder F -> H1 -> ... -> Hn (ReLU) -> [mu | logvar] (2Z), the clamped-exp
 * reparameterization z = mu + exp(0.5 lv) eps, decoder Z -> Hn -> ... -> H1 (ReLU) -> F
 * logits (or means, for the Gaussian loss).
 *
 * A training step is one list of dispatches: gather, forward, losses and metrics
 * (src/vae/common.ts), backward (written out by hand below, in reverse), Adam.
 *
 * Legend: B batch, F input features, H hidden width, Z latent size.
 */

import { Tensor } from "../gpu/buffer.ts";
import type { Gpu } from "../gpu/device.ts";
import type { Dispatch } from "../gpu/kernel.ts";
import { activationForward } from "../nn/activation.ts";
import { type AdamConfig, adamStep } from "../nn/adam.ts";
import { concatBackward } from "../nn/concat.ts";
import { ParamLayout } from "../nn/params.ts";
import { denseStack, denseStackBackward, type Layer } from "./dense_stack.ts";
import {
  addPriorLayout,
  type BatchSource,
  type DecodeProgram,
  gatherInput,
  latentGrad,
  latentShape,
  lossesAndMetrics,
  type ModelState,
  priorNetwork,
  sampleLatent,
  type StepProgram,
  tensorMaker,
  type VaeLossConfig,
  withCondition,
} from "./common.ts";

/** Shape and loss settings of an MLP VAE. */
export interface MlpVaeConfig extends VaeLossConfig {
  /** Model family tag (absent in configs written before the conv model existed). */
  kind?: "mlp";
  /** Input features F (784 for 28x28 images). */
  inputs: number;
  /** Hidden widths of the encoder, first to last; the decoder mirrors them. */
  hidden: number[];
}

/** Parameter names and shapes of an MLP VAE, in the order they sit in the flat buffer. */
export function mlpVaeLayout(cfg: MlpVaeConfig): ParamLayout {
  const layout = new ParamLayout();
  const C = cfg.conditions ?? 0;
  let width = cfg.inputs + C;
  cfg.hidden.forEach((h, i) => {
    layout.add(`encoder.${i}.weight`, [width, h]);
    layout.add(`encoder.${i}.bias`, [h]);
    width = h;
  });
  layout.add("encoder.head.weight", [width, 2 * cfg.z]);
  layout.add("encoder.head.bias", [2 * cfg.z]);
  width = cfg.z + C;
  const back = [...cfg.hidden].reverse();
  back.forEach((h, i) => {
    layout.add(`decoder.${i}.weight`, [width, h]);
    layout.add(`decoder.${i}.bias`, [h]);
    width = h;
  });
  layout.add("decoder.out.weight", [width, cfg.inputs]);
  layout.add("decoder.out.bias", [cfg.inputs]);
  addPriorLayout(layout, cfg);
  return layout;
}

/**
 * The decoder's forward from `z` [B, Z] (and a conditional model's c [B, C], appended to z):
 * mirror of the encoder, then the output layer.
 */
async function decoderForward(
  gpu: Gpu,
  cfg: MlpVaeConfig,
  state: ModelState,
  z: Tensor,
  c: Tensor | undefined,
  B: number,
  mk: (name: string, shape: number[]) => Tensor,
): Promise<{ dispatches: Dispatch[]; layers: Layer[]; logits: Tensor }> {
  const zc = await withCondition(gpu, z, c, 1, "zc", mk);
  const inW = cfg.z + (cfg.conditions ?? 0);
  const out = { name: "logits", param: "decoder.out", width: cfg.inputs };
  const hidden = [...cfg.hidden].reverse();
  const stack = await denseStack(gpu, state, "decoder", hidden, zc.y, inW, out, B, mk);
  return {
    dispatches: [...zc.dispatches, ...stack.dispatches],
    layers: stack.layers,
    logits: stack.y,
  };
}

/** Build the decoder alone for `batch` codes at a time (samples, manifolds, the web page). */
export async function buildDecode(
  gpu: Gpu,
  cfg: MlpVaeConfig,
  state: ModelState,
  batch: number,
): Promise<DecodeProgram> {
  const mk = (name: string, shape: number[]) => new Tensor(gpu.device, "f32", shape, name);
  const z = mk("decode.z", [batch, cfg.z]);
  const c = cfg.conditions ? mk("decode.c", [batch, cfg.conditions]) : undefined;
  const { dispatches, logits } = await decoderForward(gpu, cfg, state, z, c, batch, mk);
  if (cfg.recon === "mse") return { z, c, mean: logits, dispatches };
  const mean = mk("decode.mean", [batch, cfg.inputs]);
  dispatches.push(await activationForward(gpu, "sigmoid", { y: mean, x: logits }));
  return { z, c, mean, dispatches };
}

/**
 * Build every dispatch of a training step at batch size `batch`, once. Without `adam` only
 * the forward, losses and metrics are built (evaluation) and `backward` is empty. `stream`
 * keys the noise: training draws stream 0, evaluation stream 1, so they never share eps.
 */
export async function buildStep(
  gpu: Gpu,
  cfg: MlpVaeConfig,
  state: ModelState,
  source: BatchSource,
  metrics: Tensor,
  batch: number,
  adam?: AdamConfig,
  stream = adam ? 0 : 1,
): Promise<StepProgram> {
  const B = batch, F = cfg.inputs, Z = cfg.z;
  const t: Record<string, Tensor> = {};
  const mk = tensorMaker(gpu.device, t);
  const fwd: Dispatch[] = [];
  const C = cfg.conditions ?? 0;
  const { gather, x, condGather, c } = await gatherInput(gpu, source, B, F, mk, C);
  if (condGather) fwd.push(condGather);
  const xc = await withCondition(gpu, x, c, 1, "xc", mk);
  fwd.push(...xc.dispatches);

  // Encoder: h_i = relu(h_{i-1} W_i + b_i), then the head to [mu | logvar].
  const head = { name: "mulogvar", param: "encoder.head", width: 2 * Z };
  const enc = await denseStack(gpu, state, "encoder", cfg.hidden, xc.y, F + C, head, B, mk);
  fwd.push(...enc.dispatches);
  const mulogvar = enc.y;
  const latent = latentShape(cfg, B, stream);
  const prior = await priorNetwork(gpu, cfg, state, c, mk);
  if (prior) fwd.push(...prior.dispatches);
  const sample = await sampleLatent(gpu, latent, mulogvar, state.counter, mk, prior?.prior);
  fwd.push(...sample.dispatches);
  const dec = await decoderForward(gpu, cfg, state, sample.z, c, B, mk);
  fwd.push(...dec.dispatches);
  const logits = dec.logits;
  const counter = adam ? state.counter : undefined;
  const losses = await lossesAndMetrics(
    gpu,
    cfg,
    { logits, x, kl: sample.kl, metrics, counter },
    latent,
    mk,
    adam !== undefined,
  );
  fwd.push(...losses.dispatches);
  const program = { batch: B, gather, condGather, forward: fwd, tensors: t };
  if (!adam) return { ...program, backward: [], klBackward: null };

  // Backward, in reverse, from d(loss)/d(logits) (written with the loss, in the forward). A
  // conditional decoder's input gradient d[z | c] is cut to dz.
  const bwd: Dispatch[] = [];
  const names = (part: string, last: string) => [...cfg.hidden.map((_, i) => `${part}.${i}`), last];
  const dz = mk("dz", [B, Z]);
  const dzc = C ? mk("dzc", [B, Z + C]) : dz;
  bwd.push(
    ...await denseStackBackward(
      gpu,
      state,
      names("decoder", "decoder.out"),
      dec.layers,
      losses.dlogits!,
      dzc,
      B,
      mk,
    ),
  );
  if (C) {
    const shape = { batch: B, positions: 1, features: Z, conditions: C };
    bwd.push(await concatBackward(gpu, { da: dz, dy: dzc }, shape));
  }
  const lg = await latentGrad(
    gpu,
    cfg,
    { dz, eps: sample.eps, mulogvar, prior, state },
    latent,
    mk,
  );
  bwd.push(...lg.dispatches);
  bwd.push(
    ...await denseStackBackward(
      gpu,
      state,
      names("encoder", "encoder.head"),
      enc.layers,
      lg.dmulogvar,
      undefined,
      B,
      mk,
    ),
  );
  bwd.push(...await adamStep(gpu, state.optimized(), adam));
  return { ...program, backward: bwd, klBackward: lg.klBackward };
}
