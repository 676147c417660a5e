/**
 * The training page's settings: the `deno task train` flags the page offers, under the same
 * names and with the same defaults (src/train/config.ts's DEFAULTS; tests/train_page_test.ts
 * checks that they agree), the model config they resolve to (what the Deno trainer's
 * `modelConfig` makes of them) and the `config.json` a downloaded run carries, which
 * `deno task train --resume` reads.
 *
 * No Deno API (the page bundles it), and none of src/train/config.ts either: that module
 * reads files, so page code cannot import it; the shared keys are repeated here and tested.
 */

import { DEFAULTS, type TrainConfig } from "../../train/defaults.ts";
import { modelConfig } from "../../train/model_config.ts";
import type { VaeConfig } from "../../vae/model.ts";
import { parseKlSchedule } from "../../train/schedule.ts";

/** The training flags the page offers (a subset of TrainConfig, same keys, same meaning). */
export interface PageSettings {
  /** Model family. */
  model: "mlp" | "conv";
  /** mlp: hidden widths of the encoder (the decoder mirrors them). */
  hidden: number[];
  /** conv: encoder channels per layer. */
  filters: number[];
  /** conv: encoder kernel sizes. */
  kernels: number[];
  /** conv: encoder strides. */
  strides: number[];
  /** conv: decoder channels per layer (the last = image channels, 1). */
  "decoder-filters": number[];
  /** conv: decoder kernel sizes. */
  "decoder-kernels": number[];
  /** conv: decoder strides. */
  "decoder-strides": number[];
  /** conv: batch norm after each conv but the last. */
  batchnorm: "on" | "off";
  /** Latent dimensions (0: the family's default, 20 for mlp, 16 for conv). */
  z: number;
  /** Passes over the training set. */
  epochs: number;
  /** Examples per step. */
  batch: number;
  /** Adam learning rate. */
  lr: number;
  /** KL weight (the cap of a schedule). */
  beta: number;
  /** constant | linear:START:LENGTH | cyclical:CYCLES:RATIO. */
  "kl-schedule": string;
  /** Per-dimension KL floor in nats; 0 = off. */
  "free-bits": number;
  /** Clamp of logvar before exp. */
  "logvar-clamp": [number, number];
  /** Seed of weights, shuffling and noise. */
  seed: number;
}

/** The CLI's defaults for the keys above (DESIGN.md's mlp model, batch 128, Adam 1e-3). */
export const PAGE_DEFAULTS: PageSettings = {
  model: "mlp",
  hidden: [...DEFAULTS.hidden],
  filters: [...DEFAULTS.filters],
  kernels: [...DEFAULTS.kernels],
  strides: [...DEFAULTS.strides],
  "decoder-filters": [...DEFAULTS["decoder-filters"]],
  "decoder-kernels": [...DEFAULTS["decoder-kernels"]],
  "decoder-strides": [...DEFAULTS["decoder-strides"]],
  batchnorm: DEFAULTS.batchnorm,
  z: DEFAULTS.z,
  epochs: DEFAULTS.epochs,
  batch: DEFAULTS.batch,
  lr: DEFAULTS.lr,
  beta: DEFAULTS.beta,
  "kl-schedule": DEFAULTS["kl-schedule"],
  "free-bits": DEFAULTS["free-bits"],
  "logvar-clamp": [...DEFAULTS["logvar-clamp"]],
  seed: DEFAULTS.seed,
};

/** A setting the page cannot use: one line naming it. */
export class SettingsError extends Error {
  /**
   * Make the error.
   * @param message one line: the setting and what is wrong
   */
  constructor(message: string) {
    super(message);
    this.name = "SettingsError";
  }
}

/** The image geometry a model is built for. */
export interface ImageShape {
  /** Image rows. */
  rows: number;
  /** Image columns. */
  cols: number;
}

/**
 * Throws a {@linkcode SettingsError} unless every setting is usable: positive integers where
 * counts are asked, lists of equal length for a conv model, a KL schedule that parses.
 */
