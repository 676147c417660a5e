/**
 * Adam (AdamW with weight decay) over one flat parameter buffer: a single update dispatch
 * for every parameter of the model, then a one-invocation dispatch that advances the step
 * counter kept on the GPU (so a resumed run continues its bias correction exactly).
 *
 * n parameters.
 */

import { Tensor } from "../gpu/buffer.ts";
import type { Gpu } from "../gpu/device.ts";
import { type Dispatch, expectLength, grid1d, type TensorLike } from "../gpu/kernel.ts";
import { tunerOf } from "../gpu/tuner.ts";

/** Adam hyper-parameters. Defaults: beta1 0.9, beta2 0.999, eps 1e-8, weightDecay 0. */
export interface AdamConfig {
  /** Learning rate; change it later with `update.update("dims", { lr })`. */
  lr: number;
  /** Decay of the first moment, in [0, 1). */
  beta1?: number;
  /** Decay of the second moment, in [0, 1). */
  beta2?: number;
  /** Added to sqrt(v_hat) in the denominator. */
  eps?: number;
  /** Decoupled (AdamW) weight decay: p -= lr * weightDecay * p each step. */
  weightDecay?: number;
}

const WG = 256;

/**
 * Kernel of the update: `scalar` (one element per invocation) or `vec4` (four, read and
 * written as vec4s; needs n to be a multiple of 4). Results are the same.
 */
export type AdamVariant = "scalar" | "vec4";

/** Options of {@linkcode adamStep}. */
export interface AdamOptions {
  /**
   * Force a kernel (benchmarks and tests). Default: `vec4` when n is a multiple of 4 (always
   * so for a model's flat buffers, whose trained prefix is a multiple of 64), else `scalar`.
   * Asking for `vec4` with a ragged n is an error.
   */
  variant?: AdamVariant;
}

// ln(beta) for beta^t = exp(t ln beta); beta = 0 would give -Infinity, and exp(-80 t) is
// already 0 in f32, so that is where it stops.
function logBeta(beta: number): number {
  return Math.max(Math.log(beta), -80);
}

/**
 * One optimizer step as two dispatches, `[update, advance]`, to encode in this order at the
 * end of a training step. update: with t = counter[0] + 1,
 * m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2,
 * p -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps) + lr weightDecay p;
 * advance: counter[0] += 1. Shapes: params, grads, m, v [n] f32; counter [1] u32 holding
 * the number of completed steps (0 for a fresh run). params, grads, m and v may be views (the
 * trained prefix of a flat buffer whose tail holds running statistics). The update runs four
 * elements per invocation when n is a multiple of 4 ({@linkcode AdamOptions}).
 */
export async function adamStep(
  gpu: Gpu,
  t: { params: TensorLike; grads: TensorLike; m: TensorLike; v: TensorLike; counter: Tensor },
  c: AdamConfig,
  options: AdamOptions = {},
): Promise<Dispatch[]> {
  const where = "adam.update";
  const beta1 = c.beta1 ?? 0.9;
  const beta2 = c.beta2 ?? 0.999;
  const eps = c.eps ?? 1e-8;
  const weightDecay = c.weightDecay ?? 0;
  const bad = (name: string, v: number, rule: string) => {
    throw new Error(`${where}: ${name} = ${v}, must be ${rule}`);
  };
  if (!(Number.isFinite(c.lr) && c.lr >= 0)) bad("lr", c.lr, "finite and >= 0");
  if (!(beta1 >= 0 && beta1 < 1)) bad("beta1", beta1, "in [0, 1)");
  if (!(beta2 >= 0 && beta2 < 1)) bad("beta2", beta2, "in [0, 1)");
  if (!(Number.isFinite(eps) && eps > 0)) bad("eps", eps, "finite and > 0");
  if (!(Number.isFinite(weightDecay) && weightDecay >= 0)) {
    bad("weightDecay", weightDecay, "finite and >= 0");
  }
  const n = t.params.length;
  if (n < 1) throw new Error(`${where}: params is empty`);
  expectLength(where, "grads", t.grads, n);
  expectLength(where, "m", t.m, n);
  expectLength(where, "v", t.v, n);
  expectLength(where, "counter", t.counter, 1);
  if (t.counter.dtype !== "u32") {
    throw new Error(`${where}: counter (${t.counter.label}) must be u32, is ${t.counter.dtype}`);
  }
  // Views start on 256-byte boundaries, so a view of a multiple of 4 floats is whole vec4s.
  const tuner = tunerOf(gpu);
  if (tuner && options.variant === undefined && n % 4 === 0) {
    // The tuner's choice (src/gpu/tuner.ts), timed on zero-filled scratch state of n floats.
    const made: Tensor[] = [];
    const z = (dtype: "f32" | "u32", len: number) => {
      const s = new Tensor(gpu.device, dtype, [len], "tune adam scratch");
      made.push(s);
      return s;
    };
    const pick = await tuner.pick(
      "adam.update",
      `n${n}`,
      (["vec4", "scalar"] as const).map((v) => ({
        name: v,
        build: () =>
          adamStep(
            gpu,
            {
              params: z("f32", n),
              grads: z("f32", n),
              m: z("f32", n),
              v: z("f32", n),
              counter: z("u32", 1),
            },
            c,
            { variant: v },
          ),
      })),
      () => made.forEach((s) => s.destroy()),
    );
    options = { ...options, variant: pick as AdamVariant };
  }
  const variant = options.variant ?? (n % 4 === 0 ? "vec4" : "scalar");
  if (variant === "vec4" && n % 4 !== 0) {
    throw new Error(`${where}: the vec4 kernel needs n divisible by 4 (got ${n})`);
  }
  const vec = variant === "vec4";
  const name = (s: string) => vec ? `${s}4` : s;
  const k = await gpu.kernel("adam");
  const update = await k.dispatch(
    vec ? "update_vec4" : "update",
    {
      [name("params")]: t.params,
      [name("m")]: t.m,
      [name("v")]: t.v,
      [name("grads")]: t.grads,
      counter: t.counter,
      dims: {
        n,
        lr: c.lr,
        beta1,
        beta2,
        one_minus_beta1: 1 - beta1,
        one_minus_beta2: 1 - beta2,
        log_beta1: logBeta(beta1),
        log_beta2: logBeta(beta2),
        eps,
        weight_decay: weightDecay,
      },
    },
    grid1d(vec ? n / 4 : n, WG),
    { label: vec ? "adam_update_vec4" : "adam_update" },
  );
  update.flops = 16 * n;
  update.bytes = 28 * n;
  const advance = await k.dispatch("advance", { counter: t.counter }, [1, 1, 1], {
    label: "adam_advance",
  });
  advance.bytes = 8;
  return [update, advance];
}
