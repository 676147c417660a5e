/**
 * Kernels chosen per adapter, by measurement. An op with more than one kernel (dense, conv
 * forward / dx / dW, batch norm, Adam; see their files in src/nn/) asks the device's tuner
 * for its choice when it builds its dispatches; the first time the tuner meets an (op, shape)
 * it times every candidate on this adapter (each candidate's dispatches on scratch tensors of
 * that shape) and keeps the fastest, and the choices are kept in a cache keyed by the adapter.
 * Without a tuner (the default; `--no-tune`), every op builds its default kernel.
 *
 * This module touches no Deno API (it bundles for the browser); the cache file is read and
 * written by src/cli/_tune_cache.ts. Cache text, one JSON object:
 *   { "format": "webgpu-vae kernel choices", "version": 1,
 *     "adapter": { vendor, architecture, device, description, backend },
 *     "choices": { "<op> <shape>": { "pick": name, "ms": { name: ms, ... } }, ... } }
 * A cache whose text does not parse, whose format or version differs, whose adapter is another
 * one, or whose choices are malformed is ignored with a warning: its choices are never used.
 *
 * The default kernel keeps its place unless another candidate is faster by more than
 * {@linkcode TUNE_MARGIN}, so timing noise on a busy machine cannot trade today's kernel for
 * one measured as merely equal.
 */

import type { Gpu } from "./device.ts";
import { type Dispatch, submit } from "./kernel.ts";

/** What identifies an adapter (and its driver path) in the cache. */
export interface AdapterKey {
  vendor: string;
  architecture: string;
  device: string;
  /** The driver's description, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)". */
  description: string;
  /** Deno's WebGPU backend (vulkan, gl) or "browser": one adapter runs differently on each. */
  backend: string;
}

/** One measured choice. */
export interface TuneChoice {
  /** The candidate picked. */
  pick: string;
  /** Measured ms per run of each candidate (empty for a choice set by hand). */
  ms: Record<string, number>;
}

/** The cache file's contents. */
export interface TuneCache {
  format: typeof CACHE_FORMAT;
  version: typeof CACHE_VERSION;
  adapter: AdapterKey;
  choices: Record<string, TuneChoice>;
}

/** One kernel choice of an op: its name and a builder of its dispatches on scratch tensors. */
export interface TuneCandidate {
  name: string;
  build: () => Promise<Dispatch[]>;
}

const CACHE_FORMAT = "webgpu-vae kernel choices";
const CACHE_VERSION = 1;
/** Another candidate replaces the default only when it takes less than this share of its time. */
export const TUNE_MARGIN = 0.85;
/** Target wall time of one timed round of a candidate, in ms. */
const ROUND_MS = 60;
const ROUNDS = 3;

