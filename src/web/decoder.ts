/**
 * A trained decoder on its own, for web pages (and Deno): load the weights (safetensors) and
 * the WGSL shaders training used, then `decode(z) -> outputs`. This is the `./decoder` export.
 *
 * There is no second decoder here: the file's model spec (src/vae/spec.ts) is handed to the
 * builders training uses (`buildVaeDecode` of src/vae/model.ts, and training's prior sampler
 * for a learned prior), so every family decodes in the page exactly as it does in Deno: the
 * MLP, the conv VAE (batch norm with its running statistics), the streamline model (outputs
 * are normalized coordinates; `spec.data.normalization` maps them to millimetres),
 * label-conditioned (`decode(z, cls)`), length-conditioned (`decode(z, mm)`), and a learned
 * prior p(z | c), which {@linkcode Decoder.priorCodes} samples.
 *
 * ```ts
 * import { Decoder } from "@webgpu-vae/webgpu-vae/decoder";
 * const decoder = await Decoder.load("model/decoder.safetensors"); // shaders from model/shaders/
 * const pixels = await decoder.decode([0.5, -1]); // decoder.features values per code
 * const shoe = await decoder.decode([0.5, -1], 7); // a label-conditioned decoder: class 7
 * const z = await decoder.priorCodes([0.3, -0.2], 7); // a draw from the prior of class 7
 * ```
 *
 * Legend: B codes decoded at once, Z latent size, C condition values, F output features.
 */

import { readback, write } from "../gpu/buffer.ts";
import { type Gpu, requestGpu } from "../gpu/device.ts";
import { type ShaderLoader, submit } from "../gpu/kernel.ts";
import { parseSafetensors } from "../io/safetensors.ts";
import { type DecodeProgram, ModelState } from "../vae/common.ts";
import { conditionRows } from "../vae/condition.ts";
import { buildVaeDecode, vaeFeatures, vaeLayout } from "../vae/model.ts";
import { PriorSampler } from "../vae/prior_sample.ts";
import type { ConditionInfo, ModelSpec } from "../vae/spec.ts";
import { DecoderError, readDecoderFile } from "./decoder_file.ts";
import { baseUrl, folderLoader } from "./shader_loader.ts";

export { codesFromMoments } from "../vae/codes.ts";
export { DECODER_FORMAT, DecoderError, decoderFileBytes, readDecoderFile } from "./decoder_file.ts";
export {
  type ConditionInfo,
  type ImageGeometry,
  type ModelSpec,
  type SequenceGeometry,
  SPEC_FORMAT,
  type SpecLayer,
} from "../vae/spec.ts";

/** A condition per call: a class (label) or a length in mm, for all codes or one per code. */
export type ConditionValues = number | ArrayLike<number>;

/** Options for {@linkcode Decoder.load}. */
export interface DecoderOptions {
  /**
   * A device to share (its shader loader is then used). Default: a new one from
   * `navigator.gpu`, released by {@linkcode Decoder.destroy}.
   */
  gpu?: Gpu;
  /**
   * Where `NAME.wgsl` files are: a folder URL (string or URL) or a loader. Default: in a page,
   * `shaders/` next to the weights URL (or the page); elsewhere the library's own `shaders/`.
   * Not used when `gpu` is given: that device loads shaders its own way.
   */
  shaders?: string | URL | ShaderLoader;
  /** Name used in error messages (default: the weights URL, or "decoder"). */
  name?: string;
}

/** A trained decoder on the GPU: see the module comment. */
export class Decoder {
  /** The model, as its file describes it. */
  readonly spec: ModelSpec;
  /** The device it runs on. */
  readonly gpu: Gpu;
  readonly #ownsGpu: boolean;
  readonly #state: ModelState;
  readonly #programs = new Map<number, Promise<DecodeProgram>>();
  readonly #prior: PriorSampler;
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(spec: ModelSpec, gpu: Gpu, ownsGpu: boolean, params: Float32Array) {
    this.spec = spec;
    this.gpu = gpu;
    this.#ownsGpu = ownsGpu;
    this.#state = new ModelState(gpu, vaeLayout(spec.model), params);
    this.#prior = new PriorSampler(gpu, spec.model, this.#state);
  }

  /**
   * Load a decoder from safetensors bytes or a URL (a string is resolved against the page;
   * outside a page it must be absolute, e.g. a `file:` URL). The file may be a run's
   * `model.safetensors` or an exported `decoder.safetensors`; it is validated before anything
   * is allocated. Throws a one-line error for a malformed file or a missing WebGPU.
   */
  static async load(
    weights: Uint8Array | ArrayBuffer | string | URL,
    options: DecoderOptions = {},
  ): Promise<Decoder> {
    let bytes: Uint8Array;
    let url: URL | undefined;
    if (weights instanceof Uint8Array) bytes = weights;
    else if (weights instanceof ArrayBuffer) bytes = new Uint8Array(weights);
    else {
      try {
        url = new URL(weights, baseUrl());
      } catch {
        throw new DecoderError(`${weights}: not a URL (outside a page, give an absolute URL)`);
      }
      const res = await fetch(url);
      if (!res.ok) throw new DecoderError(`${url}: cannot load (HTTP ${res.status})`);
      bytes = new Uint8Array(await res.arrayBuffer());
    }
    const name = options.name ?? url?.href ?? "decoder";
    const { spec, params } = readDecoderFile(parseSafetensors(bytes, name), name);
    let gpu = options.gpu;
    const owns = !gpu;
    if (!gpu) {
      let loadShader: ShaderLoader | undefined;
      const s = options.shaders;
      if (typeof s === "function") loadShader = s;
      else if (s !== undefined) loadShader = folderLoader(new URL(s, baseUrl()));
      else if (baseUrl() !== undefined) {
        loadShader = folderLoader(new URL("shaders/", url ?? baseUrl()));
      }
      gpu = await requestGpu({ timestamps: false, loadShader });
    }
    const decoder = new Decoder(spec, gpu, owns, params);
    // Build (and so compile) the single-code program now: errors surface at load time.
    try {
      await decoder.#program(1);
    } catch (e) {
      await decoder.destroy();
      throw e;
    }
    return decoder;
  }

