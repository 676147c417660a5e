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
import { activationBackward, activationForward } from "../nn/activation.ts";
import { type AdamConfig, adamStep } from "../nn/adam.ts";
import { concatBackward } from "../nn/concat.ts";
import { denseBackward, denseForward } from "../nn/dense.ts";
import { ParamLayout } from "../nn/params.ts";
import {
  type BatchSource,
  type DecodeProgram,
  gatherInput,
  latentGrad,
  latentShape,
  lossesAndMetrics,
  type ModelState,
  reconGrad,
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
  return layout;
}

/** One dense + ReLU layer of the decoder, as the backward needs it. */
interface DecoderLayer {
  pre: Tensor;
  h: Tensor;
  input: Tensor;
  inW: number;
  outW: number;
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
): Promise<
  { dispatches: Dispatch[]; layers: DecoderLayer[]; last: Tensor; width: number; logits: Tensor }
> {
  const P = (name: string) => state.layout.view(state.params, name);
  const zc = await withCondition(gpu, z, c, 1, "zc", mk);
  const dispatches: Dispatch[] = [...zc.dispatches];
  const layers: DecoderLayer[] = [];
  let g = zc.y, width = cfg.z + (cfg.conditions ?? 0);
  for (const [j, H] of [...cfg.hidden].reverse().entries()) {
    const pre = mk(`decoder.${j}.pre`, [B, H]);
    const post = mk(`decoder.${j}.h`, [B, H]);
    const s = { batch: B, inFeatures: width, outFeatures: H };
    const W = P(`decoder.${j}.weight`), b = P(`decoder.${j}.bias`);
    dispatches.push(...await denseForward(gpu, { y: pre, x: g, W, b }, s));
    dispatches.push(await activationForward(gpu, "relu", { y: post, x: pre }));
    layers.push({ pre, h: post, input: g, inW: width, outW: H });
    g = post;
    width = H;
  }
  const logits = mk("logits", [B, cfg.inputs]);
  const out = { batch: B, inFeatures: width, outFeatures: cfg.inputs };
  const W = P("decoder.out.weight"), b = P("decoder.out.bias");
  dispatches.push(...await denseForward(gpu, { y: logits, x: g, W, b }, out));
  return { dispatches, layers, last: g, width, logits };
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
  const L = state.layout;
  const P = (name: string) => L.view(state.params, name);
  const G = (name: string) => L.view(state.grads, name);
  const t: Record<string, Tensor> = {};
  const mk = tensorMaker(gpu.device, t);

  const fwd: Dispatch[] = [];
  const bwd: Dispatch[] = [];
  const C = cfg.conditions ?? 0;
  const { gather, x, condGather, c } = await gatherInput(gpu, source, B, F, mk, C);
  if (condGather) fwd.push(condGather);
  const xc = await withCondition(gpu, x, c, 1, "xc", mk);
  fwd.push(...xc.dispatches);

  // Encoder: pre_i = h_{i-1} W_i + b_i, h_i = relu(pre_i)
  let h = xc.y, width = F + C;
  const enc: { pre: Tensor; h: Tensor; input: Tensor; inW: number; outW: number }[] = [];
  for (let i = 0; i < cfg.hidden.length; i++) {
    const H = cfg.hidden[i];
    const pre = mk(`encoder.${i}.pre`, [B, H]);
    const post = mk(`encoder.${i}.h`, [B, H]);
    const s = { batch: B, inFeatures: width, outFeatures: H };
    fwd.push(
      ...await denseForward(gpu, {
        y: pre,
        x: h,
        W: P(`encoder.${i}.weight`),
        b: P(`encoder.${i}.bias`),
      }, s),
    );
    fwd.push(await activationForward(gpu, "relu", { y: post, x: pre }));
    enc.push({ pre, h: post, input: h, inW: width, outW: H });
    h = post;
    width = H;
  }
  const mulogvar = mk("mulogvar", [B, 2 * Z]);
  const head = { batch: B, inFeatures: width, outFeatures: 2 * Z };
  fwd.push(
    ...await denseForward(gpu, {
      y: mulogvar,
      x: h,
      W: P("encoder.head.weight"),
      b: P("encoder.head.bias"),
    }, head),
  );
  const latent = latentShape(cfg, B, stream);
  const { dispatch: sample, z, eps } = await sampleLatent(gpu, latent, mulogvar, state.counter, mk);
  fwd.push(sample);

  const { dispatches: decode, layers: dec, last: g, width: decW, logits } = await decoderForward(
    gpu,
    cfg,
    state,
    z,
    c,
    B,
    mk,
  );
  fwd.push(...decode);
  width = decW;
  const out = { batch: B, inFeatures: width, outFeatures: F };

  const counter = adam ? state.counter : undefined;
  fwd.push(
    ...await lossesAndMetrics(gpu, cfg, { logits, x, mulogvar, metrics, counter }, latent, mk),
  );

  const program = { batch: B, gather, condGather, forward: fwd, tensors: t };
  if (!adam) return { ...program, backward: [], klBackward: null };

  // Backward, in reverse. A conditional decoder's input gradient d[z | c] is cut to dz.
  const { dispatch: dRecon, dlogits } = await reconGrad(gpu, cfg, { logits, x }, B, mk);
  bwd.push(dRecon);
  let dy = dlogits;
  const dOut = dec.length
    ? mk(`decoder.${dec.length - 1}.dh`, [B, dec.at(-1)!.outW])
    : mk(C ? "dzc" : "dz", [B, Z + C]);
  bwd.push(
    ...await denseBackward(gpu, {
      dx: dOut,
      dW: G("decoder.out.weight"),
      db: G("decoder.out.bias"),
      dy,
      x: g,
      W: P("decoder.out.weight"),
    }, out),
  );
  dy = dOut;
  for (let j = dec.length - 1; j >= 0; j--) {
    const l = dec[j];
    const dpre = mk(`decoder.${j}.dpre`, [B, l.outW]);
    bwd.push(await activationBackward(gpu, "relu", { dx: dpre, dy, x: l.pre }));
    const dIn = j > 0 ? mk(`decoder.${j - 1}.dh`, [B, l.inW]) : mk(C ? "dzc" : "dz", [B, Z + C]);
    const s = { batch: B, inFeatures: l.inW, outFeatures: l.outW };
    bwd.push(
      ...await denseBackward(gpu, {
        dx: dIn,
        dW: G(`decoder.${j}.weight`),
        db: G(`decoder.${j}.bias`),
        dy: dpre,
        x: l.input,
        W: P(`decoder.${j}.weight`),
      }, s),
    );
    dy = dIn;
  }
  if (C) {
    const dz = mk("dz", [B, Z]);
    const shape = { batch: B, positions: 1, features: Z, conditions: C };
    bwd.push(await concatBackward(gpu, { da: dz, dy }, shape));
    dy = dz;
  }
  const { dispatches: dLatent, klBackward: klB, dmulogvar } = await latentGrad(
    gpu,
    cfg,
    { dz: dy, eps, mulogvar },
    latent,
    mk,
  );
  bwd.push(...dLatent);
  const lastH = enc.length ? enc.at(-1)!.h : xc.y;
  const dLast = enc.length
    ? mk(`encoder.${enc.length - 1}.dh`, [B, width = enc.at(-1)!.outW])
    : undefined;
  bwd.push(
    ...await denseBackward(gpu, {
      dx: dLast,
      dW: G("encoder.head.weight"),
      db: G("encoder.head.bias"),
      dy: dmulogvar,
      x: lastH,
      W: P("encoder.head.weight"),
    }, head),
  );
  dy = dLast!;
  for (let i = enc.length - 1; i >= 0; i--) {
    const l = enc[i];
    const dpre = mk(`encoder.${i}.dpre`, [B, l.outW]);
    bwd.push(await activationBackward(gpu, "relu", { dx: dpre, dy, x: l.pre }));
    const dIn = i > 0 ? mk(`encoder.${i - 1}.dh`, [B, l.inW]) : undefined;
    const s = { batch: B, inFeatures: l.inW, outFeatures: l.outW };
    bwd.push(
      ...await denseBackward(gpu, {
        dx: dIn,
        dW: G(`encoder.${i}.weight`),
        db: G(`encoder.${i}.bias`),
        dy: dpre,
        x: l.input,
        W: P(`encoder.${i}.weight`),
      }, s),
    );
    if (dIn) dy = dIn;
  }
  bwd.push(
    ...await adamStep(gpu, state.optimized(), adam),
  );
  return { ...program, backward: bwd, klBackward: klB };
}
