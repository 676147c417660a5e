/**
 * Layer kind: linear 2x upsampling along a sequence's width (no parameters). A "linear"
 * decoder layer of a sequence model is this, then a stride-1 transposed conv block with the
 * same kernel and channels ("resize-convolution", in place of a stride-2 transposed
 * convolution).
 *
 * Legend: B batch, H rows (1 for a sequence), W input samples per row, C channels.
 */

import { upsample1dBackward, upsample1dForward } from "../nn/upsample1d.ts";
import type { Layer } from "./layer.ts";

/** The upsampling of a [B, H, W, C] map to [B, H, 2W, C]; `name` names its tensors. */
export function upsample(name: string, height: number, width: number, channels: number): Layer {
  return {
    name,
    params: [],
    async forward(ctx, x) {
      const B = ctx.batch;
      const shape = { rows: B * height, width, channels };
      const y = ctx.mk(name, [B, height, 2 * width, channels]);
      return {
        dispatches: [await upsample1dForward(ctx.gpu, { y, x }, shape)],
        y,
        // The transpose of the upsampling: each input sample gathers its share of dy.
        async backward(dy, needDx) {
          if (!needDx) return { dispatches: [] };
          const dx = ctx.mk(`${name}.dx`, [B, height, width, channels]);
          return { dispatches: [await upsample1dBackward(ctx.gpu, { dx, dy }, shape)], dx };
        },
      };
    },
  };
}
