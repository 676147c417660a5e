/**
 * The seeded tensors of a convolution kernel test (conv2d, conv_transpose2d): x [X] and dy [Y]
 * as tensors, w [WN] and b [BN] (and dw, db) as views into flat parameter and gradient buffers
 * at non-zero 256-byte-aligned offsets, with junk around the views.
 */
import type { Tensor } from "../src/gpu/buffer.ts";
import type { Gpu } from "../src/gpu/device.ts";
import type { TensorView } from "../src/gpu/kernel.ts";
import { f32, out, type Rng } from "./_helpers.ts";

/** Elements per 256 bytes: a view's offset must be 256-byte aligned. */
const ALIGN = 64;

/** w and b (and dw, db) as views into one flat buffer at non-zero 256-byte-aligned offsets. */
export function flatLayout(wn: number, bn: number): { w: number; b: number; total: number } {
  const w = ALIGN;
  const b = Math.ceil((w + wn) / ALIGN) * ALIGN + ALIGN;
  return { w, b, total: b + bn + 7 };
}

function view(t: Tensor, offset: number, length: number): TensorView {
  return { tensor: t, offset, length };
}

/**
 * Draws x, w (in [-0.5, 0.5)), b, dy and the junk from `rng` in that order and uploads them:
 * `fwd` and `bwd` are the forward's and the backward's bindings; read y from yT, dx from dxT
 * and dw, db from `grads` at `at`; `tensors` are all it made, to destroy.
 */
export function convViews(gpu: Gpu, rng: Rng, X: number, Y: number, WN: number, BN: number) {
  const at = flatLayout(WN, BN);
  const x = rng.uniform(X);
  const w = rng.uniform(WN, -0.5, 0.5);
  const b = rng.uniform(BN);
  const dy = rng.uniform(Y);
  const flat = rng.uniform(at.total, -9, 9); // junk around the views
  flat.set(w, at.w);
  flat.set(b, at.b);
  const params = f32(gpu, [at.total], flat, "params");
  const grads = out(gpu, [at.total], "grads");
  const xT = f32(gpu, [X], x), dyT = f32(gpu, [Y], dy);
  const yT = out(gpu, [Y]), dxT = out(gpu, [X]);
  const wV = view(params, at.w, WN);
  return {
    at,
    x,
    w,
    b,
    dy,
    grads,
    yT,
    dxT,
    fwd: { y: yT, x: xT, w: wV, b: view(params, at.b, BN) },
    bwd: { dx: dxT, dw: view(grads, at.w, WN), db: view(grads, at.b, BN), dy: dyT, x: xT, w: wV },
    tensors: [params, grads, xT, dyT, yT, dxT],
  };
}
