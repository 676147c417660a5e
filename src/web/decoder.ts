/**
 * A trained decoder on its own, for web pages (and Deno): load the weights (safetensors) and
 * the WGSL shaders training used, then `decode(z) -> pixels`. This is the `./decoder` export.
 *
 * It imports only the GPU layer (src/gpu), the ops a decoder runs (src/nn/dense.ts,
 * src/nn/activation.ts, and src/nn/concat.ts for a conditional one) and the safetensors reader,
 * which has no Deno APIs; nothing of the trainer, the datasets or the optimizer. The decode
 * dispatches are built from the model config in the file's metadata and the weights by name, so
 * no training-side parameter layout is needed.
 *
 * A label-conditioned decoder (a run trained with `--condition label`) reads [z | one-hot(class)]
 * (Sohn et al. 2015): its class count and names are in the `condition` metadata of an exported
 * file, and `decode(z, cls)` takes the class of the codes.
 *
 * A run trained with a learned conditional prior (`--prior learned`) also carries the prior
 * network c -> hidden (ReLU) -> [mp | pv] (`prior.*` weights); {@linkcode Decoder.priorCodes}
 * turns standard normal draws into codes from p(z | c) with it, on the GPU with the same dense
 * kernel, so samples for class k are drawn as training's sampler draws them.
 *
 * ```ts
 * import { Decoder } from "@webgpu-vae/webgpu-vae/decoder";
 * const decoder = await Decoder.load("model/decoder.safetensors"); // shaders from model/shaders/
 * const pixels = await decoder.decode([0.5, -1]); // decoder.height * decoder.width values in [0, 1]
 * const shoe = await decoder.decode([0.5, -1], 7); // a label-conditioned decoder: class 7
 * const z = await decoder.priorCodes([0.3, -0.2], 7); // a draw from the prior of class 7
 * ```
 *
 * Legend: B codes decoded at once, Z latent size, K classes (condition values), F output
 * features (H x W x C pixels).
 */

import { readback, Tensor, upload } from "../gpu/buffer.ts";
import { type Gpu, requestGpu } from "../gpu/device.ts";
import { type Dispatch, type ShaderLoader, submit } from "../gpu/kernel.ts";
import { activationForward } from "../nn/activation.ts";
import { concatForward } from "../nn/concat.ts";
import { denseForward } from "../nn/dense.ts";
import { type ParsedSafetensors, parseSafetensors } from "../train/safetensors.ts";

/**
 * Codes from a learned prior's moments at a temperature: z = mp + t exp(0.5 clamp(pv, lo, hi))
 * eps, the reparameterization of p(z | c) = N(mp(c), exp(pv(c))) with eps ~ N(0, I) (t = 0: the
 * prior's mean, t = 1: the prior). {@linkcode Decoder.priorCodes} and training's sampler
 * (src/vae/prior_sample.ts) both call it, so the page and Deno draw the same codes from the
 * same moments; it lives here because this module imports nothing of training.
 *
 * @param moments [n, 2Z] rows [mp | pv], as the prior network writes them.
 * @param eps [n, Z] standard normal draws.
 * @param clamp [lo, hi], the run's logvar clamp.
 */
export function codesFromMoments(
  moments: ArrayLike<number>,
  eps: ArrayLike<number>,
  n: number,
  Z: number,
  [lo, hi]: readonly [number, number],
  t: number,
): Float32Array {
  const z = new Float32Array(n * Z);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < Z; j++) {
      const pv = Math.min(Math.max(moments[i * 2 * Z + Z + j], lo), hi);
      z[i * Z + j] = moments[i * 2 * Z + j] + t * Math.exp(0.5 * pv) * eps[i * Z + j];
    }
  }
  return z;
}

/** The number of codes in a call and their one-hot condition rows (none: unconditional). */
type CodeRows = { batch: number; c?: Float32Array<ArrayBuffer> };

/** Model families a decoder can be built for (the `model` key of the training config). */
export type DecoderModel = "mlp" | "conv";

