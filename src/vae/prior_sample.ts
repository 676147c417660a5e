/**
 * Codes z drawn from a model's prior at a temperature: z = t eps for N(0, I), and
 * z = mp(c) + t exp(0.5 clamp(pv(c))) eps for a learned prior p(z | c), whose network runs on
 * the GPU over the asked conditions. t = 0 gives the prior's mean, t = 1 the prior itself.
 *
 * Legend: n codes, C condition values, Z latent size.
 */

import { readback, write } from "../gpu/buffer.ts";
import type { Gpu } from "../gpu/device.ts";
import { submit } from "../gpu/kernel.ts";
import { buildPriorProgram, type ModelState, type VaeLossConfig } from "./common.ts";

/** Rows of conditions the prior network runs on at once. */
const PRIOR_BATCH = 256;

/**
 * The learned prior's [mp | pv] rows [n, 2Z] for condition rows `cond` [n, C] (built and
 * freed here).
 */
export async function priorMoments(
  gpu: Gpu,
  cfg: VaeLossConfig,
  state: ModelState,
  cond: Float32Array,
  n: number,
): Promise<Float32Array> {
  const C = cfg.conditions ?? 0, Z = cfg.z;
  if (cond.length !== n * C) throw new Error(`prior: ${cond.length} values for ${n} rows of ${C}`);
  const B = Math.min(PRIOR_BATCH, n);
  const p = await buildPriorProgram(gpu, cfg, state, B);
  const out = new Float32Array(n * 2 * Z);
  for (let at = 0; at < n; at += B) {
    const rows = Math.min(B, n - at);
    const part = new Float32Array(B * C);
    part.set(cond.subarray(at * C, (at + rows) * C));
    write(gpu.device, p.c, part);
    submit(gpu.device, p.dispatches, "prior");
    out.set((await readback(gpu.device, p.prior)).subarray(0, rows * 2 * Z), at * 2 * Z);
  }
  for (const t of [p.c, p.prior]) t.destroy();
  return out;
}

/**
 * n codes [n, Z] from standard normal draws `eps` [n, Z] at temperature `t`: t eps for the
 * standard prior, mp + t sigma_p eps from the learned prior at conditions `cond` [n, C].
 */
export async function priorCodes(
  gpu: Gpu,
  cfg: VaeLossConfig,
  state: ModelState,
  eps: Float32Array,
  n: number,
  cond: Float32Array | undefined,
  t = 1,
): Promise<Float32Array> {
  const Z = cfg.z;
  if (!cfg.prior) return eps.map((v) => v * t);
  if (!cond) throw new Error("a learned prior needs the conditions to sample at");
  const m = await priorMoments(gpu, cfg, state, cond, n);
  const [lo, hi] = cfg.logvarClamp;
  const z = new Float32Array(n * Z);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < Z; j++) {
      const pv = Math.min(Math.max(m[i * 2 * Z + Z + j], lo), hi);
      z[i * Z + j] = m[i * 2 * Z + j] + t * Math.exp(0.5 * pv) * eps[i * Z + j];
    }
  }
  return z;
}
