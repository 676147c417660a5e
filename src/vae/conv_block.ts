/**
 * Layer kinds: the conv block, Conv2d -> [BatchNorm] -> LeakyReLU(leak) (the conv encoder's
 * layers), and the transposed conv block, ConvTranspose2d -> [BatchNorm] -> LeakyReLU(leak),
 * or the transposed convolution alone (the conv decoder's layers; its last one gives the
 * logits): one builder, `convBlock`, with `transposed`. Channels last throughout.
 *
 * With batch norm the convolution has no bias (BN subtracts the batch mean, so a bias would
 * get a zero gradient and Adam would turn its rounding noise into steps). Batch norm uses
 * the batch statistics in a training step and the running statistics everywhere else (test
 * loss, reconstructions, samples, the exported decoder); the running statistics are buffers
 * of the flat layout, so checkpoints and resume carry them. BatchNorm and the LeakyReLU run
 * fused (batchNormLeaky*: one elementwise pass each way, the normed values never stored)
 * unless `tuning.fuseBatchNorm` is false, with the same numbers.
 *
 * Legend: B batch, H x W x Cin input map, Ho x Wo x Cout output map, K kernel.
 */

import type { Tensor } from "../gpu/buffer.ts";
import type { Dispatch, TensorView } from "../gpu/kernel.ts";
import { activationBackward, activationForward } from "../nn/activation.ts";
import {
  batchNormBackward,
  batchNormForward,
  batchNormForwardEval,
  batchNormLeakyBackward,
  batchNormLeakyForward,
  batchNormLeakyForwardEval,
} from "../nn/batchnorm.ts";
import { conv2dBackward, conv2dForward, conv2dOutputSize, type Conv2dShape } from "../nn/conv2d.ts";
import {
  convTranspose2dBackward,
  convTranspose2dForward,
  convTranspose2dOutputSize,
  type ConvTranspose2dShape,
} from "../nn/conv_transpose2d.ts";
import { type Layer, type LayerContext, param, type ParamSpec } from "./layer.ts";

// ---------------------------------------------------------------------------------------
// [BatchNorm] -> LeakyReLU after a convolution, forward and backward (both blocks).

/** The norm and activation after a block's convolution. */
interface NormAct {
  /** Batch norm's parameter prefix ("encoder.bn.0"), or null for none. */
  bn: string | null;
  /** LeakyReLU's negative slope (0: ReLU). */
  leak: number;
}

function normParams(bn: string | null, channels: number): ParamSpec[] {
  if (!bn) return [];
  return [
    { name: `${bn}.gamma`, shape: [channels], group: "norm" },
    { name: `${bn}.beta`, shape: [channels], group: "norm" },
    { name: `${bn}.running_mean`, shape: [channels], group: "buffer" },
    { name: `${bn}.running_var`, shape: [channels], group: "buffer" },
  ];
}

/**
 * pre [M, C] -> h = leaky(BN(pre)) (or leaky(pre) without BN), M = B Ho Wo; returns the
 * dispatches, h, and the backward d(h) -> d(pre) from what it saved.
 */
async function normActForward(
  ctx: LayerContext,
  o: NormAct,
  pre: Tensor,
  prefix: string,
): Promise<{ dispatches: Dispatch[]; h: Tensor; backward: (dh: Tensor) => Promise<Backed> }> {
  const { gpu, mk } = ctx;
  const channels = pre.shape.at(-1)!;
  const rows = pre.length / channels;
  const h = mk(`${prefix}.h`, [...pre.shape]);
  if (!o.bn) {
    const dispatches = [await activationForward(gpu, "leaky_relu", { y: h, x: pre }, o.leak)];
    return {
      dispatches,
      h,
      // d(pre) = d(h) * (pre > 0 ? 1 : leak)
      backward: async (dh) => {
        const dpre = mk(`${prefix}.dh`, [...pre.shape]);
        const d = await activationBackward(gpu, "leaky_relu", { dx: dpre, dy: dh, x: pre }, o.leak);
        return { dispatches: [d], dpre };
      },
    };
  }
  const shape = { rows, channels };
  const bn = o.bn;
  const gamma = param(ctx, `${bn}.gamma`), beta = param(ctx, `${bn}.beta`);
  const stats = {
    gamma: gamma.p,
    beta: beta.p,
    runningMean: param(ctx, `${bn}.running_mean`).p,
    runningVar: param(ctx, `${bn}.running_var`).p,
  };
  const saved = ctx.train
    ? {
      mean: mk(`${prefix}.bn_mean`, [channels]),
      rstd: mk(`${prefix}.bn_rstd`, [channels]),
      delta: mk(`${prefix}.bn_delta`, [channels]),
    }
    : null;
  // The backward of BN (batch statistics) from d(normed), to d(pre), dgamma, dbeta.
  const grads = (dpre: Tensor) => ({
    dx: dpre,
    dgamma: gamma.g,
    dbeta: beta.g,
    x: pre,
    gamma: gamma.p,
    mean: saved!.mean,
    rstd: saved!.rstd,
  });
  // The fused backward masks by the sign of the activated output, which is the normed
  // value's sign only for a leak >= 0.
  if (ctx.tuning.fuseBatchNorm !== false && o.leak >= 0) {
    const t = { h, x: pre, ...stats };
    const bn = { vec4: ctx.tuning.batchNormVec4 };
    const dispatches = saved
      ? await batchNormLeakyForward(gpu, { ...t, ...saved }, shape, o.leak, bn)
      : await batchNormLeakyForwardEval(gpu, t, shape, o.leak);
    return {
      dispatches,
      h,
      backward: async (dh) => {
        const dpre = mk(`${prefix}.dpre`, [...pre.shape]);
        const t = { ...grads(dpre), dh, beta: beta.p, delta: saved!.delta };
        return { dispatches: await batchNormLeakyBackward(gpu, t, shape, o.leak, bn), dpre };
      },
    };
  }
  const normed = mk(`${prefix}.bn`, [...pre.shape]);
  const t = { y: normed, x: pre, ...stats };
  const dispatches = saved
    ? await batchNormForward(gpu, { ...t, ...saved }, shape)
    : await batchNormForwardEval(gpu, t, shape);
  dispatches.push(await activationForward(gpu, "leaky_relu", { y: h, x: normed }, o.leak));
  return {
    dispatches,
    h,
    backward: async (dh) => {
      const dn = mk(`${prefix}.dh`, [...pre.shape]);
      const dpre = mk(`${prefix}.dpre`, [...pre.shape]);
      return {
        dispatches: [
          await activationBackward(gpu, "leaky_relu", { dx: dn, dy: dh, x: normed }, o.leak),
          ...await batchNormBackward(gpu, { ...grads(dpre), dy: dn }, shape),
        ],
        dpre,
      };
    },
  };
}

