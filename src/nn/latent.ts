/**
 * Gaussian latent: z = mu + exp(0.5 * clamp(logvar, min, max)) * eps, eps ~ N(0, I) drawn on
 * the GPU by a counter-based generator keyed by (element, step, seed, stream), so no random
 * numbers are uploaded per step. The step is element 0 of a u32 `counter` tensor on the GPU
 * (the optimizer advances it), so a recorded step draws fresh noise every time it runs.
 *
 * logvar is clamped before exp (an unbounded head otherwise overflows exp and the loss turns
 * NaN); the gradient is zero outside the bounds. Forward saves eps for backward.
 *
 * Dimensions: B batch, Z latent. mulogvar [B, 2Z] holds per row mu (columns 0..Z-1) then
 * logvar (columns Z..2Z-1); dmulogvar has the same layout; z, dz and eps are [B, Z].
 *
 * Fused with the KL term (src/nn/kl.ts), same values bit for bit, one dispatch each instead of
 * two: {@linkcode latentForwardKl} (sample + per-example KL) and {@linkcode latentBackwardKl}
 * (the sample's backward + the plain KL gradient, no free bits); kl [B] is per example.
 */

import type { Tensor } from "../gpu/buffer.ts";
import type { Gpu } from "../gpu/device.ts";
import { type Dispatch, expectLength, grid1d } from "../gpu/kernel.ts";

/** Sizes, clamp bounds and generator key of a latent layer. */
export interface LatentShape {
  /** B, rows in the batch. */
  batch: number;
  /** Z, latent dimensions. */
  z: number;
  /** Lower clamp bound for logvar. */
  logvarMin: number;
  /** Upper clamp bound for logvar. */
  logvarMax: number;
  /** Generator seed (u32). */
  seed: number;
  /** Generator stream (u32, default 0): separate noise for separate uses of one seed. */
  stream?: number;
  /**
   * Standard deviation of eps (default 1, the usual VAE): eps = epsStd * N(0, 1). The saved
   * eps is the scaled draw, so the backward needs no change.
   */
  epsStd?: number;
}

const WG = 256;
/** Rows per workgroup of latent_forward_kl (RWG in the shader). */
const RWG = 16;

function _epsStd(where: string, v = 1): number {
  if (!(v >= 0) || !Number.isFinite(v)) throw new Error(`${where}: epsStd = ${v} is not >= 0`);
  return v;
}

