/**
 * Kernels: one `shaders/NAME.wgsl` file, loaded once, its entry points and bindings read
 * with wgsl_reflect. Bind group layouts come from that reflection, pipelines are cached per
 * entry point, and every binding is checked (name, type, size, alignment) when a dispatch
 * is built, so a mismatch is an error naming the shader and binding, never a wrong result.
 *
 * A {@linkcode Dispatch} is built once (pipeline + bind group + uniform buffer + workgroup
 * count) and encoded any number of times: a training step is a list of dispatches.
 */

import { WgslReflect } from "wgsl_reflect";
import { countSubmit, type DType, type Tensor, trackBuffer } from "./buffer.ts";

/** Returns the WGSL source of `shaders/NAME.wgsl`. */
export type ShaderLoader = (name: string) => Promise<string>;

const SHADER_DIR = new URL("../../shaders/", import.meta.url);

/** Default loader: fetch `shaders/NAME.wgsl` relative to this module (file: or http:). */
export async function fetchShader(name: string): Promise<string> {
  const url = new URL(`${name}.wgsl`, SHADER_DIR);
  const res = await fetch(url);
  if (!res.ok) throw new Error(`shader ${name}: cannot load ${url} (${res.status})`);
  return await res.text();
}

/** A range of a tensor bound to one binding: `length` elements from element `offset`. */
export interface TensorView {
  /** The tensor viewed. */
  tensor: Tensor;
  /** First element (its byte offset must be a multiple of 256). */
  offset: number;
  /** Number of elements. */
  length: number;
}

/** A whole tensor or a view of one: what a storage binding takes. */
export type TensorLike = Tensor | TensorView;

/** Values of a uniform struct's scalar members, by member name. */
export type UniformValues = Record<string, number>;

/** What may be bound by name: a tensor, a view of one, or a uniform struct's values. */
export type Binding = Tensor | TensorView | UniformValues;

/** One reflected resource of an entry point. */
interface Resource {
  name: string;
  binding: number;
  kind: "storage" | "read-only-storage" | "uniform";
  /** Element type of a storage array (f32, u32, i32) and its stride in bytes. */
  element?: string;
  stride?: number;
  /** Uniform struct members and size. */
  members?: { name: string; offset: number; type: string }[];
  size?: number;
}

interface EntryPoint {
  name: string;
  resources: Resource[];
  workgroupSize: [number, number, number];
  layout: GPUBindGroupLayout;
  pipelines: Map<string, Promise<GPUComputePipeline>>;
}

/** Element type names a tensor dtype may bind to. */
const COMPATIBLE: Record<DType, string[]> = {
  f32: ["f32"],
  u32: ["u32"],
  i32: ["i32"],
  u8: ["u32"],
};

/** A shader file with its reflected entry points; see {@linkcode Gpu.kernel}. */
export class Kernel {
  /** Shader name (the file's base name). */
  readonly name: string;
  readonly #device: GPUDevice;
  readonly #module: GPUShaderModule;
  readonly #entries = new Map<string, EntryPoint>();
  #compiled: Promise<void> | null = null;