/** A label-conditioned decoder's condition: K classes, one-hot, with their names. */
export interface LabelCondition {
  /** The only condition the web decoder runs (length conditioning is not exported yet). */
  kind: "label";
  /** Classes K: the decoder's input is [z | one-hot(class)], Z + K values. */
  classes: number;
  /** A name per class, by label ("T-shirt/top", ... for Fashion-MNIST; "0", "1", ... else). */
  names: string[];
}

/**
 * A learned conditional prior p(z | c) = N(mp(c), exp(pv(c))) (Sohn et al. 2015): a dense
 * network one-hot(class) [K] -> hidden (ReLU) -> [mp | pv] [2Z], weights `prior.{i}.*` and
 * `prior.head.*`.
 */
export interface LearnedPrior {
  /** Hidden widths of the network (empty: one linear layer). */
  hidden: number[];
  /** [lo, hi]: pv is clamped to this before exp, as in training (the `logvar-clamp` config). */
  logvarClamp: [number, number];
}

/** What a decoder is, read from a checkpoint's metadata and its weights' shapes. */
export interface DecoderSpec {
  /** Model family. */
  model: DecoderModel;
  /** Latent dimensions Z. */
  z: number;
  /** Output image height, width and channels (F = height * width * channels, stored HWC). */
  height: number;
  /** Output image width. */
  width: number;
  /** Output image channels (1 grey, 3 RGB). */
  channels: number;
  /** How the last layer's outputs become pixel means: sigmoid of logits (bce) or as they are. */
  output: "sigmoid" | "identity";
  /** The training config from the metadata, for model-specific keys. */
  config: Record<string, unknown>;
  /** What the decoder is conditioned on; absent for an unconditional decoder. */
  condition?: LabelCondition;
  /** The learned conditional prior; absent for the standard normal prior N(0, I). */
  prior?: LearnedPrior;
}

/** Weights by name, f32, with their shapes (what a decoder needs from a safetensors file). */
export type NamedWeights = Map<string, { shape: number[]; data: Float32Array }>;

/** Metadata `format` of a file written by `deno task export` (decoder and prior weights). */
export const DECODER_FORMAT = "webgpu-vae-decoder/1";

/**
 * The shader files (shaders/NAME.wgsl) a decoder of each family runs; export copies these.
 * A conditional decoder also runs the concatenation of [z | c].
 */
export function decoderShaders(model: DecoderModel, conditional = false): string[] {
  switch (model) {
    case "mlp":
      return conditional ? ["dense", "activation", "concat"] : ["dense", "activation"];
    case "conv":
      // TODO(lead, conv model): the conv decoder's shaders, e.g. dense, conv2d, batchnorm,
      // activation (whatever buildConvDecoder below dispatches).
      return ["dense", "conv2d", "batchnorm", "activation"];
  }
}

/** A decoder file that cannot be used: one line, naming the file. */
export class DecoderError extends Error {
  /**
   * Make the error.
   * @param message one line: the file and the problem
   */
  constructor(message: string) {
    super(message);
    this.name = "DecoderError";
  }
}

/** Height, width, channels of F outputs when the config does not say: square grey if it can. */
function imageShape(features: number, config: Record<string, unknown>): [number, number, number] {
  const img = config.image;
  if (Array.isArray(img) && img.length === 3 && img.every((v) => Number.isInteger(v) && v > 0)) {
    const [h, w, c] = img as number[];
    if (h * w * c === features) return [h, w, c];
  }
  const side = Math.round(Math.sqrt(features));
  if (side * side === features) return [side, side, 1];
  return [1, features, 1];
}

/**
 * The condition of a decoder whose first layer takes `inputs` values: from the `condition`
 * metadata of an exported file, else from a run's config (`condition: "label"`, its `z`; the
 * classes are the rest of the first layer's inputs, named by number). Undefined when
 * unconditional.
 */
