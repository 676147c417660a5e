/**
 * Closed-form KL divergence of the encoder's diagonal Gaussian from the N(0, I) prior, per
 * example and summed over latent dimensions (nats): kl[b] = -0.5 * sum_j (1 + lv - mu^2 -
 * exp(lv)), lv = clamp(logvar, min, max) with the same bounds as the reparameterization, so
 * exp cannot overflow; the gradient is zero outside the bounds.
 *
 * The backward ADDS into dmulogvar (the latent backward has already written it there), with a
 * `scale` (beta / B in training) that `dispatch.update("dims", { scale })` changes per step.
 * With `freeBits` lambda > 0 it is the gradient of the free-bits objective (Kingma et al.
 * 2016), scale * sum_j max(B * lambda, sum_b kl[b, j]): a dimension whose batch-mean KL is
 * below lambda gets no KL gradient. {@linkcode klPerDim} accumulates sum_b kl[b, j] per
 * dimension j, for per-dimension KL diagnostics.
 *
 * Dimensions: B batch, Z latent. mulogvar and dmulogvar are [B, 2Z], per row mu (columns
 * 0..Z-1) then logvar (columns Z..2Z-1); kl is [B].
 */

import type { Tensor } from "../gpu/buffer.ts";
import type { Gpu } from "../gpu/device.ts";
import { type Dispatch, expectLength, grid1d, type TensorView } from "../gpu/kernel.ts";

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

