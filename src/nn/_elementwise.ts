/**
 * The one-launch builder of the elementwise layers (concat, upsample1d): one invocation per
 * value of the output, the first tensor given, in workgroups of 256.
 */

import type { Gpu } from "../gpu/device.ts";
import {
  type Binding,
  type Dispatch,
  expectLength,
  expectSizes,
  grid1d,
  type TensorLike,
} from "../gpu/kernel.ts";

const WG = 256;

/**
 * Checks the shape's sizes (each >= 1) and every tensor's length, then builds the launch of
 * `kernel`'s `entry` with the tensors (in the order given, output first) and the `dims`
 * uniform, labelled `label`.
 */
export async function elementwiseLaunch(
  gpu: Gpu,
  [kernel, entry]: [string, string],
  shape: object,
  tensors: [string, TensorLike, number][],
  dims: Record<string, number>,
  label: string,
): Promise<Dispatch> {
  const where = `${kernel}.${entry}`;
  expectSizes(where, shape);
  const bindings: Record<string, Binding> = {};
  for (const [name, t, length] of tensors) {
    expectLength(where, name, t, length);
    bindings[name] = t;
  }
  const k = await gpu.kernel(kernel);
  return await k.dispatch(
    entry,
    { ...bindings, dims },
    grid1d(tensors[0][2], WG),
    { label },
  );
}