function readCondition(
  metadata: Record<string, string>,
  config: Record<string, unknown>,
  inputs: number,
  fail: (p: string) => never,
): LabelCondition | undefined {
  const unsupported = "a length-conditioned decoder is not supported by the web export yet";
  if (metadata.condition !== undefined) {
    let c: { kind?: unknown; classes?: unknown; names?: unknown } = {};
    try {
      c = JSON.parse(metadata.condition);
    } catch {
      fail("the condition in the metadata is not valid JSON");
    }
    if (typeof c !== "object" || c === null) fail("the condition in the metadata is not an object");
    if (c.kind === "length") fail(unsupported);
    if (c.kind !== "label") fail(`condition kind ${JSON.stringify(c.kind)} is not "label"`);
    const K = c.classes;
    if (typeof K !== "number" || !Number.isInteger(K) || K < 1 || K >= inputs) {
      fail(`condition classes ${JSON.stringify(K)} does not fit a first layer of ${inputs} inputs`);
    }
    const names = c.names ?? Array.from({ length: K as number }, (_, i) => String(i));
    if (
      !Array.isArray(names) || names.length !== K || !names.every((n) => typeof n === "string")
    ) {
      fail(`condition names must be ${K} strings`);
    }
    return { kind: "label", classes: K as number, names: names as string[] };
  }
  const kind = config.condition;
  if (kind === undefined || kind === "none") return undefined;
  if (kind === "length") fail(unsupported);
  if (kind !== "label") fail(`condition ${JSON.stringify(kind)} is not one this module can run`);
  const z = config.z;
  if (typeof z !== "number" || !Number.isInteger(z) || z < 1 || z >= inputs) {
    fail(`a label-conditioned config needs its z (1..${inputs - 1}), has ${JSON.stringify(z)}`);
  }
  const K = inputs - (z as number);
  return { kind: "label", classes: K, names: Array.from({ length: K }, (_, i) => String(i)) };
}

/**
 * The decoder described by a parsed checkpoint: the training config from the `config` metadata
 * (a run's model.safetensors or an exported decoder.safetensors) and the shapes of the
 * `decoder.*` weights. Throws {@linkcode DecoderError} naming `name` when they do not fit.
 */
export function readDecoderSpec(file: ParsedSafetensors, name = "file"): {
  spec: DecoderSpec;
  weights: NamedWeights;
} {
  const fail = (problem: string): never => {
    throw new DecoderError(`${name}: ${problem}`);
  };
  let config: Record<string, unknown> = {};
  if (file.metadata.config !== undefined) {
    try {
      config = JSON.parse(file.metadata.config);
    } catch {
      fail("the config in the metadata is not valid JSON");
    }
    if (typeof config !== "object" || config === null || Array.isArray(config)) {
      fail("the config in the metadata is not a JSON object");
    }
  }
  const weights: NamedWeights = new Map();
  for (const [key, t] of file.tensors) {
    if (!key.startsWith("decoder.") && !key.startsWith("prior.")) continue;
    if (t.dtype !== "F32") fail(`${key} is ${t.dtype}; the decoder reads F32 weights`);
    weights.set(key, { shape: t.shape, data: t.data as Float32Array });
  }
  if (![...weights.keys()].some((k) => k.startsWith("decoder."))) fail("has no decoder.* weights");
  const model = config.model ?? "mlp";
  const output = (config.recon ?? "bce") === "mse" ? "identity" : "sigmoid";
  switch (model) {
    case "mlp": {
      const layers = mlpLayers(weights, fail);
      const features = layers.at(-1)!.n;
      const [height, width, channels] = imageShape(features, config);
      const condition = readCondition(file.metadata, config, layers[0].k, fail);
      const z = layers[0].k - (condition?.classes ?? 0);
      const spec: DecoderSpec = { model: "mlp", z, height, width, channels, output, config };
      if (condition) spec.condition = condition;
      const prior = readPrior(weights, config, condition, z, fail);
      if (prior) spec.prior = prior;
      return { spec, weights };
    }
    case "conv":
      // TODO(lead, conv model): read Z and the output image shape from the decoder.* shapes
      // (decoder dense [Z, 3136] ... last ConvTranspose2d with 1 filter -> 28 x 28 x 1).
      return fail("the conv decoder is not supported by the web export yet");
    default:
      return fail(`model ${JSON.stringify(model)} is not a decoder this module can run`);
  }
}

/**
 * The learned prior of a file with `prior.*` weights (undefined without): its layers must chain
 * K -> ... -> 2Z for a label-conditioned decoder of K classes and latent size Z, and the
 * `logvar-clamp` config, when there, must be [lo, hi] with lo < hi (default [-30, 20]).
 */
