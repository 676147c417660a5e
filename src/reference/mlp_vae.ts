/**
 * Float64 reference of the whole MLP VAE (src/vae/mlp_vae.ts), composed of the per-op
 * references: forward, loss, every parameter gradient, and Adam steps. It draws the
 * reparameterization noise with the GPU's own generator (normals()), so a GPU run and this
 * reference see the same eps and can be compared step by step.
 *
 * Legend: B batch, F input features, Z latent size.
 */

import type { MlpVaeConfig } from "../vae/mlp_vae.ts";
import type { ParamLayout } from "../nn/params.ts";
import { leakyReluBackward, leakyReluForward } from "./activation.ts";
import { type AdamHyper, adamStep } from "./adam.ts";
import { appendCondition, concatBackward } from "./concat.ts";
import { denseBackward, denseForward } from "./dense.ts";
import { klBackward, klForward } from "./kl.ts";
import { latentBackward, latentForward, normals } from "./latent.ts";
import { priorBackward, priorForward, priorKl, type ReferencePrior } from "./prior.ts";
import { bceBackward, bceForward, mseBackward, mseForward } from "./recon.ts";

/** Loss terms (batch means, nats per example) and the flat gradient of the loss. */
export interface ReferenceStep {
  /** Mean over the batch of the summed reconstruction loss. */
  recon: number;
  /** Mean over the batch of the summed KL. */
  kl: number;
  /** reconWeight * recon + beta * kl. */
  loss: number;
  /** d loss / d params, in the flat layout (gaps zero). */
  grads: Float64Array;
}

function sh(batch: number, inFeatures: number, outFeatures: number) {
  return { batch, inFeatures, outFeatures };
}

/** One dense layer's input and pre-activation, as the backward needs them. */
interface Layer {
  input: Float64Array;
  pre: Float64Array;
  k: number;
  n: number;
}

/** Everything the forward computes, per example (rows of the batch). */
export interface ReferenceForward {
  /** Encoder head output [B, 2Z]: mu then logvar per row. */
  mulogvar: Float64Array;
  /** Latent sample [B, Z]. */
  z: Float64Array;
  /** Decoder output [B, F]. */
  logits: Float64Array;
  /** Per-example reconstruction loss [B] and KL [B]. */
  recon: Float64Array;
  kl: Float64Array;
  /** Saved for the backward: encoder and decoder layers, head input, last decoder activation. */
  enc: Layer[];
  dec: Layer[];
  headIn: Float64Array;
  headK: number;
  last: Float64Array;
  lastK: number;
  /** The learned prior's forward, for a model with one. */
  prior?: ReferencePrior;
}

/**
 * The forward of the MLP VAE on batch `x` [B, F] with noise `eps` [B, Z]; a conditional
 * model's conditions `c` [B, C] are appended to x and to z.
 */
export function mlpVaeForward(
  cfg: MlpVaeConfig,
  layout: ParamLayout,
  params: Float64Array,
  x: Float64Array,
  batch: number,
  eps: Float64Array,
  c?: Float64Array,
): ReferenceForward {
  const B = batch, F = cfg.inputs, Z = cfg.z, C = cfg.conditions ?? 0;
  const [lo, hi] = cfg.logvarClamp;
  const P = (name: string) => layout.slice(params, name);
  const enc: Layer[] = [];
  let h = appendCondition(x, c, B, 1, C), width = F + C;
  cfg.hidden.forEach((H, i) => {
    const pre = denseForward(h, P(`encoder.${i}.weight`), P(`encoder.${i}.bias`), sh(B, width, H));
    enc.push({ input: h, pre, k: width, n: H });
    h = leakyReluForward(pre, 0);
    width = H;
  });
  const headIn = h, headK = width;
  const head = sh(B, width, 2 * Z);
  const mulogvar = denseForward(h, P("encoder.head.weight"), P("encoder.head.bias"), head);
  const z = latentForward(mulogvar, eps, B, Z, lo, hi);
  const dec: Layer[] = [];
  let g = appendCondition(z, c, B, 1, C);
  width = Z + C;
  [...cfg.hidden].reverse().forEach((H, j) => {
    const pre = denseForward(g, P(`decoder.${j}.weight`), P(`decoder.${j}.bias`), sh(B, width, H));
    dec.push({ input: g, pre, k: width, n: H });
    g = leakyReluForward(pre, 0);
    width = H;
  });
  const logits = denseForward(g, P("decoder.out.weight"), P("decoder.out.bias"), sh(B, width, F));
  const recon = cfg.recon === "bce"
    ? bceForward(logits, x, F)
    : mseForward(logits, x, F, cfg.reconSmooth);
  const prior = cfg.prior ? priorForward(cfg, layout, params, c!, B) : undefined;
  const kl = prior ? priorKl(cfg, mulogvar, prior, B) : klForward(mulogvar, B, Z, lo, hi);
  return { mulogvar, z, logits, recon, kl, enc, dec, headIn, headK, last: g, lastK: width, prior };
}

