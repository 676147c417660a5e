/**
 * A model's flat state on the GPU (parameters, gradients, Adam moments, step counter: one
 * buffer each, with named views per layer) and its seeded initial values.
 */

import { Tensor, upload } from "../gpu/buffer.ts";
import type { Gpu } from "../gpu/device.ts";
import type { TensorView } from "../gpu/kernel.ts";
import type { ParamLayout } from "../nn/params.ts";
import { mulberry32 } from "../io/random.ts";

/**
 * Initial state: every weight (and its bias) uniform in +-1/sqrt(fan_in), fan_in being the
 * product of all but the weight's last axis (in features; KH KW Cin for a convolution) -
 * the usual default for linear and convolution layers - from a seeded generator, in layout
 * order. Batch norm starts as the identity: gamma 1, beta 0, running mean 0, running var 1.
 * Gaps between parameters are zero.
 */
export function initParams(layout: ParamLayout, seed: number): Float32Array {
  const p = new Float32Array(layout.size);
  const next = mulberry32(seed);
  for (const e of layout.entries) {
    const kind = e.name.slice(e.name.lastIndexOf(".") + 1);
    if (kind === "gamma" || kind === "running_var") p.fill(1, e.offset, e.offset + e.length);
    if (kind !== "weight" && kind !== "bias") continue;
    const w = kind === "weight" ? e : layout.get(e.name.replace(/bias$/, "weight"));
    const fanIn = w.shape.slice(0, -1).reduce((a, b) => a * b, 1);
    const bound = 1 / Math.sqrt(fanIn);
    for (let i = 0; i < e.length; i++) p[e.offset + i] = (2 * next() - 1) * bound;
  }
  return p;
}

/** The flat state of a model on the GPU: parameters, gradients, Adam moments, step counter. */
export class ModelState {
  /** Parameter layout (names, shapes, offsets). */
  readonly layout: ParamLayout;
  /** Flat parameters. */
  readonly params: Tensor;
  /** Flat gradients, overwritten by every step's backward. */
  readonly grads: Tensor;
  /** Adam's first moment. */
  readonly m: Tensor;
  /** Adam's second moment. */
  readonly v: Tensor;
  /** Completed optimizer steps (u32 [1]); also keys the reparameterization noise. */
  readonly counter: Tensor;

  /** Allocate the state and upload `initial` parameters. */
  constructor(gpu: Gpu, layout: ParamLayout, initial: Float32Array) {
    const d = gpu.device;
    const n = layout.size;
    this.layout = layout;
    this.params = upload(d, "f32", [n], initial, "params");
    this.grads = new Tensor(d, "f32", [n], "grads");
    this.m = new Tensor(d, "f32", [n], "adam.m");
    this.v = new Tensor(d, "f32", [n], "adam.v");
    this.counter = new Tensor(d, "u32", [1], "step counter");
  }

  /**
   * What Adam updates: params, grads and both moments over the trained prefix of the flat
   * buffers (running statistics past it are left alone), and the step counter.
   */
  optimized(): {
    params: TensorView;
    grads: TensorView;
    m: TensorView;
    v: TensorView;
    counter: Tensor;
  } {
    const n = this.layout.trainableSize;
    const view = (tensor: Tensor) => ({ tensor, offset: 0, length: n });
    return {
      params: view(this.params),
      grads: view(this.grads),
      m: view(this.m),
      v: view(this.v),
      counter: this.counter,
    };
  }

  /** Free the GPU buffers. */
  destroy(): void {
    for (const t of [this.params, this.grads, this.m, this.v, this.counter]) t.destroy();
  }
}
