/**
 * A training run on the page: the Deno Trainer's loop (src/train/trainer.ts) cut into pieces a
 * page can schedule between frames. The numbers are the trainer's: the same model config, the
 * same seeded initial weights (`initParams`), the same per-epoch shuffle (`epochOrder`), the
 * same step programs (`buildVaeStep`, one submit per step: gather, forward, backward, Adam),
 * the same KL schedule and the same metric sums; tests/train_page_test.ts checks it against
 * the Deno Trainer step by step.
 *
 * What differs is only who decides when to wait: {@linkcode TrainSession.run} submits steps
 * and never reads back; {@linkcode TrainSession.progress} reads the metrics (one wait on the
 * GPU), and the page calls it a few times a second at most.
 *
 * No Deno API: it bundles for the browser. Legend: B batch, F pixels per image, Z latent size.
 */

import type { Checkpoint } from "../../train/checkpoint_files.ts";
import { NonFiniteError } from "../../train/guard.ts";
import { readback, Tensor, write } from "../../gpu/buffer.ts";
import type { Gpu } from "../../gpu/device.ts";
import { type Dispatch, submit } from "../../gpu/kernel.ts";
import { clearSlots } from "../../nn/reduce.ts";
import { latentStats } from "../../eval/metrics.ts";
import {
  type BatchSource,
  type DecodeProgram,
  destroyProgram,
  destroySource,
  identityOrder,
  initParams,
  METRIC,
  ModelState,
  setBatchOffset,
  type StepProgram,
  uploadSource,
} from "../../vae/common.ts";
import { buildVaeDecode, buildVaeStep, type VaeConfig, vaeLayout } from "../../vae/model.ts";
import { epochOrder, priorSample } from "../../io/random.ts";
import { type KlSchedule, klWeight, parseKlSchedule } from "../../train/schedule.ts";
import { checkSettings, pageModelConfig, type PageSettings } from "./settings.ts";

/** One split of the page's images: u8 pixels, `count` images one after another. */
export interface PageSplit {
  /** count x rows x cols bytes (0 black .. 255 white). */
  images: Uint8Array;
  /** Class labels when the data has them (drawn nowhere; kept for the IDX file). */
  labels: Uint8Array | null;
  /** Number of images. */
  count: number;
}

/** The images a page trains on. */
export interface PageData {
  /** Where they came from: "embedded", or the dropped files' names. */
  name: string;
  /** Image rows. */
  rows: number;
  /** Image columns. */
  cols: number;
  /** Training images. */
  train: PageSplit;
  /** Held-out images (test losses, reconstructions, KL per dimension). */
  test: PageSplit;
}

/** Loss terms in nats per image (the Trainer's `Losses`). */
export interface PageLosses {
  /** Reconstruction term. */
  recon: number;
  /** KL term. */
  kl: number;
  /** recon + (KL weight) * kl. */
  total: number;
}

/** The exact-resume state: the Deno Trainer's `Checkpoint` without its config, spec and records. */
export type PageCheckpoint = Omit<Checkpoint, "config" | "spec" | "records">;

interface Programs {
  full: StepProgram;
  last: StepProgram | null;
}

/** Codes the decoder program takes at once. */
const DECODE_BATCH = 64;

/** One model trained on one set of images, on one device. */
export class TrainSession {
  /** The settings it was made with. */
  readonly settings: PageSettings;
  /** The model config they resolve to. */
  readonly model: VaeConfig;
  /** The images. */
  readonly data: PageData;
  /** Parameters, gradients, Adam moments on the GPU. */
  readonly state: ModelState;
  /** The KL weight over steps. */
  readonly schedule: KlSchedule;
  /** Epoch in progress (0-based). */
  epoch = 0;
  /** Steps of the epoch in progress that are done. */
  stepInEpoch = 0;
  /** Optimizer steps done. */
  step = 0;
  readonly #gpu: Gpu;
  readonly #metrics: Tensor;
  readonly #testMetrics: Tensor;
  readonly #trainIndex: Tensor;
  readonly #sources: BatchSource[];
  readonly #train: Programs;
  readonly #test: Programs;
  readonly #clear: Dispatch;
  readonly #clearTest: Dispatch;
  #pendingSums: number[] | null = null;
  #orderEpoch = -1;
  #decode: DecodeProgram | null = null;

