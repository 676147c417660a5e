/**
 * GPU buffers with an element type and a shape: upload, readback, and NaN-poisoned
 * allocation for tests (an output element a kernel forgot to write then reads NaN).
 */

/**
 * Element type as the shaders see it. `u8` data is stored four bytes to a `u32` word
 * (WGSL has no 8-bit storage type); its `length` counts bytes.
 */
export type DType = "f32" | "u32" | "i32" | "u8";

const USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** A typed GPU storage buffer: `length` elements of `dtype`, viewed with `shape`. */
export class Tensor {
  /** The underlying storage buffer (size rounded up to 4 bytes). */
  readonly buffer: GPUBuffer;
  /** Element type. */
  readonly dtype: DType;
  /** Shape; its product is `length`. */
  readonly shape: readonly number[];
  /** Number of elements (bytes for `u8`). */
  readonly length: number;
  /** Name used in error messages and GPU debug labels. */
  readonly label: string;

  /** Allocate an uninitialised (zeroed by WebGPU) tensor. */
  constructor(device: GPUDevice, dtype: DType, shape: readonly number[], label = "tensor") {
    const length = shape.reduce((a, b) => a * b, 1);
    if (!Number.isInteger(length) || length < 0) {
      throw new Error(`tensor ${label}: bad shape [${shape.join(", ")}]`);
    }
    this.dtype = dtype;
    this.shape = [...shape];
    this.length = length;
    this.label = label;
    // A zero-size binding is invalid in WebGPU: keep at least one 16-byte word.
    const size = Math.max(16, Math.ceil(byteLength(dtype, length) / 16) * 16);
    // WebGPU would hand back an invalid buffer and a validation error far from here.
    if (size > device.limits.maxBufferSize) {
      throw new Error(
        `tensor ${label}: ${size} B is over this device's largest buffer, ` +
          `${device.limits.maxBufferSize} B (maxBufferSize)`,
      );
    }
    this.buffer = device.createBuffer({ label, size, usage: USAGE });
    trackBuffer(device, this.buffer);
  }

  /**
   * The same buffer under another shape with the same element count: a reshape or flatten
   * without a copy (NHWC [B, 7, 7, 64] is [B, 3136] in memory). Destroying either frees both.
   */
  reshape(shape: readonly number[]): Tensor {
    const length = shape.reduce((a, b) => a * b, 1);
    if (length !== this.length) {
      throw new Error(
        `tensor ${this.label}: cannot reshape [${this.shape.join(", ")}] to [${
          shape.join(", ")
        }] (${this.length} vs ${length} elements)`,
      );
    }
    const t = Object.create(Tensor.prototype) as Tensor;
    return Object.assign(t, {
      buffer: this.buffer,
      dtype: this.dtype,
      shape: [...shape],
      length,
      label: this.label,
    });
  }

  /** Bytes of data (not counting the padding to a 16-byte multiple). */
  get byteLength(): number {
    return byteLength(this.dtype, this.length);
  }

  /** Free the GPU memory (and take it off the device's {@linkcode gpuMemory} tally). */
  destroy(): void {
    untrackBuffer(this.buffer);
    this.buffer.destroy();
  }
}

function byteLength(dtype: DType, length: number): number {
  return dtype === "u8" ? length : length * 4;
}

/** Typed array accepted for upload. */
export type HostData =
  | Float32Array
  | Uint32Array
  | Int32Array
  | Uint8Array
  | Float64Array
  | number[];

/** Create a tensor holding `data` (float64 input is rounded to f32). */
export function upload(
  device: GPUDevice,
  dtype: DType,
  shape: readonly number[],
  data: HostData,
  label = "tensor",
): Tensor {
  const t = new Tensor(device, dtype, shape, label);
  write(device, t, data);
  return t;
}

/** Overwrite a tensor's contents from the host. */
export function write(device: GPUDevice, t: Tensor, data: HostData): void {
  if (data.length !== t.length) {
    throw new Error(`tensor ${t.label}: got ${data.length} values for ${t.length} elements`);
  }
  let bytes: Uint8Array;
  switch (t.dtype) {
    case "f32":
      bytes = new Uint8Array(Float32Array.from(data as ArrayLike<number>).buffer);
      break;
    case "u32":
      bytes = new Uint8Array(Uint32Array.from(data as ArrayLike<number>).buffer);
      break;
    case "i32":
      bytes = new Uint8Array(Int32Array.from(data as ArrayLike<number>).buffer);
      break;
    case "u8": {
      // writeBuffer needs a multiple of 4 bytes.
      bytes = new Uint8Array(Math.ceil(data.length / 4) * 4);
      bytes.set(data as ArrayLike<number>);
      break;
    }
  }
  device.queue.writeBuffer(t.buffer, 0, bytes as Uint8Array<ArrayBuffer>);
}

