/**
 * The importance-weighted bound on -log p(x) (Burda et al. 2016) from k posterior samples per
 * image: log weights per sample, then a stable log-sum-exp per image.
 *
 * Dimensions: I images, k samples each, R = I * k rows (sample s of image i in row i * k + s),
 * Z latent. recon [R] is the per-sample Bernoulli loss, mulogvar [R, 2Z], eps and z [R, Z]
 * come from the latent forward of the same rows.
 */

import type { Tensor } from "../gpu/buffer.ts";
import type { Gpu } from "../gpu/device.ts";
import { ceilDiv, type Dispatch, expectLength } from "../gpu/kernel.ts";

/** Sizes of an IWAE evaluation batch. */
export interface IwaeShape {
  /** Images in the batch. */
  images: number;
  /** Samples per image. */
  k: number;
  /** Latent dimensions. */
  z: number;
  /** Lower clamp bound of logvar, as in training. */
  logvarMin: number;
  /** Upper clamp bound of logvar, as in training. */
  logvarMax: number;
}

/**
 * lw [R] from one batch's recon, mulogvar, eps and z; then nll [I]. With `prior` [R, 2Z] (a
 * learned p(z | c) per row, mean then log variance) log p(z) is taken from it instead of
 * N(0, I).
 */
export async function iwaeNll(
  gpu: Gpu,
  t: {
    nll: Tensor;
    lw: Tensor;
    recon: Tensor;
    mulogvar: Tensor;
    eps: Tensor;
    z: Tensor;
    prior?: Tensor;
  },
  s: IwaeShape,
): Promise<Dispatch[]> {
  const R = s.images * s.k;
  if (!Number.isInteger(R) || R < 1 || s.k < 1) {
    throw new Error(`iwae: bad shape ${JSON.stringify(s)}`);
  }
  expectLength("iwae.log_weight", "recon", t.recon, R);
  expectLength("iwae.log_weight", "mulogvar", t.mulogvar, 2 * R * s.z);
  expectLength("iwae.log_weight", "eps", t.eps, R * s.z);
  expectLength("iwae.log_weight", "z", t.z, R * s.z);
  expectLength("iwae.log_weight", "lw", t.lw, R);
  expectLength("iwae.nll_from_weights", "nll", t.nll, s.images);
  const k = await gpu.kernel("iwae");
  const dims = { rows: R, z: s.z, k: s.k, logvar_min: s.logvarMin, logvar_max: s.logvarMax };
  const bind = { lw: t.lw, recon: t.recon, mulogvar: t.mulogvar, eps: t.eps, z: t.z, dims };
  if (t.prior) expectLength("iwae.log_weight_prior", "prior", t.prior, 2 * R * s.z);
  const lw = await k.dispatch(
    t.prior ? "log_weight_prior" : "log_weight",
    t.prior ? { ...bind, prior: t.prior } : bind,
    [ceilDiv(R, 64)],
    { label: "iwae_log_weight" },
  );
  lw.flops = 6 * R * s.z;
  lw.bytes = 4 * R * (4 * s.z + 2);
  const nll = await k.dispatch(
    "nll_from_weights",
    { nll: t.nll, saved_lw: t.lw, dims },
    [ceilDiv(s.images, 64)],
    { label: "iwae_nll" },
  );
  nll.flops = 3 * R;
  nll.bytes = 4 * (R + s.images);
  return [lw, nll];
}
