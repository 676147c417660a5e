/**
 * What every VAE here shares between its encoder and decoder: the reparameterized sample,
 * the two loss terms with their metrics and NaN guards, and the backward from the loss to
 * the logits and from dz to d[mu | logvar]; and the model-independent pieces around a step:
 * the flat state on the GPU, batch sources, the step and decode programs.
 *
 * Loss per batch = reconWeight * mean_b sum_f recon + beta * mean_b sum_d KL, in nats per
 * example. Legend: B batch, F values per example, Z latent size.
 */

import { Tensor, upload } from "../gpu/buffer.ts";
import type { Gpu } from "../gpu/device.ts";
import type { Dispatch, TensorView } from "../gpu/kernel.ts";
import { concatForward } from "../nn/concat.ts";
import { gatherBatch } from "../nn/gather.ts";
import { klBackward, klPriorBackward, klPriorForward } from "../nn/kl.ts";
import {
  latentBackward,
  latentBackwardKl,
  latentForward,
  latentForwardKl,
  type LatentShape,
} from "../nn/latent.ts";
import {
  reconForward,
  reconForwardBackward,
  type ReconKind,
  type ReconSmooth,
} from "../nn/recon.ts";
import type { ParamLayout } from "../nn/params.ts";
import { accumulate, finiteGuard } from "../nn/reduce.ts";
import { mulberry32 } from "../train/random.ts";
import type { Condition } from "./condition.ts";
import { denseStack, denseStackBackward, type Layer } from "./dense_stack.ts";

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
}

/** Add a learned prior's parameters (prior.i.*, prior.head.*) to a layout, if it has one. */
export function addPriorLayout(layout: ParamLayout, cfg: VaeLossConfig): void {
  if (!cfg.prior) return;
  let width = cfg.conditions ?? 0;
  if (!width) throw new Error("a learned prior (--prior learned) needs a --condition");
  cfg.prior.hidden.forEach((h, i) => {
    layout.add(`prior.${i}.weight`, [width, h]);
    layout.add(`prior.${i}.bias`, [h]);
    width = h;
  });
  layout.add("prior.head.weight", [width, 2 * cfg.z]);
  layout.add("prior.head.bias", [2 * cfg.z]);
}

/** The learned prior's network on a batch of conditions, and its output [mp | pv]. */
export interface PriorNet {
  /** Forward dispatches: c -> hidden -> prior. */
  dispatches: Dispatch[];
  /** Saved layers for the backward. */
  layers: Layer[];
  /** [B, 2Z]: the prior's mean then its log variance per row, as mulogvar. */
  prior: Tensor;
}

/** The learned prior's forward on conditions `c` [B, C]; undefined for N(0, I). */
export async function priorNetwork(
  gpu: Gpu,
  cfg: VaeLossConfig,
  state: ModelState,
  c: Tensor | undefined,
  mk: MakeTensor,
): Promise<PriorNet | undefined> {
  if (!cfg.prior) return undefined;
  if (!c) throw new Error("a learned prior needs the batch's conditions");
  const B = c.shape[0];
  const out = { name: "prior", param: "prior.head", width: 2 * cfg.z };
  const s = await denseStack(gpu, state, "prior", cfg.prior.hidden, c, c.shape[1], out, B, mk);
  return { dispatches: s.dispatches, layers: s.layers, prior: s.y };
}

/**
 * The learned prior on its own for `batch` conditions at a time (sampling): write `c`, run
 * `dispatches`, read `prior` [B, 2Z]; `tensors` are all it allocated (free them when done).
 */
