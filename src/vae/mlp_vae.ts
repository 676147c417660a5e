/**
 * The MLP VAE: encoder F -> H1 -> ... -> Hn (ReLU) -> [mu | logvar] (2Z), the clamped-exp
 * reparameterization z = mu + exp(0.5 lv) eps, decoder Z -> Hn -> ... -> H1 (ReLU) -> F
 * logits (or means, for the Gaussian loss).
 *
 * Loss per batch = reconWeight * mean_b sum_f recon + beta * mean_b sum_d KL, in nats per
 * example. A training step is one list of dispatches: gather, forward, losses, metrics,
 * backward (written out by hand below, in reverse), Adam.
 *
 * Legend: B batch, F input features, H hidden width, Z latent size.
 */

import { Tensor, upload } from "../gpu/buffer.ts";
import type { Gpu } from "../gpu/device.ts";
import type { Dispatch } from "../gpu/kernel.ts";
import { activationBackward, activationForward } from "../nn/activation.ts";
import { type AdamConfig, adamStep } from "../nn/adam.ts";
import { denseBackward, denseForward } from "../nn/dense.ts";
import { gatherBatch } from "../nn/gather.ts";
import { klBackward, klForward } from "../nn/kl.ts";
import { latentBackward, latentForward } from "../nn/latent.ts";
import { ParamLayout } from "../nn/params.ts";
import { mulberry32 } from "../train/random.ts";
import { accumulate, finiteGuard } from "../nn/reduce.ts";
import { reconBackward, reconForward, type ReconKind } from "../nn/recon.ts";

/** Shape and loss settings of an MLP VAE. */
export interface MlpVaeConfig {
  /** Input features F (784 for 28x28 images). */
  inputs: number;
  /** Hidden widths of the encoder, first to last; the decoder mirrors them. */
  hidden: number[];
  /** Latent dimensions Z. */
  z: number;
  /** Reconstruction likelihood: Bernoulli from logits ("bce") or Gaussian ("mse"). */
  recon: ReconKind;
  /** Weight of the reconstruction term. */
  reconWeight: number;
  /** Weight of the KL term (beta-VAE; 1 is the ELBO). */
  beta: number;
  /** logvar is clamped to [lo, hi] before exp, in the sample and in the KL. */
  logvarClamp: [number, number];
  /** Seed of the initial weights and of the reparameterization noise. */
  seed: number;
}

/**
 * Slots of the metrics buffer: running sums over examples of the per-example reconstruction
 * loss and KL, a count of launches that saw a NaN or Inf in either, and (training only) the
 * 1-based optimizer step where that first happened.
 */
export const METRIC = { recon: 0, kl: 1, nonfinite: 2, firstBadStep: 3, size: 4 } as const;