  /** Reflect `source` and prepare bind group layouts for each compute entry point. */
  constructor(device: GPUDevice, name: string, source: string) {
    this.name = name;
    this.#device = device;
    let reflect: WgslReflect;
    try {
      reflect = new WgslReflect(source);
    } catch (e) {
      throw new Error(`shader ${name}: cannot parse WGSL: ${(e as Error).message}`);
    }
    this.#module = device.createShaderModule({ label: name, code: source });
    for (const entry of reflect.entry.compute) {
      const resources: Resource[] = [];
      for (const r of entry.resources) {
        if (r.group !== 0) throw new Error(`shader ${name}: ${r.name} is not in @group(0)`);
        resources.push(describe(name, r));
      }
      resources.sort((a, b) => a.binding - b.binding);
      const ws = entry.workgroupSize as unknown as number[] | null;
      const workgroupSize: [number, number, number] = [ws?.[0] ?? 1, ws?.[1] ?? 1, ws?.[2] ?? 1];
      checkLimits(device.limits, `${name}.${entry.name}`, resources, workgroupSize);
      const layout = device.createBindGroupLayout({
        label: `${name}.${entry.name}`,
        entries: resources.map((r) => ({
          binding: r.binding,
          visibility: GPUShaderStage.COMPUTE,
          buffer: { type: r.kind },
        })),
      });
      this.#entries.set(entry.name, {
        name: entry.name,
        resources,
        workgroupSize,
        layout,
        pipelines: new Map(),
      });
    }
  }

  /** Names of the compute entry points. */
  get entryPoints(): string[] {
    return [...this.#entries.keys()];
  }

  /** Workgroup size of an entry point, as declared (override defaults resolved). */
  workgroupSize(entry: string): [number, number, number] {
    return this.#entry(entry).workgroupSize;
  }

  /**
   * Build a dispatch of `entry` over `workgroups`, with every binding given by name. Tensors
   * are checked against the reflected element type and stride; uniform structs are packed
   * from `values` by member name (a missing or unknown member is an error).
   */
  async dispatch(
    entry: string,
    bindings: Record<string, Binding>,
    workgroups: readonly number[],
    options: { label?: string; constants?: Record<string, number> } = {},
  ): Promise<Dispatch> {
    const ep = this.#entry(entry);
    const where = `${this.name}.${entry}`;
    const label = options.label ?? where;
    for (const key of Object.keys(bindings)) {
      if (!ep.resources.some((r) => r.name === key)) {
        throw new Error(`${where}: no binding named '${key}' (it has ${names(ep)})`);
      }
    }
    const limits = this.#device.limits;
    const wg: [number, number, number] = [
      workgroups[0] ?? 1,
      workgroups[1] ?? 1,
      workgroups[2] ?? 1,
    ];
    for (const n of wg) {
      if (!Number.isInteger(n) || n < 0 || n > limits.maxComputeWorkgroupsPerDimension) {
        throw new Error(`${where}: workgroup count ${wg.join("x")} is outside the device limit`);
      }
    }
    const entries: GPUBindGroupEntry[] = [];
    const uniforms: UniformSlot[] = [];
    for (const r of ep.resources) {
      const b = bindings[r.name];
      if (b === undefined) throw new Error(`${where}: binding '${r.name}' was not given`);
      if (r.kind === "uniform") {
        const slot = new UniformSlot(this.#device, where, r);
        slot.write(b as UniformValues);
        uniforms.push(slot);
        entries.push({ binding: r.binding, resource: { buffer: slot.buffer } });
      } else {
        entries.push({ binding: r.binding, resource: storageResource(where, r, b, limits) });
      }
    }
    const pipeline = await this.#pipeline(ep, options.constants ?? {});
    const bindGroup = await scoped(
      this.#device,
      where,
      () => this.#device.createBindGroup({ label, layout: ep.layout, entries }),
    );
    return new Dispatch(label, this.name, entry, pipeline, bindGroup, wg, uniforms);
  }

  #entry(entry: string): EntryPoint {
    const ep = this.#entries.get(entry);
    if (!ep) {
      throw new Error(
        `shader ${this.name}: no compute entry point '${entry}' (has ${this.entryPoints})`,
      );
    }
    return ep;
  }

  async #compile(): Promise<void> {
    const info = await this.#module.getCompilationInfo();
    const errors = info.messages.filter((m) => m.type === "error");
    if (errors.length) {
      const m = errors[0];
      throw new Error(`shader ${this.name}.wgsl:${m.lineNum}:${m.linePos}: ${m.message}`);
    }
  }

  #pipeline(ep: EntryPoint, constants: Record<string, number>): Promise<GPUComputePipeline> {
    const key = JSON.stringify(constants);
    let p = ep.pipelines.get(key);
    if (!p) {
      this.#compiled ??= this.#compile();
      const where = `${this.name}.${ep.name}`;
      p = this.#compiled.then(() =>
        this.#device.createComputePipelineAsync({
          label: where,
          layout: this.#device.createPipelineLayout({
            label: where,
            bindGroupLayouts: [ep.layout],
          }),
          compute: { module: this.#module, entryPoint: ep.name, constants },
        })
      ).catch((e) => {
        throw new Error(`${where}: pipeline creation failed: ${(e as Error).message}`);
      });
      ep.pipelines.set(key, p);
    }
    return p;
  }
}

