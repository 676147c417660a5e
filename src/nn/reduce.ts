/**
 * Metrics that stay on the GPU: sums of small vectors (per-example losses) into slots of
 * an f32 accumulator, a clear for every slot, and a NaN/Inf guard. A training step encodes
 * these; the accumulator is read back only a few times per epoch.
 *
 * n elements summed or checked, S slots of the accumulator.
 */

import type { Tensor } from "../gpu/buffer.ts";
import type { Gpu } from "../gpu/device.ts";
import { type Dispatch, expectLength, grid1d } from "../gpu/kernel.ts";

const WG = 256;

function checkSlot(where: string, acc: Tensor, slot: number): void {
  if (!Number.isInteger(slot) || slot < 0 || slot >= acc.length) {
    throw new Error(`${where}: slot ${slot} is outside ${acc.label}, which has ${acc.length}`);
  }
}

function checkCount(where: string, n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new Error(`${where}: n must be >= 1, is ${n}`);
}

/**
 * acc[slot] += scale * sum_i x[i], in one workgroup with a fixed order of additions (the
 * same bits every run). Shapes: acc [S], x [n]. `scale` (e.g. 1 / B, so the slot sums batch
 * means) can be changed later with `dispatch.update("dims", { scale })`.
 */
export async function accumulate(
  gpu: Gpu,
  t: { acc: Tensor; x: Tensor },
  s: { n: number; slot: number; scale: number },
): Promise<Dispatch> {
  const where = "reduce.accumulate";
  checkCount(where, s.n);
  checkSlot(where, t.acc, s.slot);
  if (!Number.isFinite(s.scale)) throw new Error(`${where}: scale must be finite, is ${s.scale}`);
  expectLength(where, "x", t.x, s.n);
  const k = await gpu.kernel("reduce");
  const d = await k.dispatch(
    "accumulate",
    { acc: t.acc, x: t.x, dims: { n: s.n, slot: s.slot, scale: s.scale } },
    [1, 1, 1],
    { label: `accumulate[${s.slot}]` },
  );
  d.flops = s.n + 2;
  d.bytes = 4 * s.n + 8;
  return d;
}

/** acc[i] = 0 for every slot i. Shape: acc [S]. */
export async function clearSlots(gpu: Gpu, t: { acc: Tensor }): Promise<Dispatch> {
  const n = t.acc.length;
  checkCount("reduce.clear", n);
  const k = await gpu.kernel("reduce");
  const d = await k.dispatch(
    "clear",
    { acc: t.acc, dims: { n, slot: 0, scale: 0 } },
    grid1d(n, WG),
    { label: "clear_slots" },
  );
  d.bytes = 4 * n;
  return d;
}

/**
 * acc[slot] += 1 when some x[i] is NaN or +-Inf (checked by bit pattern), so after a run of
 * steps acc[slot] counts the steps that went bad; only {@linkcode clearSlots} resets it.
 * Given the optimizer's step `counter`, acc[slot + 1] also records the first bad step
 * (1-based), so the trainer can name it.
 * Shapes: acc [S], x [n]. One workgroup: meant for loss vectors, not whole parameter sets.
 */
export async function finiteGuard(
  gpu: Gpu,
  t: { acc: Tensor; x: Tensor; counter?: Tensor },
  s: { n: number; slot: number },
): Promise<Dispatch> {
  const entry = t.counter ? "finite_guard_step" : "finite_guard";
  const where = `reduce.${entry}`;
  checkCount(where, s.n);
  checkSlot(where, t.acc, s.slot);
  if (t.counter) checkSlot(where, t.acc, s.slot + 1);
  expectLength(where, "x", t.x, s.n);
  const k = await gpu.kernel("reduce");
  const bindings: Record<string, Tensor | Record<string, number>> = {
    acc: t.acc,
    x: t.x,
    dims: { n: s.n, slot: s.slot, scale: 0 },
  };
  if (t.counter) bindings.counter = t.counter;
  const d = await k.dispatch(
    entry,
    bindings,
    [1, 1, 1],
    { label: `finite_guard[${s.slot}]` },
  );
  d.bytes = 4 * s.n + 8;
  return d;
}