/** Parameter names and shapes of an MLP VAE, in the order they sit in the flat buffer. */
export function mlpVaeLayout(cfg: MlpVaeConfig): ParamLayout {
  const layout = new ParamLayout();
  let width = cfg.inputs;
  cfg.hidden.forEach((h, i) => {
    layout.add(`encoder.${i}.weight`, [width, h]);
    layout.add(`encoder.${i}.bias`, [h]);
    width = h;
  });
  layout.add("encoder.head.weight", [width, 2 * cfg.z]);
  layout.add("encoder.head.bias", [2 * cfg.z]);
  width = cfg.z;
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

/**
 * Initial weights: every dense weight and bias uniform in +-1/sqrt(fan_in) (the usual
 * default for linear layers), from a seeded generator; gaps between parameters are zero.
 */
export function initParams(layout: ParamLayout, seed: number): Float32Array {
  const p = new Float32Array(layout.size);
  const next = mulberry32(seed);
  for (const e of layout.entries) {
    const fanIn = e.name.endsWith(".weight")
      ? e.shape[0]
      : layout.get(e.name.replace(/bias$/, "weight")).shape[0];
    const bound = 1 / Math.sqrt(fanIn);
    for (let i = 0; i < e.length; i++) p[e.offset + i] = (2 * next() - 1) * bound;
  }
  return p;
}

/** The flat state of a model on the GPU: parameters, gradients, Adam moments, step counter. */
export class ModelState {
  /** Parameter layout (names, shapes, offsets). */
  readonly layout: ParamLayout;
  /** Flat parameters. */
  readonly params: Tensor;
  /** Flat gradients, overwritten by every step's backward. */
  readonly grads: Tensor;
  /** Adam's first moment. */
  readonly m: Tensor;
  /** Adam's second moment. */
  readonly v: Tensor;
  /** Completed optimizer steps (u32 [1]); also keys the reparameterization noise. */
  readonly counter: Tensor;

  /** Allocate the state and upload `initial` parameters. */
  constructor(gpu: Gpu, layout: ParamLayout, initial: Float32Array) {
    const d = gpu.device;
    const n = layout.size;
    this.layout = layout;
    this.params = upload(d, "f32", [n], initial, "params");
    this.grads = new Tensor(d, "f32", [n], "grads");
    this.m = new Tensor(d, "f32", [n], "adam.m");
    this.v = new Tensor(d, "f32", [n], "adam.v");
    this.counter = new Tensor(d, "u32", [1], "step counter");
  }

  /** Free the GPU buffers. */
  destroy(): void {
    for (const t of [this.params, this.grads, this.m, this.v, this.counter]) t.destroy();
  }
}

/** Where a batch comes from: a u8 dataset on the GPU and a (shuffled) index. */
export interface BatchSource {
  /** Dataset bytes, N x F, dtype u8. */
  data: Tensor;
  /** Example order, u32 [N]. */
  index: Tensor;
  /** Pixel scale: x = byte * scale + shift. */
  scale: number;
  /** Pixel shift: x = byte * scale + shift. */
  shift: number;
}

/**
 * Upload a split's u8 images once, with an example order (identity unless given), as a
 * batch source whose pixels are scaled to [0, 1].
 */
export function uploadSource(
  device: GPUDevice,
  images: Uint8Array,
  order: Uint32Array,
  label: string,
): BatchSource {
  return {
    data: upload(device, "u8", [images.length], images, `${label} images`),
    index: upload(device, "u32", [order.length], order, `${label} order`),
    scale: 1 / 255,
    shift: 0,
  };
}

/** 0, 1, ..., n - 1: the order of an unshuffled split. */
export function identityOrder(n: number): Uint32Array {
  return Uint32Array.from({ length: n }, (_, i) => i);
}

/** One dense + ReLU layer of the decoder, as the backward needs it. */
interface DecoderLayer {
  pre: Tensor;
  h: Tensor;
  input: Tensor;
  inW: number;
  outW: number;
}

/** The decoder's forward from `z` [B, Z]: mirror of the encoder, then the output layer. */
async function decoderForward(
  gpu: Gpu,
  cfg: MlpVaeConfig,
  state: ModelState,
  z: Tensor,
  B: number,
  mk: (name: string, shape: number[]) => Tensor,
): Promise<
  { dispatches: Dispatch[]; layers: DecoderLayer[]; last: Tensor; width: number; logits: Tensor }
> {
  const P = (name: string) => state.layout.view(state.params, name);
  const dispatches: Dispatch[] = [];
  const layers: DecoderLayer[] = [];
  let g = z, width = cfg.z;
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

/** A decoder on its own: write z, run `dispatches`, read `mean` (the pixel means). */
export interface DecodeProgram {
  /** Latent codes to decode, [B, Z]. */
  z: Tensor;
  /** Decoded means in data space, [B, F]: sigmoid(logits) for bce, the output for mse. */
  mean: Tensor;
  /** The decoder's dispatches, in order. */
  dispatches: Dispatch[];
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
  const { dispatches, logits } = await decoderForward(gpu, cfg, state, z, batch, mk);
  if (cfg.recon === "mse") return { z, mean: logits, dispatches };
  const mean = mk("decode.mean", [batch, cfg.inputs]);
  dispatches.push(await activationForward(gpu, "sigmoid", { y: mean, x: logits }));
  return { z, mean, dispatches };
}

/** Activations of one batch size, and the dispatch lists that use them. */
export interface StepProgram {
  /** Batch size the program was built for. */
  batch: number;
  /** Gather of the batch (update its `offset` per step with {@linkcode setBatchOffset}). */
  gather: Dispatch;
  /** Forward, losses and metrics (no backward): evaluation. */
  forward: Dispatch[];
  /** Backward and Adam: appended to `forward` for a training step. */
  backward: Dispatch[];
  /** Named activation tensors (x, mulogvar, z, logits, recon, kl, ...). */
  tensors: Record<string, Tensor>;
  /** The KL backward, whose scale (beta / B) a schedule may change; null when evaluating. */
  klBackward: Dispatch | null;
}

/** Point a program's gather at the batch starting at `offset` in the index. */
export function setBatchOffset(program: StepProgram, offset: number): void {
  program.gather.update("dims", { offset });
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
  const d = gpu.device;
  const B = batch, F = cfg.inputs, Z = cfg.z;
  const [lo, hi] = cfg.logvarClamp;
  const L = state.layout;
  const P = (name: string) => L.view(state.params, name);
  const G = (name: string) => L.view(state.grads, name);
  const t: Record<string, Tensor> = {};
  const mk = (name: string, shape: number[]) => (t[name] = new Tensor(d, "f32", shape, name));

  const fwd: Dispatch[] = [];
  const bwd: Dispatch[] = [];
  const x = mk("x", [B, F]);
  const gather = await gatherBatch(gpu, { x, data: source.data, index: source.index }, {
    batch: B,
    features: F,
    offset: 0,
    scale: source.scale,
    shift: source.shift,
  });

  // Encoder: pre_i = h_{i-1} W_i + b_i, h_i = relu(pre_i)
  let h = x, width = F;
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
  const z = mk("z", [B, Z]);
  const eps = mk("eps", [B, Z]);
  const latent = { batch: B, z: Z, logvarMin: lo, logvarMax: hi, seed: cfg.seed, stream };
  fwd.push(await latentForward(gpu, { z, eps, mulogvar, counter: state.counter }, latent));

  const { dispatches: decode, layers: dec, last: g, width: decW, logits } = await decoderForward(
    gpu,
    cfg,
    state,
    z,
    B,
    mk,
  );
  fwd.push(...decode);
  width = decW;
  const out = { batch: B, inFeatures: width, outFeatures: F };

  // Losses per example, then their batch means into the metrics buffer.
  const recon = mk("recon", [B]);
  const kl = mk("kl", [B]);
  fwd.push(
    await reconForward(gpu, cfg.recon, { loss: recon, logits, x }, { batch: B, features: F }),
  );
  fwd.push(await klForward(gpu, { kl, mulogvar }, latent));
  fwd.push(
    await accumulate(gpu, { acc: metrics, x: recon }, { n: B, slot: METRIC.recon, scale: 1 }),
  );
  fwd.push(await accumulate(gpu, { acc: metrics, x: kl }, { n: B, slot: METRIC.kl, scale: 1 }));
  const counter = adam ? state.counter : undefined;
  for (const v of [recon, kl]) {
    fwd.push(
      await finiteGuard(gpu, { acc: metrics, x: v, counter }, { n: B, slot: METRIC.nonfinite }),
    );
  }

  if (!adam) return { batch: B, gather, forward: fwd, backward: [], tensors: t, klBackward: null };

  // Backward, in reverse. d(loss)/d(logits) = reconWeight / B * d(recon_b)/d(logits).
  const dlogits = mk("dlogits", [B, F]);
  bwd.push(
    await reconBackward(gpu, cfg.recon, { dlogits, logits, x }, {
      batch: B,
      features: F,
      scale: cfg.reconWeight / B,
    }),
  );
  let dy = dlogits;
  const dOut = dec.length
    ? mk(`decoder.${dec.length - 1}.dh`, [B, dec.at(-1)!.outW])
    : mk("dz", [B, Z]);
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
    const dIn = j > 0 ? mk(`decoder.${j - 1}.dh`, [B, l.inW]) : mk("dz", [B, Z]);
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
  // dz -> d[mu | logvar] through the sample, then the KL's share, beta / B per example.
  const dmulogvar = mk("dmulogvar", [B, 2 * Z]);
  bwd.push(await latentBackward(gpu, { dmulogvar, dz: dy, eps, mulogvar }, latent));
  const klB = await klBackward(gpu, { dmulogvar, mulogvar }, { ...latent, scale: cfg.beta / B });
  bwd.push(klB);
  const lastH = enc.length ? enc.at(-1)!.h : x;
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
    ...await adamStep(gpu, {
      params: state.params,
      grads: state.grads,
      m: state.m,
      v: state.v,
      counter: state.counter,
    }, adam),
  );
  return { batch: B, gather, forward: fwd, backward: bwd, tensors: t, klBackward: klB };
}
