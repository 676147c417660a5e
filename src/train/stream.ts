/**
 * Training data bigger than its GPU budget (`--gpu-data-mb`): the training split stays in host
 * memory and reaches the GPU one window of steps at a time, through two staging buffers, so
 * the next window's upload overlaps the steps of the current one.
 *
 * The shuffle is unchanged: each epoch is one full permutation of the training split
 * (epochOrder), cut into windows of S steps (W = S * B examples). Window k holds examples
 * order[kW], ..., order[kW + W - 1] in that order, and the gather's index is i mod W, so step s
 * gathers exactly the bytes the resident path gathers (data[order[sB + b]]): the same floats,
 * the same weights, bit for bit. A resumed run loads the window of its step and goes on.
 *
 * GPU memory: the window buffer and two staging buffers, 3 * W * F values, within the budget
 * (plus, for a conditional model, 3 * W * C condition values, not counted: C is small).
 * Queue order makes the reuse safe: staging[k % 2] is filled (writeBuffer) after the copy
 * out of it for window k - 2 was submitted, and the window buffer is overwritten (a copy)
 * after window k - 1's steps were submitted.
 *
 * The examples come from host memory, or from disk when the split has `onDisk` (the train
 * task puts a streamed split into shards, src/data/shards.ts, and keeps no copy in memory):
 * only `fill` differs, so both give the same bytes.
 *
 * N examples, F values per example, B batch, S steps per window, W = S * B examples a window.
 */

import { Tensor, upload } from "../gpu/buffer.ts";
import type { ExampleSource, Split } from "../data/split.ts";
import type { BatchSource } from "../vae/source.ts";

/** Bytes per MiB, the unit of `--gpu-data-mb`. */
export const MIB = 1024 * 1024;

/** How a split is placed on the GPU: resident, or streamed in windows. */
export interface DataPlacement {
  /** "resident": uploaded once; "streamed": windows of `windowExamples`. */
  mode: "resident" | "streamed";
  /** Bytes of the split as stored (u8 images: one byte a value). */
  bytes: number;
  /** The budget, bytes. */
  budget: number;
  /** S, steps per window (streamed only). */
  stepsPerWindow?: number;
  /** W = S * B, examples per window (streamed only). */
  windowExamples?: number;
  /** Windows per epoch (streamed only). */
  windows?: number;
}

/**
 * Where a split of N examples of F values (`bytesPerValue` each) goes under a budget of
 * `budget` bytes with batch B: resident when it fits, else windows of as many steps as fit
 * three times (the window and two staging buffers).
 *
 * @throws Error when the budget holds less than three batches.
 */
export function dataPlacement(
  n: number,
  features: number,
  bytesPerValue: number,
  batch: number,
  budget: number,
): DataPlacement {
  const bytes = n * features * bytesPerValue;
  if (bytes <= budget) return { mode: "resident", bytes, budget };
  const perStep = batch * features * bytesPerValue;
  const steps = Math.floor(budget / (3 * perStep));
  if (steps < 1) {
    throw new Error(
      `--gpu-data-mb ${+(budget / MIB).toPrecision(4)} holds less than 3 batches of ` +
        `${batch} examples (${+(3 * perStep / MIB).toPrecision(4)} MiB); raise it or lower --batch`,
    );
  }
  const w = steps * batch;
  return {
    mode: "streamed",
    bytes,
    budget,
    stepsPerWindow: steps,
    windowExamples: w,
    windows: Math.ceil(n / w),
  };
}

/**
 * A split streamed to the GPU in windows of steps (see the module comment); the trainer also
 * evaluates an over-budget test split through one, in identity order.
 */
export class StreamedSplit {
  /** The batch source the step programs are built on: the window buffer and index i mod W. */
  readonly source: BatchSource;
  /** S, steps per window. */
  readonly stepsPerWindow: number;
  /** W, examples per window. */
  readonly windowExamples: number;
  /** Windows uploaded so far (a count for benchmarks and tests). */
  uploads = 0;
  readonly #device: GPUDevice;
  readonly #images: Uint8Array | Float32Array;
  readonly #disk: ExampleSource | undefined;
  readonly #count: number;
  readonly #features: number;
  readonly #staging: [Tensor, Tensor];
  readonly #host: Uint8Array<ArrayBuffer> | Float32Array<ArrayBuffer>;
  /** A conditional model's condition rows: all N x C in host memory, windowed like the data. */
  readonly #cond: { rows: Float32Array; c: number; host: Float32Array<ArrayBuffer> } | undefined;
  readonly #condStaging: [Tensor, Tensor] | undefined;
  #order: Uint32Array | null = null;
  #loaded = -1;
  #prefetched = -1;

