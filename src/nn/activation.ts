/**
 * Activations: ReLU, LeakyReLU(alpha), sigmoid, elementwise on tensors of n elements.
 * Forward saves nothing extra: leaky_relu's backward reads the input x, sigmoid's the output y.
 */

import type { Tensor } from "../gpu/buffer.ts";
import type { Gpu } from "../gpu/device.ts";
import { type Binding, type Dispatch, expectLength, grid1d } from "../gpu/kernel.ts";

/** Activation kinds the layers use. ReLU is LeakyReLU with alpha = 0. */
export type ActivationKind = "relu" | "leaky_relu" | "sigmoid";

const WG = 256;

function entry(kind: ActivationKind): string {
  return kind === "sigmoid" ? "sigmoid" : "leaky_relu";
}

/** y = act(x), elementwise; `alpha` is LeakyReLU's negative slope (default 0.2). */
export async function activationForward(
  gpu: Gpu,
  kind: ActivationKind,
  t: { y: Tensor; x: Tensor },
  alpha = 0.2,
): Promise<Dispatch> {
  const k = await gpu.kernel("activation");
  const name = `${entry(kind)}_forward`;
  const n = t.x.length;
  expectLength(`activation.${name}`, "y", t.y, n);
  const d = await k.dispatch(
    name,
    { y: t.y, x: t.x, dims: { n, alpha: kind === "relu" ? 0 : alpha } },
    grid1d(n, WG),
    { label: `${kind}_forward` },
  );
  d.bytes = 8 * n;
  return d;
}

/** dx = dy * act'(.), from the saved input x (relu, leaky_relu) or output y (sigmoid). */
export async function activationBackward(
  gpu: Gpu,
  kind: ActivationKind,
  t: { dx: Tensor; dy: Tensor; x?: Tensor; y?: Tensor },
  alpha = 0.2,
): Promise<Dispatch> {
  const k = await gpu.kernel("activation");
  const name = `${entry(kind)}_backward`;
  const n = t.dy.length;
  const saved = kind === "sigmoid" ? t.y : t.x;
  if (!saved) {
    throw new Error(`activation.${name}: needs the saved ${kind === "sigmoid" ? "y" : "x"}`);
  }
  expectLength(`activation.${name}`, "dx", t.dx, n);
  expectLength(`activation.${name}`, kind === "sigmoid" ? "saved_y" : "x", saved, n);
  const bindings: Record<string, Binding> = kind === "sigmoid"
    ? { dx: t.dx, dy: t.dy, saved_y: saved, dims: { n, alpha: 0 } }
    : { dx: t.dx, dy: t.dy, x: saved, dims: { n, alpha: kind === "relu" ? 0 : alpha } };
  const d = await k.dispatch(name, bindings, grid1d(n, WG), { label: `${kind}_backward` });
  d.bytes = 12 * n;
  return d;
}