/**
 * Refuse an entry point that needs more than the device has, by name, before WebGPU does with
 * a validation error: storage and uniform buffers per stage, workgroup size per dimension and
 * invocations per workgroup (as declared; override-sized workgroups at their defaults).
 * requestGpu raises each of these to what the adapter offers, so on its devices this names a
 * real shortfall of the adapter.
 */
function checkLimits(
  limits: GPUSupportedLimits,
  where: string,
  resources: Resource[],
  size: [number, number, number],
): void {
  const need = (what: string, n: number, limit: string, have: number) => {
    if (n > have) {
      throw new Error(
        `shader ${where}: needs ${n} ${what}, but this device allows ${have} (${limit})`,
      );
    }
  };
  const storage = resources.filter((r) => r.kind !== "uniform").length;
  need(
    "storage buffers",
    storage,
    "maxStorageBuffersPerShaderStage",
    limits.maxStorageBuffersPerShaderStage,
  );
  const uniform = resources.length - storage;
  need(
    "uniform buffers",
    uniform,
    "maxUniformBuffersPerShaderStage",
    limits.maxUniformBuffersPerShaderStage,
  );
  const dims = ["X", "Y", "Z"] as const;
  for (let i = 0; i < 3; i++) {
    const limit = `maxComputeWorkgroupSize${dims[i]}` as const;
    need(`invocations along ${dims[i]} of a workgroup`, size[i], limit, limits[limit]);
  }
  need(
    "invocations per workgroup",
    size[0] * size[1] * size[2],
    "maxComputeInvocationsPerWorkgroup",
    limits.maxComputeInvocationsPerWorkgroup,
  );
}

function names(ep: EntryPoint): string {
  return ep.resources.map((r) => r.name).join(", ");
}

// deno-lint-ignore no-explicit-any
function describe(shader: string, r: any): Resource {
  if (r.resourceType === 0) {
    const members = (r.type.members ?? []).map((
      m: { name: string; offset: number; type: { name: string } },
    ) => ({
      name: m.name,
      offset: m.offset,
      type: m.type.name,
    }));
    for (const m of members) {
      if (!["f32", "u32", "i32"].includes(m.type)) {
        throw new Error(
          `shader ${shader}: uniform ${r.name}.${m.name} must be a scalar (is ${m.type})`,
        );
      }
    }
    return { name: r.name, binding: r.binding, kind: "uniform", members, size: r.size };
  }
  if (r.resourceType !== 1) {
    throw new Error(`shader ${shader}: binding ${r.name} is not a buffer (textures are not used)`);
  }
  const kind = r.access === "read" ? "read-only-storage" : "storage";
  const t = r.type;
  if (t.name !== "array") throw new Error(`shader ${shader}: storage ${r.name} must be an array`);
  // array<f32>, array<vec4<f32>>, array<atomic<u32>>: the scalar type underneath.
  let f = t.format;
  while (f && (f.format || f.name === "atomic")) f = f.format ?? null;
  const name: string | undefined = f?.name === "atomic" ? "u32" : f?.name;
  // The predeclared aliases vec4f, vec2u, ... name their scalar in the last letter.
  const alias = name?.match(/^vec[234]([fui])$/)?.[1];
  const element = alias ? `${alias}32` : name;
  return { name: r.name, binding: r.binding, kind, element, stride: t.stride };
}

function isUniformValues(b: Binding): b is UniformValues {
  return !("buffer" in b) && !("tensor" in b);
}