  /**
   * @param split the split: N x F values (u8 images, or f32 values) in `images`, or on disk
   *   (`onDisk`, with `images` an empty array of the values' type)
   * @param place a streamed placement from {@linkcode dataPlacement}
   * @param cond a conditional model's condition rows, N x C (kept in host memory; a window's
   *   rows travel with its examples)
   */
  constructor(
    device: GPUDevice,
    split: Split,
    features: number,
    place: DataPlacement,
    label: string,
    cond?: Float32Array,
  ) {
    if (place.mode !== "streamed") throw new Error("StreamedSplit: the placement is resident");
    const images = split.images;
    const n = split.count, w = place.windowExamples!;
    if (split.onDisk && split.onDisk.exampleBytes !== features * images.BYTES_PER_ELEMENT) {
      throw new Error("StreamedSplit: the split's examples on disk are not F values each");
    }
    if (!split.onDisk && images.length !== n * features) {
      throw new Error("StreamedSplit: the split holds no N x F values");
    }
    this.#device = device;
    this.#images = images;
    this.#disk = split.onDisk;
    this.#count = n;
    this.#features = features;
    this.stepsPerWindow = place.stepsPerWindow!;
    this.windowExamples = w;
    const bytes = images instanceof Uint8Array;
    const dtype = bytes ? "u8" : "f32";
    const values = w * features;
    // Whole 4-byte words: writeBuffer and copyBufferToBuffer move multiples of 4 bytes.
    const hostValues = bytes ? Math.ceil(values / 4) * 4 : values;
    this.#host = bytes ? new Uint8Array(hostValues) : new Float32Array(hostValues);
    this.#staging = [0, 1].map((i) =>
      new Tensor(device, dtype, [hostValues], `${label} staging ${i}`)
    ) as [Tensor, Tensor];
    const c = cond ? cond.length / n : 0;
    if (cond && (!Number.isInteger(c) || c < 1)) {
      throw new Error("StreamedSplit: the condition rows are not N x C");
    }
    this.#cond = cond ? { rows: cond, c, host: new Float32Array(w * c) } : undefined;
    this.#condStaging = cond
      ? [0, 1].map((i) =>
        new Tensor(device, "f32", [w * c], `${label} condition staging ${i}`)
      ) as [
        Tensor,
        Tensor,
      ]
      : undefined;
    this.source = {
      data: new Tensor(device, dtype, [values], `${label} window`),
      cond: cond ? new Tensor(device, "f32", [w * c], `${label} condition window`) : undefined,
      index: upload(
        device,
        "u32",
        [n],
        Uint32Array.from({ length: n }, (_, i) => i % w),
        `${label} window order`,
      ),
      scale: bytes ? 1 / 255 : 1,
      shift: 0,
    };
  }

  /** The epoch's order (a full permutation of the split); windows are cut from it. */
  setOrder(order: Uint32Array): void {
    this.#order = order;
    this.#loaded = -1;
    this.#prefetched = -1;
  }

  /** Before step `s` of the epoch is submitted: its window is copied in if it is not there. */
  beforeStep(s: number): void {
    const k = Math.floor(s / this.stepsPerWindow);
    if (k === this.#loaded) return;
    const slot = k % 2;
    if (this.#prefetched !== k) this.#fill(k, slot);
    const enc = this.#device.createCommandEncoder({ label: "window copy" });
    enc.copyBufferToBuffer(
      this.#staging[slot].buffer,
      0,
      this.source.data.buffer,
      0,
      Math.min(this.#staging[slot].buffer.size, this.source.data.buffer.size),
    );
    if (this.#condStaging) {
      const from = this.#condStaging[slot].buffer;
      enc.copyBufferToBuffer(from, 0, this.source.cond!.buffer, 0, from.size);
    }
    this.#device.queue.submit([enc.finish()]);
    this.#loaded = k;
    this.#prefetched = -1;
  }

  /**
   * After step `s` was submitted: at a window's first step, the next window is filled into the
   * other staging buffer while the GPU works through this one.
   */
  afterStep(s: number): void {
    const k = Math.floor(s / this.stepsPerWindow);
    if (this.#prefetched === k + 1 || (k + 1) * this.windowExamples >= this.#count) return;
    this.#fill(k + 1, (k + 1) % 2);
    this.#prefetched = k + 1;
  }

  /** Gather window k's examples in epoch order on the host and write them to staging `slot`. */
  #fill(k: number, slot: number): void {
    const order = this.#order;
    if (!order) throw new Error("StreamedSplit: no epoch order set");
    const F = this.#features, w = this.windowExamples;
    const lo = k * w, hi = Math.min(order.length, lo + w);
    if (this.#disk) {
      const host = this.#host;
      this.#disk.read(order, lo, hi, new Uint8Array(host.buffer, 0, host.byteLength));
    } else {
      for (let i = lo; i < hi; i++) {
        const e = order[i];
        this.#host.set(this.#images.subarray(e * F, (e + 1) * F), (i - lo) * F);
      }
    }
    const t = this.#staging[slot];
    this.#device.queue.writeBuffer(t.buffer, 0, this.#host);
    const cond = this.#cond;
    if (cond) {
      const C = cond.c;
      for (let i = lo; i < hi; i++) {
        cond.host.set(cond.rows.subarray(order[i] * C, order[i] * C + C), (i - lo) * C);
      }
      this.#device.queue.writeBuffer(this.#condStaging![slot].buffer, 0, cond.host);
    }
    this.uploads++;
  }

  /** Free the window, index and staging buffers. */
  destroy(): void {
    const all = [this.source.data, this.source.index, ...this.#staging];
    if (this.#condStaging) all.push(this.source.cond!, ...this.#condStaging);
    for (const t of all) t.destroy();
  }
}
