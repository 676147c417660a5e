/**
 * The kernel choice cache on disk (Deno only; see src/gpu/tuner.ts for the format): one JSON
 * file per adapter and backend under runs/tune/, written to a temporary file and renamed.
 */

import type { Gpu } from "../gpu/device.ts";
import { adapterKey, parseTuneCache, setTuner, Tuner } from "../gpu/tuner.ts";

/** Folder of the cache files (the train task may write under runs/). */
export const TUNE_DIR = "runs/tune";

/** Deno's WebGPU backend as the cache key names it. */
export function backendName(): string {
  return Deno.env.get("DENO_WEBGPU_BACKEND") ?? "vulkan";
}

/** The cache file of this device's adapter and backend, e.g. runs/tune/llvmpipe-vulkan.json. */
export function tuneCachePath(gpu: Gpu, dir = TUNE_DIR): string {
  const slug = (gpu.adapterName.split(/[^A-Za-z0-9]+/).filter(Boolean).slice(0, 3).join("-") ||
    "adapter").toLowerCase();
  return `${dir}/${slug}-${backendName()}.json`;
}

/** Options of {@linkcode openTuner}. */
export interface OpenTunerOptions {
  /** The cache file (default {@linkcode tuneCachePath}). */
  path?: string;
  /** Time shapes the cache lacks (default true). */
  measure?: boolean;
  /** Warnings (an ignored cache) and a line per measured choice (default console.error). */
  log?: (line: string) => void;
}

/**
 * A tuner for `gpu` holding the cache's choices (a missing file is an empty cache; a corrupted
 * or foreign one is ignored with a warning), attached to the device.
 */
export async function openTuner(gpu: Gpu, options: OpenTunerOptions = {}): Promise<Tuner> {
  const path = options.path ?? tuneCachePath(gpu);
  const log = options.log ?? ((line: string) => console.error(line));
  const key = adapterKey(gpu.device, backendName());
  let choices = {};
  let text: string | null = null;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) {
      log(`kernel choice cache ignored: cannot read ${path} (${(e as Error).message})`);
    }
  }
  if (text !== null) {
    const parsed = parseTuneCache(text, key);
    if (parsed.warning) log(`${parsed.warning} (${path})`);
    choices = parsed.choices;
  }
  const tuner = new Tuner(gpu, key, { choices, measure: options.measure, log });
  setTuner(gpu, tuner);
  return tuner;
}

/** Write the tuner's choices to `path` (temporary file, then rename) when any are new. */
export async function saveTuner(tuner: Tuner, path: string): Promise<boolean> {
  if (!tuner.changed) return false;
  const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : ".";
  await Deno.mkdir(dir, { recursive: true });
  const tmp = `${path}.tmp`;
  await Deno.writeTextFile(tmp, tuner.toText());
  await Deno.rename(tmp, path);
  tuner.changed = false;
  return true;
}

/** {@linkcode saveTuner}, a failure (no permission to write there) only a one-line warning. */
export async function saveTunerOrWarn(tuner: Tuner, path: string): Promise<void> {
  try {
    if (await saveTuner(tuner, path)) console.error(`kernel choices saved to ${path}`);
  } catch (e) {
    console.error(`kernel choices not saved to ${path}: ${(e as Error).message.split("\n")[0]}`);
  }
}

/**
 * The train task's tuner: attached only where its choices can be kept (write permission for
 * {@linkcode TUNE_DIR}), so a resumed run finds the kernels its first run measured and
 * continues it bit for bit; elsewhere (and with `enabled` false, `--no-tune`) none, and every op
 * builds its default kernel.
 */
export async function trainingTuner(gpu: Gpu, enabled: boolean): Promise<Tuner | null> {
  if (!enabled) return null;
  const write = await Deno.permissions.query({ name: "write", path: TUNE_DIR });
  if (write.state !== "granted") return null;
  return await openTuner(gpu);
}