  /** Latent dimensions Z. */
  get z(): number {
    return this.spec.model.z;
  }

  /** Outputs per code F: pixels (H x W x C, HWC) or a sequence's values (points x 3). */
  get features(): number {
    return vaeFeatures(this.spec.model);
  }

  /** What the decoder is conditioned on (class names, or length statistics); else undefined. */
  get condition(): ConditionInfo | undefined {
    return this.spec.condition;
  }

  /** Classes K of a label-conditioned decoder; 0 otherwise. */
  get classes(): number {
    return this.spec.condition?.kind === "label" ? this.spec.condition.classes : 0;
  }

  /**
   * Decode B = z.length / Z codes (row-major [B, Z]) into means, row-major [B, F] (pixels in
   * [0, 1] for a bce model, HWC; normalized coordinates for streamlines). A conditional
   * decoder needs `condition`: a class 0..K-1 (label) or a length in mm (length), one for every
   * code or one per code; an unconditional one takes none. Calls are queued, so concurrent
   * calls are safe.
   */
  decode(z: ArrayLike<number>, condition?: ConditionValues): Promise<Float32Array> {
    let rows: { batch: number; c?: Float32Array };
    try {
      rows = this.#rows("decode", z, condition);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#enqueue(async () => {
      const p = await this.#program(rows.batch);
      const device = this.gpu.device;
      write(device, p.z, Float32Array.from(z));
      if (p.c && rows.c) write(device, p.c, rows.c);
      submit(device, p.dispatches, "decode");
      return await readback(device, p.mean);
    });
  }

  /**
   * Codes from the model's prior for standard normal draws `eps` (row-major [B, Z]) at
   * `temperature` t: z = mp(c) + t exp(0.5 clamp(pv(c), lo, hi)) eps for a learned prior
   * p(z | c), run on the GPU by training's sampler for each code's condition; z = t eps for
   * the standard prior N(0, I). t = 1 samples the prior, t = 0 gives its mean. `condition` is
   * required exactly when the decoder is conditional. Queued with the decodes.
   */
  priorCodes(
    eps: ArrayLike<number>,
    condition?: ConditionValues,
    temperature = 1,
  ): Promise<Float32Array> {
    let rows: { batch: number; c?: Float32Array };
    try {
      rows = this.#rows("priorCodes", eps, condition);
      if (!Number.isFinite(temperature)) {
        throw new DecoderError(`priorCodes: temperature ${temperature} is not a finite number`);
      }
    } catch (e) {
      return Promise.reject(e);
    }
    const e = Float32Array.from(eps);
    return this.#enqueue(() => this.#prior.codes(e, rows.batch, rows.c, temperature));
  }

  /** Runs `work` after every call queued before it, so concurrent calls are safe. */
  #enqueue<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work);
    this.#queue = run.catch(() => {});
    return run;
  }

  /**
   * The number of codes B in `values` ([B, Z]) and their condition rows [B, C]; throws a
   * DecoderError naming `where` when either does not fit the decoder.
   */
  #rows(
    where: string,
    values: ArrayLike<number>,
    condition: ConditionValues | undefined,
  ): { batch: number; c?: Float32Array } {
    const Z = this.z;
    if (values.length === 0 || values.length % Z !== 0) {
      throw new DecoderError(
        `${where}: ${values.length} values is not a whole number of ${Z}-d codes`,
      );
    }
    const batch = values.length / Z;
    const info = this.spec.condition, c = this.spec.model.condition;
    if (!info || !c) {
      if (condition === undefined) return { batch };
      throw new DecoderError(`${where}: this decoder is not conditional; it takes no condition`);
    }
    const label = info.kind === "label";
    const what = label ? `a class 0..${info.classes - 1}` : "a length in mm";
    if (condition === undefined) {
      throw new DecoderError(
        `${where}: this decoder is conditioned on the ${info.kind}; give ${what}`,
      );
    }
    const asked = typeof condition === "number"
      ? new Array<number>(batch).fill(condition)
      : Array.from(condition);
    if (asked.length !== batch) {
      throw new DecoderError(`${where}: ${asked.length} conditions for ${batch} codes`);
    }
    for (const v of asked) {
      const ok = label
        ? Number.isInteger(v) && v >= 0 && v < info.classes
        : Number.isFinite(v) && v > 0;
      if (!ok) throw new DecoderError(`${where}: ${v} is not ${what}`);
    }
    return { batch, c: conditionRows(c, asked) };
  }

  #program(batch: number): Promise<DecodeProgram> {
    let p = this.#programs.get(batch);
    if (!p) {
      p = buildVaeDecode(this.gpu, this.spec.model, this.#state, batch);
      this.#programs.set(batch, p);
      p.catch(() => this.#programs.delete(batch));
    }
    return p;
  }

  /** Free the parameters and the programs' inputs and outputs; the device if this made it. */
  async destroy(): Promise<void> {
    await this.#queue;
    for (const p of this.#programs.values()) {
      const prog = await p.catch(() => null);
      for (const t of [prog?.z, prog?.c, prog?.mean]) t?.destroy();
    }
    this.#programs.clear();
    await this.#prior.destroy();
    this.#state.destroy();
    if (this.#ownsGpu) this.gpu.destroy();
  }
}
