/**
 * The resolved model spec: everything needed to rebuild a trained model without its training
 * flags or its dataset. It travels as JSON in the `spec` metadata of `model.safetensors`,
 * `optimizer.safetensors` and an exported `decoder.safetensors`, and under `spec` in a run's
 * `config.json`. Sampling, evaluation, export and the web page build the model from it through
 * the same builders training uses (src/vae/model.ts).
 *
 * A spec holds: the family (mlp, conv, streamlines), the data's geometry (image height, width,
 * channels; or a sequence's points, values per point and the normalization that maps outputs
 * back to millimetres), the model config every builder takes (latent size, loss, logvar clamp,
 * condition, prior, layer widths), the condition's encoding for people (class names; length
 * statistics) and every parameter's name and shape, in layout order.
 *
 * No GPU, no Deno API: it bundles for the browser.
 *
 * Legend: Z latent size, C condition values, F values per example.
 */

import type { ParsedSafetensors } from "../io/safetensors.ts";
import { checkSpace, type TractogramSpace } from "../data/tractogram.ts";
import { type VaeConfig, vaeFeatures, vaeLayout } from "./model.ts";

/** The `format` of a spec; a spec of another format is refused. */
export const SPEC_FORMAT = "webgpu-vae-spec/1";

/** The most parameters a spec may build (2^28 floats, 1 GiB): a larger one is refused. */
export const MAX_SPEC_PARAMS = 2 ** 28;

/** Image geometry: F = height * width * channels values per example, stored HWC. */
export interface ImageGeometry {
  /** Images. */
  kind: "image";
  /** Rows H. */
  height: number;
  /** Columns W. */
  width: number;
  /** Channels C (1 grey, 3 RGB). */
  channels: number;
}

/** Sequence geometry (streamlines): F = points * pointSize values per example. */
export interface SequenceGeometry {
  /** Point sequences. */
  kind: "sequence";
  /** Points per sequence. */
  points: number;
  /** Values per point (3: x y z). */
  pointSize: number;
  /** Outputs are normalized coordinates: mm = value / scale + center. */
  normalization: { center: [number, number, number]; scale: number };
  /** Bundle names by label, when the data had them. */
  bundles?: string[];
  /**
   * The source tractogram's voxel grid (affine, voxel size, dimensions, order), so sampled or
   * reconstructed streamlines are written back in it without the dataset; absent in older runs.
   */
  space?: TractogramSpace;
}

/** The condition as people read it: class names, or the training lengths' statistics. */
export type ConditionInfo =
  | { kind: "label"; classes: number; names: string[] }
  | { kind: "length"; mean: number; std: number; min: number; max: number };

/** One parameter of the model: its name and shape. */
export interface SpecLayer {
  /** Name, as in the safetensors file ("decoder.0.weight"). */
  name: string;
  /** Shape. */
  shape: number[];
}

/** A model, described once (see the module comment). */
export interface ModelSpec {
  /** Always {@linkcode SPEC_FORMAT}. */
  format: typeof SPEC_FORMAT;
  /** The training model family. */
  family: "mlp" | "conv" | "streamlines";
  /** What one example is. */
  data: ImageGeometry | SequenceGeometry;
  /** The config every builder takes (shapes, latent size, loss, clamp, condition, prior). */
  model: VaeConfig;
  /** The condition's encoding with its names or statistics; absent when unconditional. */
  condition?: ConditionInfo;
  /** Every parameter's name and shape, in layout order. */
  layers: SpecLayer[];
}

/** What {@linkcode modelSpec} reads of a dataset (a `Dataset` fits). */
export interface SpecData {
  /** Image rows (1 for sequences). */
  rows: number;
  /** Image columns (points for sequences). */
  cols: number;
  /** Values per example. */
  features: number;
  /** Training split: its streamline lengths give a length condition's range. */
  train?: { lengths?: Float32Array };
  /** A streamline dataset's points, normalization and bundle names. */
  streamlines?: {
    points: number;
    normalization: { center: [number, number, number]; scale: number };
    bundles?: string[];
    space?: TractogramSpace;
  };
}

/** A spec that cannot be used: one line, naming the file. */
export class SpecError extends Error {
  /**
   * Make the error.
   * @param message one line: the file and the problem
   */
  constructor(message: string) {
    super(message);
    this.name = "SpecError";
  }
}

/**
 * The spec of a resolved model config `model` trained on `data`, as family `family`, with
 * `classNames` naming a label condition's classes (numbers when absent or the wrong count).
 */
