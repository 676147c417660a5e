/**
 * Evaluation metrics beyond the test ELBO: the importance-weighted estimate of -log p(x)
 * (k posterior samples per image, on the GPU), and the latent statistics that diagnose
 * posterior collapse: KL per latent dimension and active units (Burda et al. 2016: dimension
 * d is active when Var_x(E_q[z_d | x]) > 0.01).
 */

import { readback, Tensor } from "../gpu/buffer.ts";
import type { Gpu } from "../gpu/device.ts";
import { submit } from "../gpu/kernel.ts";
import type { Split } from "../data/split.ts";
import { iwaeNll } from "../nn/iwae.ts";
import { accumulate, clearSlots } from "../nn/reduce.ts";
import {
  destroyProgram,
  destroySource,
  identityOrder,
  METRIC,
  type ModelState,
  setBatchOffset,
} from "../vae/common.ts";
import { buildVaeStep, type VaeConfig } from "../vae/model.ts";
import { splitSource } from "../vae/condition.ts";

/** IWAE noise stream: distinct from training (0) and the test pass (1). */
const IWAE_STREAM = 2;

/**
 * Mean over the first `images` images of `split` of the k-sample importance-weighted
 * estimate of -log p(x), in nats per image (Bernoulli likelihood only). `perBatch` images
 * (times k rows) go through the model at once.
 */
export async function iwaeEstimate(
  gpu: Gpu,
  cfg: VaeConfig,
  state: ModelState,
  split: Split,
  { k = 64, images = 1000, perBatch = 8 } = {},
): Promise<number> {
  if (cfg.recon !== "bce") {
    throw new Error("the IWAE estimate needs the Bernoulli likelihood (--recon bce)");
  }
  const d = gpu.device;
  const n = Math.min(images, split.count);
  // Each image repeated k times: the gather builds the k rows, the latent draws k samples.
  const index = new Uint32Array(n * k).map((_, r) => Math.floor(r / k));
  const source = splitSource(d, cfg.condition, split, index, "iwae");
  const acc = new Tensor(d, "f32", [METRIC.size], "iwae sums");
  const scratch = new Tensor(d, "f32", [METRIC.size], "iwae losses");
  const build = async (imgs: number) => {
    const p = await buildVaeStep(
      gpu,
      cfg,
      state,
      source,
      scratch,
      imgs * k,
      undefined,
      IWAE_STREAM,
    );
    const t = p.tensors;
    const nll = new Tensor(d, "f32", [imgs], "iwae nll");
    const lw = new Tensor(d, "f32", [imgs * k], "iwae log weights");
    const shape = {
      images: imgs,
      k,
      z: cfg.z,
      logvarMin: cfg.logvarClamp[0],
      logvarMax: cfg.logvarClamp[1],
    };
    const tail = [
      ...await iwaeNll(
        gpu,
        { nll, lw, recon: t.recon, mulogvar: t.mulogvar, eps: t.eps, z: t.z, prior: t.prior },
        shape,
      ),
      await accumulate(gpu, { acc, x: nll }, { n: imgs, slot: 0, scale: 1 }),
    ];
    return { p, steps: [p.gather, ...p.forward, ...tail], scratch: [nll, lw] };
  };
  const per = Math.min(perBatch, n);
  const full = await build(per);
  const rest = n % per ? await build(n % per) : null;
  submit(d, [await clearSlots(gpu, { acc })]);
  for (let img = 0; img < n; img += per) {
    const b = img + per <= n ? full : rest!;
    setBatchOffset(b.p, img * k);
    submit(d, b.steps, "iwae");
  }
  const sums = await readback(d, acc);
  for (const b of rest ? [full, rest] : [full]) {
    destroyProgram(b.p);
    for (const t of b.scratch) t.destroy();
  }
  destroySource(source);
  for (const t of [acc, scratch]) t.destroy();
  return sums[0] / n;
}

