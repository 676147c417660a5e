/**
 * The layer level: what every layer kind (dense.ts, conv_block.ts, upsample.ts,
 * condition_concat.ts; the prior in prior.ts is a list of dense layers) provides, and the
 * two loops that run a list of them.
 *
 * A layer declares its parameters (names, shapes) and builds its forward dispatches for a
 * batch; the forward returns, beside its output, the builder of its backward, which reads
 * only the tensors that forward saved (llm.c's activation struct, kept in a closure). An
 * encoder or a decoder is a list of layers; src/vae/model.ts writes the training step out
 * as forward in order, backward in reverse, then Adam.
 *
 * Legend: B batch.
 */

import type { Tensor } from "../gpu/buffer.ts";
import type { Gpu } from "../gpu/device.ts";
import type { Dispatch, TensorView } from "../gpu/kernel.ts";
import type { ParamLayout } from "../nn/params.ts";
import type { MakeTensor } from "./common.ts";
import type { ModelState } from "./state.ts";

/** Build-time choices of kernels that give the same numbers (for benchmarks of them). */
export interface VaeTuning {
  /**
   * Run BatchNorm and the LeakyReLU after it as one elementwise pass each way (default true);
   * false runs them as two passes, with the same numbers.
   */
  fuseBatchNorm?: boolean;
  /**
   * The fused launches' form: vec4 (true) or scalar (false), the same numbers; absent, the
   * default or the device's tuner's choice (src/nn/batchnorm.ts).
   */
  batchNormVec4?: boolean;
}

/** What a layer's builders read: the GPU, the flat state, the batch size and the mode. */
export interface LayerContext {
  /** The device. */
  gpu: Gpu;
  /** Parameters and gradients, viewed by name. */
  state: ModelState;
  /** B, examples per batch. */
  batch: number;
  /** A training step (batch statistics, tensors saved for the backward) or evaluation. */
  train: boolean;
  /** The batch's conditions c [B, C] of a conditional model. */
  c?: Tensor;
  /** Makes (and records by name) activation tensors. */
  mk: MakeTensor;
  /** Kernel choices. */
  tuning: VaeTuning;
}

/** A parameter's view in the flat parameters and in the flat gradients. */
export function param(ctx: LayerContext, name: string): { p: TensorView; g: TensorView } {
  const L = ctx.state.layout;
  return { p: L.view(ctx.state.params, name), g: L.view(ctx.state.grads, name) };
}

/** One parameter a layer declares. */
export interface ParamSpec {
  /** Checkpoint name, e.g. "encoder.conv.0.weight". */
  name: string;
  /** Shape, e.g. [KH, KW, Cin, Cout]. */
  shape: number[];
  /**
   * Where it goes in the flat layout: "weight" (weights and biases, in layer order),
   * "norm" (batch norm's gamma and beta, after every weight), "buffer" (running statistics,
   * saved but not optimized, last).
   */
  group: "weight" | "norm" | "buffer";
}

/** A layer's backward: d(output) in, its parameter gradients written, d(input) out. */
export type Backward = (
  dy: Tensor,
  needDx: boolean,
) => Promise<{ dispatches: Dispatch[]; dx?: Tensor }>;

/** A layer's forward on one batch: its dispatches, output, and backward builder. */
export interface LayerForward {
  /** Dispatches, in order. */
  dispatches: Dispatch[];
  /** The output. */
  y: Tensor;
  /** Builds the backward from what this forward saved (training only). */
  backward: Backward;
}

/** One layer kind's instance in a model. */
export interface Layer {
  /** Prefix of its parameter names ("encoder.0"), or what it is when it has none. */
  readonly name: string;
  /** Its parameters, in order. */
  readonly params: ParamSpec[];
  /** Build its forward on input `x` (any shape of the right length) for one batch. */
  forward(ctx: LayerContext, x: Tensor): Promise<LayerForward>;
}

/**
 * The flat layout of a model's layers: every "weight" parameter in layer order, then every
 * "norm" parameter, then the buffers (so checkpoints keep the names and order they had).
 */
export function addLayers(layout: ParamLayout, layers: Layer[]): void {
  const all = layers.flatMap((l) => l.params);
  for (const group of ["weight", "norm"] as const) {
    for (const p of all) if (p.group === group) layout.add(p.name, p.shape);
  }
  for (const p of all) if (p.group === "buffer") layout.addBuffer(p.name, p.shape);
}

/** A list of layers' forward from `x`, in order; `saved` feeds {@linkcode backwardLayers}. */
export async function forwardLayers(
  ctx: LayerContext,
  layers: Layer[],
  x: Tensor,
): Promise<{ dispatches: Dispatch[]; y: Tensor; saved: LayerForward[] }> {
  const dispatches: Dispatch[] = [];
  const saved: LayerForward[] = [];
  let y = x;
  for (const l of layers) {
    const f = await l.forward(ctx, y);
    dispatches.push(...f.dispatches);
    saved.push(f);
    y = f.y;
  }
  return { dispatches, y, saved };
}

/**
 * The backward of a list of layers from d(output), in reverse. A layer's input gradient is
 * built only where something below needs it: a layer with parameters, or the list's input
 * when `needDx` (a decoder's z; not an encoder's data). A layer without parameters whose
 * input gradient nobody needs builds nothing.
 */
export async function backwardLayers(
  layers: Layer[],
  saved: LayerForward[],
  dy: Tensor,
  needDx: boolean,
): Promise<{ dispatches: Dispatch[]; dx?: Tensor }> {
  const dispatches: Dispatch[] = [];
  let d: Tensor | undefined = dy;
  for (let i = layers.length - 1; i >= 0 && d; i--) {
    const below = needDx || layers.slice(0, i).some((l) => l.params.length > 0);
    if (!below && layers[i].params.length === 0) return { dispatches };
    const r = await saved[i].backward(d, below);
    dispatches.push(...r.dispatches);
    d = r.dx;
  }
  return { dispatches, dx: d };
}
