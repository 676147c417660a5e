/**
 * The training settings and their defaults, with no Deno API, so that the browser training
 * page (src/web/train/) reads the same defaults and model mapping as the CLI. Parsing and
 * validation of flags and run folders stay in config.ts.
 */

import { CONV_DEFAULTS } from "../vae/conv_vae.ts";

/** Everything a training run is set up with (the resolved config written to the run folder). */
export interface TrainConfig {
  /** Dataset spec: embedded, fashion-mnist, mnist, idx:IMAGES[,LABELS]. */
  dataset: string;
  /** Folder holding the IDX files (fashion-mnist, mnist). */
  "data-dir": string;
  /** Model family: `streamlines` is the conv family over 1-D point sequences. */
  model: "mlp" | "conv" | "streamlines";
  /** Conditional VAE: condition on the class label or a streamline's length. */
  condition: "none" | "label" | "length";
  /** Prior of a conditional model: N(0, I), or a learned p(z | c) (Sohn et al. 2015). */
  prior: "standard" | "learned";
  /** Hidden widths of the learned prior's network c -> hidden -> [mean | logvar]. */
  "prior-hidden": number[];
  /** Hidden widths of the MLP encoder (the decoder mirrors them). */
  hidden: number[];
  /** conv: encoder Conv2d channels per layer. */
  filters: number[];
  /** conv: encoder kernel sizes. */
  kernels: number[];
  /** conv: encoder strides. */
  strides: number[];
  /** conv: decoder ConvTranspose2d channels per layer (the last = image channels). */
  "decoder-filters": number[];
  /** conv: decoder kernel sizes. */
  "decoder-kernels": number[];
  /** conv: decoder strides. */
  "decoder-strides": number[];
  /** conv: batch norm after each conv but the last. */
  batchnorm: "on" | "off";
  /** conv, sequences: how stride-2 decoder layers upsample (transposed conv, or linear + conv). */
  upsample: "transposed" | "linear";
  /** Latent dimensions (0 in DEFAULTS: the model's own default, 20 for mlp, 16 for conv). */
  z: number;
  /** Passes over the training set. */
  epochs: number;
  /** Examples per step. */
  batch: number;
  /** Adam learning rate. */
  lr: number;
  /** KL weight (the cap of a schedule). */
  beta: number;
  /** KL weight over steps: constant, linear:START:LENGTH, cyclical:CYCLES:RATIO. */
  "kl-schedule": string;
  /** Per-dimension KL floor in nats (free bits); 0 = off. */
  "free-bits": number;
  /** Plain autoencoder: KL weight 0 whatever beta and the schedule say. */
  ae: boolean;
  /** Reconstruction likelihood. */
  recon: "bce" | "mse";
  /** Weight of the reconstruction term. */
  "recon-weight": number;
  /**
   * streamlines, mse: weight of the squared differences of consecutive points' errors (a
   * Gaussian whose errors are smooth along the streamline); 0 = plain mse.
   */
  "recon-smooth": number;
  /** Clamp of logvar before exp: [lo, hi]. */
  "logvar-clamp": [number, number];
  /** Seed of weights, shuffling and noise. */
  seed: number;
  /**
   * Standard deviation of eps in training's reparameterization z = mu + sigma eps (seed 001's
   * hyperparameter); 1 is the usual VAE. Evaluation and sampling always draw eps ~ N(0, I).
   */
  "eps-std": number;
  /** Also keep the weights of every Nth epoch as model-epoch-NNNN.safetensors; 0 = off. */
  "keep-every": number;
  /**
   * A regression VAE (src/vae/regression.ts): weight of the loss of the encoder's prediction
   * of the length condition; its learned prior reads the prediction. 0 = off.
   */
  regression: number;
  /** The regression head's hidden widths. */
  "regression-hidden": number[];
  /** Run folder. */
  out: string;
  /**
   * GPU memory for each data split, MiB (0: the adapter's largest storage binding). A split
   * above it is streamed in windows of steps (src/train/stream.ts); the results are the same.
   * The training split's windows come from disk shards, the test split's from host memory.
   */
  "gpu-data-mb": number;
}