/** Per-dimension latent statistics over a split. */
export interface LatentStats {
  /** Mean over the split of each dimension's KL term (from the model's prior), nats. */
  klPerDim: number[];
  /** Variance over the split of each dimension's posterior mean E_q[z_d | x]. */
  muVariance: number[];
  /** Dimensions with muVariance > 0.01. */
  activeUnits: number;
  /** Min, mean and max over the split and dimensions of mu. */
  mu: { min: number; mean: number; max: number };
  /** Min, mean and max over the split and dimensions of sigma = exp(lv / 2). */
  sigma: { min: number; mean: number; max: number };
  /** Posterior means of the split's first `keepMu` images, [keepMu, Z] (figures). */
  muRows: Float32Array;
}

/**
 * Run the encoder over `split` and summarise its posterior means and variances; keep the
 * means of the first `keepMu` images.
 */
export async function latentStats(
  gpu: Gpu,
  cfg: VaeConfig,
  state: ModelState,
  split: Split,
  batch = 256,
  keepMu = 0,
): Promise<LatentStats> {
  const d = gpu.device;
  const Z = cfg.z, [lo, hi] = cfg.logvarClamp;
  const source = splitSource(d, cfg.condition, split, identityOrder(split.count), "stats");
  const scratch = new Tensor(d, "f32", [METRIC.size], "stats losses");
  const b = Math.min(batch, split.count);
  const full = await buildVaeStep(gpu, cfg, state, source, scratch, b, undefined, IWAE_STREAM);
  const rest = split.count % b
    ? await buildVaeStep(gpu, cfg, state, source, scratch, split.count % b)
    : null;
  const sum = new Float64Array(Z), sumSq = new Float64Array(Z), kl = new Float64Array(Z);
  const muRows = new Float32Array(Math.min(keepMu, split.count) * Z);
  const mu = { min: Infinity, mean: 0, max: -Infinity },
    sigma = { min: Infinity, mean: 0, max: -Infinity };
  for (let offset = 0; offset < split.count; offset += b) {
    const p = offset + b <= split.count ? full : rest!;
    setBatchOffset(p, offset);
    submit(d, [p.gather, ...p.forward], "latent stats");
    const ml = await readback(d, p.tensors.mulogvar);
    // A learned prior's [mp | pv] per row; N(0, I) otherwise.
    const pr = p.tensors.prior ? await readback(d, p.tensors.prior) : null;
    for (let r = 0; r < p.batch; r++) {
      for (let j = 0; j < Z; j++) {
        const m = ml[r * 2 * Z + j];
        if ((offset + r) * Z + j < muRows.length) muRows[(offset + r) * Z + j] = m;
        const lv = Math.min(Math.max(ml[r * 2 * Z + Z + j], lo), hi);
        const s = Math.exp(0.5 * lv);
        sum[j] += m;
        sumSq[j] += m * m;
        const mp = pr ? pr[r * 2 * Z + j] : 0;
        const pv = pr ? Math.min(Math.max(pr[r * 2 * Z + Z + j], lo), hi) : 0;
        // KL(N(m, e^lv) || N(mp, e^pv)) = 0.5 (e^(lv - pv) - 1 - (lv - pv) + (m - mp)^2 e^-pv)
        kl[j] += 0.5 * (Math.exp(lv - pv) - 1 - (lv - pv) + (m - mp) ** 2 * Math.exp(-pv));
        mu.min = Math.min(mu.min, m), mu.max = Math.max(mu.max, m), mu.mean += m;
        sigma.min = Math.min(sigma.min, s), sigma.max = Math.max(sigma.max, s), sigma.mean += s;
      }
    }
  }
  const n = split.count;
  mu.mean /= n * Z;
  sigma.mean /= n * Z;
  const muVariance = [...sum].map((s, j) => sumSq[j] / n - (s / n) ** 2);
  for (const p of rest ? [full, rest] : [full]) destroyProgram(p);
  destroySource(source);
  scratch.destroy();
  return {
    klPerDim: [...kl].map((v) => v / n),
    muVariance,
    activeUnits: muVariance.filter((v) => v > 0.01).length,
    mu,
    sigma,
    muRows,
  };
}
