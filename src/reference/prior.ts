/**
 * Float64 reference of the learned conditional prior p(z | c) = N(mp(c), exp(pv(c))) of
 * src/vae/common.ts: the network c -> hidden (ReLU) -> [mp | pv], its KL term against the
 * encoder's posterior, and its backward. Shared by the MLP and conv VAE references.
 *
 * Legend: B batch, C condition values, Z latent size.
 */

import type { ParamLayout } from "../nn/params.ts";
import type { VaeLossConfig } from "../vae/common.ts";
import { leakyReluBackward, leakyReluForward } from "./activation.ts";
import { denseBackward, denseForward } from "./dense.ts";
import { klPriorBackward, klPriorForward } from "./kl.ts";

/** The prior network's forward: its output [B, 2Z] and what the backward needs. */
export interface ReferencePrior {
  /** [B, 2Z]: mp then pv per row. */
  prior: Float64Array;
  /** Per layer: input, pre-activation, widths. */
  layers: { input: Float64Array; pre: Float64Array; k: number; n: number }[];
}

function names(cfg: VaeLossConfig): string[] {
  return [...cfg.prior!.hidden.map((_, i) => `prior.${i}`), "prior.head"];
}

/** The prior network on conditions c [B, C]. */
export function priorForward(
  cfg: VaeLossConfig,
  layout: ParamLayout,
  params: Float64Array,
  c: Float64Array,
  batch: number,
): ReferencePrior {
  const widths = [...cfg.prior!.hidden, 2 * cfg.z];
  const layers: ReferencePrior["layers"] = [];
  let h = c, k = cfg.conditions!;
  names(cfg).forEach((name, i) => {
    const n = widths[i];
    const shape = { batch, inFeatures: k, outFeatures: n };
    const pre = denseForward(
      h,
      layout.slice(params, `${name}.weight`),
      layout.slice(params, `${name}.bias`),
      shape,
    );
    layers.push({ input: h, pre, k, n });
    h = i < widths.length - 1 ? leakyReluForward(pre, 0) : pre;
    k = n;
  });
  return { prior: h, layers };
}

/** Per-example KL [B] of the posterior mulogvar [B, 2Z] from the prior's output. */
export function priorKl(
  cfg: VaeLossConfig,
  mulogvar: Float64Array,
  p: ReferencePrior,
  batch: number,
): Float64Array {
  const [lo, hi] = cfg.logvarClamp;
  return klPriorForward(mulogvar, p.prior, batch, cfg.z, lo, hi);
}

/**
 * Backward of beta / B * sum_b kl[b]: ADDS the posterior's share to dmulogvar and writes the
 * prior network's parameter gradients into the flat `grads`.
 */
export function priorBackward(
  cfg: VaeLossConfig,
  layout: ParamLayout,
  params: Float64Array,
  grads: Float64Array,
  mulogvar: Float64Array,
  dmulogvar: Float64Array,
  p: ReferencePrior,
  batch: number,
): void {
  const [lo, hi] = cfg.logvarClamp;
  const g = klPriorBackward(mulogvar, p.prior, batch, cfg.z, lo, hi, cfg.beta / batch);
  for (let i = 0; i < dmulogvar.length; i++) dmulogvar[i] += g.dmulogvar[i];
  let dy = g.dprior;
  const all = names(cfg);
  for (let i = p.layers.length - 1; i >= 0; i--) {
    const l = p.layers[i];
    const shape = { batch, inFeatures: l.k, outFeatures: l.n };
    const d = denseBackward(dy, l.input, layout.slice(params, `${all[i]}.weight`), shape);
    layout.slice(grads, `${all[i]}.weight`).set(d.dW);
    layout.slice(grads, `${all[i]}.bias`).set(d.db);
    if (i > 0) dy = leakyReluBackward(d.dx, p.layers[i - 1].pre, 0);
  }
}
