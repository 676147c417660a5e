/**
 * Where a batch comes from: a split uploaded once to the GPU in its compact form, with an
 * example order (and a conditional model's condition rows).
 *
 * Legend: N examples, F values per example, C condition values per example.
 */

import { type Tensor, upload } from "../gpu/buffer.ts";

/** Where a batch comes from: a dataset on the GPU and a (shuffled) index. */
export interface BatchSource {
  /** Dataset values, N x F: u8 (images) or f32 (streamline coordinates). */
  data: Tensor;
  /** Condition values, N x C f32, for a conditional model. */
  cond?: Tensor;
  /** Example order, u32 [N]. */
  index: Tensor;
  /** Pixel scale: x = byte * scale + shift. */
  scale: number;
  /** Pixel shift: x = byte * scale + shift. */
  shift: number;
}

/**
 * Upload a split once, with an example order, as a batch source: u8 images are scaled to
 * [0, 1], f32 values (streamlines) are taken as they are; `cond` (N x C) for a conditional
 * model.
 */
export function uploadSource(
  device: GPUDevice,
  images: Uint8Array | Float32Array,
  order: Uint32Array,
  label: string,
  cond?: Float32Array,
): BatchSource {
  const bytes = images instanceof Uint8Array;
  return {
    data: bytes
      ? upload(device, "u8", [images.length], images, `${label} images`)
      : upload(device, "f32", [images.length], images, `${label} values`),
    cond: cond ? upload(device, "f32", [cond.length], cond, `${label} conditions`) : undefined,
    index: upload(device, "u32", [order.length], order, `${label} order`),
    scale: bytes ? 1 / 255 : 1,
    shift: 0,
  };
}

/** Free a batch source's buffers (data, conditions, order). */
export function destroySource(s: BatchSource): void {
  for (const t of [s.data, s.cond, s.index]) t?.destroy();
}

/** 0, 1, ..., n - 1: the order of an unshuffled split. */
export function identityOrder(n: number): Uint32Array {
  return Uint32Array.from({ length: n }, (_, i) => i);
}
