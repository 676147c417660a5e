/**
 * A stack of dense layers with ReLU between them, forward and backward: the MLP VAE's encoder
 * and decoder, and the learned conditional prior's network.
 *
 * Legend: B batch.
 */

import type { Tensor } from "../gpu/buffer.ts";
import type { Gpu } from "../gpu/device.ts";
import type { Dispatch } from "../gpu/kernel.ts";
import { denseBackward, denseForward } from "../nn/dense.ts";
import type { ModelState } from "./common.ts";

/** One dense + ReLU layer (its input and output, as the backward needs them). */
export interface Layer {
  input: Tensor;
  h: Tensor;
  inW: number;
  outW: number;
}

/**
 * Dense + ReLU layers h_i = relu(h_{i-1} W_i + b_i) from `input` (the ReLU in the product's
 * epilogue), named `${part}.${i}`, then the output layer without activation into `out`.
 */
export async function denseStack(
  gpu: Gpu,
  state: ModelState,
  part: string,
  widths: number[],
  input: Tensor,
  inW: number,
  out: { name: string; param: string; width: number },
  B: number,
  mk: (name: string, shape: number[]) => Tensor,
): Promise<{ dispatches: Dispatch[]; layers: Layer[]; y: Tensor }> {
  const P = (name: string) => state.layout.view(state.params, name);
  const dispatches: Dispatch[] = [];
  const layers: Layer[] = [];
  let h = input, width = inW;
  for (const [i, H] of widths.entries()) {
    const post = mk(`${part}.${i}.h`, [B, H]);
    const s = { batch: B, inFeatures: width, outFeatures: H };
    const W = P(`${part}.${i}.weight`), b = P(`${part}.${i}.bias`);
    dispatches.push(...await denseForward(gpu, { y: post, x: h, W, b }, s, { activation: "relu" }));
    layers.push({ input: h, h: post, inW: width, outW: H });
    h = post;
    width = H;
  }
  const y = mk(out.name, [B, out.width]);
  const s = { batch: B, inFeatures: width, outFeatures: out.width };
  const W = P(`${out.param}.weight`), b = P(`${out.param}.bias`);
  dispatches.push(...await denseForward(gpu, { y, x: h, W, b }, s));
  layers.push({ input: h, h: y, inW: width, outW: out.width });
  return { dispatches, layers, y };
}

/**
 * Backward of {@linkcode denseStack} from d(y): every layer's dW and db (one dispatch), and
 * d(input) of each layer with the ReLU mask of that input applied in the same pass (a hidden
 * layer's input is the ReLU output below it), ending with `dInput` for the stack's input
 * (unmasked; none when it is the data).
 */
export async function denseStackBackward(
  gpu: Gpu,
  state: ModelState,
  params: string[],
  layers: Layer[],
  dy: Tensor,
  dInput: Tensor | undefined,
  B: number,
  mk: (name: string, shape: number[]) => Tensor,
): Promise<Dispatch[]> {
  const P = (name: string) => state.layout.view(state.params, name);
  const G = (name: string) => state.layout.view(state.grads, name);
  const dispatches: Dispatch[] = [];
  for (let i = layers.length - 1; i >= 0; i--) {
    const l = layers[i];
    const dIn = i > 0 ? mk(`${params[i - 1]}.dpre`, [B, l.inW]) : dInput;
    const s = { batch: B, inFeatures: l.inW, outFeatures: l.outW };
    dispatches.push(
      ...await denseBackward(
        gpu,
        {
          dx: dIn,
          dW: G(`${params[i]}.weight`),
          db: G(`${params[i]}.bias`),
          dy,
          x: l.input,
          W: P(`${params[i]}.weight`),
        },
        s,
        { fuseDb: true, dxActivation: i > 0 ? "relu" : "identity" },
      ),
    );
    if (dIn) dy = dIn;
  }
  return dispatches;
}