function dims(where: string, s: LatentShape) {
  for (const [k, v] of [["batch", s.batch], ["z", s.z]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${where}: ${k} = ${v} is not >= 1`);
  }
  if (!(s.logvarMin <= s.logvarMax) || !isFinite(s.logvarMin) || !isFinite(s.logvarMax)) {
    throw new Error(`${where}: logvar bounds [${s.logvarMin}, ${s.logvarMax}] are not a range`);
  }
  const stream = s.stream ?? 0;
  for (const [k, v] of [["seed", s.seed], ["stream", stream]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
      throw new Error(`${where}: ${k} = ${v} is not a u32`);
    }
  }
  return {
    batch: s.batch,
    z: s.z,
    logvar_min: s.logvarMin,
    logvar_max: s.logvarMax,
    seed: s.seed,
    stream,
    scale: 0,
    eps_std: _epsStd(where, s.epsStd),
  };
}

/**
 * z [B, Z] = mu + exp(0.5 * clamp(logvar)) * eps, writing the drawn eps [B, Z] too.
 * Reads mulogvar [B, 2Z] and the step from counter [1] (u32).
 */
export async function latentForward(
  gpu: Gpu,
  t: { z: Tensor; eps: Tensor; mulogvar: Tensor; counter: Tensor },
  s: LatentShape,
): Promise<Dispatch> {
  const where = "latent.latent_forward";
  const d = dims(where, s);
  const n = s.batch * s.z;
  expectLength(where, "z", t.z, n);
  expectLength(where, "eps", t.eps, n);
  expectLength(where, "mulogvar", t.mulogvar, 2 * n);
  expectLength(where, "counter", t.counter, 1);
  const k = await gpu.kernel("latent");
  const dispatch = await k.dispatch(
    "latent_forward",
    { z: t.z, eps: t.eps, mulogvar: t.mulogvar, counter: t.counter, dims: d },
    grid1d(n, WG),
  );
  // Box-Muller, exp, fma per element (the integer hash not counted); read mu, logvar, write z, eps.
  dispatch.flops = 12 * n;
  dispatch.bytes = 16 * n + 4;
  return dispatch;
}

/**
 * Overwrite dmulogvar [B, 2Z] with dmu = dz and dlogvar = dz * eps * 0.5 * exp(0.5 * lv)
 * (zero where logvar is outside the clamp bounds), from dz [B, Z], the forward's eps [B, Z]
 * and mulogvar [B, 2Z].
 */
export async function latentBackward(
  gpu: Gpu,
  t: { dmulogvar: Tensor; dz: Tensor; eps: Tensor; mulogvar: Tensor },
  s: LatentShape,
): Promise<Dispatch> {
  const where = "latent.latent_backward";
  const d = dims(where, s);
  const n = s.batch * s.z;
  expectLength(where, "dmulogvar", t.dmulogvar, 2 * n);
  expectLength(where, "dz", t.dz, n);
  expectLength(where, "eps", t.eps, n);
  expectLength(where, "mulogvar", t.mulogvar, 2 * n);
  const k = await gpu.kernel("latent");
  const dispatch = await k.dispatch(
    "latent_backward",
    { dmulogvar: t.dmulogvar, dz: t.dz, saved_eps: t.eps, mulogvar: t.mulogvar, dims: d },
    grid1d(n, WG),
  );
  dispatch.flops = 5 * n;
  dispatch.bytes = 20 * n;
  return dispatch;
}

/**
 * {@linkcode latentForward} and kl.ts's klForward in one dispatch: z [B, Z] and eps [B, Z] as
 * latentForward writes them, and kl [B] = 0.5 * sum_j (mu^2 + exp(lv) - 1 - lv) with the same
 * bits as klForward (same bounds). Reads mulogvar [B, 2Z] and the step from counter [1] (u32).
 * One invocation per example.
 */
export async function latentForwardKl(
  gpu: Gpu,
  t: { z: Tensor; eps: Tensor; kl: Tensor; mulogvar: Tensor; counter: Tensor },
  s: LatentShape,
): Promise<Dispatch> {
  const where = "latent.latent_forward_kl";
  const d = dims(where, s);
  const n = s.batch * s.z;
  expectLength(where, "z", t.z, n);
  expectLength(where, "eps", t.eps, n);
  expectLength(where, "kl", t.kl, s.batch);
  expectLength(where, "mulogvar", t.mulogvar, 2 * n);
  expectLength(where, "counter", t.counter, 1);
  const k = await gpu.kernel("latent");
  const dispatch = await k.dispatch(
    "latent_forward_kl",
    { z: t.z, eps: t.eps, kl: t.kl, mulogvar: t.mulogvar, counter: t.counter, dims: d },
    grid1d(s.batch, RWG),
  );
  dispatch.flops = 18 * n;
  dispatch.bytes = 16 * n + 4 * s.batch + 4;
  return dispatch;
}

/**
 * {@linkcode latentBackward} followed by kl.ts's klBackward (freeBits 0) in one dispatch:
 * dmulogvar [B, 2Z] is overwritten with dmu = dz + scale * mu and
 * dlogvar = dz * eps * 0.5 * exp(0.5 * lv) + scale * 0.5 * (exp(lv) - 1) (zero where logvar
 * is outside the clamp bounds), from dz [B, Z], the forward's eps [B, Z] and mulogvar [B, 2Z].
 * `scale` is beta / B in training; a KL schedule changes it with
 * `dispatch.update("dims", { scale })`, as it does klBackward's. Free bits need the batch sum
 * per dimension first: use latentBackward + klBackward for those.
 */
export async function latentBackwardKl(
  gpu: Gpu,
  t: { dmulogvar: Tensor; dz: Tensor; eps: Tensor; mulogvar: Tensor },
  s: LatentShape & { scale: number },
): Promise<Dispatch> {
  const where = "latent.latent_backward_kl";
  const d = dims(where, s);
  if (!Number.isFinite(s.scale)) throw new Error(`${where}: scale = ${s.scale} is not finite`);
  const n = s.batch * s.z;
  expectLength(where, "dmulogvar", t.dmulogvar, 2 * n);
  expectLength(where, "dz", t.dz, n);
  expectLength(where, "eps", t.eps, n);
  expectLength(where, "mulogvar", t.mulogvar, 2 * n);
  const k = await gpu.kernel("latent");
  const dispatch = await k.dispatch(
    "latent_backward_kl",
    {
      dmulogvar: t.dmulogvar,
      dz: t.dz,
      saved_eps: t.eps,
      mulogvar: t.mulogvar,
      dims: { ...d, scale: s.scale },
    },
    grid1d(n, WG),
  );
  dispatch.flops = 11 * n;
  dispatch.bytes = 24 * n;
  return dispatch;
}