/** Defaults: the `mlp` reference model of DESIGN.md on the embedded data. */
export const DEFAULTS: TrainConfig = {
  dataset: "embedded",
  "data-dir": "",
  model: "mlp",
  condition: "none",
  prior: "standard",
  "prior-hidden": [64],
  hidden: [512, 512],
  filters: [...CONV_DEFAULTS.filters],
  kernels: [...CONV_DEFAULTS.kernels],
  strides: [...CONV_DEFAULTS.strides],
  "decoder-filters": [...CONV_DEFAULTS.decoderFilters],
  "decoder-kernels": [...CONV_DEFAULTS.decoderKernels],
  "decoder-strides": [...CONV_DEFAULTS.decoderStrides],
  batchnorm: "on",
  upsample: "transposed",
  z: 0,
  epochs: 10,
  batch: 128,
  lr: 1e-3,
  beta: 1,
  "kl-schedule": "constant",
  "free-bits": 0,
  ae: false,
  recon: "bce",
  "recon-weight": 1,
  "recon-smooth": 0,
  "logvar-clamp": [-30, 20],
  seed: 1,
  "eps-std": 1,
  "keep-every": 0,
  regression: 0,
  "regression-hidden": [64],
  out: "",
  "gpu-data-mb": 0,
};

/**
 * The `streamlines` model (issue 8, after the tractography seeds): Conv1d kernel 3 stride 2
 * with channels doubling, each followed by batch norm and ReLU, over 256 points x 3; z 32;
 * dense back to 16 x 128 and transposed Conv1d up to 256 x 3; Gaussian (MSE) loss. The
 * MSE is a sum over 768 normalized coordinates whose typical error is ~1e-2, so beta is
 * small: with beta 1 the KL term outweighs the reconstruction and the posterior collapses.
 */
export const STREAMLINE_DEFAULTS: Partial<TrainConfig> = {
  dataset: "phantom",
  filters: [16, 32, 64, 128],
  kernels: [3, 3, 3, 3],
  strides: [2, 2, 2, 2],
  "decoder-filters": [64, 32, 16, 3],
  "decoder-kernels": [3, 3, 3, 3],
  "decoder-strides": [2, 2, 2, 2],
  z: 32,
  recon: "mse",
  beta: 0.001,
  epochs: 30,
};

/**
 * Presets (`--preset NAME`): settings a flag or the `--config` file did not set, applied
 * before validation; the resolved config records the values, not the preset's name.
 *
 * `faces64`: the colour conv VAE of the seed book's faces chapter (seed 003's model moved to
 * 64x64 RGB): encoder Conv2d filters 32, 64, 64, 64, kernel 3, strides 2, 2, 2, 2 (64 -> 4),
 * each with batch norm and LeakyReLU(0.2); flatten 4x4x64 -> z 200; the decoder mirrored,
 * dense 200 -> 4x4x64, ConvTranspose2d filters 64, 64, 32, 3, strides 2, 2, 2, 2, logits for
 * the three channels. Dropout is not used (none is implemented). Meant for 64x64 RGB data:
 * `--dataset shapes-rgb` or `images:DIR:64x64:rgb`; other sizes work if they divide by 16.
 */
export const PRESETS: Record<string, Partial<TrainConfig>> = {
  faces64: {
    model: "conv",
    filters: [32, 64, 64, 64],
    kernels: [3, 3, 3, 3],
    strides: [2, 2, 2, 2],
    "decoder-filters": [64, 64, 32, 3],
    "decoder-kernels": [3, 3, 3, 3],
    "decoder-strides": [2, 2, 2, 2],
    batchnorm: "on",
    z: 200,
  },
};

/** A model family's latent size when --z is 0. */
export function defaultZ(model: TrainConfig["model"]): number {
  return model === "conv" ? CONV_DEFAULTS.z : model === "streamlines" ? 32 : 20;
}