/** A float32 tensor filled with NaN, so an element a kernel fails to write shows up. */
export function poisoned(device: GPUDevice, shape: readonly number[], label = "poisoned"): Tensor {
  const t = new Tensor(device, "f32", shape, label);
  write(device, t, new Float32Array(t.length).fill(NaN));
  return t;
}

/** A float32 tensor of zeros. */
export function zeros(device: GPUDevice, shape: readonly number[], label = "zeros"): Tensor {
  return new Tensor(device, "f32", shape, label);
}

/** Copy a tensor's bytes back to the host. Waits for the GPU: never inside a training step. */
export async function readbackBytes(device: GPUDevice, t: Tensor): Promise<ArrayBuffer> {
  const size = Math.max(4, Math.ceil(t.byteLength / 4) * 4);
  const staging = device.createBuffer({
    label: `${t.label} readback`,
    size,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  trackBuffer(device, staging);
  const enc = device.createCommandEncoder({ label: `${t.label} readback` });
  enc.copyBufferToBuffer(t.buffer, 0, staging, 0, size);
  countSubmit(device);
  device.queue.submit([enc.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const bytes = staging.getMappedRange().slice(0);
  staging.unmap();
  untrackBuffer(staging);
  staging.destroy();
  return bytes;
}

/** Copy an f32 tensor back to the host. Waits for the GPU: never inside a training step. */
export async function readback(device: GPUDevice, t: Tensor): Promise<Float32Array> {
  if (t.dtype !== "f32") throw new Error(`tensor ${t.label} is ${t.dtype}, not f32`);
  return new Float32Array(await readbackBytes(device, t), 0, t.length);
}

/** Copy a u32 tensor back to the host. Waits for the GPU: never inside a training step. */
export async function readbackU32(device: GPUDevice, t: Tensor): Promise<Uint32Array> {
  if (t.dtype !== "u32") throw new Error(`tensor ${t.label} is ${t.dtype}, not u32`);
  return new Uint32Array(await readbackBytes(device, t), 0, t.length);
}

// ---- Accounting: GPU bytes allocated and queue submits, per device ----
//
// Updated only where a buffer is created or destroyed and once per submit (a WeakMap lookup
// and an add), never per dispatch, so normal training pays nothing measurable for it.

/** Bytes of GPU buffers a device holds now (`live`) and at most so far (`peak`). */
export interface GpuMemory {
  /** Bytes of buffers created through this project and not yet destroyed. */
  live: number;
  /** The largest `live` seen since the device was made (or since {@linkcode resetPeak}). */
  peak: number;
}

interface Tally extends GpuMemory {
  submits: number;
}

const tallies = new WeakMap<GPUDevice, Tally>();
/** Counted buffers not yet destroyed: their device's tally and size (reshapes share one). */
const counted = new WeakMap<GPUBuffer, { tally: Tally; size: number }>();

function tallyOf(device: GPUDevice): Tally {
  let t = tallies.get(device);
  if (!t) {
    t = { live: 0, peak: 0, submits: 0 };
    tallies.set(device, t);
  }
  return t;
}

/**
 * Count `buffer` (its full `size`) in `device`'s {@linkcode gpuMemory}. Every `createBuffer`
 * in the project calls this; {@linkcode untrackBuffer} undoes it.
 */
export function trackBuffer(device: GPUDevice, buffer: GPUBuffer): void {
  if (counted.has(buffer)) return;
  const tally = tallyOf(device);
  counted.set(buffer, { tally, size: buffer.size });
  tally.live += buffer.size;
  if (tally.live > tally.peak) tally.peak = tally.live;
}

/** Take `buffer` off its device's tally before it is destroyed (a second call does nothing). */
export function untrackBuffer(buffer: GPUBuffer): void {
  const c = counted.get(buffer);
  if (!c) return;
  counted.delete(buffer);
  c.tally.live -= c.size;
}

/**
 * Bytes of GPU buffers `device` holds through this project: tensors, uniform buffers of
 * dispatches, readback staging and the profiler's query buffers.
 */
export function gpuMemory(device: GPUDevice): GpuMemory {
  const t = tallyOf(device);
  return { live: t.live, peak: t.peak };
}

/** Restart `device`'s peak at its live bytes (to measure the peak of one phase). */
export function resetPeak(device: GPUDevice): void {
  const t = tallyOf(device);
  t.peak = t.live;
}

/** Note one `queue.submit` on `device`; every submit in the project calls this. */
export function countSubmit(device: GPUDevice): void {
  tallyOf(device).submits++;
}

/** `queue.submit` calls made on `device` through this project so far. */
export function submitCount(device: GPUDevice): number {
  return tallyOf(device).submits;
}
