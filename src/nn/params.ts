/**
 * Flat parameters ("malloc and point"): every weight of a model lives in one f32 buffer,
 * and so do its gradients and Adam's two moments. Each named parameter is a view at an
 * offset aligned to 64 floats (256 bytes, WebGPU's storage offset alignment), so a layer
 * binds its slice directly. The gaps stay zero and Adam leaves zeros unchanged.
 *
 * State that is saved with the weights but not trained (batch norm's running mean and
 * variance) is added with `addBuffer` after every parameter: it shares the flat buffer (so
 * checkpoints and resume carry it) but lies past `trainableSize`, the prefix Adam updates.
 */

import type { Tensor } from "../gpu/buffer.ts";
import type { TensorView } from "../gpu/kernel.ts";

/** Alignment of each parameter's first element, in floats (256 bytes). */
export const PARAM_ALIGN = 64;

/** One named parameter: its shape and where it sits in the flat buffer. */
export interface ParamEntry {
  /** Name, e.g. "encoder.0.weight". */
  name: string;
  /** Shape, e.g. [in, out] for a dense weight. */
  shape: number[];
  /** First element in the flat buffer. */
  offset: number;
  /** Number of elements. */
  length: number;
  /** False for buffers (saved, not optimized). */
  trainable: boolean;
}

/** Assigns aligned offsets to named parameters; the layout a model and its checkpoint share. */
export class ParamLayout {
  /** Entries in the order they were added. */
  readonly entries: ParamEntry[] = [];
  #size = 0;
  #trainable = 0;

  /** Reserve a trained parameter; returns its entry. All come before any buffer. */
  add(name: string, shape: number[]): ParamEntry {
    if (this.entries.some((e) => !e.trainable)) {
      throw new Error(`parameter ${name} added after a buffer; add parameters first`);
    }
    const entry = this.#push(name, shape, true);
    this.#trainable = this.#size;
    return entry;
  }

  /** Reserve state saved with the weights but never optimized (running statistics). */
  addBuffer(name: string, shape: number[]): ParamEntry {
    return this.#push(name, shape, false);
  }

  #push(name: string, shape: number[], trainable: boolean): ParamEntry {
    if (this.entries.some((e) => e.name === name)) throw new Error(`parameter ${name} added twice`);
    const length = shape.reduce((a, b) => a * b, 1);
    const offset = Math.ceil(this.#size / PARAM_ALIGN) * PARAM_ALIGN;
    const entry = { name, shape: [...shape], offset, length, trainable };
    this.entries.push(entry);
    this.#size = offset + length;
    return entry;
  }

  /** Floats from the start that hold trained parameters (what the optimizer updates). */
  get trainableSize(): number {
    return Math.max(PARAM_ALIGN, Math.ceil(this.#trainable / PARAM_ALIGN) * PARAM_ALIGN);
  }

  /** Total floats in the flat buffer (gaps included). */
  get size(): number {
    return Math.max(PARAM_ALIGN, Math.ceil(this.#size / PARAM_ALIGN) * PARAM_ALIGN);
  }

  /** Whether a parameter or buffer called `name` exists. */
  has(name: string): boolean {
    return this.entries.some((x) => x.name === name);
  }

  /** The entry called `name`. */
  get(name: string): ParamEntry {
    const e = this.entries.find((x) => x.name === name);
    if (!e) throw new Error(`no parameter named ${name}`);
    return e;
  }

  /** Parameter `name` in a flat host array (the float64 references' parameters and grads). */
  slice<T extends Float32Array | Float64Array>(flat: T, name: string): T {
    const e = this.get(name);
    return flat.subarray(e.offset, e.offset + e.length) as T;
  }

  /** A view of parameter `name` inside a flat tensor (params, grads, or a moment). */
  view(flat: Tensor, name: string): TensorView {
    const e = this.get(name);
    return { tensor: flat, offset: e.offset, length: e.length };
  }
}
