/**
 * A GPU profiler for training steps: every dispatch of a step gets its own compute pass with
 * `timestampWrites`, so the GPU reports when each pass began and ended; the times are
 * resolved into a buffer at the end of the step's encoder and read back after the step has
 * finished, outside every timed region. CPU-side spans (encode, submit, wait) are taken with
 * `performance.now()`.
 *
 * Without the `timestamp-query` feature (or with `{ timestamps: false }`) it says so once and
 * times whole submits instead: encode, submit, then `onSubmittedWorkDone`.
 *
 * This is a separate encode path: normal training keeps `submit()` from kernel.ts with one
 * pass per step and pays nothing for the profiler's existence. Splitting a step into one pass
 * per dispatch only changes where pass boundaries fall, never what a kernel computes.
 *
 * Results: {@linkcode Profiler.table} (markdown, one row per dispatch label) and
 * {@linkcode Profiler.toChromeTrace} (Trace Event JSON for Perfetto / chrome://tracing).
 */

import type { Gpu } from "./device.ts";
import type { Dispatch } from "./kernel.ts";

/** Options for {@linkcode Profiler}. */
export interface ProfilerOptions {
  /** Use GPU timestamps when the device has them (default true); false forces the fallback. */
  timestamps?: boolean;
  /** Where the one-line fallback notice goes (default console.warn). */
  log?: (line: string) => void;
}

/** Accumulated times of every launch that shares one label. */
export interface KernelStats {
  /** Dispatch label (e.g. `dense_forward_v4 128x784->512`). */
  label: string;
  /** `kernel.entry` of the first dispatch seen with this label. */
  kernel: string;
  /** Launches timed. */
  calls: number;
  /** Sum of pass durations, in nanoseconds. */
  totalNs: number;
  /** Sum of declared floating-point operations over the timed launches. */
  flops: number;
  /** Sum of declared bytes read and written over the timed launches. */
  bytes: number;
}

/** One CPU or GPU span of the trace, in microseconds on the profiler's clock. */
interface Span {
  name: string;
  track: "cpu" | "gpu";
  ts: number;
  dur: number;
  args?: Record<string, string | number>;
}

/** A Trace Event (the subset the profiler writes: complete "X" and metadata "M" events). */
export interface TraceEvent {
  /** Event name. */
  name: string;
  /** Phase: "X" complete event, "M" metadata. */
  ph: "X" | "M";
  /** Process id. */
  pid: number;
  /** Thread (track) id. */
  tid: number;
  /** Start, microseconds. */
  ts?: number;
  /** Duration, microseconds. */
  dur?: number;
  /** Category. */
  cat?: string;
  /** Extra fields shown on selection. */
  args?: Record<string, string | number>;
}

const PID = 1;
const TID = { cpu: 1, gpu: 2 } as const;
/** The WebGPU spec caps a query set at 4096 queries: 2048 timed passes per step. */
const MAX_QUERIES = 4096;

/**
 * Times training steps on the GPU, pass by pass. Build once, call {@linkcode step} for each
 * step to profile (after warm-up), then read {@linkcode stats}, {@linkcode table} and
 * {@linkcode toChromeTrace}.
 */
export class Profiler {
  /** "timestamps": per-pass GPU times; "submit": whole submits timed on the CPU. */
  readonly mode: "timestamps" | "submit";
  /** Why the fallback is used, or null with timestamps. */
  readonly notice: string | null;
  readonly #gpu: Gpu;
  readonly #origin = performance.now();
  readonly #stats = new Map<string, KernelStats>();
  readonly #spans: Span[] = [];
  #querySet: GPUQuerySet | null = null;
  #resolve: GPUBuffer | null = null;
  #read: GPUBuffer | null = null;
  #capacity = 0;
  #steps = 0;
  #wallNs = 0;
  #gpuEnd = 0;

  /** Profile on `gpu`; see {@linkcode ProfilerOptions}. */
  constructor(gpu: Gpu, options: ProfilerOptions = {}) {
    this.#gpu = gpu;
    if (options.timestamps === false) {
      this.mode = "submit";
      this.notice = "profiler: GPU timestamps turned off; timing whole submits instead";
    } else if (!gpu.hasTimestamps) {
      this.mode = "submit";
      this.notice = `profiler: ${gpu.adapterName} has no timestamp-query feature; ` +
        "timing whole submits instead (no per-kernel times)";
    } else {
      this.mode = "timestamps";
      this.notice = null;
    }
    if (this.notice) (options.log ?? console.warn)(this.notice);
  }

  /** Steps profiled so far. */
  get steps(): number {
    return this.#steps;
  }

  /** Mean wall time of a profiled step (encode start to work done), in milliseconds. */
  get stepWallMs(): number {
    return this.#steps ? this.#wallNs / this.#steps / 1e6 : 0;
  }

