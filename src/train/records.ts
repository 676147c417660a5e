/**
 * What training records and reports, in nats per example: the loss terms, one line of
 * metrics.jsonl per epoch, and the progress a few times an epoch.
 */

import type { EpochDiagnostics } from "../eval/diagnostics.ts";

/** Loss terms in nats per example. */
export interface Losses {
  /** Reconstruction term. */
  recon: number;
  /** KL term. */
  kl: number;
  /** recon-weight * recon + (KL weight) * kl: what is minimised. */
  total: number;
}

/** One line of metrics.jsonl. */
export interface EpochRecord {
  /** 1-based epoch number. */
  epoch: number;
  /** Optimizer steps completed. */
  step: number;
  /** Training losses averaged over the epoch's examples. */
  train: Losses;
  /** Losses on the held-out set; `elbo` is recon + kl, the negative ELBO. */
  test: Losses & { elbo: number };
  /** KL weight at the epoch's last step (0 for --ae). */
  beta: number;
  /** KL weight averaged over the epoch's steps (differs from beta while a schedule ramps). */
  betaMean: number;
  /** Collapse diagnostics over the test set after the epoch (added by the train task). */
  diagnostics?: EpochDiagnostics;
  /** Wall seconds of the epoch's training steps. */
  seconds: number;
  /** Training throughput. */
  imagesPerSecond: number;
}

/** A progress report, a few times per epoch. */
export interface Progress {
  /** 0-based epoch. */
  epoch: number;
  /** Epochs in the run. */
  epochs: number;
  /** Steps done in this epoch. */
  step: number;
  /** Steps in an epoch. */
  steps: number;
  /** Mean training losses of the epoch so far. */
  losses: Losses;
  /** Images per second since the epoch began. */
  imagesPerSecond: number;
  /** Seconds left in the run, estimated. */
  eta: number;
}
