/**
 * Reconstruction losses, per example and summed over features (nats per example):
 * `bce` for a Bernoulli decoder (logits against targets in [0, 1], stable form) and `mse`
 * for a Gaussian one (squared error of the decoder's output). Forward writes one loss per
 * example; backward overwrites the gradient with respect to the decoder's output.
 *
 * B batch, F features (pixels per example).
 */

import type { Tensor } from "../gpu/buffer.ts";
import type { Gpu } from "../gpu/device.ts";
import { type Dispatch, expectLength, grid1d } from "../gpu/kernel.ts";

/** Decoder likelihood: Bernoulli from logits (`bce`) or squared error (`mse`). */
export type ReconKind = "bce" | "mse";

/** Sizes of a reconstruction loss: `batch` examples of `features` values each. */
export interface ReconShape {
  /** B */
  batch: number;
  /** F */
  features: number;
}

/** Invocations per workgroup, WG in shaders/recon.wgsl. */
const WG = 64;

function check(where: string, kind: ReconKind, s: ReconShape): number {
  if (kind !== "bce" && kind !== "mse") throw new Error(`${where}: unknown loss kind '${kind}'`);
  for (const [name, v] of [["batch", s.batch], ["features", s.features]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${where}: ${name} must be >= 1, is ${v}`);
  }
  return s.batch * s.features;
}

/**
 * loss[b] = sum over f of the per-feature loss of logits[b, f] against x[b, f]:
 * softplus(l) - l * x for `bce`, (l - x)^2 for `mse`.
 * Shapes: loss [B], logits [B, F], x [B, F]. One workgroup per example, deterministic sum.
 */
export async function reconForward(
  gpu: Gpu,
  kind: ReconKind,
  t: { loss: Tensor; logits: Tensor; x: Tensor },
  s: ReconShape,
): Promise<Dispatch> {
  const where = `recon.${kind}_forward`;
  const n = check(where, kind, s);
  expectLength(where, "loss", t.loss, s.batch);
  expectLength(where, "logits", t.logits, n);
  expectLength(where, "x", t.x, n);
  const k = await gpu.kernel("recon");
  const d = await k.dispatch(
    `${kind}_forward`,
    {
      loss: t.loss,
      logits: t.logits,
      x: t.x,
      dims: { batch: s.batch, features: s.features, scale: 1 },
    },
    grid1d(s.batch, 1),
    { label: `recon_${kind}_forward` },
  );
  d.flops = (kind === "bce" ? 25 : 3) * n;
  d.bytes = 8 * n + 4 * s.batch;
  return d;
}

/**
 * dlogits = scale * dloss[b]/dlogits[b, f] (overwritten): scale * (sigmoid(l) - x) for
 * `bce`, scale * 2 * (l - x) for `mse`. `scale` is recon_weight / B in training; change it
 * later with `dispatch.update("dims", { scale })`.
 * Shapes: dlogits [B, F], logits [B, F], x [B, F].
 */
export async function reconBackward(
  gpu: Gpu,
  kind: ReconKind,
  t: { dlogits: Tensor; logits: Tensor; x: Tensor },
  s: ReconShape & { scale: number },
): Promise<Dispatch> {
  const where = `recon.${kind}_backward`;
  const n = check(where, kind, s);
  if (!Number.isFinite(s.scale)) throw new Error(`${where}: scale must be finite, is ${s.scale}`);
  expectLength(where, "dlogits", t.dlogits, n);
  expectLength(where, "logits", t.logits, n);
  expectLength(where, "x", t.x, n);
  const k = await gpu.kernel("recon");
  const d = await k.dispatch(
    `${kind}_backward`,
    {
      dlogits: t.dlogits,
      logits: t.logits,
      x: t.x,
      dims: { batch: s.batch, features: s.features, scale: s.scale },
    },
    grid1d(n, WG),
    { label: `recon_${kind}_backward` },
  );
  d.flops = (kind === "bce" ? 20 : 3) * n;
  d.bytes = 12 * n;
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
  const where = `recon.${kind}_forward_backward`;
  const n = check(where, kind, s);
  if (!Number.isFinite(s.scale)) throw new Error(`${where}: scale must be finite, is ${s.scale}`);
  expectLength(where, "loss", t.loss, s.batch);
  expectLength(where, "dlogits", t.dlogits, n);
  expectLength(where, "logits", t.logits, n);
  expectLength(where, "x", t.x, n);
  const k = await gpu.kernel("recon");
  const d = await k.dispatch(
    `${kind}_forward_backward`,
    {
      loss: t.loss,
      dlogits: t.dlogits,
      logits: t.logits,
      x: t.x,
      dims: { batch: s.batch, features: s.features, scale: s.scale },
    },
    grid1d(s.batch, 1),
    { label: `recon_${kind}_forward_backward` },
  );
  d.flops = (kind === "bce" ? 35 : 5) * n;
  d.bytes = 12 * n + 4 * s.batch;
  return d;
}
