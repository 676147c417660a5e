/**
 * A GPU profiler for training steps: every dispatch of a step gets its own compute pass with
 * `timestampWrites`, so the GPU reports when each pass began and ended. Steps are submitted
 * back to back, one submit each, as training runs them; the times are resolved into a buffer
 * by each step's own encoder and read back once per batch of steps, after the wait that ends
 * the batch. The wall time a table's share is taken of runs from the first step's encoding to
 * that wait's end, so it includes encoding, submits and the GPU's idle time between passes.
 * CPU-side spans (prepare, encode, submit, wait) are taken with `performance.now()`.
 *
 * Without the `timestamp-query` feature (or with `{ timestamps: false }`) it says so once and
 * times whole submits instead: encode, submit, then `onSubmittedWorkDone`, step by step.
 *
 * This is a separate encode path: normal training keeps `submit()` from kernel.ts with one
 * pass per step and pays nothing for the profiler's existence. Splitting a step into one pass
 * per dispatch only changes where pass boundaries fall, never what a kernel computes.
 *
 * Results: {@linkcode Profiler.table} (markdown, one row per dispatch label) and
 * {@linkcode Profiler.toChromeTrace} (Trace Event JSON for Perfetto / chrome://tracing).
 */

import type { Gpu } from "./device.ts";
import { countSubmit, trackBuffer, untrackBuffer } from "./buffer.ts";
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
  #spanNs = 0;
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

  /**
   * Mean wall time of a profiled step in milliseconds: the profiled runs' wall time (first
   * encode to the end of the wait for the GPU) over the steps.
   */
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
   * Profile one training step: encode `dispatches`, submit, wait until done, record the
   * times. Same as {@linkcode run} with a count of one.
   */
  async step(dispatches: readonly Dispatch[], label = "step"): Promise<void> {
    await this.run(1, () => dispatches, label);
  }

  /**
   * Profile `count` training steps, each from `next()` (which may rewrite uniforms, as a
   * batch offset does). With timestamps the steps run as training runs them, one submit per
   * step and no wait in between, each dispatch in its own timestamped pass; the GPU is waited
   * for and the times are read back once per query set's worth of steps (about
   * {@linkcode MAX_QUERIES} / 2 passes), and that wait is part of the measured wall time.
   * Without timestamps every step is one pass, submitted and waited for on its own.
   */
  async run(count: number, next: () => readonly Dispatch[], label = "step"): Promise<void> {
    if (this.mode === "submit") {
      for (let s = 0; s < count; s++) await this.#wholeStep(next(), label);
      return;
    }
    const device = this.#gpu.device;
    let batch: { dispatches: readonly Dispatch[]; base: number; submitUs: number }[] = [];
    let used = 0;
    let tStart = 0;
    const flush = async () => {
      const tWait = performance.now();
      await this.#gpu.sync();
      const tEnd = performance.now();
      // Everything below is outside the timed steps.
      const error = await device.popErrorScope();
      if (error) throw new Error(`profiler: ${label}: WebGPU validation failed: ${error.message}`);
      this.#cpu("wait", tWait, tEnd, { steps: batch.length });
      this.#wallNs += (tEnd - tStart) * 1e6;
      await this.#readTimes(batch, used);
      batch = [];
      used = 0;
    };
    for (let s = 0; s < count; s++) {
      const t0 = performance.now();
      if (batch.length === 0) tStart = t0;
      const dispatches = next();
      const n = dispatches.length;
      // resolveQuerySet writes at 256-byte offsets: each step's range starts on 32 queries.
      const q = Math.ceil((2 * n) / 32) * 32;
      if (used + q > this.#capacity) {
        if (batch.length > 0) await flush();
        this.#reserve(q * Math.max(1, Math.min(count - s, Math.floor(MAX_QUERIES / q))));
        if (batch.length === 0) tStart = performance.now();
      }
      if (batch.length === 0) device.pushErrorScope("validation");
      const base = used;
      const querySet = this.#querySet!;
      const t1 = performance.now();
      const enc = device.createCommandEncoder({ label: `${label} (profiled)` });
      for (let i = 0; i < n; i++) {
        const d = dispatches[i];
        const pass = enc.beginComputePass({
          label: d.label,
          timestampWrites: {
            querySet,
            beginningOfPassWriteIndex: base + 2 * i,
            endOfPassWriteIndex: base + 2 * i + 1,
          },
        });
        d.encode(pass);
        pass.end();
      }
      enc.resolveQuerySet(querySet, base, 2 * n, this.#resolve!, 8 * base);
      enc.copyBufferToBuffer(this.#resolve!, 8 * base, this.#read!, 8 * base, 16 * n);
      const commands = enc.finish();
      const t2 = performance.now();
      countSubmit(device);
      device.queue.submit([commands]);
      const t3 = performance.now();
      this.#steps++;
      const args = { step: this.#steps };
      this.#cpu("prepare", t0, t1, args);
      this.#cpu("encode", t1, t2, { ...args, passes: n });
      this.#cpu("submit", t2, t3, args);
      batch.push({ dispatches, base, submitUs: this.#us(t2) });
      used += q;
    }
    if (batch.length > 0) await flush();
  }

  /** One step in one pass (as `submit()`), submitted and waited for: whole-submit times. */
  async #wholeStep(dispatches: readonly Dispatch[], label: string): Promise<void> {
    const device = this.#gpu.device;
    device.pushErrorScope("validation");
    const t0 = performance.now();
    const enc = device.createCommandEncoder({ label: `${label} (profiled)` });
    const pass = enc.beginComputePass({ label });
    for (const d of dispatches) d.encode(pass);
    pass.end();
    const commands = enc.finish();
    const t1 = performance.now();
    countSubmit(device);
    device.queue.submit([commands]);
    const t2 = performance.now();
    await this.#gpu.sync();
    const t3 = performance.now();
    // Everything below is outside the timed step.
    const error = await device.popErrorScope();
    if (error) throw new Error(`profiler: ${label}: WebGPU validation failed: ${error.message}`);
    this.#steps++;
    const args = { step: this.#steps };
    this.#cpu("encode", t0, t1, { ...args, passes: 1 });
    this.#cpu("submit", t1, t2, args);
    this.#cpu("wait", t2, t3, args);
    this.#wallNs += (t3 - t0) * 1e6;
    this.#wholeSubmit(dispatches, label, this.#us(t1), this.#us(t3));
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
    const pct = (ms: number) => `${wall > 0 ? ((100 * ms) / wall).toFixed(1) : "0.0"}%`;
    lines.push(
      "",
      `${what}: ${perStep.toFixed(3)} ms per step of ${wall.toFixed(3)} ms step wall time ` +
        `(${pct(perStep)}), over ${this.#steps} steps` +
        (this.mode === "timestamps"
          ? ", one pass per dispatch, submitted back to back"
          : " (no per-kernel times)"),
    );
    if (this.mode === "timestamps" && this.#steps > 0) {
      const span = this.#spanNs / this.#steps / 1e6;
      lines.push(
        "",
        `The rest of the wall time, per step: ${(span - perStep).toFixed(3)} ms ` +
          `(${pct(span - perStep)}) between passes on the GPU clock (pass boundaries, ` +
          `barriers), ${(wall - span).toFixed(3)} ms (${pct(wall - span)}) outside the GPU's ` +
          "first-to-last pass (encoding before the first pass, the wait for the last one).",
      );
    }
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
    for (const b of [this.#resolve, this.#read]) if (b) untrackBuffer(b);
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
    trackBuffer(device, this.#resolve);
    trackBuffer(device, this.#read);
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

  async #readTimes(
    batch: readonly { dispatches: readonly Dispatch[]; base: number; submitUs: number }[],
    used: number,
  ): Promise<void> {
    const read = this.#read!;
    await read.mapAsync(GPUMapMode.READ, 0, 8 * used);
    const t = new BigUint64Array(read.getMappedRange(0, 8 * used).slice(0));
    read.unmap();
    // GPU ticks have their own epoch: place the batch's first pass at the CPU time of its
    // submit (never before the previous batch's last pass, so the track stays ordered) and
    // keep every later pass at its offset from that first one on the GPU clock.
    const first = batch[0];
    const origin = Math.max(first.submitUs, this.#gpuEnd);
    const t0 = t[first.base];
    let last = t0;
    let step = this.#steps - batch.length;
    for (const { dispatches, base } of batch) {
      step++;
      for (let i = 0; i < dispatches.length; i++) {
        const d = dispatches[i];
        const begin = t[base + 2 * i], end = t[base + 2 * i + 1];
        const ns = end > begin ? Number(end - begin) : 0;
        if (end > last) last = end;
        const start = Number(begin - t0) / 1e3;
        if (!Number.isFinite(start) || begin < t0) {
          throw new Error(`profiler: pass ${i} (${d.label}) began before the batch's first pass`);
        }
        this.#add(d, ns);
        this.#spans.push({
          name: d.label,
          track: "gpu",
          ts: origin + start,
          dur: ns / 1e3,
          args: {
            kernel: `${d.kernel}.${d.entry}`,
            step,
            workgroups: d.workgroups.join("x"),
            flops: d.flops,
            bytes: d.bytes,
          },
        });
        this.#gpuEnd = Math.max(this.#gpuEnd, origin + start + ns / 1e3);
      }
    }
    this.#spanNs += Number(last - t0);
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