function readPrior(
  weights: NamedWeights,
  config: Record<string, unknown>,
  condition: LabelCondition | undefined,
  z: number,
  fail: (p: string) => never,
): LearnedPrior | undefined {
  const has = [...weights.keys()].some((k) => k.startsWith("prior."));
  if (!has) {
    if (config.prior === "learned") {
      fail('the config says "prior": "learned" but no prior.* weights');
    }
    return undefined;
  }
  if (!condition) fail("has learned prior (prior.*) weights but no label condition to feed them");
  const layers = denseChain(weights, "prior", "prior.head", "the prior", fail);
  const K = condition!.classes;
  if (layers[0].k !== K) {
    fail(`${layers[0].name}.weight takes ${layers[0].k} inputs but the condition has ${K} classes`);
  }
  const last = layers.at(-1)!;
  if (last.n !== 2 * z) {
    fail(`${last.name}.weight gives ${last.n} outputs, expected 2Z = ${2 * z} ([mean | logvar])`);
  }
  const clamp = config["logvar-clamp"] ?? [-30, 20];
  if (
    !Array.isArray(clamp) || clamp.length !== 2 || !clamp.every((v) => typeof v === "number") ||
    !(clamp[0] < clamp[1])
  ) {
    fail(`logvar-clamp ${JSON.stringify(clamp)} is not [lo, hi] with lo < hi`);
  }
  return { hidden: layers.slice(0, -1).map((l) => l.n), logvarClamp: clamp as [number, number] };
}

/** One dense layer of the MLP decoder: y [B, n] = x [B, k] W + b, then `act`. */
interface MlpLayer {
  name: string;
  k: number;
  n: number;
  act: "relu" | "none";
}

/** decoder.0 ... decoder.{L-1} (ReLU), then decoder.out: checked to chain Z -> ... -> F. */
function mlpLayers(
  weights: ReadonlyMap<string, { readonly shape: readonly number[] }>,
  fail: (p: string) => never,
): MlpLayer[] {
  return denseChain(weights, "decoder", "decoder.out", "an mlp decoder", fail);
}

/**
 * The dense layers `${part}.0` ... (ReLU) then `last` (no activation), checked to chain; every
 * `${part}.*` weight must be one of theirs (`what` names the network in that error).
 */
function denseChain(
  weights: ReadonlyMap<string, { readonly shape: readonly number[] }>,
  part: string,
  last: string,
  what: string,
  fail: (p: string) => never,
): MlpLayer[] {
  const layers: MlpLayer[] = [];
  const names: string[] = [];
  for (let i = 0; weights.has(`${part}.${i}.weight`); i++) names.push(`${part}.${i}`);
  names.push(last);
  const used = new Set<string>();
  for (const [i, layer] of names.entries()) {
    const W = weights.get(`${layer}.weight`), b = weights.get(`${layer}.bias`);
    if (!W || !b) fail(`${layer}.weight or ${layer}.bias is missing`);
    used.add(`${layer}.weight`).add(`${layer}.bias`);
    if (W!.shape.length !== 2 || W!.shape[0] < 1 || W!.shape[1] < 1) {
      fail(`${layer}.weight has shape [${W!.shape}], not [in, out]`);
    }
    const [k, n] = W!.shape as [number, number];
    if (b!.shape.length !== 1 || b!.shape[0] !== n) {
      fail(`${layer}.bias has shape [${b!.shape}], expected [${n}]`);
    }
    const prev = layers.at(-1);
    if (prev && prev.n !== k) {
      fail(`${layer}.weight takes ${k} inputs but ${prev.name} gives ${prev.n}`);
    }
    layers.push({ name: layer, k, n, act: i < names.length - 1 ? "relu" : "none" });
  }
  for (const key of weights.keys()) {
    if (key.startsWith(`${part}.`) && !used.has(key)) fail(`${key} is not a weight of ${what}`);
  }
  return layers;
}

/** The GPU side of one batch size: z (and c) in, pixel means out, the dispatches between. */
interface Program {
  z: Tensor;
  /** A conditional decoder's one-hot classes [B, K]. */
  c?: Tensor;
  mean: Tensor;
  dispatches: Dispatch[];
  /** Every buffer the program allocated (z and mean among them), to free. */
  tensors: Tensor[];
}

