/**
 * The learned conditional prior p(z | c) = N(mp(c), exp(pv(c))) (Sohn et al. 2015), in
 * place of N(0, I): a dense network c -> hidden (ReLU) -> [mp | pv], parameters
 * `prior.${i}.*` and `prior.head.*`, trained with the rest through the KL term (see
 * latent_head.ts), and run alone to sample codes at given conditions.
 *
 * Legend: B batch, C condition values, Z latent size.
 */

import type { Tensor } from "../gpu/buffer.ts";
import type { Gpu } from "../gpu/device.ts";
import type { Dispatch } from "../gpu/kernel.ts";
import { tensorMaker, type VaeLossConfig } from "./common.ts";
import { denseStack } from "./dense.ts";
import { forwardLayers, type Layer } from "./layer.ts";
import type { ModelState } from "./state.ts";

/** The prior network's layers (none for the standard normal prior); output tensor "prior". */
export function priorLayers(cfg: VaeLossConfig): Layer[] {
  if (!cfg.prior) return [];
  const C = cfg.conditions ?? 0;
  if (!C) throw new Error("a learned prior (--prior learned) needs a --condition");
  return denseStack("prior", C, cfg.prior.hidden, {
    name: "prior.head",
    outputs: 2 * cfg.z,
    out: "prior",
  });
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
  const layers = priorLayers(cfg);
  if (!layers.length) throw new Error("this model has no learned prior");
  const t: Record<string, Tensor> = {};
  const mk = tensorMaker(gpu.device, t);
  const c = mk("prior.c", [batch, cfg.conditions ?? 0]);
  const ctx = { gpu, state, batch, train: false, c, mk, tuning: {} };
  const net = await forwardLayers(ctx, layers, c);
  return { c, prior: net.y, dispatches: net.dispatches, tensors: Object.values(t) };
}
