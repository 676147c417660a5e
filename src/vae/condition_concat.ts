/**
 * Layer kind: condition concat (no parameters), [a | c] for a conditional VAE (Sohn et al.
 * 2015): the batch's conditions c [B, C] appended to each of the P positions of its input
 * (as extra channels of a conv model's image, P = H W; to z before a decoder, P = 1). Its
 * backward cuts d[a | c] to da.
 *
 * Legend: B batch, P positions, A features per position, C condition values.
 */

import { concatBackward, concatForward } from "../nn/concat.ts";
import type { Layer } from "./layer.ts";

/** [a | c] per position, a having `features` A per position; `out` names the output. */
export function conditionConcat(
  out: string,
  positions: number,
  features: number,
  conditions: number,
): Layer {
  return {
    name: out,
    params: [],
    async forward(ctx, a) {
      if (!ctx.c) throw new Error(`a conditional model needs the batch's conditions (${out})`);
      const B = ctx.batch;
      const shape = { batch: B, positions, features, conditions };
      const y = ctx.mk(out, [B, positions * (features + conditions)]);
      return {
        dispatches: [await concatForward(ctx.gpu, { y, a, c: ctx.c }, shape)],
        y,
        async backward(dy, needDx) {
          if (!needDx) return { dispatches: [] };
          const da = ctx.mk(`${out}.da`, [B, positions * features]);
          return { dispatches: [await concatBackward(ctx.gpu, { da, dy }, shape)], dx: da };
        },
      };
    },
  };
}
