/**
 * Float64 reference of the whole conv VAE (src/vae/conv_vae.ts), composed of the per-op
 * references: forward in training mode (batch statistics, running statistics updated) or
 * evaluation mode, the loss, every parameter gradient, and Adam steps over the trained
 * parameters. Noise comes from the GPU's own generator (normals()), as in mlp_vae.ts.
 *
 * Legend: B batch, F = H W C values per image, Z latent size.
 */

import type { ParamLayout } from "../nn/params.ts";
import { type ConvVaeConfig, convVaeGeometry } from "../vae/conv_vae.ts";
import { leakyReluBackward, leakyReluForward, sigmoidForward } from "./activation.ts";
import { type AdamHyper, adamStep } from "./adam.ts";
import { batchNormBackward, batchNormForward, batchNormForwardEval } from "./batchnorm.ts";
import { conv2dBackward, conv2dForward } from "./conv2d.ts";
import type { Upsample1dShape } from "../nn/upsample1d.ts";
import { upsample1dBackward, upsample1dForward } from "./upsample1d.ts";
import { convTranspose2dBackward, convTranspose2dForward } from "./conv_transpose2d.ts";
import { appendCondition, concatBackward } from "./concat.ts";
import { denseBackward, denseForward } from "./dense.ts";
import { klBackward, klForward } from "./kl.ts";
import { latentBackward, latentForward, normals } from "./latent.ts";
import { priorBackward, priorForward, priorKl, type ReferencePrior } from "./prior.ts";
import type { ReferenceStep } from "./mlp_vae.ts";
import { bceBackward, bceForward, mseBackward, mseForward } from "./recon.ts";

/** The 2x upsampling before a "linear" decoder layer of shape `s` (its width the upsampled one). */
function upsampleShape(s: { height: number; width: number; inChannels: number }, batch: number) {
  return { rows: batch * s.height, width: s.width / 2, channels: s.inChannels };
}

/** A conv block's saved tensors: its input, conv output, normalized output, channels. */
interface Block {
  input: Float64Array;
  pre: Float64Array;
  normed: Float64Array;
  rows: number;
  channels: number;
  bn: string | null;
  activated: boolean;
  /** A "linear" decoder layer's upsampling of its input (`input` is the upsampled map). */
  up?: Upsample1dShape;
}

/** The forward's outputs and what the backward needs. */
export interface ConvReferenceForward {
  /** [B, 2Z]. */
  mulogvar: Float64Array;
  /** [B, F] logits (means for mse). */
  logits: Float64Array;
  /** Per-example losses [B]. */
  recon: Float64Array;
  kl: Float64Array;
  /** Parameters with the running statistics a training forward leaves (a copy). */
  params: Float64Array;
  enc: Block[];
  dec: Block[];
  features: Float64Array;
  z: Float64Array;
  /** The decoder's input: z, or [z | c] for a conditional model. */
  zc: Float64Array;
  /** The learned prior's forward, for a model with one. */
  prior?: ReferencePrior;
}

type View = ((name: string) => Float64Array) & { has(name: string): boolean };

function viewer(flat: Float64Array, layout: ParamLayout): View {
  return Object.assign((n: string) => layout.slice(flat, n), { has: (n: string) => layout.has(n) });
}

/** A layer's bias; one the layout dropped (a conv followed by batch norm) is zeros. */
function bias(P: View, prefix: string, channels: number): Float64Array {
  return P.has(`${prefix}.bias`) ? P(`${prefix}.bias`) : new Float64Array(channels);
}

/** conv output -> [BatchNorm] -> LeakyReLU; a training BN writes its running stats via P. */
function block(
  cfg: ConvVaeConfig,
  P: View,
  train: boolean,
  input: Float64Array,
  pre: Float64Array,
  channels: number,
  bn: string | null,
): { b: Block; h: Float64Array } {
  const rows = pre.length / channels;
  let normed = pre;
  if (bn) {
    const args = [P(`${bn}.gamma`), P(`${bn}.beta`), P(`${bn}.running_mean`)] as const;
    if (train) {
      const r = batchNormForward(pre, ...args, P(`${bn}.running_var`), rows, channels);
      P(`${bn}.running_mean`).set(r.runningMean);
      P(`${bn}.running_var`).set(r.runningVar);
      normed = r.y;
    } else {
      normed = batchNormForwardEval(pre, ...args, P(`${bn}.running_var`), rows, channels);
    }
  }
  const b: Block = { input, pre, normed, rows, channels, bn, activated: true };
  return { b, h: leakyReluForward(normed, cfg.leak) };
}