export function modelSpec(
  family: ModelSpec["family"],
  model: VaeConfig,
  data: SpecData,
  classNames?: string[],
): ModelSpec {
  const s = data.streamlines;
  const geometry: ImageGeometry | SequenceGeometry = s
    ? {
      kind: "sequence",
      points: s.points,
      pointSize: data.features / s.points,
      normalization: { center: [...s.normalization.center], scale: s.normalization.scale },
      ...(s.bundles ? { bundles: [...s.bundles] } : {}),
      ...(s.space ? { space: structuredClone(s.space) } : {}),
    }
    : {
      kind: "image",
      height: data.rows,
      width: data.cols,
      channels: data.features / (data.rows * data.cols),
    };
  const spec: ModelSpec = {
    format: SPEC_FORMAT,
    family,
    data: geometry,
    model: structuredClone(model),
    layers: vaeLayout(model).entries.map((e) => ({ name: e.name, shape: [...e.shape] })),
  };
  const c = model.condition;
  if (c?.kind === "label") {
    const names = classNames?.length === c.classes
      ? [...classNames]
      : Array.from({ length: c.classes }, (_, i) => String(i));
    spec.condition = { kind: "label", classes: c.classes, names };
  } else if (c?.kind === "length") {
    let min = c.mean, max = c.mean;
    for (const v of data.train?.lengths ?? []) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    spec.condition = { kind: "length", mean: c.mean, std: c.std, min, max };
  }
  return spec;
}