function storageResource(
  where: string,
  r: Resource,
  b: Binding,
  limits: GPUSupportedLimits,
): GPUBufferBinding {
  if (isUniformValues(b)) {
    throw new Error(`${where}: binding '${r.name}' needs a tensor, got values`);
  }
  const view: TensorView = "tensor" in b ? b : { tensor: b, offset: 0, length: b.length };
  const t = view.tensor;
  if (!COMPATIBLE[t.dtype].includes(r.element ?? "")) {
    throw new Error(
      `${where}: binding '${r.name}' is array<${r.element}> but ${t.label} is ${t.dtype}`,
    );
  }
  const unit = t.dtype === "u8" ? 1 : 4;
  const offset = view.offset * unit;
  const size = view.length * unit;
  if (view.offset < 0 || view.length <= 0 || view.offset + view.length > t.length) {
    throw new Error(
      `${where}: binding '${r.name}' views [${view.offset}, ${view.offset + view.length}) of ` +
        `${t.label}, which has ${t.length} elements`,
    );
  }
  if (offset % limits.minStorageBufferOffsetAlignment !== 0) {
    throw new Error(
      `${where}: binding '${r.name}' offset ${offset} B is not ${limits.minStorageBufferOffsetAlignment}-aligned`,
    );
  }
  const stride = r.stride ?? 4;
  // u8 data is read as whole u32 words: round its byte view up to a word.
  const bound = t.dtype === "u8" ? Math.ceil(size / 4) * 4 : size;
  if (bound % stride !== 0) {
    throw new Error(
      `${where}: binding '${r.name}' has ${bound} B, not a multiple of its ${stride}-byte element ` +
        `(${t.label}: ${view.length} elements)`,
    );
  }
  if (bound > limits.maxStorageBufferBindingSize) {
    throw new Error(`${where}: binding '${r.name}' is ${bound} B, over the device's binding limit`);
  }
  return { buffer: t.buffer, offset, size: bound };
}

/** A uniform buffer for one struct binding, packed by reflected member offsets. */
class UniformSlot {
  readonly buffer: GPUBuffer;
  readonly #device: GPUDevice;
  readonly #where: string;
  readonly #r: Resource;
  readonly #bytes: ArrayBuffer;

  constructor(device: GPUDevice, where: string, r: Resource) {
    this.#device = device;
    this.#where = where;
    this.#r = r;
    const size = Math.max(16, Math.ceil((r.size ?? 0) / 16) * 16);
    this.#bytes = new ArrayBuffer(size);
    this.buffer = device.createBuffer({
      label: `${where}.${r.name}`,
      size,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    trackBuffer(device, this.buffer);
  }

  get name(): string {
    return this.#r.name;
  }

  /** Pack `values` (every member, nothing else) and queue the write. */
  write(values: UniformValues, partial = false): void {
    const members = this.#r.members ?? [];
    for (const key of Object.keys(values)) {
      if (!members.some((m) => m.name === key)) {
        throw new Error(`${this.#where}: uniform ${this.#r.name} has no member '${key}'`);
      }
    }
    const view = new DataView(this.#bytes);
    for (const m of members) {
      const v = values[m.name];
      if (v === undefined) {
        if (partial) continue;
        throw new Error(`${this.#where}: uniform ${this.#r.name}.${m.name} was not given`);
      }
      if (typeof v !== "number" || Number.isNaN(v) && m.type !== "f32") {
        throw new Error(`${this.#where}: uniform ${this.#r.name}.${m.name} is not a number`);
      }
      if (m.type === "f32") view.setFloat32(m.offset, v, true);
      else if (m.type === "u32") {
        if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
          throw new Error(`${this.#where}: uniform ${this.#r.name}.${m.name} = ${v} is not a u32`);
        }
        view.setUint32(m.offset, v, true);
      } else {
        if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) {
          throw new Error(`${this.#where}: uniform ${this.#r.name}.${m.name} = ${v} is not an i32`);
        }
        view.setInt32(m.offset, v, true);
      }
    }
    this.#device.queue.writeBuffer(this.buffer, 0, this.#bytes);
  }
}

/**
 * One recorded kernel launch: pipeline, bind group, workgroup count and its uniform
 * buffers. Built once by {@linkcode Kernel.dispatch}; encoded every step.
 */
export class Dispatch {
  /** Label used in profiles and errors. */
  readonly label: string;
  /** Shader file name. */
  readonly kernel: string;
  /** Entry point name. */
  readonly entry: string;
  /** Workgroup counts. */
  readonly workgroups: [number, number, number];
  /** Floating-point operations per launch, when the op declares them (for the profiler). */
  flops = 0;
  /** Bytes read and written per launch, when the op declares them (for the profiler). */
  bytes = 0;
  readonly #pipeline: GPUComputePipeline;
  readonly #bindGroup: GPUBindGroup;
  readonly #uniforms: UniformSlot[];