function dims(where: string, s: KlShape, scale: number, freeBits = 0) {
  for (const [k, v] of [["batch", s.batch], ["z", s.z]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${where}: ${k} = ${v} is not >= 1`);
  }
  if (!(s.logvarMin <= s.logvarMax) || !isFinite(s.logvarMin) || !isFinite(s.logvarMax)) {
    throw new Error(`${where}: logvar bounds [${s.logvarMin}, ${s.logvarMax}] are not a range`);
  }
  if (!isFinite(scale)) throw new Error(`${where}: scale = ${scale} is not finite`);
  if (!(freeBits >= 0 && isFinite(freeBits))) {
    throw new Error(`${where}: freeBits = ${freeBits} is not a number >= 0`);
  }
  return {
    batch: s.batch,
    z: s.z,
    logvar_min: s.logvarMin,
    logvar_max: s.logvarMax,
    scale,
    free_bits: freeBits,
  };
}

/**
 * Checks the shape and the named tensors (kl [B], acc [Z], the others [B, 2Z]) and builds the
 * launch of `entry` over them: one invocation per example (`batch`), per mu or logvar value
 * (`values`) or one workgroup per latent dimension (`dims`).
 */
async function launch(
  gpu: Gpu,
  entry: string,
  t: Record<string, Tensor | TensorView>,
  s: KlShape,
  grid: "batch" | "values" | "dims",
  scale = 0,
  freeBits = 0,
): Promise<Dispatch> {
  const where = `kl.${entry}`;
  const d = dims(where, s, scale, freeBits);
  const n = s.batch * s.z;
  for (const [name, v] of Object.entries(t)) {
    expectLength(where, name, v, name === "kl" ? s.batch : name === "acc" ? s.z : 2 * n);
  }
  const k = await gpu.kernel("kl");
  return await k.dispatch(
    entry,
    { ...t, dims: d },
    grid === "dims" ? perDimGrid(where, s.z) : grid1d(grid === "batch" ? s.batch : n, WG),
  );
}

/** kl [B] = per-example KL of N(mu, exp(lv)) from N(0, I), from mulogvar [B, 2Z]. */
export async function klForward(
  gpu: Gpu,
  t: { kl: Tensor; mulogvar: Tensor },
  s: KlShape,
): Promise<Dispatch> {
  const dispatch = await launch(gpu, "kl_forward", { kl: t.kl, mulogvar: t.mulogvar }, s, "batch");
  dispatch.flops = 6 * s.batch * s.z;
  dispatch.bytes = 8 * s.batch * s.z + 4 * s.batch;
  return dispatch;
}

/**
 * dmulogvar [B, 2Z] += scale * d(sum_b kl[b]) / d mulogvar: scale * mu for mu and
 * scale * 0.5 * (exp(lv) - 1) for logvar (zero outside the clamp bounds).
 * Change `scale` later with `dispatch.update("dims", { scale })`.
 *
 * With `freeBits` = lambda > 0 (nats per dimension), the gradient of the free-bits objective
 * scale * sum_j max(B * lambda, sum_b kl[b, j]) instead: the same values for dimension j when
 * its batch-mean KL (1/B) sum_b kl[b, j] >= lambda, nothing added when it is below. That needs
 * the batch sum per dimension first, so it runs one workgroup per latent dimension (a
 * different entry point). `freeBits` 0 (the default) is the plain KL gradient, bit for bit.
 * A dispatch built with freeBits > 0 may change lambda with
 * `dispatch.update("dims", { free_bits })`; one built with 0 ignores free_bits.
 */
export async function klBackward(
  gpu: Gpu,
  t: { dmulogvar: Tensor; mulogvar: Tensor },
  s: KlShape & { scale: number; freeBits?: number },
): Promise<Dispatch> {
  const freeBits = s.freeBits ?? 0;
  const entry = freeBits > 0 ? "kl_backward_free_bits" : "kl_backward";
  const n = s.batch * s.z;
  const dispatch = await launch(
    gpu,
    entry,
    { dmulogvar: t.dmulogvar, mulogvar: t.mulogvar },
    s,
    freeBits > 0 ? "dims" : "values",
    s.scale,
    freeBits,
  );
  dispatch.flops = freeBits > 0 ? 12 * n : 6 * n;
  dispatch.bytes = freeBits > 0 ? 32 * n : 24 * n;
  return dispatch;
}

function perDimGrid(where: string, z: number): [number, number, number] {
  if (z > 65535) throw new Error(`${where}: z = ${z} is over 65535 workgroups`);
  return [z, 1, 1];
}

/**
 * acc [Z] += sum over the batch of each dimension's KL: acc[j] += sum_b kl[b, j] with
 * kl[b, j] = 0.5 * (mu^2 + exp(lv) - 1 - lv), so sum_j acc[j] adds sum_b kl[b]. Accumulates
 * across batches (clear `acc` first, e.g. with reduce's clearSlots); divide by the number of
 * rows for the mean KL per dimension. `acc` may be a view of a larger metrics buffer.
 */
export async function klPerDim(
  gpu: Gpu,
  t: { acc: Tensor | TensorView; mulogvar: Tensor },
  s: KlShape,
): Promise<Dispatch> {
  const dispatch = await launch(gpu, "kl_per_dim", { acc: t.acc, mulogvar: t.mulogvar }, s, "dims");
  dispatch.flops = 6 * s.batch * s.z;
  dispatch.bytes = 8 * s.batch * s.z + 8 * s.z;
  return dispatch;
}

/**
 * kl [B] = per-example KL of N(mu, exp(lv)) from a learned prior N(mp, exp(pv)) given row by
 * row in prior [B, 2Z] (mp then pv, as mulogvar): 0.5 * sum_j (pv - lv + (exp(lv) +
 * (mu - mp)^2) / exp(pv) - 1), both logvars clamped to the same bounds. A prior of zeros gives
 * {@linkcode klForward}.
 */
export async function klPriorForward(
  gpu: Gpu,
  t: { kl: Tensor; mulogvar: Tensor; prior: Tensor },
  s: KlShape,
): Promise<Dispatch> {
  const dispatch = await launch(
    gpu,
    "kl_prior_forward",
    { kl: t.kl, mulogvar: t.mulogvar, prior: t.prior },
    s,
    "batch",
  );
  dispatch.flops = 10 * s.batch * s.z;
  dispatch.bytes = 16 * s.batch * s.z + 4 * s.batch;
  return dispatch;
}

/**
 * Backward of scale * sum_b kl[b] of {@linkcode klPriorForward}: ADDS the posterior's share to
 * dmulogvar [B, 2Z] (scale * (mu - mp) / exp(pv) and scale * 0.5 * (exp(lv - pv) - 1)) and
 * WRITES the prior's, dprior [B, 2Z] (scale * (mp - mu) / exp(pv) and
 * -scale * 0.5 * (exp(lv - pv) - 1 + (mu - mp)^2 / exp(pv))); a logvar outside the clamp
 * bounds gets 0. `scale` changes with `dispatch.update("dims", { scale })`.
 */
export async function klPriorBackward(
  gpu: Gpu,
  t: { dmulogvar: Tensor; dprior: Tensor; mulogvar: Tensor; prior: Tensor },
  s: KlShape & { scale: number },
): Promise<Dispatch> {
  const n = s.batch * s.z;
  const dispatch = await launch(
    gpu,
    "kl_prior_backward",
    { dmulogvar: t.dmulogvar, dprior: t.dprior, mulogvar: t.mulogvar, prior: t.prior },
    s,
    "values",
    s.scale,
  );
  dispatch.flops = 16 * n;
  dispatch.bytes = 40 * n;
  return dispatch;
}
