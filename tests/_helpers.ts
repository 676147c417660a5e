/**
 * Shared test helpers: the one place tests find a GPU adapter, seeded random inputs,
 * comparison against the float64 reference with a printed max error, and central finite
 * differences for checking reference backwards.
 *
 * Outside CI a missing adapter skips the GPU tests with a loud message; under CI=true it
 * fails them.
 */

import { type Gpu, GpuUnavailableError, requestGpu } from "../src/gpu/device.ts";
import { type HostData, poisoned, readback, type Tensor, upload } from "../src/gpu/buffer.ts";
import { type Dispatch, submit } from "../src/gpu/kernel.ts";
import { mulberry32 } from "../src/io/random.ts";

const CI = Deno.env.get("CI") === "true";

async function findGpu(): Promise<Gpu | null> {
  try {
    return await requestGpu();
  } catch (e) {
    if (!(e instanceof GpuUnavailableError) || CI) throw e;
    console.warn(`\n!!! SKIPPING GPU TESTS: ${e.message}\n`);
    return null;
  }
}

const found = await findGpu();

/** The adapter's device for every GPU test in this process (null when skipping). */
export const gpu: Gpu | null = found;

/** Register a test that needs the GPU; it receives the shared {@linkcode Gpu}. */
export function gpuTest(name: string, fn: (gpu: Gpu) => Promise<void>): void {
  Deno.test({
    name,
    ignore: found === null,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: () => fn(found!),
  });
}

/**
 * True in the browser kernel suite (tests/browser/run.ts), where these test files run in a
 * Chromium page with a `Deno.test` / `Deno.env` shim and nothing else of Deno.
 */
export const IN_BROWSER: boolean = "document" in globalThis;

/** Register a test that needs Deno itself (a subprocess, files); the browser suite ignores it. */
export function denoOnlyTest(name: string, fn: () => Promise<void> | void): void {
  Deno.test({ name, ignore: IN_BROWSER, fn });
}

/** Seeded float64 generator for test inputs (mulberry32, as the weight initialisation uses). */
export class Rng {
  /** Uniform in [0, 1). */
  readonly next: () => number;
  /** @param seed any 32-bit integer */
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  /** n values uniform in [lo, hi), rounded to f32 so GPU and reference see the same inputs. */
  uniform(n: number, lo = -1, hi = 1): Float64Array {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = Math.fround(lo + (hi - lo) * this.next());
    return out;
  }
  /** n standard normal values (Box-Muller), rounded to f32. */
  normal(n: number, scale = 1): Float64Array {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const u = 1 - this.next();
      const v = this.next();
      out[i] = Math.fround(scale * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
    }
    return out;
  }
  /** Uniform values whose magnitude is at least `gap`, to keep finite differences off kinks. */
  awayFromZero(n: number, gap = 0.05): Float64Array {
    return this.uniform(n).map((v) => Math.fround(v >= 0 ? v + gap : v - gap));
  }
}

/** Upload a float64 array as f32. */
export function f32(gpu: Gpu, shape: number[], data: HostData, label = "input"): Tensor {
  return upload(gpu.device, "f32", shape, data, label);
}

/** A NaN-filled f32 output. */
export function out(gpu: Gpu, shape: number[], label = "output"): Tensor {
  return poisoned(gpu.device, shape, label);
}

/** Submit the dispatches in one pass and read back the named tensors as float64. */
export async function run(
  gpu: Gpu,
  dispatches: Dispatch[],
  ...read: Tensor[]
): Promise<Float64Array[]> {
  submit(gpu.device, dispatches, "test");
  const outs: Float64Array[] = [];
  for (const t of read) outs.push(Float64Array.from(await readback(gpu.device, t)));
  return outs;
}

/**
 * Assert `got` matches `want` elementwise: |got - want| <= rtol * max(|want|, rms(want)),
 * plus `atol`. The scale floor rms(want) keeps a sum that cancels to near zero from
 * demanding relative accuracy f32 cannot give. Prints the max error.
 */
export function assertClose(
  label: string,
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  rtol = 1e-4,
  atol = 0,
): number {
  if (got.length !== want.length) {
    throw new Error(`${label}: length ${got.length} != ${want.length}`);
  }
  let rms = 0;
  for (let i = 0; i < want.length; i++) rms += want[i] * want[i];
  rms = Math.sqrt(rms / Math.max(1, want.length));
  let worst = 0;
  let at = -1;
  for (let i = 0; i < want.length; i++) {
    const g = got[i];
    const scale = Math.max(Math.abs(want[i]), rms) * rtol + atol;
    const err = Math.abs(g - want[i]);
    if (!Number.isFinite(g) || err > scale) {
      throw new Error(
        `${label}: element ${i} is ${g}, expected ${want[i]} (error ${err.toExponential(2)} > ` +
          `tolerance ${scale.toExponential(2)})`,
      );
    }
    const rel = err / (Math.max(Math.abs(want[i]), rms) || 1);
    if (rel > worst) {
      worst = rel;
      at = i;
    }
  }
  console.log(
    `  ${label}: max rel error ${
      worst.toExponential(2)
    } (at ${at}, n=${want.length}, rtol ${rtol})`,
  );
  return worst;
}

/**
 * Check an analytic gradient against central finite differences in float64.
 * `loss(x)` is a scalar function of x; `grad` its claimed gradient at x. Every element is
 * checked when x has at most `maxChecks` elements, else a seeded sample of them.
 */
export function assertGradient(
  label: string,
  loss: (x: Float64Array) => number,
  x: Float64Array,
  grad: ArrayLike<number>,
  { h = 1e-6, rtol = 1e-6, maxChecks = 400, seed = 7 } = {},
): void {
  const rng = new Rng(seed);
  const idx = x.length <= maxChecks
    ? [...x.keys()]
    : Array.from({ length: maxChecks }, () => Math.floor(rng.next() * x.length));
  let scale = 0;
  for (let i = 0; i < grad.length; i++) scale = Math.max(scale, Math.abs(grad[i]));
  let worst = 0;
  for (const i of idx) {
    const keep = x[i];
    x[i] = keep + h;
    const up = loss(x);
    x[i] = keep - h;
    const down = loss(x);
    x[i] = keep;
    const fd = (up - down) / (2 * h);
    const err = Math.abs(fd - grad[i]) / Math.max(Math.abs(grad[i]), scale * 1e-2, 1e-8);
    if (!(err <= rtol)) {
      throw new Error(
        `${label}: d/dx[${i}] analytic ${grad[i]}, finite difference ${fd} (rel ${
          err.toExponential(2)
        })`,
      );
    }
    worst = Math.max(worst, err);
  }
  console.log(
    `  ${label}: finite differences agree to ${worst.toExponential(2)} (${idx.length} checked)`,
  );
}

/** Sum of w[i] * y[i]: a scalar loss that weights every output differently. */
export function dot(w: ArrayLike<number>, y: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += w[i] * y[i];
  return s;
}

/** A conditional model's test conditions: one-hot rows for C > 1, a value in [-1, 1] for C = 1. */
export function conditionsFor(rng: Rng, batch: number, C: number): Float64Array | undefined {
  if (!C) return undefined;
  if (C === 1) return rng.uniform(batch, -1, 1);
  const c = new Float64Array(batch * C);
  for (let b = 0; b < batch; b++) c[b * C + Math.floor(rng.next() * C)] = 1;
  return c;
}
