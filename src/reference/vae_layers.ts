/**
 * Float64 reference of the layer level (src/vae/layer.ts) and of a whole VAE's training step,
 * composed of the per-op references: each layer kind's forward returns its output and its
 * backward (d(output) -> d(input), parameter gradients written by name), and a model is an
 * encoder, a decoder and a prior network, each a list of layers, run by one step: forward in
 * order, latent head, losses, backward in reverse, then Adam.
 *
 * The reference works out every shape itself (mlp_vae.ts, conv_vae.ts) and checks each
 * parameter it reads against the layout it is given: a shape, padding or bias that the GPU
 * side gets wrong cannot pass both. No geometry comes from src/vae or src/nn.
 *
 * Legend: B batch, F values per example, C condition values, Z latent size, H x W x Ci input
 * map, Co output channels, K kernel, s stride.
 */

import type { ParamLayout } from "../nn/params.ts";
import type { VaeLossConfig } from "../vae/common.ts";
import { leakyReluBackward, leakyReluForward, sigmoidForward } from "./activation.ts";
import { type AdamHyper, adamStep } from "./adam.ts";
import { batchNormBackward, batchNormForward, batchNormForwardEval } from "./batchnorm.ts";
import { concatBackward, concatForward } from "./concat.ts";
import { conv2dBackward, conv2dForward } from "./conv2d.ts";
import { convTranspose2dBackward, convTranspose2dForward } from "./conv_transpose2d.ts";
import { denseBackward, denseForward } from "./dense.ts";
import { klBackward, klForward, klPriorBackward, klPriorForward } from "./kl.ts";
import { latentBackward, latentForward, normals } from "./latent.ts";
import { bceBackward, bceForward, mseBackward, mseForward } from "./recon.ts";
import { upsample1dBackward, upsample1dForward } from "./upsample1d.ts";

/** What a reference layer reads: the batch, the mode, conditions, parameters by name. */
export interface RefContext {
  /** B. */
  batch: number;
  /** Batch statistics (and running statistics updated) or running statistics. */
  train: boolean;
  /** Conditions c [B, C] of a conditional model. */
  c?: Float64Array;
  /**
   * Parameter `name`, which must have `shape` in the layout (a view: writes to it, such as
   * running statistics, change the parameters).
   */
  param(name: string, shape: number[]): Float64Array;
  /** Gradient of parameter `name` (a view into the flat gradient). */
  grad(name: string): Float64Array;
}

/** A context over flat `params` and `grads` in `layout`. */
export function refContext(
  layout: ParamLayout,
  params: Float64Array,
  grads: Float64Array,
  batch: number,
  train: boolean,
  c?: Float64Array,
): RefContext {
  return {
    batch,
    train,
    c,
    param(name, shape) {
      if (!layout.has(name)) throw new Error(`reference: the layout has no ${name}`);
      const have = layout.get(name).shape;
      if (have.join() !== shape.join()) {
        throw new Error(`reference: ${name} is [${have}] in the layout, expected [${shape}]`);
      }
      return layout.slice(params, name);
    },
    grad: (name) => layout.slice(grads, name),
  };
}

/** One layer's forward on a batch: its output, and its backward. */
export interface RefForward {
  /** The output. */
  y: Float64Array;
  /** d(output) -> d(input), writing the layer's parameter gradients. */
  backward(dy: Float64Array): Float64Array;
}

/** A reference layer. */
export type RefLayer = (ctx: RefContext, x: Float64Array) => RefForward;

/** Run `layers` in order from `x`; the returned backward runs them in reverse. */
export function runLayers(ctx: RefContext, layers: RefLayer[], x: Float64Array): RefForward {
  const saved: RefForward[] = [];
  let y = x;
  for (const l of layers) {
    const f = l(ctx, y);
    saved.push(f);
    y = f.y;
  }
  return {
    y,
    backward(dy) {
      let d = dy;
      for (let i = saved.length - 1; i >= 0; i--) d = saved[i].backward(d);
      return d;
    },
  };
}

// ---------------------------------------------------------------------------------------
// Dense: y = act(x W + b), act none or ReLU.

/** A dense layer `name` (weight [K, N], bias [N]), with a ReLU after it when `relu`. */
export function refDense(name: string, K: number, N: number, relu = false): RefLayer {
  return (ctx, x) => {
    const B = ctx.batch, s = { batch: B, inFeatures: K, outFeatures: N };
    const W = ctx.param(`${name}.weight`, [K, N]);
    const pre = denseForward(x, W, ctx.param(`${name}.bias`, [N]), s);
    return {
      y: relu ? leakyReluForward(pre, 0) : pre,
      backward(dy) {
        const d = denseBackward(relu ? leakyReluBackward(dy, pre, 0) : dy, x, W, s);
        ctx.grad(`${name}.weight`).set(d.dW);
        ctx.grad(`${name}.bias`).set(d.db);
        return d.dx;
      },
    };
  };
}

