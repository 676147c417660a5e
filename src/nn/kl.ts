/**
 * Closed-form KL divergence of the encoder's diagonal Gaussian from the N(0, I) prior, per
 * example and summed over latent dimensions (nats): kl[b] = -0.5 * sum_j (1 + lv - mu^2 -
 * exp(lv)), lv = clamp(logvar, min, max) with the same bounds as the reparameterization, so
 * exp cannot overflow; the gradient is zero outside the bounds.
 *
 * The backward ADDS into dmulogvar (the latent backward has already written it there), with a
 * `scale` (beta / B in training) that `dispatch.update("dims", { scale })` changes per step.
 *
 * Dimensions: B batch, Z latent. mulogvar and dmulogvar are [B, 2Z], per row mu (columns
 * 0..Z-1) then logvar (columns Z..2Z-1); kl is [B].
 */

import type { Tensor } from "../gpu/buffer.ts";
import type { Gpu } from "../gpu/device.ts";
import { type Dispatch, expectLength, grid1d } from "../gpu/kernel.ts";

/** Sizes and clamp bounds of the KL term. */
export interface KlShape {
  /** B, rows in the batch. */
  batch: number;
  /** Z, latent dimensions. */
  z: number;
  /** Lower clamp bound for logvar (as in the latent layer). */
  logvarMin: number;
  /** Upper clamp bound for logvar (as in the latent layer). */
  logvarMax: number;
}

const WG = 256;

function dims(where: string, s: KlShape, scale: number) {
  for (const [k, v] of [["batch", s.batch], ["z", s.z]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${where}: ${k} = ${v} is not >= 1`);
  }
  if (!(s.logvarMin <= s.logvarMax) || !isFinite(s.logvarMin) || !isFinite(s.logvarMax)) {
    throw new Error(`${where}: logvar bounds [${s.logvarMin}, ${s.logvarMax}] are not a range`);
  }
  if (!isFinite(scale)) throw new Error(`${where}: scale = ${scale} is not finite`);
  return { batch: s.batch, z: s.z, logvar_min: s.logvarMin, logvar_max: s.logvarMax, scale };
}

/** kl [B] = per-example KL of N(mu, exp(lv)) from N(0, I), from mulogvar [B, 2Z]. */
export async function klForward(
  gpu: Gpu,
  t: { kl: Tensor; mulogvar: Tensor },
  s: KlShape,
): Promise<Dispatch> {
  const where = "kl.kl_forward";
  const d = dims(where, s, 0);
  expectLength(where, "kl", t.kl, s.batch);
  expectLength(where, "mulogvar", t.mulogvar, 2 * s.batch * s.z);
  const k = await gpu.kernel("kl");
  const dispatch = await k.dispatch(
    "kl_forward",
    { kl: t.kl, mulogvar: t.mulogvar, dims: d },
    grid1d(s.batch, WG),
  );
  dispatch.flops = 6 * s.batch * s.z;
  dispatch.bytes = 8 * s.batch * s.z + 4 * s.batch;
  return dispatch;
}

/**
 * dmulogvar [B, 2Z] += scale * d(sum_b kl[b]) / d mulogvar: scale * mu for mu and
 * scale * 0.5 * (exp(lv) - 1) for logvar (zero outside the clamp bounds).
 * Change `scale` later with `dispatch.update("dims", { scale })`.
 */
export async function klBackward(
  gpu: Gpu,
  t: { dmulogvar: Tensor; mulogvar: Tensor },
  s: KlShape & { scale: number },
): Promise<Dispatch> {
  const where = "kl.kl_backward";
  const d = dims(where, s, s.scale);
  const n = s.batch * s.z;
  expectLength(where, "dmulogvar", t.dmulogvar, 2 * n);
  expectLength(where, "mulogvar", t.mulogvar, 2 * n);
  const k = await gpu.kernel("kl");
  const dispatch = await k.dispatch(
    "kl_backward",
    { dmulogvar: t.dmulogvar, mulogvar: t.mulogvar, dims: d },
    grid1d(n, WG),
  );
  dispatch.flops = 6 * n;
  dispatch.bytes = 24 * n;
  return dispatch;
}