/**
 * Loss and gradient of the MLP VAE at `params` for batch `x` [B, F] with noise `eps` [B, Z]
 * (and conditions `c` [B, C] for a conditional model).
 */
export function mlpVaeStep(
  cfg: MlpVaeConfig,
  layout: ParamLayout,
  params: Float64Array,
  x: Float64Array,
  batch: number,
  eps: Float64Array,
  c?: Float64Array,
): ReferenceStep {
  const B = batch, F = cfg.inputs, Z = cfg.z, C = cfg.conditions ?? 0;
  const [lo, hi] = cfg.logvarClamp;
  const P = (name: string) => layout.slice(params, name);
  const grads = new Float64Array(params.length);
  const G = (name: string) => layout.slice(grads, name);
  const f = mlpVaeForward(cfg, layout, params, x, batch, eps, c);
  const { mulogvar, logits, enc, dec, headIn, headK } = f;
  const g = f.last, width = f.lastK;
  const recon = f.recon.reduce((a, b) => a + b, 0) / B;
  const kl = f.kl.reduce((a, b) => a + b, 0) / B;

  // Backward.
  const rs = cfg.reconWeight / B;
  const dlogits = cfg.recon === "bce"
    ? bceBackward(logits, x, rs)
    : mseBackward(logits, x, rs, F, cfg.reconSmooth);
  let d = denseBackward(dlogits, g, P("decoder.out.weight"), sh(B, width, F));
  G("decoder.out.weight").set(d.dW);
  G("decoder.out.bias").set(d.db);
  for (let j = dec.length - 1; j >= 0; j--) {
    const l = dec[j];
    const dpre = leakyReluBackward(d.dx, l.pre, 0);
    d = denseBackward(dpre, l.input, P(`decoder.${j}.weight`), sh(B, l.k, l.n));
    G(`decoder.${j}.weight`).set(d.dW);
    G(`decoder.${j}.bias`).set(d.db);
  }
  const dz = C
    ? concatBackward(d.dx, { batch: B, positions: 1, features: Z, conditions: C })
    : d.dx;
  const dmulogvar = latentBackward(dz, eps, mulogvar, B, Z, lo, hi);
  if (f.prior) priorBackward(cfg, layout, params, grads, mulogvar, dmulogvar, f.prior, B);
  else {
    const dkl = klBackward(mulogvar, B, Z, lo, hi, cfg.beta / B);
    for (let i = 0; i < dmulogvar.length; i++) dmulogvar[i] += dkl[i];
  }
  d = denseBackward(dmulogvar, headIn, P("encoder.head.weight"), sh(B, headK, 2 * Z));
  G("encoder.head.weight").set(d.dW);
  G("encoder.head.bias").set(d.db);
  for (let i = enc.length - 1; i >= 0; i--) {
    const l = enc[i];
    const dpre = leakyReluBackward(d.dx, l.pre, 0);
    d = denseBackward(dpre, l.input, P(`encoder.${i}.weight`), sh(B, l.k, l.n));
    G(`encoder.${i}.weight`).set(d.dW);
    G(`encoder.${i}.bias`).set(d.db);
  }
  return { recon, kl, loss: cfg.reconWeight * recon + cfg.beta * kl, grads };
}

/**
 * `steps` Adam steps on the same batch (and conditions `c`), step s drawing its noise as the GPU does
 * (normals(seed, 0, s, B * Z)). Returns each step's loss terms, computed before its update.
 */
export function mlpVaeTrain(
  cfg: MlpVaeConfig,
  layout: ParamLayout,
  params: Float64Array,
  x: Float64Array,
  batch: number,
  steps: number,
  adam: AdamHyper,
  c?: Float64Array,
): ReferenceStep[] {
  const m = new Float64Array(params.length);
  const v = new Float64Array(params.length);
  const out: ReferenceStep[] = [];
  for (let s = 0; s < steps; s++) {
    const eps = normals(cfg.seed, 0, s, batch * cfg.z);
    const r = mlpVaeStep(cfg, layout, params, x, batch, eps, c);
    out.push(r);
    adamStep(params, m, v, r.grads, s + 1, adam);
  }
  return out;
}