/** The decoder from z [B, Z] to the logits [B, F], keeping each block for the backward. */
function decode(
  cfg: ConvVaeConfig,
  P: View,
  train: boolean,
  zc: Float64Array,
  B: number,
): { dec: Block[]; logits: Float64Array } {
  const g = convVaeGeometry(cfg);
  let h = denseForward(zc, P("decoder.dense.weight"), P("decoder.dense.bias"), {
    batch: B,
    inFeatures: cfg.z + (cfg.conditions ?? 0),
    outFeatures: g.map[0] * g.map[1] * g.map[2],
  });
  const dec: Block[] = [];
  g.decoder.forEach((s0, j) => {
    const s = { ...s0, batch: B };
    const w = P(`decoder.convt.${j}.weight`);
    const up = g.upsample[j] ? upsampleShape(s, B) : undefined;
    if (up) h = upsample1dForward(h, up);
    const pre = convTranspose2dForward(h, w, bias(P, `decoder.convt.${j}`, s.outChannels), s);
    if (j === g.decoder.length - 1) {
      const channels = s.outChannels;
      dec.push({ input: h, pre, normed: pre, rows: 0, channels, bn: null, activated: false, up });
      h = pre;
      return;
    }
    const bn = cfg.batchnorm ? `decoder.bn.${j}` : null;
    const r = block(cfg, P, train, h, pre, s.outChannels, bn);
    dec.push({ ...r.b, up });
    h = r.h;
  });
  return { dec, logits: h };
}

/** The decoder alone in evaluation mode: means [B, F] (sigmoid of the logits for bce). */
export function convVaeDecode(
  cfg: ConvVaeConfig,
  layout: ParamLayout,
  params: Float64Array,
  z: Float64Array,
  batch: number,
  c?: Float64Array,
): Float64Array {
  const zc = appendCondition(z, c, batch, 1, cfg.conditions ?? 0);
  const { logits } = decode(cfg, viewer(params, layout), false, zc, batch);
  return cfg.recon === "bce" ? sigmoidForward(logits) : logits;
}

/**
 * The conv VAE's forward on x [B, F] with noise eps [B, Z]; `train` picks batch statistics.
 * A conditional model's `c` [B, C] is appended as extra input channels and to z.
 */
export function convVaeForward(
  cfg: ConvVaeConfig,
  layout: ParamLayout,
  params: Float64Array,
  x: Float64Array,
  batch: number,
  eps: Float64Array,
  train: boolean,
  c?: Float64Array,
): ConvReferenceForward {
  const g = convVaeGeometry(cfg);
  const B = batch, Z = cfg.z, C = cfg.conditions ?? 0;
  const [lo, hi] = cfg.logvarClamp;
  const out = Float64Array.from(params);
  const P = viewer(out, layout);
  const enc: Block[] = [];
  let h = appendCondition(x, c, B, cfg.height * cfg.width, C);
  g.encoder.forEach((s0, i) => {
    const s = { ...s0, batch: B };
    const w = P(`encoder.conv.${i}.weight`);
    const pre = conv2dForward(h, w, bias(P, `encoder.conv.${i}`, s.outChannels), s);
    const bn = cfg.batchnorm ? `encoder.bn.${i}` : null;
    const r = block(cfg, P, train, h, pre, s.outChannels, bn);
    enc.push(r.b);
    h = r.h;
  });
  const flat = g.map[0] * g.map[1] * g.map[2];
  const features = h;
  const head = { batch: B, inFeatures: flat, outFeatures: 2 * Z };
  const mulogvar = denseForward(h, P("encoder.head.weight"), P("encoder.head.bias"), head);
  const z = latentForward(mulogvar, eps, B, Z, lo, hi);
  const zc = appendCondition(z, c, B, 1, C);
  const { dec, logits } = decode(cfg, P, train, zc, B);
  const F = cfg.height * cfg.width * cfg.channels;
  const recon = cfg.recon === "bce"
    ? bceForward(logits, x, F)
    : mseForward(logits, x, F, cfg.reconSmooth);
  const prior = cfg.prior ? priorForward(cfg, layout, params, c!, B) : undefined;
  const kl = prior ? priorKl(cfg, mulogvar, prior, B) : klForward(mulogvar, B, Z, lo, hi);
  return { mulogvar, logits, recon, kl, params: out, enc, dec, features, z, zc, prior };
}

/**
 * Loss and gradient of a training step (batch statistics) at `params`; `params` in the result
 * carries the updated running statistics.
 */