  /** Sum of all GPU time recorded, in milliseconds (per-pass times, or whole submits). */
  get gpuTotalMs(): number {
    let ns = 0;
    for (const s of this.#stats.values()) ns += s.totalNs;
    return ns / 1e6;
  }

  /**
   * Encode `dispatches` (one training step), submit, wait until done, and record the times.
   * With timestamps each dispatch runs in its own pass; otherwise in one pass, as `submit()`.
   */
  async step(dispatches: readonly Dispatch[], label = "step"): Promise<void> {
    const device = this.#gpu.device;
    const n = dispatches.length;
    if (this.mode === "timestamps") this.#reserve(2 * n);
    device.pushErrorScope("validation");
    const t0 = performance.now();
    const enc = device.createCommandEncoder({ label: `${label} (profiled)` });
    if (this.mode === "timestamps") {
      const querySet = this.#querySet!;
      for (let i = 0; i < n; i++) {
        const d = dispatches[i];
        const pass = enc.beginComputePass({
          label: d.label,
          timestampWrites: {
            querySet,
            beginningOfPassWriteIndex: 2 * i,
            endOfPassWriteIndex: 2 * i + 1,
          },
        });
        d.encode(pass);
        pass.end();
      }
      enc.resolveQuerySet(querySet, 0, 2 * n, this.#resolve!, 0);
      enc.copyBufferToBuffer(this.#resolve!, 0, this.#read!, 0, 16 * n);
    } else {
      const pass = enc.beginComputePass({ label });
      for (const d of dispatches) d.encode(pass);
      pass.end();
    }
    const commands = enc.finish();
    const t1 = performance.now();
    device.queue.submit([commands]);
    const t2 = performance.now();
    await this.#gpu.sync();
    const t3 = performance.now();
    // Everything below is outside the timed step.
    const error = await device.popErrorScope();
    if (error) throw new Error(`profiler: ${label}: WebGPU validation failed: ${error.message}`);
    const stepArgs = { step: this.#steps + 1 };
    this.#cpu("encode", t0, t1, { ...stepArgs, passes: this.mode === "timestamps" ? n : 1 });
    this.#cpu("submit", t1, t2, stepArgs);
    this.#cpu("wait", t2, t3, stepArgs);
    this.#wallNs += (t3 - t0) * 1e6;
    this.#steps++;
    if (this.mode === "timestamps") await this.#readTimes(dispatches, this.#us(t1));
    else this.#wholeSubmit(dispatches, label, this.#us(t1), this.#us(t3));
  }

  /** Per-label totals, largest total time first. */
  stats(): KernelStats[] {
    return [...this.#stats.values()].sort((a, b) => b.totalNs - a.totalNs);
  }

  /**
   * A markdown table, one row per label by total time: calls, total ms, mean us, share of
   * the GPU time, GFLOP/s and GB/s from the ops' declared flops and bytes; then a line
   * comparing the GPU time to the steps' wall time.
   */
  table(): string {
    const rows = this.stats();
    const total = rows.reduce((s, r) => s + r.totalNs, 0);
    const rate = (amount: number, ns: number) =>
      amount > 0 && ns > 0 ? (amount / ns).toFixed(2) : "-";
    const lines = [
      "| kernel (label) | calls | total ms | mean us | share % | GFLOP/s | GB/s |",
      "|---|---:|---:|---:|---:|---:|---:|",
    ];
    for (const r of rows) {
      lines.push(
        `| ${r.label.replaceAll("|", "\\|")} | ${r.calls} | ${(r.totalNs / 1e6).toFixed(3)} | ` +
          `${(r.totalNs / r.calls / 1e3).toFixed(1)} | ` +
          `${(total > 0 ? (100 * r.totalNs) / total : 0).toFixed(1)} | ` +
          `${rate(r.flops, r.totalNs)} | ${rate(r.bytes, r.totalNs)} |`,
      );
    }
    const perStep = this.#steps ? total / this.#steps / 1e6 : 0;
    const wall = this.stepWallMs;
    const what = this.mode === "timestamps" ? "GPU pass time" : "submit-to-done time";
    lines.push(
      "",
      `${what}: ${perStep.toFixed(3)} ms per step of ${wall.toFixed(3)} ms step wall time ` +
        `(${wall > 0 ? ((100 * perStep) / wall).toFixed(1) : "0.0"}%), over ${this.#steps} steps` +
        (this.mode === "timestamps" ? ", one pass per dispatch" : " (no per-kernel times)"),
    );
    return lines.join("\n");
  }

  /**
   * The recorded spans as Trace Event JSON (`{"traceEvents": [...]}`), microseconds since
   * the profiler was made: a "GPU passes" track from the timestamps, aligned to the CPU clock
   * at each step's submit, and a "CPU" track with encode, submit and wait.
   */
  toChromeTrace(): { traceEvents: TraceEvent[]; displayTimeUnit: "ms" } {
    const meta = (name: string, tid: number, args: Record<string, string | number>) => ({
      name,
      ph: "M" as const,
      pid: PID,
      tid,
      args,
    });
    const events: TraceEvent[] = [
      meta("process_name", 0, { name: `webgpu-vae on ${this.#gpu.adapterName}` }),
      meta("thread_name", TID.cpu, { name: "CPU" }),
      meta("thread_sort_index", TID.cpu, { sort_index: 0 }),
      meta("thread_name", TID.gpu, { name: "GPU passes" }),
      meta("thread_sort_index", TID.gpu, { sort_index: 1 }),
    ];
    for (const s of this.#spans) {
      events.push({
        name: s.name,
        cat: s.track,
        ph: "X",
        pid: PID,
        tid: TID[s.track],
        ts: s.ts,
        dur: s.dur,
        ...(s.args ? { args: s.args } : {}),
      });
    }
    return { traceEvents: events, displayTimeUnit: "ms" };
  }

  /** Free the query set and buffers. */
  destroy(): void {
    this.#querySet?.destroy();
    this.#resolve?.destroy();
    this.#read?.destroy();
    this.#querySet = this.#resolve = this.#read = null;
    this.#capacity = 0;
  }

  #us(ms: number): number {
    return (ms - this.#origin) * 1e3;
  }

  #cpu(name: string, from: number, to: number, args: Record<string, number>): void {
    this.#spans.push({
      name,
      track: "cpu",
      ts: this.#us(from),
      dur: this.#us(to) - this.#us(from),
      args,
    });
  }

  #reserve(queries: number): void {
    if (queries <= this.#capacity) return;
    if (queries > MAX_QUERIES) {
      throw new Error(
        `profiler: a step of ${queries / 2} dispatches needs ${queries} timestamps; ` +
          `one query set holds ${MAX_QUERIES}`,
      );
    }
    this.destroy();
    const device = this.#gpu.device;
    this.#capacity = queries;
    this.#querySet = device.createQuerySet({
      label: "profiler",
      type: "timestamp",
      count: queries,
    });
    this.#resolve = device.createBuffer({
      label: "profiler resolve",
      size: 8 * queries,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
    this.#read = device.createBuffer({
      label: "profiler readback",
      size: 8 * queries,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
  }

