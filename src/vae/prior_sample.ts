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
import type { VaeLossConfig } from "./common.ts";
import { buildPriorProgram } from "./prior.ts";
import type { ModelState } from "./state.ts";
import { codesFromMoments } from "./codes.ts";

/** Rows of conditions the prior network runs on at once. */
const PRIOR_BATCH = 256;

/**
 * Draws codes from one model's prior. A learned prior's network is built on first use and kept
 * (its buffers and dispatches serve every later call); free it with `destroy()`.
 */
export class PriorSampler {
  #gpu: Gpu;
  #cfg: VaeLossConfig;
  #state: ModelState;
  #program: ReturnType<typeof buildPriorProgram> | null = null;

  /** A sampler for the model `cfg` with parameters in `state`. */
  constructor(gpu: Gpu, cfg: VaeLossConfig, state: ModelState) {
    this.#gpu = gpu;
    this.#cfg = cfg;
    this.#state = state;
  }

  /** The learned prior's [mp | pv] rows [n, 2Z] for condition rows `cond` [n, C]. */
  async moments(cond: Float32Array, n: number): Promise<Float32Array> {
    const C = this.#cfg.conditions ?? 0, Z = this.#cfg.z, d = this.#gpu.device;
    if (cond.length !== n * C) {
      throw new Error(`prior: ${cond.length} values for ${n} rows of ${C}`);
    }
    this.#program ??= buildPriorProgram(this.#gpu, this.#cfg, this.#state, PRIOR_BATCH);
    const p = await this.#program;
    const out = new Float32Array(n * 2 * Z);
    for (let at = 0; at < n; at += PRIOR_BATCH) {
      const rows = Math.min(PRIOR_BATCH, n - at);
      const part = new Float32Array(PRIOR_BATCH * C);
      part.set(cond.subarray(at * C, (at + rows) * C));
      write(d, p.c, part);
      submit(d, p.dispatches, "prior");
      out.set((await readback(d, p.prior)).subarray(0, rows * 2 * Z), at * 2 * Z);
    }
    return out;
  }

  /**
   * n codes [n, Z] from standard normal draws `eps` [n, Z] at temperature `t`: t eps for the
   * standard prior, mp + t sigma_p eps from the learned prior at conditions `cond` [n, C].
   */
  async codes(
    eps: Float32Array,
    n: number,
    cond: Float32Array | undefined,
    t = 1,
  ): Promise<Float32Array> {
    if (!this.#cfg.prior) return eps.map((v) => v * t);
    if (!cond) throw new Error("a learned prior needs the conditions to sample at");
    const m = await this.moments(cond, n);
    return codesFromMoments(m, eps, n, this.#cfg.z, this.#cfg.logvarClamp, t);
  }

  /** Free the prior network's buffers (if it was built). */
  async destroy(): Promise<void> {
    if (!this.#program) return;
    const p = await this.#program;
    for (const t of p.tensors) t.destroy();
    this.#program = null;
  }
}