  private constructor(
    gpu: Gpu,
    settings: PageSettings,
    model: VaeConfig,
    data: PageData,
    state: ModelState,
    parts: {
      metrics: Tensor;
      testMetrics: Tensor;
      trainIndex: Tensor;
      sources: BatchSource[];
      train: Programs;
      test: Programs;
      clear: Dispatch;
      clearTest: Dispatch;
    },
  ) {
    this.#gpu = gpu;
    this.settings = settings;
    this.model = model;
    this.data = data;
    this.state = state;
    this.#metrics = parts.metrics;
    this.#testMetrics = parts.testMetrics;
    this.#trainIndex = parts.trainIndex;
    this.#sources = parts.sources;
    this.#train = parts.train;
    this.#test = parts.test;
    this.#clear = parts.clear;
    this.#clearTest = parts.clearTest;
    this.schedule = parseKlSchedule(settings["kl-schedule"], {
      beta: model.beta,
      totalSteps: settings.epochs * this.stepsPerEpoch,
    });
  }

  /**
   * Upload the images once, build every step program once, and start from the seeded initial
   * weights or from `resume`. Throws a one-line SettingsError for unusable settings.
   */
  static async create(
    gpu: Gpu,
    settings: PageSettings,
    data: PageData,
    resume?: PageCheckpoint,
  ): Promise<TrainSession> {
    checkSettings(settings, data.train.count);
    const d = gpu.device;
    const model = pageModelConfig(settings, data);
    const layout = vaeLayout(model);
    const state = new ModelState(gpu, layout, resume?.params ?? initParams(layout, model.seed));
    const source = (split: PageSplit, label: string) =>
      uploadSource(d, split.images, identityOrder(split.count), label);
    const trainSource = source(data.train, "train");
    const testSource = source(data.test, "test");
    const metrics = new Tensor(d, "f32", [METRIC.size], "train metrics");
    const testMetrics = new Tensor(d, "f32", [METRIC.size], "test metrics");
    const adam = { lr: settings.lr };
    const programs = async (src: BatchSource, n: number, acc: Tensor, train: boolean) => {
      const b = Math.min(settings.batch, n);
      const opt = train ? adam : undefined;
      const full = await buildVaeStep(gpu, model, state, src, acc, b, opt);
      const rest = n % b;
      const last = rest ? await buildVaeStep(gpu, model, state, src, acc, rest, opt) : null;
      return { full, last };
    };
    const s = new TrainSession(gpu, settings, model, data, state, {
      metrics,
      testMetrics,
      trainIndex: trainSource.index,
      sources: [trainSource, testSource],
      train: await programs(trainSource, data.train.count, metrics, true),
      test: await programs(testSource, data.test.count, testMetrics, false),
      clear: await clearSlots(gpu, { acc: metrics }),
      clearTest: await clearSlots(gpu, { acc: testMetrics }),
    });
    if (resume) {
      write(d, state.m, resume.m);
      write(d, state.v, resume.v);
      write(d, state.counter, [resume.step]);
      s.step = resume.step;
      s.epoch = resume.epoch;
      s.stepInEpoch = resume.stepInEpoch;
      s.#pendingSums = resume.sums.length ? resume.sums : null;
    }
    await gpu.sync();
    return s;
  }

  /** Steps in one epoch (the last may be a partial batch). */
  get stepsPerEpoch(): number {
    const n = this.data.train.count;
    return Math.ceil(n / Math.min(this.settings.batch, n));
  }