/** The key of `device`'s adapter under `backend` (WebGPU's `device.adapterInfo`). */
export function adapterKey(device: GPUDevice, backend: string): AdapterKey {
  const info = (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  return {
    vendor: String(info?.vendor ?? ""),
    architecture: String(info?.architecture ?? ""),
    device: String(info?.device ?? ""),
    description: String(info?.description ?? ""),
    backend,
  };
}

function sameKey(a: AdapterKey, b: AdapterKey): boolean {
  return a.vendor === b.vendor && a.architecture === b.architecture && a.device === b.device &&
    a.description === b.description && a.backend === b.backend;
}

function describeKey(k: AdapterKey): string {
  return `${k.description || "?"} (vendor ${k.vendor || "?"}, architecture ` +
    `${k.architecture || "?"}, device ${k.device || "?"}, backend ${k.backend})`;
}

/**
 * The choices of cache text for adapter `key`: {} with a one-line warning when the text is
 * corrupted, of another format or version, of another adapter, or holds a malformed choice.
 */
export function parseTuneCache(
  text: string,
  key: AdapterKey,
): { choices: Record<string, TuneChoice>; warning?: string } {
  const none = (why: string) => ({ choices: {}, warning: `kernel choice cache ignored: ${why}` });
  let c: unknown;
  try {
    c = JSON.parse(text);
  } catch (e) {
    return none(`not JSON (${(e as Error).message})`);
  }
  const o = c as Partial<TuneCache>;
  if (typeof o !== "object" || o === null || o.format !== CACHE_FORMAT) {
    return none(`not a "${CACHE_FORMAT}" file`);
  }
  if (o.version !== CACHE_VERSION) return none(`version ${o.version}, expected ${CACHE_VERSION}`);
  const a = o.adapter as AdapterKey | undefined;
  if (typeof a !== "object" || a === null || !sameKey(a, key)) {
    return none(
      `made on another adapter (${a ? describeKey(a) : "none"}; this is ${describeKey(key)})`,
    );
  }
  if (typeof o.choices !== "object" || o.choices === null) return none("no choices");
  for (const [k, v] of Object.entries(o.choices)) {
    const ok = typeof v === "object" && v !== null && typeof v.pick === "string" &&
      typeof v.ms === "object" && v.ms !== null &&
      Object.values(v.ms).every((t) => typeof t === "number" && t >= 0);
    if (!ok) return none(`malformed choice for '${k}'`);
  }
  return { choices: o.choices };
}

/** Options of {@linkcode Tuner}. */
export interface TunerOptions {
  /** Choices read from a cache (see {@linkcode parseTuneCache}). */
  choices?: Record<string, TuneChoice>;
  /** Time the candidates of an (op, shape) not in the cache (default true); false: defaults. */
  measure?: boolean;
  /** Where a line per measured choice goes (default: nowhere). */
  log?: (line: string) => void;
}

/** A device's kernel choices; see the module comment. */
export class Tuner {
  readonly key: AdapterKey;
  readonly choices: Record<string, TuneChoice>;
  readonly measure: boolean;
  /** True once a choice was measured that the cache did not hold. */
  changed = false;
  readonly #gpu: Gpu;
  readonly #log: (line: string) => void;
  readonly #pending = new Map<string, Promise<string>>();

  constructor(gpu: Gpu, key: AdapterKey, options: TunerOptions = {}) {
    this.#gpu = gpu;
    this.key = key;
    this.choices = { ...options.choices };
    this.measure = options.measure ?? true;
    this.#log = options.log ?? (() => {});
  }

  /** The cached pick for (op, shape), if any. */
  cached(op: string, shape: string): string | undefined {
    return this.choices[`${op} ${shape}`]?.pick;
  }

  /**
   * The candidate to use for (op, shape): the cached pick when it names a candidate, else (when
   * measuring) the fastest measured, else the first (the default). `cleanup` runs after
   * measuring (to free the scratch tensors the candidates were built on).
   */
  pick(
    op: string,
    shape: string,
    candidates: TuneCandidate[],
    cleanup?: () => void,
  ): Promise<string> {
    const id = `${op} ${shape}`;
    const names = candidates.map((c) => c.name);
    const hit = this.choices[id]?.pick;
    if (hit !== undefined && names.includes(hit)) {
      cleanup?.();
      return Promise.resolve(hit);
    }
    if (!this.measure || candidates.length < 2) {
      cleanup?.();
      return Promise.resolve(names[0]);
    }
    let p = this.#pending.get(id);
    if (!p) {
      p = this.#time(id, candidates).finally(() => cleanup?.());
      this.#pending.set(id, p);
    } else {
      cleanup?.();
    }
    return p;
  }

  async #time(id: string, candidates: TuneCandidate[]): Promise<string> {
    const device = this.#gpu.device;
    const wall = async (ds: Dispatch[], reps: number): Promise<number> => {
      const list: Dispatch[] = [];
      for (let r = 0; r < reps; r++) list.push(...ds);
      const t0 = performance.now();
      submit(device, list, "tune");
      await device.queue.onSubmittedWorkDone();
      return performance.now() - t0;
    };
    const ms: Record<string, number> = {};
    const runs: { name: string; ds: Dispatch[]; reps: number }[] = [];
    for (const c of candidates) {
      const ds = await c.build();
      await wall(ds, 1); // compile, warm up
      const one = await wall(ds, 1);
      const reps = Math.max(1, Math.min(200, Math.round(ROUND_MS / Math.max(one, 1e-3))));
      runs.push({ name: c.name, ds, reps });
      ms[c.name] = Infinity;
    }
    // Rounds interleave the candidates, so load that comes and goes hits them alike; best of.
    for (let r = 0; r < ROUNDS; r++) {
      for (const { name, ds, reps } of runs) {
        ms[name] = Math.min(ms[name], (await wall(ds, reps)) / reps);
      }
    }
    const first = candidates[0].name;
    let pick = first;
    for (const c of candidates) if (ms[c.name] < ms[pick]) pick = c.name;
    if (pick !== first && ms[pick] >= TUNE_MARGIN * ms[first]) pick = first;
    this.choices[id] = { pick, ms };
    this.changed = true;
    const list = candidates.map((c) => `${c.name} ${ms[c.name].toFixed(3)} ms`).join(", ");
    this.#log(`tuned ${id}: ${pick} (${list})`);
    return pick;
  }

  /** The cache text of every choice so far. */
  toText(): string {
    const cache: TuneCache = {
      format: CACHE_FORMAT,
      version: CACHE_VERSION,
      adapter: this.key,
      choices: this.choices,
    };
    return JSON.stringify(cache, null, 1) + "\n";
  }
}

const tuners = new WeakMap<GPUDevice, Tuner>();

/** Attach a tuner to a device (undefined: detach); ops built on it then ask it. */
export function setTuner(gpu: Gpu, tuner: Tuner | undefined): void {
  if (tuner) tuners.set(gpu.device, tuner);
  else tuners.delete(gpu.device);
}

/** The tuner attached to the device, if any. */
export function tunerOf(gpu: Gpu): Tuner | undefined {
  return tuners.get(gpu.device);
}