/** Dense ReLU layers `${part}.${i}` of `widths` from K inputs, then `last` of N, linear. */
export function refDenseStack(part: string, K: number, widths: number[], last: string, N: number) {
  const ks = [K, ...widths];
  return [
    ...widths.map((n, i) => refDense(`${part}.${i}`, ks[i], n, true)),
    refDense(last, ks.at(-1)!, N),
  ];
}

// ---------------------------------------------------------------------------------------
// Condition concat: [a | c] at each of P positions.

/** [a | c] with `A` features of a at each of `P` positions; backward cuts d[a | c] to da. */
export function refConcat(P: number, A: number, C: number): RefLayer {
  return (ctx, a) => {
    const s = { batch: ctx.batch, positions: P, features: A, conditions: C };
    return { y: concatForward(a, ctx.c!, s), backward: (dy) => concatBackward(dy, s) };
  };
}

// ---------------------------------------------------------------------------------------
// Conv and transposed conv blocks: conv -> [BatchNorm] -> LeakyReLU, channels last.

/** A map's size: H x W x C. */
export interface RefMap {
  /** H. */
  height: number;
  /** W. */
  width: number;
  /** C. */
  channels: number;
}

/** A block's convolution (or transposed convolution): Co filters of [kh, kw], stride [sh, sw], same padding. */
export interface RefConv {
  /** Co. */
  filters: number;
  /** [KH, KW]. */
  kernel: [number, number];
  /** [sh, sw]. */
  stride: [number, number];
  /** A transposed convolution. */
  transposed?: boolean;
}

/** BatchNorm `bn` (or none) then LeakyReLU(leak) of `pre` [M, Co]; backward to d(pre). */
function normAct(ctx: RefContext, bn: string | null, leak: number, pre: Float64Array, Co: number) {
  const rows = pre.length / Co;
  let normed = pre;
  if (bn) {
    const gamma = ctx.param(`${bn}.gamma`, [Co]), beta = ctx.param(`${bn}.beta`, [Co]);
    const mean = ctx.param(`${bn}.running_mean`, [Co]);
    const variance = ctx.param(`${bn}.running_var`, [Co]);
    if (ctx.train) {
      const r = batchNormForward(pre, gamma, beta, mean, variance, rows, Co);
      mean.set(r.runningMean);
      variance.set(r.runningVar);
      normed = r.y;
    } else {
      normed = batchNormForwardEval(pre, gamma, beta, mean, variance, rows, Co);
    }
  }
  return {
    h: leakyReluForward(normed, leak),
    backward(dh: Float64Array): Float64Array {
      const dn = leakyReluBackward(dh, normed, leak);
      if (!bn) return dn;
      const r = batchNormBackward(dn, pre, ctx.param(`${bn}.gamma`, [Co]), rows, Co);
      ctx.grad(`${bn}.gamma`).set(r.dgamma);
      ctx.grad(`${bn}.beta`).set(r.dbeta);
      return r.dx;
    },
  };
}

/**
 * Conv2d `name` on an `input` map (same padding: out = ceil(in / s); weight [KH, KW, Ci, Co]),
 * or with `transposed` ConvTranspose2d (same padding: out = in * s; weight [KH, KW, Co, Ci]);
 * bias [Co] only without batch norm; then, when `activate`, BatchNorm `bn` (or none) and
 * LeakyReLU(leak) (the decoder's last layer gives its convolution's output as it is).
 */
export function refConvBlock(
  name: string,
  input: RefMap,
  conv: RefConv,
  bn: string | null,
  leak: number,
  activate = true,
): RefLayer {
  const { height: H, width: W, channels: Ci } = input, Co = conv.filters;
  const norm = activate ? bn : null;
  const [fwd, bwd] = conv.transposed
    ? [convTranspose2dForward, convTranspose2dBackward]
    : [conv2dForward, conv2dBackward];
  return (ctx, x) => {
    const s = { batch: ctx.batch, height: H, width: W, inChannels: Ci, outChannels: Co };
    const shape = { ...s, kernel: conv.kernel, stride: conv.stride, padding: "same" as const };
    const w = ctx.param(`${name}.weight`, [
      ...conv.kernel,
      ...conv.transposed ? [Co, Ci] : [Ci, Co],
    ]);
    const b = norm ? new Float64Array(Co) : ctx.param(`${name}.bias`, [Co]);
    const pre = fwd(x, w, b, shape);
    const act = activate ? normAct(ctx, norm, leak, pre, Co) : null;
    return {
      y: act ? act.h : pre,
      backward(dy) {
        const r = bwd(act ? act.backward(dy) : dy, x, w, shape);
        ctx.grad(`${name}.weight`).set(r.dw);
        if (!norm) ctx.grad(`${name}.bias`).set(r.db);
        return r.dx;
      },
    };
  };
}