  /** Use {@linkcode Kernel.dispatch}. */
  constructor(
    label: string,
    kernel: string,
    entry: string,
    pipeline: GPUComputePipeline,
    bindGroup: GPUBindGroup,
    workgroups: [number, number, number],
    uniforms: UniformSlot[],
  ) {
    this.label = label;
    this.kernel = kernel;
    this.entry = entry;
    this.#pipeline = pipeline;
    this.#bindGroup = bindGroup;
    this.workgroups = workgroups;
    this.#uniforms = uniforms;
  }

  /** Rewrite some members of a uniform binding (queued; takes effect for later submits). */
  update(binding: string, values: UniformValues): void {
    const slot = this.#uniforms.find((u) => u.name === binding);
    if (!slot) throw new Error(`${this.label}: no uniform binding '${binding}'`);
    slot.write(values, true);
  }

  /** Record this launch into a compute pass. */
  encode(pass: GPUComputePassEncoder): void {
    if (this.workgroups[0] * this.workgroups[1] * this.workgroups[2] === 0) return;
    pass.setPipeline(this.#pipeline);
    pass.setBindGroup(0, this.#bindGroup);
    pass.dispatchWorkgroups(...this.workgroups);
  }
}

/** Number of workgroups of `size` needed to cover `n` items. */
export function ceilDiv(n: number, size: number): number {
  return Math.ceil(n / size);
}

/** Throw a clear error unless every size in `sizes` (a shape's fields) is a whole number >= 1. */
export function expectSizes(where: string, sizes: object): void {
  for (const [name, v] of Object.entries(sizes)) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${where}: ${name} must be >= 1, is ${v}`);
  }
}

/** Throw a clear error unless `t` has exactly `length` elements. */
export function expectLength(
  where: string,
  binding: string,
  t: Tensor | TensorView,
  length: number,
): void {
  const have = t.length;
  if (have !== length) {
    const label = "tensor" in t ? t.tensor.label : t.label;
    throw new Error(
      `${where}: binding '${binding}' (${label}) has ${have} elements, expected ${length}`,
    );
  }
}

/**
 * Run `fn` inside validation and out-of-memory error scopes and throw, naming `where`,
 * if WebGPU reported an error.
 */
export async function scoped<T>(device: GPUDevice, where: string, fn: () => T): Promise<T> {
  device.pushErrorScope("out-of-memory");
  device.pushErrorScope("validation");
  const result = fn();
  const validation = await device.popErrorScope();
  const oom = await device.popErrorScope();
  if (oom) throw new Error(`${where}: out of GPU memory: ${oom.message}`);
  if (validation) throw new Error(`${where}: WebGPU validation failed: ${validation.message}`);
  return result;
}

/** Record `dispatches` into one compute pass of a new encoder, submit it, and return. */
export function submit(device: GPUDevice, dispatches: readonly Dispatch[], label = "step"): void {
  const enc = device.createCommandEncoder({ label });
  const pass = enc.beginComputePass({ label });
  for (const d of dispatches) d.encode(pass);
  pass.end();
  countSubmit(device);
  device.queue.submit([enc.finish()]);
}

/**
 * Workgroup counts for `n` invocations in workgroups of `size`, spread over two dimensions
 * when one would pass the 65535 limit; shaders recover the flat index as
 * `gid.x + gid.y * num_workgroups.x * size`.
 */
export function grid1d(n: number, size: number, maxPerDim = 65535): [number, number, number] {
  const groups = Math.ceil(n / size);
  if (groups <= maxPerDim) return [groups, 1, 1];
  const y = Math.ceil(groups / maxPerDim);
  return [Math.ceil(groups / y), y, 1];
}
