/**
 * Adapter and device acquisition.
 *
 * Works on real GPUs and on Mesa's software adapter (llvmpipe) through both of Deno's paths,
 * Vulkan (lavapipe) and OpenGL ES; `DENO_WEBGPU_BACKEND=vulkan|gl` picks one. Fallback
 * adapters are accepted. Only the limits and features the project uses are requested.
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

  const want = adapter.limits;
  // Large datasets live on the GPU as u8 and activations can be big: take what the adapter offers
  // for buffer sizes, and enough storage bindings for the widest kernel (Adam: 5).
  const requiredLimits: Record<string, number> = {
    maxStorageBufferBindingSize: want.maxStorageBufferBindingSize,
    maxBufferSize: want.maxBufferSize,
    maxStorageBuffersPerShaderStage: Math.min(8, want.maxStorageBuffersPerShaderStage),
    maxComputeWorkgroupsPerDimension: want.maxComputeWorkgroupsPerDimension,
  };
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
  const name = info.description || info.device || info.vendor || "unknown adapter";
  return new Gpu(device, name, info.isFallbackAdapter ?? false, options.loadShader);
}
