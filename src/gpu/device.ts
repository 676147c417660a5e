/**
 * Adapter and device acquisition.
 *
 * Works on real GPUs and on Mesa's software adapter (llvmpipe) through both of Deno's paths,
 * Vulkan (lavapipe) and OpenGL ES (`DENO_WEBGPU_BACKEND=vulkan|gl` picks one), and in
 * browsers (Chromium's Dawn, on a GPU or its SwiftShader adapter). Fallback adapters are
 * accepted. Nothing assumes one implementation's defaults: the limits the project can use
 * beyond WebGPU's defaults (bigger buffers and bindings, more storage buffers per stage,
 * larger workgroups) are asked for up to what the adapter offers, `timestamp-query` when it
 * has it, and {@linkcode Gpu.grants} says which were granted. A kernel that needs more than
 * the device has is refused by name when it is loaded (src/gpu/kernel.ts); the profiler falls
 * back to timing whole submits without timestamps, and says so.
 */

import { fetchShader, Kernel, type ShaderLoader } from "./kernel.ts";

/** Raised when no WebGPU adapter or device can be had; its message is one line for the user. */
export class GpuUnavailableError extends Error {
  /**
   * Make the error.
   * @param message one line: what is missing and what to install
   */
  constructor(message: string) {
    super(message);
    this.name = "GpuUnavailableError";
  }
}

/** Options for {@linkcode requestGpu}. */
export interface GpuOptions {
  /** Ask for the `timestamp-query` feature when the adapter has it (for the profiler). */
  timestamps?: boolean;
  /** Where shader files come from; defaults to fetching `shaders/NAME.wgsl` next to `src/`. */
  loadShader?: ShaderLoader;
}

const INSTALL_HINT =
  "no WebGPU adapter found: install a GPU driver, or Mesa's software one (Debian/Ubuntu: " +
  "apt-get install mesa-vulkan-drivers), then try again";

/**
 * The project's handle on one WebGPU device: the device, its adapter's description, and
 * the kernels (shader files) loaded on it, each loaded and reflected once.
 */
export class Gpu {
  /** The WebGPU device every buffer and pipeline belongs to. */
  readonly device: GPUDevice;
  /** Adapter description, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)". */
  readonly adapterName: string;
  /** True when the adapter is a software or otherwise fallback adapter. */
  readonly isFallback: boolean;
  /** True when `timestamp-query` was granted. */
  readonly hasTimestamps: boolean;
  /**
   * What this device has beyond WebGPU's defaults, one entry each: granted features
   * (`timestamp-query`) and raised limits (`maxBufferSize 1024 MiB (default 256 MiB)`).
   */
  readonly grants: readonly string[];
  readonly #loadShader: ShaderLoader;
  readonly #kernels = new Map<string, Promise<Kernel>>();
  #lost: string | null = null;

  /** Use {@linkcode requestGpu}; this wraps an existing device. */
  constructor(
    device: GPUDevice,
    adapterName: string,
    isFallback: boolean,
    loadShader?: ShaderLoader,
  ) {
    this.device = device;
    this.adapterName = adapterName;
    this.isFallback = isFallback;
    this.hasTimestamps = device.features.has("timestamp-query");
    this.grants = describeGrants(device);
    this.#loadShader = loadShader ?? fetchShader;
    device.lost.then((info) => {
      this.#lost = `GPU device lost (${info.reason}): ${info.message}`;
    });
  }

  /** Why the device was lost, or null while it is alive. */
  get lostReason(): string | null {
    return this.#lost;
  }

  /** The kernel in `shaders/NAME.wgsl`, loaded and reflected on first use, then cached. */
  kernel(name: string): Promise<Kernel> {
    let k = this.#kernels.get(name);
    if (!k) {
      k = this.#loadShader(name).then((source) => new Kernel(this.device, name, source));
      this.#kernels.set(name, k);
      k.catch(() => this.#kernels.delete(name));
    }
    return k;
  }

  /** Wait until all work submitted so far has finished. */
  async sync(): Promise<void> {
    await this.device.queue.onSubmittedWorkDone();
    if (this.#lost) throw new Error(this.#lost);
  }

  /** Release the device. */
  destroy(): void {
    this.device.destroy();
  }
}

/**
 * WebGPU's default limits (the spec's, which Chromium gives a device that asks for nothing),
 * for the limits {@linkcode requestGpu} raises to what the adapter offers.
 */
export const DEFAULT_LIMITS = {
  maxStorageBufferBindingSize: 128 * 2 ** 20,
  maxBufferSize: 256 * 2 ** 20,
  maxStorageBuffersPerShaderStage: 8,
  maxComputeWorkgroupsPerDimension: 65535,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxComputeWorkgroupSizeY: 256,
  maxComputeWorkgroupSizeZ: 64,
  maxComputeWorkgroupStorageSize: 16384,
} as const;

const RAISED_LIMITS = Object.keys(DEFAULT_LIMITS) as (keyof typeof DEFAULT_LIMITS)[];

function describeGrants(device: GPUDevice): string[] {
  const out: string[] = [];
  if (device.features.has("timestamp-query")) out.push("timestamp-query");
  const mib = (n: number) => n >= 2 ** 20 ? `${+(n / 2 ** 20).toFixed(1)} MiB` : `${n}`;
  for (const name of RAISED_LIMITS) {
    const have = device.limits[name];
    const base = DEFAULT_LIMITS[name];
    if (have > base) {
      const bytes = name.endsWith("Size") && base >= 2 ** 20;
      out.push(`${name} ${bytes ? mib(have) : have} (default ${bytes ? mib(base) : base})`);
    }
  }
  return out;
}

/**
 * Find an adapter and open a device with the limits this project needs.
 * Throws {@linkcode GpuUnavailableError} (a one-line message) when there is none.
 */
export async function requestGpu(options: GpuOptions = {}): Promise<Gpu> {
  if (typeof navigator === "undefined" || !("gpu" in navigator)) {
    throw new GpuUnavailableError("this runtime has no WebGPU (navigator.gpu is missing)");
  }
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  } catch (_) {
    adapter = null;
  }
  if (!adapter) throw new GpuUnavailableError(INSTALL_HINT);

  // Large datasets live on the GPU as u8 and activations can be big: take what the adapter
  // offers for buffer sizes; and for the per-kernel limits too, so a kernel that needs more
  // than WebGPU's default (8 storage buffers, 256 invocations per workgroup) runs wherever the
  // adapter has it, and is refused by name where it does not (Kernel checks each entry point).
  const requiredLimits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) {
    const offered = adapter.limits[name];
    if (typeof offered === "number" && offered > DEFAULT_LIMITS[name]) {
      requiredLimits[name] = offered;
    }
  }
  const requiredFeatures: GPUFeatureName[] = [];
  if (options.timestamps !== false && adapter.features.has("timestamp-query")) {
    requiredFeatures.push("timestamp-query");
  }
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  } catch (e) {
    throw new GpuUnavailableError(
      `the WebGPU adapter refused a device (${
        (e as Error).message
      }); update the GPU driver or Mesa`,
    );
  }
  const info = adapter.info;
  // Browsers leave description and device empty unless asked (Chromium: "google swiftshader").
  const name = info.description || info.device ||
    [info.vendor, info.architecture].filter(Boolean).join(" ") || "unknown adapter";
  return new Gpu(device, name, info.isFallbackAdapter ?? false, options.loadShader);
}