export function convVaeStep(
  cfg: ConvVaeConfig,
  layout: ParamLayout,
  params: Float64Array,
  x: Float64Array,
  batch: number,
  eps: Float64Array,
  c?: Float64Array,
): ReferenceStep & { params: Float64Array } {
  const g = convVaeGeometry(cfg);
  const B = batch, Z = cfg.z, C = cfg.conditions ?? 0;
  const [lo, hi] = cfg.logvarClamp;
  const f = convVaeForward(cfg, layout, params, x, batch, eps, true, c);
  const P = (n: string) => layout.slice(params, n);
  const grads = new Float64Array(params.length);
  const G = (n: string) => layout.slice(grads, n);
  const blockGrad = (b: Block, d: Float64Array) => {
    if (!b.activated) return d;
    const dn = leakyReluBackward(d, b.normed, cfg.leak);
    if (!b.bn) return dn;
    const r = batchNormBackward(dn, b.pre, P(`${b.bn}.gamma`), b.rows, b.channels);
    G(`${b.bn}.gamma`).set(r.dgamma);
    G(`${b.bn}.beta`).set(r.dbeta);
    return r.dx;
  };
  const rs = cfg.reconWeight / B;
  let d = cfg.recon === "bce"
    ? bceBackward(f.logits, x, rs)
    : mseBackward(f.logits, x, rs, x.length / B, cfg.reconSmooth);
  for (let j = f.dec.length - 1; j >= 0; j--) {
    const b = f.dec[j];
    const dpre = blockGrad(b, d);
    const name = `decoder.convt.${j}`;
    const r = convTranspose2dBackward(dpre, b.input, P(`${name}.weight`), {
      ...g.decoder[j],
      batch: B,
    });
    G(`${name}.weight`).set(r.dw);
    if (layout.has(`${name}.bias`)) G(`${name}.bias`).set(r.db);
    d = b.up ? upsample1dBackward(r.dx, b.up) : r.dx;
  }
  const flat = g.map[0] * g.map[1] * g.map[2];
  let r = denseBackward(d, f.zc, P("decoder.dense.weight"), {
    batch: B,
    inFeatures: Z + C,
    outFeatures: flat,
  });
  G("decoder.dense.weight").set(r.dW);
  G("decoder.dense.bias").set(r.db);
  const dz = C
    ? concatBackward(r.dx, { batch: B, positions: 1, features: Z, conditions: C })
    : r.dx;
  const dmulogvar = latentBackward(dz, eps, f.mulogvar, B, Z, lo, hi);
  if (f.prior) priorBackward(cfg, layout, params, grads, f.mulogvar, dmulogvar, f.prior, B);
  else {
    const dkl = klBackward(f.mulogvar, B, Z, lo, hi, cfg.beta / B);
    for (let i = 0; i < dmulogvar.length; i++) dmulogvar[i] += dkl[i];
  }
  r = denseBackward(dmulogvar, f.features, P("encoder.head.weight"), {
    batch: B,
    inFeatures: flat,
    outFeatures: 2 * Z,
  });
  G("encoder.head.weight").set(r.dW);
  G("encoder.head.bias").set(r.db);
  d = r.dx;
  for (let i = f.enc.length - 1; i >= 0; i--) {
    const b = f.enc[i];
    const dpre = blockGrad(b, d);
    const c = conv2dBackward(dpre, b.input, P(`encoder.conv.${i}.weight`), {
      ...g.encoder[i],
      batch: B,
    });
    G(`encoder.conv.${i}.weight`).set(c.dw);
    if (layout.has(`encoder.conv.${i}.bias`)) G(`encoder.conv.${i}.bias`).set(c.db);
    d = c.dx;
  }
  const recon = f.recon.reduce((a, b) => a + b, 0) / B;
  const kl = f.kl.reduce((a, b) => a + b, 0) / B;
  return {
    recon,
    kl,
    loss: cfg.reconWeight * recon + cfg.beta * kl,
    grads,
    params: f.params,
  };
}

/**
 * `steps` training steps on the same batch (noise as the GPU draws it), Adam over the
 * trained prefix of the layout; `params` is updated in place (running statistics included).
 */
export function convVaeTrain(
  cfg: ConvVaeConfig,
  layout: ParamLayout,
  params: Float64Array,
  x: Float64Array,
  batch: number,
  steps: number,
  adam: AdamHyper,
  c?: Float64Array,
): ReferenceStep[] {
  const n = layout.trainableSize;
  const m = new Float64Array(n);
  const v = new Float64Array(n);
  const out: ReferenceStep[] = [];
  for (let s = 0; s < steps; s++) {
    const eps = normals(cfg.seed, 0, s, batch * cfg.z);
    const r = convVaeStep(cfg, layout, params, x, batch, eps, c);
    out.push(r);
    params.set(r.params);
    adamStep(params.subarray(0, n), m, v, r.grads.subarray(0, n), s + 1, adam);
  }
  return out;
}
