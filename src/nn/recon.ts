/**
 * Reconstruction losses, per example and summed over features (nats per example):
 * `bce` for a Bernoulli decoder (logits against targets in [0, 1], stable form) and `mse`
 * for a Gaussian one (squared error of the decoder's output). Forward writes one loss per
 * example; backward overwrites the gradient with respect to the decoder's output.
 *
 * `mse` of curves may add `smooth` * sum (e_f - e_{f-s})^2, e = output - x, s = `stride`
 * values per point: a Gaussian whose errors are correlated along the curve, so jitter from
 * one point to the next costs more than a smooth error of the same size (shaders/recon.wgsl).
 *
 * B batch, F features (pixels per example).
 */

import type { Tensor } from "../gpu/buffer.ts";
import type { Gpu } from "../gpu/device.ts";
import { type Dispatch, expectLength, expectSizes, grid1d } from "../gpu/kernel.ts";

/** Decoder likelihood: Bernoulli from logits (`bce`) or squared error (`mse`). */
export type ReconKind = "bce" | "mse";

/** The smoothness term of `mse` of curves: weight * sum_f (e_f - e_{f-stride})^2. */
export interface ReconSmooth {
  /** Weight of the squared differences of consecutive points' errors, >= 0. */
  weight: number;
  /** Values per point, s, 1 <= s < F (3 for [N, 3] curves). */
  stride: number;
}

/** Sizes of a reconstruction loss: `batch` examples of `features` values each. */
export interface ReconShape {
  /** B */
  batch: number;
  /** F */
  features: number;
  /** mse only: the smoothness term; absent: plain mse. */
  smooth?: ReconSmooth;
}

/** Invocations per workgroup, WG in shaders/recon.wgsl. */
const WG = 64;

function check(where: string, kind: ReconKind, s: ReconShape): number {
  if (kind !== "bce" && kind !== "mse") throw new Error(`${where}: unknown loss kind '${kind}'`);
  expectSizes(where, { batch: s.batch, features: s.features });
  const { weight = 0, stride = 1 } = s.smooth ?? {};
  if (!(weight >= 0 && Number.isFinite(weight))) {
    throw new Error(`${where}: smooth must be finite and >= 0, is ${weight}`);
  }
  if (weight > 0 && kind !== "mse") throw new Error(`${where}: smooth is for mse only`);
  if (weight > 0 && !(Number.isInteger(stride) && stride >= 1 && stride < s.features)) {
    throw new Error(`${where}: stride must be an integer in [1, ${s.features}), is ${stride}`);
  }
  return s.batch * s.features;
}

/** The recon kernel's uniform for shape `s`. */
function dims(s: ReconShape, scale: number) {
  return {
    batch: s.batch,
    features: s.features,
    scale,
    stride: s.smooth?.stride ?? 1,
    smoothness: s.smooth?.weight ?? 0,
  };
}

/** The tensors each pass binds, in binding order: loss [B], the others [B, F]. */
const BINDINGS = {
  forward: ["loss", "logits", "x"],
  backward: ["dlogits", "logits", "x"],
  forward_backward: ["loss", "dlogits", "logits", "x"],
} as const;

/**
 * Checks the shape, `scale` (where given) and the pass's tensors, then builds the launch of
 * the entry `${kind}_${pass}`: one workgroup per example, or for the backward one invocation
 * per value.
 */
async function launch<P extends keyof typeof BINDINGS>(
  gpu: Gpu,
  kind: ReconKind,
  pass: P,
  t: Record<(typeof BINDINGS)[P][number], Tensor>,
  s: ReconShape,
  scale?: number,
): Promise<Dispatch> {
  const where = `recon.${kind}_${pass}`;
  const n = check(where, kind, s);
  if (scale !== undefined && !Number.isFinite(scale)) {
    throw new Error(`${where}: scale must be finite, is ${scale}`);
  }
  const bound: Record<string, Tensor> = {};
  const names: readonly (typeof BINDINGS)[P][number][] = BINDINGS[pass];
  for (const name of names) {
    expectLength(where, name, t[name], name === "loss" ? s.batch : n);
    bound[name] = t[name];
  }
  const k = await gpu.kernel("recon");
  return await k.dispatch(
    `${kind}_${pass}`,
    { ...bound, dims: dims(s, scale ?? 1) },
    pass === "backward" ? grid1d(n, WG) : grid1d(s.batch, 1),
    { label: `recon_${kind}_${pass}` },
  );
}

/** Extra flops and bytes per value of the smoothness term: 2 neighbours' errors. */
function smoothCost(s: ReconShape): { flops: number; bytes: number } {
  return s.smooth?.weight ? { flops: 8, bytes: 16 } : { flops: 0, bytes: 0 };
}

/**
 * loss[b] = sum over f of the per-feature loss of logits[b, f] against x[b, f]:
 * softplus(l) - l * x for `bce`, (l - x)^2 for `mse` (plus smooth * (e_f - e_{f-s})^2).
 * Shapes: loss [B], logits [B, F], x [B, F]. One workgroup per example, deterministic sum.
 */
export async function reconForward(
  gpu: Gpu,
  kind: ReconKind,
  t: { loss: Tensor; logits: Tensor; x: Tensor },
  s: ReconShape,
): Promise<Dispatch> {
  const n = s.batch * s.features;
  const d = await launch(gpu, kind, "forward", t, s);
  d.flops = ((kind === "bce" ? 25 : 3) + smoothCost(s).flops / 2) * n;
  d.bytes = (8 + smoothCost(s).bytes / 2) * n + 4 * s.batch;
  return d;
}

/**
 * dlogits = scale * dloss[b]/dlogits[b, f] (overwritten): scale * (sigmoid(l) - x) for
 * `bce`, scale * 2 * (e + smooth * D^T D e) for `mse`, e = l - x, D the difference of
 * consecutive points. `scale` is recon_weight / B in training; change it
 * later with `dispatch.update("dims", { scale })`.
 * Shapes: dlogits [B, F], logits [B, F], x [B, F].
 */
export async function reconBackward(
  gpu: Gpu,
  kind: ReconKind,
  t: { dlogits: Tensor; logits: Tensor; x: Tensor },
  s: ReconShape & { scale: number },
): Promise<Dispatch> {
  const n = s.batch * s.features;
  const d = await launch(gpu, kind, "backward", t, s, s.scale);
  d.flops = ((kind === "bce" ? 20 : 3) + smoothCost(s).flops) * n;
  d.bytes = (12 + smoothCost(s).bytes) * n;
  return d;
}

/**
 * {@linkcode reconForward} and {@linkcode reconBackward} in one dispatch: loss [B] and
 * dlogits [B, F] (overwritten, scaled by `scale`) from logits [B, F] and x [B, F], with the
 * same values bit for bit, reading logits and x once. One workgroup per example. Change
 * `scale` later with `dispatch.update("dims", { scale })`.
 */
export async function reconForwardBackward(
  gpu: Gpu,
  kind: ReconKind,
  t: { loss: Tensor; dlogits: Tensor; logits: Tensor; x: Tensor },
  s: ReconShape & { scale: number },
): Promise<Dispatch> {
  const n = s.batch * s.features;
  const d = await launch(gpu, kind, "forward_backward", t, s, s.scale);
  d.flops = ((kind === "bce" ? 35 : 5) + smoothCost(s).flops) * n;
  d.bytes = (12 + smoothCost(s).bytes) * n + 4 * s.batch;
  return d;
}