/** The learned prior's network for one batch size: one-hot rows in, [mp | pv] rows out. */
interface PriorProgram {
  c: Tensor;
  prior: Tensor;
  dispatches: Dispatch[];
  tensors: Tensor[];
}

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

/** The page's base URL (a worker's location), or undefined outside a browser. */
function baseUrl(): string | undefined {
  const g = globalThis as { document?: { baseURI?: string }; location?: { href?: string } };
  return g.document?.baseURI ?? g.location?.href;
}

function folderLoader(folder: URL): ShaderLoader {
  const dir = folder.href.endsWith("/") ? folder : new URL(`${folder.href}/`);
  return async (name: string) => {
    const url = new URL(`${name}.wgsl`, dir);
    let res: Response;
    try {
      res = await fetch(url);
    } catch (e) {
      throw new DecoderError(`shader ${name}: cannot load ${url} (${(e as Error).message})`);
    }
    if (!res.ok) throw new DecoderError(`shader ${name}: cannot load ${url} (HTTP ${res.status})`);
    return await res.text();
  };
}

/** A trained decoder on the GPU: see the module comment. */
export class Decoder {
  /** What the decoder is (model family, Z, output image shape). */
  readonly spec: DecoderSpec;
  /** The device it runs on. */
  readonly gpu: Gpu;
  readonly #ownsGpu: boolean;
  readonly #weights: Map<string, Tensor>;
  readonly #programs = new Map<number, Promise<Program>>();
  readonly #priorPrograms = new Map<number, Promise<PriorProgram>>();
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(spec: DecoderSpec, gpu: Gpu, ownsGpu: boolean, weights: NamedWeights) {
    this.spec = spec;
    this.gpu = gpu;
    this.#ownsGpu = ownsGpu;
    this.#weights = new Map();
    for (const [key, w] of weights) {
      this.#weights.set(key, upload(gpu.device, "f32", w.shape, w.data, key));
    }
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
    const { spec, weights: named } = readDecoderSpec(parseSafetensors(bytes, name), name);
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
    const decoder = new Decoder(spec, gpu, owns, named);
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
    return this.spec.z;
  }

  /** Outputs per code, F = height * width * channels. */
  get features(): number {
    return this.spec.height * this.spec.width * this.spec.channels;
  }

  /** Classes K of a label-conditioned decoder; 0 when unconditional. */
  get classes(): number {
    return this.spec.condition?.classes ?? 0;
  }

  /**
   * Decode B = z.length / Z codes (row-major [B, Z]) into pixel means, row-major [B, F] in
   * HWC order (in [0, 1] for a bce model). A label-conditioned decoder needs `cls`: one class
   * (0..K-1) for every code, or one per code; an unconditional one takes none. Calls are
   * queued, so concurrent calls are safe.
   */
  decode(z: ArrayLike<number>, cls?: number | ArrayLike<number>): Promise<Float32Array> {
    let rows: CodeRows;
    try {
      rows = this.#rows("decode", z, cls);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#enqueue(() => this.#decode(z, rows.c, rows.batch));
  }

  /**
   * Codes from the model's prior for standard normal draws `eps` (row-major [B, Z]) at
   * `temperature` t: z = mp(c) + t exp(0.5 clamp(pv(c), lo, hi)) eps for a learned prior
   * p(z | c) = N(mp(c), exp(pv(c))), its network run on the GPU for each code's class (`cls`:
   * one class for all codes, or one per code) and [lo, hi] the run's `logvar-clamp`, by the
   * function training's sampler uses ({@linkcode codesFromMoments}); z = t eps for the
   * standard prior N(0, I). t = 1 samples the prior, t = 0 gives its mean. `cls` is required
   * exactly when the decoder is label-conditioned. Queued with the decodes.
   */
  priorCodes(
    eps: ArrayLike<number>,
    cls?: number | ArrayLike<number>,
    temperature = 1,
  ): Promise<Float32Array> {
    let rows: CodeRows;
    try {
      rows = this.#rows("priorCodes", eps, cls);
      if (!Number.isFinite(temperature)) {
        throw new DecoderError(`priorCodes: temperature ${temperature} is not a finite number`);
      }
    } catch (e) {
      return Promise.reject(e);
    }
    const prior = this.spec.prior, { batch, c } = rows;
    if (!prior || !c) return Promise.resolve(Float32Array.from(eps, (v) => v * temperature));
    return this.#enqueue(async () =>
      codesFromMoments(
        await this.#priorMoments(c, batch),
        eps,
        batch,
        this.spec.z,
        prior.logvarClamp,
        temperature,
      )
    );
  }