export async function buildPriorProgram(
  gpu: Gpu,
  cfg: VaeLossConfig,
  state: ModelState,
  batch: number,
): Promise<{ c: Tensor; prior: Tensor; dispatches: Dispatch[]; tensors: Tensor[] }> {
  const t: Record<string, Tensor> = {};
  const mk = tensorMaker(gpu.device, t);
  const c = mk("prior.c", [batch, cfg.conditions ?? 0]);
  const net = await priorNetwork(gpu, cfg, state, c, mk);
  if (!net) throw new Error("this model has no learned prior");
  return { c, prior: net.prior, dispatches: net.dispatches, tensors: Object.values(t) };
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
 * [a | c] for a conditional model: the condition appended to every one of `positions`
 * positions of `a` (features `a.length / (B positions)` each); `a` itself when unconditional.
 */
export async function withCondition(
  gpu: Gpu,
  a: Tensor,
  c: Tensor | undefined,
  positions: number,
  name: string,
  mk: MakeTensor,
): Promise<{ dispatches: Dispatch[]; y: Tensor }> {
  if (!c) return { dispatches: [], y: a };
  const batch = c.shape[0], conditions = c.shape[1];
  const features = a.length / (batch * positions);
  const y = mk(name, [batch, positions * (features + conditions)]);
  const shape = { batch, positions, features, conditions };
  return { dispatches: [await concatForward(gpu, { y, a, c }, shape)], y };
}

/** The latent op's sizes for a batch of `batch` and noise stream `stream`. */
export function latentShape(cfg: VaeLossConfig, batch: number, stream: number): LatentShape {
  const [lo, hi] = cfg.logvarClamp;
  return { batch, z: cfg.z, logvarMin: lo, logvarMax: hi, seed: cfg.seed, stream };
}

/**
 * z = mu + exp(0.5 clamp(logvar)) eps from mulogvar [B, 2Z], eps drawn on the GPU, and each
 * example's KL (the closed form of kl.wgsl) into `kl` [B]: from N(0, I) in the same pass, or
 * with a learned prior [B, 2Z] (from {@linkcode priorNetwork}) from that, in a second pass.
 */
export async function sampleLatent(
  gpu: Gpu,
  latent: LatentShape,
  mulogvar: Tensor,
  counter: Tensor,
  mk: MakeTensor,
  prior?: Tensor,
): Promise<{ dispatches: Dispatch[]; z: Tensor; eps: Tensor; kl: Tensor }> {
  const z = mk("z", [latent.batch, latent.z]);
  const eps = mk("eps", [latent.batch, latent.z]);
  const kl = mk("kl", [latent.batch]);
  if (!prior) {
    return {
      dispatches: [await latentForwardKl(gpu, { z, eps, kl, mulogvar, counter }, latent)],
      z,
      eps,
      kl,
    };
  }
  const dispatches = [
    await latentForward(gpu, { z, eps, mulogvar, counter }, latent),
    await klPriorForward(gpu, { kl, mulogvar, prior }, latent),
  ];
  return { dispatches, z, eps, kl };
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

/**
 * dz -> d[mu | logvar] through the sample plus the KL's share (beta / B per example), in one
 * pass; with free bits, the sample's backward and then `klBackward`'s gated share; with a
 * learned prior (`prior`, and the `state` it writes gradients to), the sample's backward, the
 * KL's share to both the posterior and the prior, and the prior network's backward. The
 * returned `klBackward` is the dispatch whose `scale` a KL schedule changes.
 */
export async function latentGrad(
  gpu: Gpu,
  cfg: VaeLossConfig,
  t: { dz: Tensor; eps: Tensor; mulogvar: Tensor; prior?: PriorNet; state?: ModelState },
  latent: LatentShape,
  mk: MakeTensor,
): Promise<{ dispatches: Dispatch[]; klBackward: Dispatch; dmulogvar: Tensor }> {
  const dmulogvar = mk("dmulogvar", [latent.batch, 2 * latent.z]);
  if (t.prior) {
    if (cfg.freeBits) throw new Error("--free-bits does not work with --prior learned");
    const { prior, layers } = t.prior;
    const dprior = mk("dprior", [latent.batch, 2 * latent.z]);
    const sample = await latentBackward(
      gpu,
      { dmulogvar, dz: t.dz, eps: t.eps, mulogvar: t.mulogvar },
      latent,
    );
    const kl = await klPriorBackward(gpu, { dmulogvar, dprior, mulogvar: t.mulogvar, prior }, {
      ...latent,
      scale: cfg.beta / latent.batch,
    });
    const names = [...cfg.prior!.hidden.map((_, i) => `prior.${i}`), "prior.head"];
    const net = await denseStackBackward(
      gpu,
      t.state!,
      names,
      layers,
      dprior,
      undefined,
      latent.batch,
      mk,
    );
    return { dispatches: [sample, kl, ...net], klBackward: kl, dmulogvar };
  }
  if (!cfg.freeBits) {
    const fused = await latentBackwardKl(gpu, {
      dmulogvar,
      dz: t.dz,
      eps: t.eps,
      mulogvar: t.mulogvar,
    }, {
      ...latent,
      scale: cfg.beta / latent.batch,
    });
    return { dispatches: [fused], klBackward: fused, dmulogvar };
  }
  const sample = await latentBackward(
    gpu,
    { dmulogvar, dz: t.dz, eps: t.eps, mulogvar: t.mulogvar },
    latent,
  );
  const kl = await klBackward(gpu, { dmulogvar, mulogvar: t.mulogvar }, {
    ...latent,
    scale: cfg.beta / latent.batch,
    freeBits: cfg.freeBits ?? 0,
  });
  return { dispatches: [sample, kl], klBackward: kl, dmulogvar };
}

/**
 * Initial state: every weight (and its bias) uniform in +-1/sqrt(fan_in), fan_in being the
 * product of all but the weight's last axis (in features; KH KW Cin for a convolution) -
 * the usual default for linear and convolution layers - from a seeded generator, in layout
 * order. Batch norm starts as the identity: gamma 1, beta 0, running mean 0, running var 1.
 * Gaps between parameters are zero.
 */
export function initParams(layout: ParamLayout, seed: number): Float32Array {
  const p = new Float32Array(layout.size);
  const next = mulberry32(seed);
  for (const e of layout.entries) {
    const kind = e.name.slice(e.name.lastIndexOf(".") + 1);
    if (kind === "gamma" || kind === "running_var") p.fill(1, e.offset, e.offset + e.length);
    if (kind !== "weight" && kind !== "bias") continue;
    const w = kind === "weight" ? e : layout.get(e.name.replace(/bias$/, "weight"));
    const fanIn = w.shape.slice(0, -1).reduce((a, b) => a * b, 1);
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

  /**
   * What Adam updates: params, grads and both moments over the trained prefix of the flat
   * buffers (running statistics past it are left alone), and the step counter.
   */
  optimized(): {
    params: TensorView;
    grads: TensorView;
    m: TensorView;
    v: TensorView;
    counter: Tensor;
  } {
    const n = this.layout.trainableSize;
    const view = (tensor: Tensor) => ({ tensor, offset: 0, length: n });
    return {
      params: view(this.params),
      grads: view(this.grads),
      m: view(this.m),
      v: view(this.v),
      counter: this.counter,
    };
  }

  /** Free the GPU buffers. */
  destroy(): void {
    for (const t of [this.params, this.grads, this.m, this.v, this.counter]) t.destroy();
  }
}

/** Where a batch comes from: a dataset on the GPU and a (shuffled) index. */
export interface BatchSource {
  /** Dataset values, N x F: u8 (images) or f32 (streamline coordinates). */
  data: Tensor;
  /** Condition values, N x C f32, for a conditional model. */
  cond?: Tensor;
  /** Example order, u32 [N]. */
  index: Tensor;
  /** Pixel scale: x = byte * scale + shift. */
  scale: number;
  /** Pixel shift: x = byte * scale + shift. */
  shift: number;
}

/**
 * Upload a split once, with an example order, as a batch source: u8 images are scaled to
 * [0, 1], f32 values (streamlines) are taken as they are; `cond` (N x C) for a conditional
 * model.
 */
export function uploadSource(
  device: GPUDevice,
  images: Uint8Array | Float32Array,
  order: Uint32Array,
  label: string,
  cond?: Float32Array,
): BatchSource {
  const bytes = images instanceof Uint8Array;
  return {
    data: bytes
      ? upload(device, "u8", [images.length], images, `${label} images`)
      : upload(device, "f32", [images.length], images, `${label} values`),
    cond: cond ? upload(device, "f32", [cond.length], cond, `${label} conditions`) : undefined,
    index: upload(device, "u32", [order.length], order, `${label} order`),
    scale: bytes ? 1 / 255 : 1,
    shift: 0,
  };
}

/** Free a batch source's buffers (data, conditions, order). */
export function destroySource(s: BatchSource): void {
  for (const t of [s.data, s.cond, s.index]) t?.destroy();
}

/** 0, 1, ..., n - 1: the order of an unshuffled split. */
export function identityOrder(n: number): Uint32Array {
  return Uint32Array.from({ length: n }, (_, i) => i);
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