/** Values per example of a geometry. */
export function geometryFeatures(g: ImageGeometry | SequenceGeometry): number {
  return g.kind === "image" ? g.height * g.width * g.channels : g.points * g.pointSize;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => Number.isInteger(v) && (v as number) > 0;
const isFinite = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const isCounts = (v: unknown): v is number[] => Array.isArray(v) && v.every(isCount);

/**
 * Parse and check the JSON text of a spec. Every shape is recomputed from the model config by
 * the training builders and must equal the listed layers. Throws {@linkcode SpecError} naming
 * `name`, in one line.
 */
export function parseModelSpec(text: string, name = "file"): ModelSpec {
  const fail = (problem: string): never => {
    throw new SpecError(`${name}: ${problem}`);
  };
  let s: unknown;
  try {
    s = JSON.parse(text);
  } catch {
    fail("the model spec in the metadata is not valid JSON");
  }
  if (!isObject(s)) return fail("the model spec is not a JSON object");
  if (s.format !== SPEC_FORMAT) {
    fail(`model spec format ${JSON.stringify(s.format)} is not ${SPEC_FORMAT}`);
  }
  if (s.family !== "mlp" && s.family !== "conv" && s.family !== "streamlines") {
    fail(`model family ${JSON.stringify(s.family)} is not mlp, conv or streamlines`);
  }
  const g = s.data;
  if (!isObject(g)) return fail("the model spec has no data geometry");
  if (g.kind === "image") {
    if (![g.height, g.width, g.channels].every(isCount)) {
      fail("image height, width and channels must be positive integers");
    }
  } else if (g.kind === "sequence") {
    const n = g.normalization;
    if (!isCount(g.points) || !isCount(g.pointSize)) {
      fail("sequence points and pointSize must be positive integers");
    }
    if (
      !isObject(n) || !Array.isArray(n.center) || n.center.length !== 3 ||
      !n.center.every(isFinite) || !isFinite(n.scale) || !(n.scale > 0)
    ) {
      fail("sequence normalization must be { center: [x, y, z], scale > 0 }");
    }
    if (g.space !== undefined) {
      try {
        if (!isObject(g.space)) throw new RangeError("not an object");
        checkSpace(g.space as unknown as TractogramSpace, "sequence space");
      } catch (e) {
        fail(`the tractogram space is unusable: ${(e as Error).message}`);
      }
    }
  } else fail(`data kind ${JSON.stringify(g.kind)} is not image or sequence`);
  const m = s.model;
  if (!isObject(m)) return fail("the model spec has no model config");
  if (!isCount(m.z)) fail(`latent size z ${JSON.stringify(m.z)} is not a positive integer`);
  if (m.recon !== "bce" && m.recon !== "mse") fail(`recon ${JSON.stringify(m.recon)}`);
  const clamp = m.logvarClamp;
  if (
    !Array.isArray(clamp) || clamp.length !== 2 || !clamp.every(isFinite) ||
    !(clamp[0] < clamp[1])
  ) {
    fail(`logvarClamp ${JSON.stringify(clamp)} is not [lo, hi] with lo < hi`);
  }
  if (m.regression !== undefined) {
    const r = m.regression;
    if (!isObject(r) || !isCounts(r.hidden) || !(isFinite(r.weight) && r.weight >= 0)) {
      fail("a regression head needs hidden widths (positive integers) and a weight >= 0");
    }
    if (!isObject(m.condition) || m.condition.kind !== "length" || m.prior === undefined) {
      fail("a regression head needs a length condition and a learned prior");
    }
  }
  if (m.epsStd !== undefined && !(isFinite(m.epsStd) && m.epsStd >= 0)) {
    fail(`epsStd ${JSON.stringify(m.epsStd)} is not a number >= 0`);
  }
  if (m.kind === "conv") {
    for (const k of ["filters", "kernels", "strides", "decoderFilters", "decoderKernels"]) {
      if (!isCounts(m[k])) fail(`conv ${k} must be a list of positive integers`);
    }
  } else if (m.kind === undefined || m.kind === "mlp") {
    if (!isCount(m.inputs) || !isCounts(m.hidden)) {
      fail("mlp inputs and hidden must be positive integers");
    }
  } else fail(`model kind ${JSON.stringify(m.kind)} is not mlp or conv`);
  const c = m.condition;
  if (c !== undefined) {
    if (!isObject(c)) return fail("the model's condition is not an object");
    const size = c.kind === "label" ? c.classes : c.kind === "length" ? 1 : 0;
    if (c.kind === "label" && !(isCount(c.classes) && c.classes >= 2)) {
      fail("a label condition needs classes >= 2");
    }
    if (c.kind === "length" && !(isFinite(c.mean) && isFinite(c.std) && c.std > 0)) {
      fail("a length condition needs a finite mean and a positive std");
    }
    if (!size || m.conditions !== size) {
      fail(`condition ${JSON.stringify(c)} does not fit ${JSON.stringify(m.conditions)} values`);
    }
    const info = isObject(s.condition) ? s.condition : {} as Record<string, unknown>;
    if (info.kind !== c.kind) fail("the condition's description is missing");
    if (
      c.kind === "label" &&
      (!Array.isArray(info.names) || info.names.length !== c.classes ||
        !info.names.every((n) => typeof n === "string"))
    ) {
      fail(`a label condition needs ${c.classes} class names`);
    }
    if (c.kind === "length" && !(isFinite(info.min) && isFinite(info.max))) {
      fail("a length condition needs the training lengths' min and max");
    }
  } else if (m.conditions) fail(`${m.conditions} condition values but no condition`);
  else if (m.prior !== undefined) fail("a learned prior needs a condition");
  if (m.prior !== undefined && !(isObject(m.prior) && isCounts(m.prior.hidden))) {
    fail("the learned prior's hidden widths must be positive integers");
  }
  const spec = s as unknown as ModelSpec;
  let layout;
  try {
    layout = vaeLayout(spec.model);
  } catch (e) {
    return fail(`the model config does not build: ${(e as Error).message.split("\n")[0]}`);
  }
  if (layout.size > MAX_SPEC_PARAMS) {
    fail(`the model config builds ${layout.size} parameters, more than ${MAX_SPEC_PARAMS}`);
  }
  const F = vaeFeatures(spec.model);
  if (F !== geometryFeatures(spec.data)) {
    fail(
      `the model reads ${F} values per example but the data geometry holds ` +
        `${geometryFeatures(spec.data)}`,
    );
  }
  const layers = s.layers;
  if (!Array.isArray(layers) || layers.length !== layout.entries.length) {
    fail(
      `the spec lists ${Array.isArray(layers) ? layers.length : "no"} layers; the model ` +
        `config builds ${layout.entries.length}`,
    );
  }
  layout.entries.forEach((e, i) => {
    const l = (layers as unknown[])[i];
    if (
      !isObject(l) || l.name !== e.name || !Array.isArray(l.shape) ||
      l.shape.join(",") !== e.shape.join(",")
    ) {
      fail(`layer ${i} is ${JSON.stringify(l)}; the model config builds ${e.name} [${e.shape}]`);
    }
  });
  return spec;
}

/**
 * The spec in a parsed safetensors file's `spec` metadata. A file without one (a run written
 * before specs existed) is a one-line error saying how to convert it (`convert`, a command).
 */
export function specOfFile(file: ParsedSafetensors, name: string, convert?: string): ModelSpec {
  const text = file.metadata.spec;
  if (text === undefined) {
    throw new SpecError(
      `${name} has no model spec in its metadata (written before webgpu-vae wrote specs)` +
        (convert ? `; convert it with: ${convert}` : ""),
    );
  }
  return parseModelSpec(text, name);
}

/**
 * The flat parameter array of the model `spec` from a parsed file's tensors, by name and
 * checked against the spec's shapes; every value must be finite. Only parameters whose names
 * start with one of `parts` (all when absent) are read; the rest stay zero (the web decoder
 * reads `decoder.` and `prior.` alone). Throws {@linkcode SpecError} naming `name`.
 */
export function flatParams(
  spec: ModelSpec,
  file: ParsedSafetensors,
  name: string,
  parts?: string[],
): Float32Array {
  const layout = vaeLayout(spec.model);
  const flat = new Float32Array(layout.size);
  for (const e of layout.entries) {
    if (parts && !parts.some((p) => e.name.startsWith(p))) continue;
    const t = file.tensors.get(e.name);
    if (!t) throw new SpecError(`${name}: ${e.name} is missing`);
    if (t.dtype !== "F32" || t.shape.join(",") !== e.shape.join(",")) {
      throw new SpecError(
        `${name}: ${e.name} is ${t.dtype} [${t.shape}], the model needs F32 [${e.shape}]`,
      );
    }
    const data = t.data as Float32Array;
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) {
        throw new SpecError(`${name}: ${e.name} holds a non-finite value (${data[i]}) at ${i}`);
      }
    }
    flat.set(data, e.offset);
  }
  return flat;
}

/** One line naming what a spec's model reads and writes, e.g. "28x28x1 images". */
export function describeData(spec: ModelSpec): string {
  const g = spec.data;
  return g.kind === "image"
    ? `${g.height}x${g.width}x${g.channels} images`
    : `streamlines of ${g.points} points`;
}
