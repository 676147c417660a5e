/**
 * The collapse diagnostics of an epoch, as the trainer records them and the report draws them.
 * A module of its own so that the trainer (which records them) and the report (which reads the
 * trainer's records) do not import each other.
 */

import type { Range } from "./figures.ts";

/**
 * Collapse diagnostics of one epoch, over the test set after the epoch's training (to be
 * stored in EpochRecord as `diagnostics?: EpochDiagnostics`, so it lands in metrics.jsonl).
 * src/eval/metrics.ts's `LatentStats` is one (the same fields).
 */
export interface EpochDiagnostics {
  /** Mean over the test set of each latent dimension's KL term, nats: [Z]. */
  klPerDim: number[];
  /** Dimensions whose posterior mean varies over the test set (Var_x mu_d > 0.01). */
  activeUnits: number;
  /** Min, mean and max of mu over the test set and all dimensions. */
  mu: Range;
  /** Min, mean and max of sigma = exp(logvar / 2) over the test set and all dimensions. */
  sigma: Range;
  /** Variance over the test set of each dimension's posterior mean: [Z] (not plotted). */
  muVariance?: number[];
}