interface Backed {
  dispatches: Dispatch[];
  dpre: Tensor;
}

/** A convolution's weight, and its bias unless batch norm follows. */
function convParams(name: string, weight: number[], channels: number, bn: boolean): ParamSpec[] {
  const w: ParamSpec = { name: `${name}.weight`, shape: weight, group: "weight" };
  return bn ? [w] : [w, { name: `${name}.bias`, shape: [channels], group: "weight" }];
}

function biasOf(ctx: LayerContext, name: string): { p?: TensorView; g?: TensorView } {
  return ctx.state.layout.has(`${name}.bias`) ? param(ctx, `${name}.bias`) : {};
}

// ---------------------------------------------------------------------------------------
// The block: Conv2d or ConvTranspose2d(Cout, K, stride, same) -> [BatchNorm] -> [LeakyReLU].

/** A conv or transposed conv block's settings. */
export interface ConvBlock extends NormAct {
  /**
   * Parameter prefix: `${name}.weight` ([KH, KW, Cin, Cout]; transposed [KH, KW, Cout, Cin],
   * the conv2d it is the gradient of) and, without batch norm, `${name}.bias` [Cout].
   */
  name: string;
  /** The convolution's shape at batch 1 (the batch comes from the context). */
  shape: Conv2dShape | ConvTranspose2dShape;
  /** A transposed convolution (the decoder's upsampling layers). */
  transposed?: boolean;
  /** False: the convolution's output is the block's (the decoder's logits); no BN. */
  activate?: boolean;
  /** Name of the convolution's output tensor (default `${name}.pre`). */
  out?: string;
}

/** A conv block, or with `transposed` a transposed conv block. */
export function convBlock(o: ConvBlock): Layer {
  const s1 = o.shape, [kh, kw] = s1.kernel, Ci = s1.inChannels, Co = s1.outChannels;
  const activate = o.activate ?? true;
  const bn = activate ? o.bn : null;
  const op = o.transposed
    ? {
      size: convTranspose2dOutputSize,
      forward: convTranspose2dForward,
      backward: convTranspose2dBackward,
    }
    : { size: conv2dOutputSize, forward: conv2dForward, backward: conv2dBackward };
  const weight = o.transposed ? [kh, kw, Co, Ci] : [kh, kw, Ci, Co];
  return {
    name: o.name,
    params: [...convParams(o.name, weight, Co, !!bn), ...normParams(bn, Co)],
    async forward(ctx, x) {
      const B = ctx.batch, s = { ...s1, batch: B };
      const { height, width } = op.size(s);
      const w = param(ctx, `${o.name}.weight`), b = biasOf(ctx, o.name);
      const pre = ctx.mk(o.out ?? `${o.name}.pre`, [B, height, width, Co]);
      const conv = await op.forward(ctx.gpu, { y: pre, x, w: w.p, b: b.p }, s);
      const act = activate ? await normActForward(ctx, { ...o, bn }, pre, o.name) : null;
      return {
        dispatches: [...conv, ...act?.dispatches ?? []],
        y: act?.h ?? pre,
        // d(pre) through the activation and batch norm, then dx, dw, db of the convolution.
        async backward(dy, needDx) {
          const r = act ? await act.backward(dy) : { dispatches: [], dpre: dy };
          const dx = needDx ? ctx.mk(`${o.name}.dx`, [B, s.height, s.width, Ci]) : undefined;
          const t = { dx, dw: w.g, db: b.g, dy: r.dpre, x, w: w.p };
          return { dispatches: [...r.dispatches, ...await op.backward(ctx.gpu, t, s)], dx };
        },
      };
    },
  };
}