export function checkSettings(s: PageSettings, trainCount: number): void {
  const int = (name: string, v: number, min: number) => {
    if (!Number.isInteger(v) || v < min) {
      throw new SettingsError(`${name} must be an integer >= ${min}, is ${v}`);
    }
  };
  const num = (name: string, v: number, ok: boolean) => {
    if (!Number.isFinite(v) || !ok) throw new SettingsError(`${name}: ${v} is out of range`);
  };
  int("z", s.z, 0);
  int("epochs", s.epochs, 1);
  int("batch", s.batch, 1);
  int("seed", s.seed, 0);
  num("lr", s.lr, s.lr > 0);
  num("beta", s.beta, s.beta >= 0);
  num("free-bits", s["free-bits"], s["free-bits"] >= 0);
  const [lo, hi] = s["logvar-clamp"];
  if (!(lo < hi)) throw new SettingsError(`logvar-clamp: ${lo},${hi} is not LO < HI`);
  const list = (name: keyof PageSettings, v: number[], min: number) => {
    if (v.length === 0) throw new SettingsError(`${name}: give at least one value`);
    v.forEach((x) => int(name, x, min));
  };
  if (s.model === "mlp") list("hidden", s.hidden, 1);
  else {
    list("filters", s.filters, 1);
    list("kernels", s.kernels, 1);
    list("strides", s.strides, 1);
    list("decoder-filters", s["decoder-filters"], 1);
    list("decoder-kernels", s["decoder-kernels"], 1);
    list("decoder-strides", s["decoder-strides"], 1);
    const n = s.filters.length, m = s["decoder-filters"].length;
    if (s.kernels.length !== n || s.strides.length !== n) {
      throw new SettingsError(`filters, kernels and strides need one value per layer each`);
    }
    if (s["decoder-kernels"].length !== m || s["decoder-strides"].length !== m) {
      throw new SettingsError(
        `decoder-filters, decoder-kernels and decoder-strides need one value per layer each`,
      );
    }
  }
  const steps = Math.ceil(trainCount / Math.min(s.batch, trainCount));
  try {
    parseKlSchedule(s["kl-schedule"], { beta: s.beta, totalSteps: s.epochs * steps });
  } catch (e) {
    throw new SettingsError((e as Error).message);
  }
}

/**
 * The model config of `s` for images of `shape`: what src/train/trainer.ts's `modelConfig`
 * makes of the same flags (unconditional, Bernoulli likelihood, recon weight 1), key for key.
 */
export function pageModelConfig(s: PageSettings, shape: ImageShape): VaeConfig {
  // The page's settings over the CLI's defaults, with the keys the page fixes (unconditional,
  // Bernoulli, recon weight 1, transposed upsampling): the CLI's own mapping from flags.
  const config: TrainConfig = {
    ...DEFAULTS,
    ...s,
    hidden: [...s.hidden],
    "logvar-clamp": [...s["logvar-clamp"]] as [number, number],
    condition: "none",
    recon: "bce",
    "recon-weight": 1,
    "recon-smooth": 0,
    upsample: "transposed",
    ae: false,
    "eps-std": 1,
    regression: 0,
  };
  return modelConfig(config, {
    rows: shape.rows,
    cols: shape.cols,
    features: shape.rows * shape.cols,
  });
}

/**
 * The `config.json` of a run trained on the page (without its `spec`, which the caller adds):
 * every setting, plus the keys the page fixes (no condition, bce, recon weight 1, ...), so
 * `deno task train --resume` rebuilds the same model on the dataset `dataset` (a dataset
 * spec: "embedded", or "idx:PATH" for images the user brought).
 */
export function runConfig(s: PageSettings, dataset: string, out: string): Record<string, unknown> {
  return {
    dataset,
    "data-dir": "",
    model: s.model,
    condition: "none",
    prior: "standard",
    "prior-hidden": [64],
    hidden: [...s.hidden],
    filters: [...s.filters],
    kernels: [...s.kernels],
    strides: [...s.strides],
    "decoder-filters": [...s["decoder-filters"]],
    "decoder-kernels": [...s["decoder-kernels"]],
    "decoder-strides": [...s["decoder-strides"]],
    batchnorm: s.batchnorm,
    upsample: "transposed",
    z: s.z,
    epochs: s.epochs,
    batch: s.batch,
    lr: s.lr,
    beta: s.beta,
    "kl-schedule": s["kl-schedule"],
    "free-bits": s["free-bits"],
    ae: false,
    recon: "bce",
    "recon-weight": 1,
    "recon-smooth": 0,
    "logvar-clamp": [...s["logvar-clamp"]],
    seed: s.seed,
    out,
  };
}