/** Linear 2x upsampling of an `input` map along its width. */
export function refUpsample(input: RefMap): RefLayer {
  return (ctx, x) => {
    const s = { rows: ctx.batch * input.height, width: input.width, channels: input.channels };
    return { y: upsample1dForward(x, s), backward: (dy) => upsample1dBackward(dy, s) };
  };
}

// ---------------------------------------------------------------------------------------
// A whole model: encoder, learned prior, latent head, decoder, losses, and its backward.

/** A model as reference layers. */
export interface RefModel {
  /** F. */
  features: number;
  /** x -> [mu | logvar] [B, 2Z]. */
  encoder: RefLayer[];
  /** z -> logits [B, F]. */
  decoder: RefLayer[];
  /** c (a regression VAE: r^) -> [mp | pv] [B, 2Z]; empty for N(0, I). */
  prior: RefLayer[];
  /** x -> r^ [B, 1], a regression VAE's head; absent or empty. */
  regression?: RefLayer[];
}

/** Loss terms (batch means, nats per example) and the flat gradient of the loss. */
export interface ReferenceStep {
  /** Mean over the batch of the summed reconstruction loss. */
  recon: number;
  /** Mean over the batch of the summed KL. */
  kl: number;
  /** reconWeight * recon + beta * kl (+ regression weight * regression). */
  loss: number;
  /** A regression VAE's mean over the batch of (r^ - r)^2. */
  regression?: number;
  /** d loss / d params, in the flat layout (gaps zero). */
  grads: Float64Array;
}

/** Everything a forward computes, per example (rows of the batch). */
export interface ReferenceForward {
  /** Encoder output [B, 2Z]: mu then logvar per row. */
  mulogvar: Float64Array;
  /** Latent sample [B, Z]. */
  z: Float64Array;
  /** Decoder output [B, F]. */
  logits: Float64Array;
  /** Per-example reconstruction loss [B]. */
  recon: Float64Array;
  /** Per-example KL [B]. */
  kl: Float64Array;
  /** The learned prior's output [B, 2Z], for a model with one. */
  prior?: Float64Array;
  /** A regression VAE's prediction r^ [B] and per-example loss (r^ - r)^2 [B]. */
  regression?: { rhat: Float64Array; loss: Float64Array };
  /** Parameters as the forward leaves them (a training forward's running statistics). */
  params: Float64Array;
  /** The gradient of the loss (training only): runs the backward, returns the flat grads. */
  backward(): Float64Array;
}

/** A reference step's arguments after the config and model. */
export type RefStepArgs = [
  layout: ParamLayout,
  params: Float64Array,
  x: Float64Array,
  batch: number,
  eps: Float64Array,
  c?: Float64Array,
  /**
   * A regression VAE: what the prior reads in place of r^ (the prior reads r^ with its
   * gradient stopped, so a finite-difference check holds it fixed). Absent: r^ itself.
   */
  priorInput?: Float64Array,
];

/**
 * The forward of `model` on batch `x` [B, F] with noise `eps` [B, Z] (and conditions
 * `c` [B, C]); `train` picks batch statistics. `params` is copied, not changed.
 */
