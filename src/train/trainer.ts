/**
 * The training loop: the dataset uploaded once as u8, one submit per step, metrics read a
 * few times per epoch, a test pass and a checkpoint at every epoch end, exact resume.
 *
 * Nothing is read back inside a step. Every `readEvery` steps the metrics buffer (sums of
 * per-example losses and the NaN/Inf count) is read for the progress line and the guard.
 */

import { readback, Tensor, write } from "../gpu/buffer.ts";
import type { Gpu } from "../gpu/device.ts";
import { type Dispatch, submit } from "../gpu/kernel.ts";
import type { Dataset, Split } from "../data/datasets.ts";
import { clearSlots } from "../nn/reduce.ts";
import {
  type BatchSource,
  type DecodeProgram,
  identityOrder,
  initParams,
  METRIC,
  ModelState,
  setBatchOffset,
  type StepProgram,
} from "../vae/common.ts";
import { buildVaeDecode, buildVaeStep, type VaeConfig, vaeLayout } from "../vae/model.ts";
import { conditionRows, conditionSize, splitConditions, splitSource } from "../vae/condition.ts";
import type { Checkpoint } from "./checkpoint.ts";
import type { TrainConfig } from "./config.ts";
import { epochOrder, priorSample } from "../io/random.ts";
import { type DataPlacement, dataPlacement, MIB, StreamedSplit } from "./stream.ts";
import { PriorSampler } from "../vae/prior_sample.ts";
import { batchedDecode } from "../eval/figures.ts";
import { type KlSchedule, klWeight, parseKlSchedule } from "./schedule.ts";
import type { EpochRecord, Losses, Progress } from "./records.ts";
import { firstNonFinite, NonFiniteError } from "./guard.ts";
import { modelConfig } from "./model_config.ts";

export type { EpochRecord, Losses, Progress } from "./records.ts";
export { DivergenceWatch, firstNonFinite, NonFiniteError } from "./guard.ts";
export { modelConfig } from "./model_config.ts";

/** Codes the decoder program takes at once (samples, figures). */
const DECODE_BATCH = 64;

interface Programs {
  full: StepProgram;
  last: StepProgram | null;
}

/**
 * Where one split of `features` values an example goes on `device` under `config`'s
 * `--gpu-data-mb` (0: the device's largest storage binding): resident, or streamed in windows
 * of steps. The budget bounds each split, so a test split larger than it is streamed too.
 */
export function splitPlacement(
  device: GPUDevice,
  config: TrainConfig,
  split: Split,
  features: number,
): DataPlacement {
  return dataPlacement(
    split.count,
    features,
    split.images.BYTES_PER_ELEMENT,
    Math.min(config.batch, split.count),
    config["gpu-data-mb"] > 0
      ? config["gpu-data-mb"] * MIB
      : Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize),
  );
}

/** Trains one model on one dataset; see {@linkcode Trainer.create}. */
export class Trainer {
  /** The training configuration. */
  readonly config: TrainConfig;
  /** Model state on the GPU. */
  readonly state: ModelState;
  /** Examples in the training set. */
  readonly trainCount: number;
  /** Examples in the test set. */
  readonly testCount: number;
  /** Epoch in progress (0-based). */
  epoch = 0;
  /** Completed steps of the epoch in progress. */
  stepInEpoch = 0;
  /** Optimizer steps completed. */
  step = 0;
  /** Read the metrics (progress, NaN guard) every this many steps. */
  readEvery: number;
  readonly #gpu: Gpu;
  readonly #metrics: Tensor;
  readonly #testMetrics: Tensor;
  readonly #trainIndex: Tensor;
  readonly #stream: StreamedSplit | undefined;
  readonly #testStream: StreamedSplit | undefined;
  /** Where the training split lives on the GPU: resident, or streamed in windows. */
  readonly placement: DataPlacement;
  /** Where the test split lives on the GPU (streamed when it alone is over the budget). */
  readonly testPlacement: DataPlacement;
  readonly #train: Programs;
  readonly #test: Programs;
  readonly #clear: Dispatch;
  readonly #clearTest: Dispatch;
  #pendingSums: number[] | null = null;
  #decode: DecodeProgram | null = null;
  #prior: PriorSampler | null = null;
  readonly #model: VaeConfig;
  readonly #schedule: KlSchedule;
  #klSum = 0;