  #add(d: Dispatch, ns: number): void {
    let s = this.#stats.get(d.label);
    if (!s) {
      s = {
        label: d.label,
        kernel: `${d.kernel}.${d.entry}`,
        calls: 0,
        totalNs: 0,
        flops: 0,
        bytes: 0,
      };
      this.#stats.set(d.label, s);
    }
    s.calls++;
    s.totalNs += ns;
    s.flops += d.flops;
    s.bytes += d.bytes;
  }

  async #readTimes(dispatches: readonly Dispatch[], submitUs: number): Promise<void> {
    const read = this.#read!;
    const n = dispatches.length;
    await read.mapAsync(GPUMapMode.READ, 0, 16 * n);
    const t = new BigUint64Array(read.getMappedRange(0, 16 * n).slice(0));
    read.unmap();
    // GPU ticks have their own epoch: place the first pass at the CPU's submit time (never
    // before the previous step's last pass, so the track stays ordered), keep the offsets.
    const base = Math.max(submitUs, this.#gpuEnd);
    const t0 = t[0];
    for (let i = 0; i < n; i++) {
      const d = dispatches[i];
      const begin = t[2 * i], end = t[2 * i + 1];
      const ns = end > begin ? Number(end - begin) : 0;
      const start = Number(begin - t0) / 1e3;
      if (!Number.isFinite(start) || start < 0) {
        throw new Error(`profiler: pass ${i} (${d.label}) began before the step's first pass`);
      }
      this.#add(d, ns);
      this.#spans.push({
        name: d.label,
        track: "gpu",
        ts: base + start,
        dur: ns / 1e3,
        args: {
          kernel: `${d.kernel}.${d.entry}`,
          step: this.#steps,
          workgroups: d.workgroups.join("x"),
          flops: d.flops,
          bytes: d.bytes,
        },
      });
      this.#gpuEnd = Math.max(this.#gpuEnd, base + start + ns / 1e3);
    }
  }

  #wholeSubmit(dispatches: readonly Dispatch[], label: string, fromUs: number, toUs: number) {
    const ns = (toUs - fromUs) * 1e3;
    const flops = dispatches.reduce((s, d) => s + d.flops, 0);
    const bytes = dispatches.reduce((s, d) => s + d.bytes, 0);
    let s = this.#stats.get(label);
    if (!s) {
      s = { label, kernel: "whole submit", calls: 0, totalNs: 0, flops: 0, bytes: 0 };
      this.#stats.set(label, s);
    }
    s.calls++;
    s.totalNs += ns;
    s.flops += flops;
    s.bytes += bytes;
    const ts = Math.max(fromUs, this.#gpuEnd);
    this.#spans.push({
      name: label,
      track: "gpu",
      ts,
      dur: toUs - ts,
      args: { step: this.#steps, dispatches: dispatches.length, flops, bytes },
    });
    this.#gpuEnd = toUs;
  }
}
