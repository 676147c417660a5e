/**
 * The page side of the browser kernel suite (tests/browser/run.ts drives it). It installs the
 * part of the `Deno` global the kernel tests reach — `Deno.test` (which registers the test
 * instead of running it) and `Deno.env.get` (only `CI`, answered "true", so a missing WebGPU
 * adapter fails the GPU tests instead of skipping them) — then imports the bundled test
 * modules one by one, so each module's `Deno.test` calls are registered under its file name.
 * The driver then runs the tests one at a time through `globalThis.kernelSuite.run(i)`; each
 * returns its status, time, error and the lines it printed (the max differences).
 *
 * WebGPU errors nobody captured (validation errors outside an error scope) are added to the
 * running test's printed lines, so a kernel Dawn rejects says why in the report.
 */

/** One registered test. */
interface Registered {
  file: string;
  name: string;
  ignore: boolean;
  fn: (t: { name: string }) => unknown;
}

/** What one test run reports back to the driver. */
export interface PageTestResult {
  /** Test file (e.g. `dense_test.ts`). */
  file: string;
  /** Test name as given to `Deno.test`. */
  name: string;
  /** Outcome; "ignored" for tests marked Deno-only. */
  status: "passed" | "failed" | "ignored";
  /** Wall time in milliseconds. */
  ms: number;
  /** The error's message and stack, for a failure. */
  error?: string;
  /** Lines the test printed (console.log, .warn, .error) and uncaptured WebGPU errors. */
  log: string[];
}

const tests: Registered[] = [];
let currentFile = "";
let log: string[] | null = null;
const loose: string[] = [];

type TestFn = (t: { name: string }) => unknown;
type TestOptions = { name?: string; fn?: TestFn; ignore?: boolean };

function register(a: string | TestOptions | TestFn, b?: TestOptions | TestFn, c?: TestFn): void {
  let opts: TestOptions = {};
  if (typeof a === "string") {
    opts = typeof b === "function" ? { name: a, fn: b } : { ...b, name: a, fn: c };
  } else if (typeof a === "function") opts = { name: a.name, fn: a };
  else opts = { ...a, ...(typeof b === "function" ? { fn: b } : {}) };
  if (!opts.fn || !opts.name) throw new Error(`${currentFile}: Deno.test without a name or body`);
  tests.push({ file: currentFile, name: opts.name, ignore: opts.ignore === true, fn: opts.fn });
}

const shim = {
  test: register,
  env: { get: (key: string): string | undefined => (key === "CI" ? "true" : undefined) },
};
Object.defineProperty(globalThis, "Deno", { value: shim, configurable: true });

// Route what the tests print into the running test's log (and still to the console).
for (const level of ["log", "warn", "error", "info"] as const) {
  const original = console[level].bind(console);
  console[level] = (...args: unknown[]) => {
    const line = args.map((a) => (typeof a === "string" ? a : String(a))).join(" ");
    (log ?? loose).push(line);
    original(...args);
  };
}

// Every device the tests open reports its uncaptured errors into the running test's log.
if (typeof GPUAdapter !== "undefined") {
  const requestDevice = GPUAdapter.prototype.requestDevice;
  GPUAdapter.prototype.requestDevice = async function (
    this: GPUAdapter,
    descriptor?: GPUDeviceDescriptor,
  ): Promise<GPUDevice> {
    const device = await requestDevice.call(this, descriptor);
    device.addEventListener("uncapturederror", (e) => {
      const line = `uncaptured WebGPU error: ${(e as GPUUncapturedErrorEvent).error.message}`;
      (log ?? loose).push(line);
    });
    return device;
  };
}

function message(e: unknown): string {
  if (e instanceof Error) {
    return e.stack?.includes(e.message) ? e.stack : `${e.message}\n${e.stack}`;
  }
  return String(e);
}

/** The driver's handle on the page. */
const kernelSuite = {
  /** Import the bundled test modules (`NAME_test.js` under the URL `base`) in order. */
  async load(files: string[], base: string): Promise<{ file: string; name: string }[]> {
    for (const file of files) {
      currentFile = file;
      // A computed URL: a template literal here would pull every file beside this one into the
      // bundle's module graph.
      const url = new URL(file.replace(/\.ts$/, ".js"), base).href;
      await import(url);
    }
    currentFile = "";
    return tests.map((t) => ({ file: t.file, name: t.name }));
  },
  /** Adapter facts for the report: its info and the limits the harness cares about. */
  async adapter(): Promise<Record<string, string | number | boolean>> {
    const a = await navigator.gpu?.requestAdapter({ powerPreference: "high-performance" });
    if (!a) return { available: false };
    const info = a.info;
    return {
      available: true,
      vendor: info.vendor,
      architecture: info.architecture,
      device: info.device,
      description: info.description,
      timestampQuery: a.features.has("timestamp-query"),
      maxStorageBuffersPerShaderStage: a.limits.maxStorageBuffersPerShaderStage,
      maxComputeInvocationsPerWorkgroup: a.limits.maxComputeInvocationsPerWorkgroup,
      maxStorageBufferBindingSize: a.limits.maxStorageBufferBindingSize,
      maxBufferSize: a.limits.maxBufferSize,
    };
  },
  /** Lines printed outside any test (module loading), taken once. */
  loose(): string[] {
    return loose.splice(0);
  },
  /** Run test `i`. */
  async run(i: number): Promise<PageTestResult> {
    const t = tests[i];
    const base = { file: t.file, name: t.name };
    if (t.ignore) return { ...base, status: "ignored", ms: 0, log: [] };
    log = [];
    const start = performance.now();
    try {
      await t.fn({ name: t.name });
      // Let uncaptured-error events of the test's last submits arrive before it is closed.
      await new Promise((r) => setTimeout(r, 0));
      return { ...base, status: "passed", ms: performance.now() - start, log };
    } catch (e) {
      return { ...base, status: "failed", ms: performance.now() - start, error: message(e), log };
    } finally {
      log = null;
    }
  },
};

// The driver waits for this global to appear.
Object.defineProperty(globalThis, "kernelSuite", { value: kernelSuite });