  private constructor(
    gpu: Gpu,
    config: TrainConfig,
    state: ModelState,
    parts: {
      metrics: Tensor;
      testMetrics: Tensor;
      trainIndex: Tensor;
      train: Programs;
      test: Programs;
      clear: Dispatch;
      clearTest: Dispatch;
      trainCount: number;
      testCount: number;
      model: VaeConfig;
      stream?: StreamedSplit;
      placement: DataPlacement;
      testStream?: StreamedSplit;
      testPlacement: DataPlacement;
    },
  ) {
    this.#stream = parts.stream;
    this.placement = parts.placement;
    this.#testStream = parts.testStream;
    this.testPlacement = parts.testPlacement;
    this.#gpu = gpu;
    this.config = config;
    this.#model = parts.model;
    this.state = state;
    this.#metrics = parts.metrics;
    this.#testMetrics = parts.testMetrics;
    this.#trainIndex = parts.trainIndex;
    this.#train = parts.train;
    this.#test = parts.test;
    this.#clear = parts.clear;
    this.#clearTest = parts.clearTest;
    this.trainCount = parts.trainCount;
    this.testCount = parts.testCount;
    this.readEvery = Math.max(1, Math.ceil(this.stepsPerEpoch / 8));
    this.#schedule = parseKlSchedule(config["kl-schedule"], {
      beta: parts.model.beta,
      totalSteps: config.epochs * this.stepsPerEpoch,
    });
  }

  /**
   * Upload the dataset, build every step program once, and start from fresh weights or
   * from `resume`.
   */
  static async create(
    gpu: Gpu,
    config: TrainConfig,
    data: Dataset,
    resume?: Checkpoint,
  ): Promise<Trainer> {
    const d = gpu.device;
    const cfg = modelConfig(config, data);
    const layout = vaeLayout(cfg);
    const state = new ModelState(gpu, layout, resume?.params ?? initParams(layout, cfg.seed));
    const source = (split: Split, label: string) =>
      splitSource(d, cfg.condition, split, identityOrder(split.count), label);
    // A training split above the GPU budget is streamed in windows of steps (stream.ts).
    // A test split over it is evaluated the same way, in windows of whole batches.
    const streamed = (split: Split, place: DataPlacement, label: string) =>
      place.mode === "streamed"
        ? new StreamedSplit(
          d,
          split,
          data.features,
          place,
          label,
          cfg.condition ? splitConditions(cfg.condition, split) : undefined,
        )
        : undefined;
    const placement = splitPlacement(d, config, data.train, data.features);
    if (placement.mode === "resident" && data.train.onDisk) {
      throw new Error("the training split is on disk but fits the GPU: load it into memory");
    }
    const stream = streamed(data.train, placement, "train");
    const trainSource = stream?.source ?? source(data.train, "train");
    const testPlace = splitPlacement(d, config, data.test, data.features);
    const testStream = streamed(data.test, testPlace, "test");
    testStream?.setOrder(identityOrder(data.test.count));
    const testSource = testStream?.source ?? source(data.test, "test");
    const metrics = new Tensor(d, "f32", [METRIC.size], "train metrics");
    const testMetrics = new Tensor(d, "f32", [METRIC.size], "test metrics");
    const adam = { lr: config.lr };
    const B = config.batch;
    const programs = async (
      src: BatchSource,
      n: number,
      acc: Tensor,
      train: boolean,
    ): Promise<Programs> => {
      const b = Math.min(B, n);
      const full = await buildVaeStep(gpu, cfg, state, src, acc, b, train ? adam : undefined);
      const rest = n % b;
      const last = rest
        ? await buildVaeStep(gpu, cfg, state, src, acc, rest, train ? adam : undefined)
        : null;
      return { full, last };
    };
    const t = new Trainer(gpu, config, state, {
      metrics,
      testMetrics,
      trainIndex: trainSource.index,
      train: await programs(trainSource, data.train.count, metrics, true),
      test: await programs(testSource, data.test.count, testMetrics, false),
      clear: await clearSlots(gpu, { acc: metrics }),
      clearTest: await clearSlots(gpu, { acc: testMetrics }),
      trainCount: data.train.count,
      testCount: data.test.count,
      model: cfg,
      stream,
      placement,
      testStream,
      testPlacement: testPlace,
    });
    if (resume) {
      write(d, state.m, resume.m);
      write(d, state.v, resume.v);
      write(d, state.counter, [resume.step]);
      t.step = resume.step;
      t.epoch = resume.epoch;
      t.stepInEpoch = resume.stepInEpoch;
      t.#pendingSums = resume.sums;
    }
    await gpu.sync();
    return t;
  }

  /** Steps in one epoch (the last may be a partial batch). */
  get stepsPerEpoch(): number {
    return Math.ceil(this.trainCount / Math.min(this.config.batch, this.trainCount));
  }

  /**
   * Train until `epochs` are done or `stop()` returns true (checked after every step).
   * Calls `onProgress` a few times per epoch and `onEpoch` at each epoch end (after the
   * test pass). Throws {@linkcode NonFiniteError} when the loss turns NaN or Inf.
   */
  async train(events: {
    onProgress?: (p: Progress) => void;
    onEpoch?: (r: EpochRecord) => Promise<void> | void;
    stop?: () => boolean;
    /**
     * Awaited after every step, before `stop()` is asked: the CLI yields to the event loop
     * here so a signal's listener runs between steps, not only at the next metrics read.
     */
    afterStep?: () => Promise<void> | void;
    /** Milliseconds for the timings (default performance.now). */
    clock?: () => number;
  } = {}): Promise<"done" | "stopped"> {
    const d = this.#gpu.device;
    const B = Math.min(this.config.batch, this.trainCount);
    const steps = this.stepsPerEpoch;
    const now = events.clock ?? (() => performance.now());
    const runStart = now();
    const runSteps0 = this.epoch * steps + this.stepInEpoch;
    while (this.epoch < this.config.epochs) {
      const order = epochOrder(this.trainCount, this.config.seed, this.epoch);
      if (this.#stream) this.#stream.setOrder(order);
      else write(d, this.#trainIndex, order);
      if (this.#pendingSums) {
        write(
          d,
          this.#metrics,
          this.#pendingSums.concat(new Array(METRIC.size).fill(0)).slice(0, METRIC.size),
        );
        this.#pendingSums = null;
      } else if (this.stepInEpoch === 0) {
        submit(d, [this.#clear], "clear metrics");
      }
      const t0 = now();
      const s0 = this.stepInEpoch;
      while (this.stepInEpoch < steps) {
        const offset = this.stepInEpoch * B;
        const p = offset + B <= this.trainCount ? this.#train.full : this.#train.last!;
        setBatchOffset(p, offset);
        const w = this.klWeightAt(this.step);
        this.#klSum += w;
        if (this.#schedule.kind !== "constant") {
          p.klBackward!.update("dims", { scale: w / p.batch });
        }
        this.#stream?.beforeStep(this.stepInEpoch);
        submit(d, [p.gather, ...p.forward, ...p.backward]);
        this.#stream?.afterStep(this.stepInEpoch);
        this.stepInEpoch++;
        this.step++;
        const last = this.stepInEpoch === steps;
        if (last || this.stepInEpoch % this.readEvery === 0) {
          const m = await readback(d, this.#metrics);
          if (m[METRIC.nonfinite] > 0) {
            const bad = m[METRIC.firstBadStep] - (this.step - this.stepInEpoch);
            throw new NonFiniteError(
              `the loss became NaN or Inf in epoch ${this.epoch + 1}, step ${bad} of ${steps}`,
            );
          }
          const seen = Math.min(this.stepInEpoch * B, this.trainCount);
          const losses = this.#losses(m, seen);
          // Each example's loss is finite, but their sums (or the weighted total) overflowed.
          const over = firstNonFinite(losses);
          if (over) {
            throw new NonFiniteError(
              `the epoch's loss sums overflowed (${over}) in epoch ${this.epoch + 1}, by step ` +
                `${this.stepInEpoch} of ${steps}`,
            );
          }
          const secs = (now() - t0) / 1000;
          const done = this.epoch * steps + this.stepInEpoch;
          const rate = (done - runSteps0) / ((now() - runStart) / 1000);
          events.onProgress?.({
            epoch: this.epoch,
            epochs: this.config.epochs,
            step: this.stepInEpoch,
            steps,
            losses,
            imagesPerSecond: ((this.stepInEpoch - s0) * B) / secs,
            eta: (this.config.epochs * steps - done) / rate,
          });
        }
        await events.afterStep?.();
        if (events.stop?.() && !last) return "stopped";
      }
      const seconds = (now() - t0) / 1000;
      const m = await readback(d, this.#metrics);
      const test = await this.evaluate();
      const record: EpochRecord = {
        epoch: this.epoch + 1,
        step: this.step,
        train: this.#losses(m, this.trainCount),
        test,
        beta: this.klWeightAt(this.step - 1),
        betaMean: this.#klSum / Math.max(1, steps - s0),
        seconds,
        imagesPerSecond: ((steps - s0) * B) / seconds,
      };
      const bad = firstNonFinite(record);
      if (bad) {
        throw new NonFiniteError(`epoch ${record.epoch}'s record is not finite (${bad})`);
      }
      this.epoch++;
      this.stepInEpoch = 0;
      this.#klSum = 0;
      await events.onEpoch?.(record);
      if (events.stop?.() && this.epoch < this.config.epochs) return "stopped";
    }
    return "done";
  }

  /**
   * The first `n` test examples (all by default) and their reconstructions: decoded means
   * of one sample of z each (noise stream 1), [n, F] each, in [0, 1] for bce; batch by batch
   * through the test programs. Waits for the GPU: for reports, not inside training.
   */
  async reconstructions(
    n = this.testCount,
  ): Promise<{ originals: Float32Array; means: Float32Array }> {
    const d = this.#gpu.device;
    const count = Math.min(n, this.testCount), B = this.#test.full.batch;
    const F = this.#test.full.tensors.x.length / B;
    const originals = new Float32Array(count * F), means = new Float32Array(count * F);
    for (let offset = 0; offset < count; offset += B) {
      const p = this.#testBatch(offset, "reconstructions");
      const k = Math.min(p.batch, count - offset);
      originals.set((await readback(d, p.tensors.x)).subarray(0, k * F), offset * F);
      const logits = (await readback(d, p.tensors.logits)).subarray(0, k * F);
      means.set(
        this.config.recon === "bce" ? logits.map((l) => 1 / (1 + Math.exp(-l))) : logits,
        offset * F,
      );
    }
    return { originals, means };
  }

  /**
   * A regression VAE's predicted lengths (mm) of the first `n` test examples (all by default),
   * from the streamlines alone (the regression head, evaluation mode); null for another model.
   * Waits for the GPU: for reports, not inside training.
   */
  async predictedLengths(n = this.testCount): Promise<Float32Array | null> {
    const cond = this.#model.condition;
    if (!this.#model.regression || cond?.kind !== "length") return null;
    const d = this.#gpu.device;
    const count = Math.min(n, this.testCount), B = this.#test.full.batch;
    const out = new Float32Array(count);
    for (let offset = 0; offset < count; offset += B) {
      const p = this.#testBatch(offset, "regression");
      const k = Math.min(p.batch, count - offset);
      const r = (await readback(d, p.tensors.regression)).subarray(0, k);
      out.set(r.map((v) => v * cond.std + cond.mean), offset);
    }
    return out;
  }

  /**
   * Decode `n` codes z [n, Z] to means [n, F] (evaluation mode), `DECODE_BATCH` at a time
   * through one decoder program built on first use. Waits for the GPU. A conditional model
   * takes `asked` conditions, one per code (class labels, or lengths in mm); without them
   * every code gets class 0 or the mean training length.
   */
  async decode(z: Float32Array, n: number, asked?: ArrayLike<number>): Promise<Float32Array> {
    const d = this.#gpu.device;
    const B = DECODE_BATCH, Z = this.#model.z;
    if (z.length !== n * Z) throw new Error(`decode: ${z.length} values for ${n} codes of ${Z}`);
    this.#decode ??= await buildVaeDecode(this.#gpu, this.#model, this.state, B);
    const program = this.#decode;
    const C = conditionSize(this.#model.condition);
    const rows = this.#conditionRows(n, asked);
    let at = 0;
    return await batchedDecode(B, Z, program.mean.length / B, async (codes) => {
      write(d, program.z, codes);
      if (rows) {
        const part = new Float32Array(B * C);
        part.set(rows.subarray(at * C, Math.min(n, at + B) * C));
        write(d, program.c!, part);
        at += B;
      }
      submit(d, program.dispatches, "decode");
      return await readback(d, program.mean);
    })(z, n);
  }

  /** A conditional model's rows for `asked` values (default: class 0 or the mean length). */
  #conditionRows(n: number, asked?: ArrayLike<number>): Float32Array | undefined {
    const cond = this.#model.condition;
    if (!cond) return undefined;
    return conditionRows(
      cond,
      asked ?? new Float32Array(n).fill(cond.kind === "length" ? cond.mean : 0),
    );
  }

  /**
   * `n` samples from the prior, decoded to means [n, F]: eps ~ N(0, I) from `seed`, z = t eps
   * for the standard prior or mp(c) + t sigma_p(c) eps for a learned p(z | c), at temperature
   * `t` (1: the prior itself, 0: its mean); `asked` conditions for a conditional model (see
   * {@linkcode Trainer.decode}).
   */
  async samples(
    n: number,
    seed: number,
    asked?: ArrayLike<number>,
    t = 1,
  ): Promise<Float32Array> {
    const eps = priorSample(n * this.#model.z, seed);
    this.#prior ??= new PriorSampler(this.#gpu, this.#model, this.state);
    const z = await this.#prior.codes(eps, n, this.#conditionRows(n, asked), t);
    return this.decode(z, n, asked);
  }

  /** The KL weight schedule in force (from --kl-schedule, beta, --ae). */
  get klSchedule(): KlSchedule {
    return this.#schedule;
  }

  /** Optimizer steps in the whole run. */
  get totalSteps(): number {
    return this.config.epochs * this.stepsPerEpoch;
  }

  /** The model config the trainer built (layout, decoder and metrics take it). */
  get model(): VaeConfig {
    return this.#model;
  }

  /**
   * Submits the forward pass of the test batch at `offset` (a multiple of the batch), its
   * window copied in first when the test split is streamed, and returns its program.
   */
  #testBatch(offset: number, label: string): StepProgram {
    const d = this.#gpu.device;
    const p = offset + this.#test.full.batch <= this.testCount ? this.#test.full : this.#test.last!;
    setBatchOffset(p, offset);
    const s = offset / this.#test.full.batch;
    this.#testStream?.beforeStep(s);
    submit(d, [p.gather, ...p.forward], label);
    this.#testStream?.afterStep(s);
    return p;
  }

  /** Losses on the held-out set (one sample of z per example; noise stream 1). */
  async evaluate(): Promise<Losses & { elbo: number }> {
    const d = this.#gpu.device;
    const B = this.#test.full.batch;
    submit(d, [this.#clearTest], "clear test metrics");
    for (let offset = 0; offset < this.testCount; offset += B) this.#testBatch(offset, "test");
    const m = await readback(d, this.#testMetrics);
    const l = this.#losses(m, this.testCount);
    const over = firstNonFinite(l);
    if (m[METRIC.nonfinite] > 0 || over) {
      throw new NonFiniteError(
        `the test loss is NaN or Inf after epoch ${this.epoch + 1}${over ? ` (${over})` : ""}`,
      );
    }
    return { ...l, elbo: l.recon + l.kl };
  }

  /** The full state at the current step boundary, for a checkpoint. */
  async checkpoint(): Promise<Checkpoint> {
    const d = this.#gpu.device;
    const sums = this.stepInEpoch === 0 ? [] : [...(await readback(d, this.#metrics))];
    return {
      params: await readback(d, this.state.params),
      m: await readback(d, this.state.m),
      v: await readback(d, this.state.v),
      step: this.step,
      epoch: this.epoch,
      stepInEpoch: this.stepInEpoch,
      sums,
      config: JSON.stringify(this.config),
    };
  }

  /** The KL weight of optimizer step `step` (0-based), from --kl-schedule, beta and --ae. */
  klWeightAt(step: number): number {
    return klWeight(this.#schedule, Math.max(0, step));
  }

  /** Per-example losses from metric sums over `count` examples, at the last step's KL weight. */
  #losses(m: Float32Array, count: number): Losses {
    const recon = m[METRIC.recon] / count;
    const kl = m[METRIC.kl] / count;
    const beta = this.klWeightAt(this.step - 1);
    return { recon, kl, total: this.config["recon-weight"] * recon + beta * kl };
  }
}