  /** Images in a full batch. */
  get batch(): number {
    return Math.min(this.settings.batch, this.data.train.count);
  }

  /** Optimizer steps in the whole run. */
  get totalSteps(): number {
    return this.settings.epochs * this.stepsPerEpoch;
  }

  /** True once every epoch is done. */
  get done(): boolean {
    return this.epoch >= this.settings.epochs;
  }

  /** The KL weight of optimizer step `step` (0-based). */
  klWeightAt(step: number): number {
    return klWeight(this.schedule, Math.max(0, step));
  }

  /**
   * Submit up to `n` training steps, one submit each, stopping at the end of the epoch; reads
   * nothing back. Returns how many were submitted (0 when the epoch or the run is over).
   */
  run(n: number): number {
    const d = this.#gpu.device;
    const steps = this.stepsPerEpoch, B = this.batch, N = this.data.train.count;
    if (this.done || this.stepInEpoch >= steps) return 0;
    if (this.#orderEpoch !== this.epoch) {
      // The epoch's order (keyed by seed and epoch alone), and its metric sums: carried over
      // by a resume, cleared at the epoch's first step.
      write(d, this.#trainIndex, epochOrder(N, this.settings.seed, this.epoch));
      if (this.#pendingSums) {
        const sums = this.#pendingSums.concat(new Array(METRIC.size).fill(0));
        write(d, this.#metrics, sums.slice(0, METRIC.size));
        this.#pendingSums = null;
      } else if (this.stepInEpoch === 0) {
        submit(d, [this.#clear], "clear metrics");
      }
      this.#orderEpoch = this.epoch;
    }
    let done = 0;
    while (done < n && this.stepInEpoch < steps) {
      const offset = this.stepInEpoch * B;
      const p = offset + B <= N ? this.#train.full : this.#train.last!;
      setBatchOffset(p, offset);
      if (this.schedule.kind !== "constant") {
        p.klBackward!.update("dims", { scale: this.klWeightAt(this.step) / p.batch });
      }
      submit(d, [p.gather, ...p.forward, ...p.backward]);
      this.stepInEpoch++;
      this.step++;
      done++;
    }
    return done;
  }

  /** True when the epoch in progress has run all its steps (call `finishEpoch`). */
  get epochComplete(): boolean {
    return this.stepInEpoch >= this.stepsPerEpoch;
  }

  /**
   * The epoch's mean training losses so far (one read of the metrics: a wait on the GPU).
   * Throws {@linkcode NonFiniteError} when a step saw NaN or Inf.
   */
  async progress(): Promise<PageLosses> {
    const m = await readback(this.#gpu.device, this.#metrics);
    if (m[METRIC.nonfinite] > 0) {
      const bad = m[METRIC.firstBadStep] - (this.step - this.stepInEpoch);
      throw new NonFiniteError(
        `the loss became NaN or Inf in epoch ${this.epoch + 1}, step ${bad} of ` +
          `${this.stepsPerEpoch}: try a lower learning rate or a tighter logvar clamp`,
      );
    }
    const seen = Math.min(this.stepInEpoch * this.batch, this.data.train.count);
    return this.#losses(m, Math.max(1, seen));
  }

  /**
   * End a completed epoch: its training losses and the held-out losses (one sample of z per
   * image, noise stream 1, as the Trainer's test pass); then the next epoch begins.
   */
  async finishEpoch(): Promise<{ train: PageLosses; test: PageLosses & { elbo: number } }> {
    if (!this.epochComplete) throw new Error("finishEpoch: the epoch has steps left");
    const train = await this.progress();
    const test = await this.evaluate();
    this.epoch++;
    this.stepInEpoch = 0;
    return { train, test };
  }

  /** Losses on the held-out images. Waits for the GPU. */
  async evaluate(): Promise<PageLosses & { elbo: number }> {
    const d = this.#gpu.device, N = this.data.test.count;
    const B = this.#test.full.batch;
    submit(d, [this.#clearTest], "clear test metrics");
    for (let offset = 0; offset < N; offset += B) {
      const p = offset + B <= N ? this.#test.full : this.#test.last!;
      setBatchOffset(p, offset);
      submit(d, [p.gather, ...p.forward], "test");
    }
    const m = await readback(d, this.#testMetrics);
    if (m[METRIC.nonfinite] > 0) throw new NonFiniteError("the test loss is NaN or Inf");
    const l = this.#losses(m, N);
    return { ...l, elbo: l.recon + l.kl };
  }

  /**
   * The first `n` held-out images and their reconstructions (the decoded means of one z
   * each), [n, F] each in [0, 1]. Waits for the GPU.
   */
  async reconstructions(n: number): Promise<{ originals: Float32Array; means: Float32Array }> {
    const d = this.#gpu.device, N = this.data.test.count;
    const count = Math.min(n, N), B = this.#test.full.batch;
    const F = this.data.rows * this.data.cols;
    const originals = new Float32Array(count * F), means = new Float32Array(count * F);
    for (let offset = 0; offset < count; offset += B) {
      const p = offset + B <= N ? this.#test.full : this.#test.last!;
      setBatchOffset(p, offset);
      submit(d, [p.gather, ...p.forward], "reconstructions");
      const k = Math.min(p.batch, count - offset);
      originals.set((await readback(d, p.tensors.x)).subarray(0, k * F), offset * F);
      const logits = (await readback(d, p.tensors.logits)).subarray(0, k * F);
      means.set(logits.map((l) => 1 / (1 + Math.exp(-l))), offset * F);
    }
    return { originals, means };
  }

  /** `n` samples from the prior N(0, I) (codes from `seed`), decoded to means [n, F]. */
  async samples(n: number, seed: number): Promise<Float32Array> {
    const d = this.#gpu.device, Z = this.model.z;
    this.#decode ??= await buildVaeDecode(this.#gpu, this.model, this.state, DECODE_BATCH);
    const program = this.#decode;
    const F = program.mean.length / DECODE_BATCH;
    const codes = priorSample(n * Z, seed), out = new Float32Array(n * F);
    for (let i = 0; i < n; i += DECODE_BATCH) {
      const k = Math.min(DECODE_BATCH, n - i);
      const part = new Float32Array(DECODE_BATCH * Z);
      part.set(codes.subarray(i * Z, (i + k) * Z));
      write(d, program.z, part);
      submit(d, program.dispatches, "decode");
      out.set((await readback(d, program.mean)).subarray(0, k * F), i * F);
    }
    return out;
  }

  /** Mean KL of each latent dimension over the first `n` held-out images, nats. */
  async klPerDim(n: number): Promise<number[]> {
    const t = this.data.test, count = Math.min(n, t.count);
    const F = this.data.rows * this.data.cols;
    const split = { images: t.images.subarray(0, count * F), labels: null, count };
    const stats = await latentStats(this.#gpu, this.model, this.state, split, 256);
    return stats.klPerDim;
  }

  /** The full state at the current step boundary, for a download. Waits for the GPU. */
  async checkpoint(): Promise<PageCheckpoint> {
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
    };
  }

  /** Free the GPU buffers of the data, the state and the step programs (the device stays). */
  destroy(): void {
    for (const p of [this.#train, this.#test]) {
      destroyProgram(p.full);
      if (p.last) destroyProgram(p.last);
    }
    // The decoder program (64 codes' activations) names only its input and output: its buffers
    // go with the garbage collector.
    this.#decode = null;
    this.#sources.forEach(destroySource);
    for (const t of [this.#metrics, this.#testMetrics]) t.destroy();
    this.state.destroy();
  }

  #losses(m: Float32Array, count: number): PageLosses {
    const recon = m[METRIC.recon] / count, kl = m[METRIC.kl] / count;
    return { recon, kl, total: recon + this.klWeightAt(this.step - 1) * kl };
  }
}
