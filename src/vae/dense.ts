/**
 * Layer kind: dense, y = act(x W + b), the activation (none or ReLU) in the product's
 * epilogue. The MLP's hidden layers and heads, the conv models' heads and the learned prior's
 * network are dense layers.
 *
 * A ReLU is differentiated by the dense layer that reads its output: that layer's dx pass
 * writes d(pre) = (dy W^T) * (x > 0) of the layer below (`inputRelu`), so a ReLU layer's
 * backward receives d(pre), never d(relu(pre)).
 *
 * Legend: B batch, K input features, N output features.
 */

import { denseBackward, denseForward } from "../nn/dense.ts";
import { type Layer, param } from "./layer.ts";

/** A dense layer's settings. */
export interface DenseLayer {
  /** Parameter prefix: `${name}.weight` [K, N], `${name}.bias` [N]. */
  name: string;
  /** K. */
  inputs: number;
  /** N. */
  outputs: number;
  /** y = relu(x W + b) instead of x W + b. */
  relu?: boolean;
  /** The input is a ReLU's output (a `relu` dense layer's): dx is masked by it. */
  inputRelu?: boolean;
  /** Name of the output tensor (default `${name}.h`). */
  out?: string;
}

/** A dense layer. */
export function dense(o: DenseLayer): Layer {
  return {
    name: o.name,
    params: [
      { name: `${o.name}.weight`, shape: [o.inputs, o.outputs], group: "weight" },
      { name: `${o.name}.bias`, shape: [o.outputs], group: "weight" },
    ],
    async forward(ctx, x) {
      const B = ctx.batch;
      const s = { batch: B, inFeatures: o.inputs, outFeatures: o.outputs };
      const W = param(ctx, `${o.name}.weight`), b = param(ctx, `${o.name}.bias`);
      const y = ctx.mk(o.out ?? `${o.name}.h`, [B, o.outputs]);
      const dispatches = await denseForward(
        ctx.gpu,
        { y, x, W: W.p, b: b.p },
        s,
        o.relu ? { activation: "relu" } : {},
      );
      return {
        dispatches,
        y,
        // dx = dy W^T (masked by x > 0 after a ReLU), dW = x^T dy, db = sum_b dy.
        async backward(dy, needDx) {
          const dx = needDx ? ctx.mk(`${o.name}.dx`, [B, o.inputs]) : undefined;
          const dxActivation = dx && o.inputRelu ? "relu" : "identity";
          return {
            dispatches: await denseBackward(
              ctx.gpu,
              { dx, dW: W.g, db: b.g, dy, x, W: W.p },
              s,
              { fuseDb: true, dxActivation },
            ),
            dx,
          };
        },
      };
    },
  };
}

/**
 * Dense layers `${part}.${i}` of `widths` with ReLU, then the output layer `last` of `outputs`
 * features without activation (its output tensor named `out`): the MLP's encoder and decoder,
 * and the learned prior's network.
 */
export function denseStack(
  part: string,
  inputs: number,
  widths: number[],
  last: { name: string; outputs: number; out: string },
): Layer[] {
  const layers: Layer[] = [];
  let k = inputs;
  widths.forEach((n, i) => {
    layers.push(
      dense({ name: `${part}.${i}`, inputs: k, outputs: n, relu: true, inputRelu: i > 0 }),
    );
    k = n;
  });
  layers.push(dense({ ...last, inputs: k, inputRelu: widths.length > 0 }));
  return layers;
}