  /** Runs `work` after every call queued before it, so concurrent calls are safe. */
  #enqueue<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work);
    this.#queue = run.catch(() => {});
    return run;
  }

  /**
   * The number of codes B in `values` ([B, Z]) and their one-hot condition rows for `cls`;
   * throws a DecoderError naming `where` when either does not fit the decoder.
   */
  #rows(
    where: string,
    values: ArrayLike<number>,
    cls: number | ArrayLike<number> | undefined,
  ): CodeRows {
    const Z = this.spec.z;
    if (values.length === 0 || values.length % Z !== 0) {
      throw new DecoderError(
        `${where}: ${values.length} values is not a whole number of ${Z}-d codes`,
      );
    }
    const batch = values.length / Z;
    return { batch, c: this.#oneHot(cls, batch, where) };
  }

  /** The learned prior's [mp | pv] rows [B, 2Z] for one-hot rows `c` [B, K]. */
  async #priorMoments(c: Float32Array<ArrayBuffer>, batch: number): Promise<Float32Array> {
    let p = this.#priorPrograms.get(batch);
    if (!p) {
      p = this.#buildPrior(batch);
      this.#priorPrograms.set(batch, p);
      p.catch(() => this.#priorPrograms.delete(batch));
    }
    const prog = await p;
    const device = this.gpu.device;
    device.queue.writeBuffer(prog.c.buffer, 0, c);
    submit(device, prog.dispatches, "prior");
    return await readback(device, prog.prior);
  }

  /**
   * The prior network for `batch` rows: dense layers with the ReLU in the dense kernel's
   * epilogue, then the head, as training's denseStack runs it (so the same arithmetic).
   */
  async #buildPrior(batch: number): Promise<PriorProgram> {
    const gpu = this.gpu;
    const tensors: Tensor[] = [];
    const mk = (label: string, shape: number[]) => {
      const t = new Tensor(gpu.device, "f32", shape, label);
      tensors.push(t);
      return t;
    };
    const W = (name: string) => this.#weights.get(name)!;
    const layers = denseChain(this.#weights, "prior", "prior.head", "the prior", (p) => {
      throw new DecoderError(p);
    });
    const c = mk("prior.c", [batch, this.classes]);
    const dispatches: Dispatch[] = [];
    let x = c;
    for (const l of layers) {
      const y = mk(`${l.name}.y`, [batch, l.n]);
      const s = { batch, inFeatures: l.k, outFeatures: l.n };
      const t = { y, x, W: W(`${l.name}.weight`), b: W(`${l.name}.bias`) };
      const options = l.act === "relu" ? { activation: "relu" as const } : {};
      dispatches.push(...await denseForward(gpu, t, s, options));
      x = y;
    }
    return { c, prior: x, dispatches, tensors };
  }

  /** The condition rows [B, K] for `cls` (one-hot), checked against the decoder's classes. */
  #oneHot(
    cls: number | ArrayLike<number> | undefined,
    batch: number,
    where: string,
  ): Float32Array<ArrayBuffer> | undefined {
    const K = this.classes;
    if (K === 0) {
      if (cls === undefined) return undefined;
      throw new DecoderError(`${where}: this decoder is not conditional; it takes no class`);
    }
    if (cls === undefined) {
      throw new DecoderError(
        `${where}: this decoder is conditioned on the class; give one 0..${K - 1}`,
      );
    }
    const asked = typeof cls === "number" ? new Array<number>(batch).fill(cls) : cls;
    if (asked.length !== batch) {
      throw new DecoderError(`${where}: ${asked.length} classes for ${batch} codes`);
    }
    const rows = new Float32Array(batch * K);
    for (let i = 0; i < batch; i++) {
      const k = asked[i];
      if (!Number.isInteger(k) || k < 0 || k >= K) {
        throw new DecoderError(`${where}: class ${k} is not one of the decoder's 0..${K - 1}`);
      }
      rows[i * K + k] = 1;
    }
    return rows;
  }

  async #decode(
    z: ArrayLike<number>,
    c: Float32Array<ArrayBuffer> | undefined,
    batch: number,
  ): Promise<Float32Array> {
    const p = await this.#program(batch);
    const device = this.gpu.device;
    device.queue.writeBuffer(p.z.buffer, 0, Float32Array.from(z));
    if (p.c && c) device.queue.writeBuffer(p.c.buffer, 0, c);
    submit(device, p.dispatches, "decode");
    return await readback(device, p.mean);
  }

  #program(batch: number): Promise<Program> {
    let p = this.#programs.get(batch);
    if (!p) {
      p = this.#build(batch);
      this.#programs.set(batch, p);
      p.catch(() => this.#programs.delete(batch));
    }
    return p;
  }

  #build(batch: number): Promise<Program> {
    switch (this.spec.model) {
      case "mlp":
        return this.#buildMlp(batch);
      case "conv":
        // TODO(lead, conv model): Dense Z -> 3136, reshape 7x7x64 (NHWC), ConvTranspose2d
        // [64, 64, 32, 1] kernel 3 strides [1, 2, 2, 1] "same", BatchNorm in eval mode (running
        // stats) + LeakyReLU(0.2) after each but the last, then the output activation as below.
        throw new DecoderError("decode: the conv decoder is not supported yet");
    }
  }

  async #buildMlp(batch: number): Promise<Program> {
    const gpu = this.gpu;
    const tensors: Tensor[] = [];
    const mk = (label: string, shape: number[]) => {
      const t = new Tensor(gpu.device, "f32", shape, label);
      tensors.push(t);
      return t;
    };
    const W = (name: string) => this.#weights.get(name)!;
    const layers = mlpLayers(this.#weights, (p) => {
      throw new DecoderError(p);
    });
    const Z = this.spec.z, K = this.classes;
    const z = mk("decode.z", [batch, Z]);
    const dispatches: Dispatch[] = [];
    let x = z, c: Tensor | undefined;
    if (K > 0) {
      // [z | c]: the class appended to every code, as training's decoder reads it.
      c = mk("decode.c", [batch, K]);
      x = mk("decode.zc", [batch, Z + K]);
      const shape = { batch, positions: 1, features: Z, conditions: K };
      dispatches.push(await concatForward(gpu, { y: x, a: z, c }, shape));
    }
    for (const l of layers) {
      const pre = mk(`${l.name}.pre`, [batch, l.n]);
      const s = { batch, inFeatures: l.k, outFeatures: l.n };
      const t = { y: pre, x, W: W(`${l.name}.weight`), b: W(`${l.name}.bias`) };
      dispatches.push(...await denseForward(gpu, t, s));
      x = pre;
      if (l.act === "relu") {
        const h = mk(`${l.name}.h`, [batch, l.n]);
        dispatches.push(await activationForward(gpu, "relu", { y: h, x: pre }));
        x = h;
      }
    }
    if (this.spec.output === "identity") return { z, c, mean: x, dispatches, tensors };
    const mean = mk("decode.mean", [batch, this.features]);
    dispatches.push(await activationForward(gpu, "sigmoid", { y: mean, x }));
    return { z, c, mean, dispatches, tensors };
  }

  /** Free the weights and the programs' buffers; the device too when this decoder made it. */
  async destroy(): Promise<void> {
    await this.#queue;
    for (const t of this.#weights.values()) t.destroy();
    for (const p of this.#programs.values()) {
      const prog = await p.catch(() => null);
      for (const t of prog?.tensors ?? []) t.destroy();
    }
    this.#programs.clear();
    for (const p of this.#priorPrograms.values()) {
      const prog = await p.catch(() => null);
      for (const t of prog?.tensors ?? []) t.destroy();
    }
    this.#priorPrograms.clear();
    if (this.#ownsGpu) this.gpu.destroy();
  }
}