export function refForward(
  cfg: VaeLossConfig,
  model: RefModel,
  train: boolean,
  ...[layout, params, x, batch, eps, c, priorInput]: RefStepArgs
): ReferenceForward {
  const B = batch, Z = cfg.z, F = model.features;
  const [lo, hi] = cfg.logvarClamp;
  const out = Float64Array.from(params);
  const grads = new Float64Array(params.length);
  const ctx = refContext(layout, out, grads, B, train, c);
  const enc = runLayers(ctx, model.encoder, x);
  const mulogvar = enc.y;
  const reg = model.regression?.length ? runLayers(ctx, model.regression, x) : null;
  const prior = model.prior.length
    ? runLayers(ctx, model.prior, reg ? (priorInput ?? reg.y) : c!)
    : null;
  const regLoss = reg ? reg.y.map((v, b) => (v - c![b]) ** 2) : null;
  const z = latentForward(mulogvar, eps, B, Z, lo, hi);
  const kl = prior
    ? klPriorForward(mulogvar, prior.y, B, Z, lo, hi)
    : klForward(mulogvar, B, Z, lo, hi);
  const dec = runLayers(ctx, model.decoder, z);
  const logits = dec.y;
  const recon = cfg.recon === "bce"
    ? bceForward(logits, x, F)
    : mseForward(logits, x, F, cfg.reconSmooth);
  const backward = () => {
    const rs = cfg.reconWeight / B;
    const dlogits = cfg.recon === "bce"
      ? bceBackward(logits, x, rs)
      : mseBackward(logits, x, rs, F, cfg.reconSmooth);
    const dz = dec.backward(dlogits);
    // z = mu + exp(0.5 clamp(lv)) eps, then the KL's share beta / B per example.
    const dmulogvar = latentBackward(dz, eps, mulogvar, B, Z, lo, hi);
    const scale = cfg.beta / B;
    if (prior) {
      const g = klPriorBackward(mulogvar, prior.y, B, Z, lo, hi, scale);
      for (let i = 0; i < dmulogvar.length; i++) dmulogvar[i] += g.dmulogvar[i];
      prior.backward(g.dprior);
    } else {
      const g = klBackward(mulogvar, B, Z, lo, hi, scale, cfg.freeBits ?? 0);
      for (let i = 0; i < dmulogvar.length; i++) dmulogvar[i] += g[i];
    }
    enc.backward(dmulogvar);
    // loss += weight * mean_b (r^ - r)^2: dr^ = (weight / B) 2 (r^ - r); the prior's d(input)
    // does not reach r^ (stopped).
    if (reg) {
      const w = cfg.regression!.weight / B;
      reg.backward(reg.y.map((v, b) => w * 2 * (v - c![b])));
    }
    return grads;
  };
  const regression = reg ? { rhat: reg.y, loss: regLoss! } : undefined;
  return { mulogvar, z, logits, recon, kl, prior: prior?.y, regression, params: out, backward };
}

/**
 * Loss and gradient of a training step (batch statistics) at `params`; `params` in the
 * result carries the running statistics the step leaves.
 */
export function refStep(
  cfg: VaeLossConfig,
  model: RefModel,
  ...args: RefStepArgs
): ReferenceStep & { params: Float64Array } {
  const f = refForward(cfg, model, true, ...args);
  const grads = f.backward(), batch = args[3];
  const recon = f.recon.reduce((a, b) => a + b, 0) / batch;
  const kl = f.kl.reduce((a, b) => a + b, 0) / batch;
  const loss = cfg.reconWeight * recon + cfg.beta * kl;
  if (!f.regression) return { recon, kl, loss, grads, params: f.params };
  const regression = f.regression.loss.reduce((a, b) => a + b, 0) / batch;
  const total = loss + cfg.regression!.weight * regression;
  return { recon, kl, loss: total, regression, grads, params: f.params };
}

/** Reference training's arguments after the config and model. */
export type RefTrainArgs = [
  layout: ParamLayout,
  params: Float64Array,
  x: Float64Array,
  batch: number,
  steps: number,
  adam: AdamHyper,
  c?: Float64Array,
];

/**
 * `steps` training steps on the same batch, step s drawing its noise as the GPU does
 * (normals(seed, 0, s, B Z, epsStd)), Adam over the trained prefix of the layout; `params` is updated
 * in place (running statistics included). Returns each step's loss terms, before its update.
 */
export function refTrain(
  cfg: VaeLossConfig,
  model: RefModel,
  ...[layout, params, x, batch, steps, adam, c]: RefTrainArgs
): ReferenceStep[] {
  const n = layout.trainableSize;
  const m = new Float64Array(n);
  const v = new Float64Array(n);
  const out: ReferenceStep[] = [];
  for (let s = 0; s < steps; s++) {
    const eps = normals(cfg.seed, 0, s, batch * cfg.z, cfg.epsStd ?? 1);
    const r = refStep(cfg, model, layout, params, x, batch, eps, c);
    out.push(r);
    params.set(r.params);
    adamStep(params.subarray(0, n), m, v, r.grads.subarray(0, n), s + 1, adam);
  }
  return out;
}

/** The reference decoder's arguments after the config and model: codes z [B, Z], (c [B, C]). */
export type RefDecodeArgs = [
  layout: ParamLayout,
  params: Float64Array,
  z: Float64Array,
  batch: number,
  c?: Float64Array,
];

/** The decoder alone in evaluation mode on z [B, Z] (and c): means [B, F]. */
export function refDecode(
  cfg: VaeLossConfig,
  model: RefModel,
  ...[layout, params, z, batch, c]: RefDecodeArgs
): Float64Array {
  const ctx = refContext(layout, params, new Float64Array(params.length), batch, false, c);
  const logits = runLayers(ctx, model.decoder, z).y;
  return cfg.recon === "bce" ? sigmoidForward(logits) : logits;
}
