/**
 * From the flags to the model: the VaeConfig a TrainConfig and a dataset's example shape give.
 * Every model fact the flags do not name (the LeakyReLU slope per family, the default z) is
 * decided here once.
 */

import type { Split } from "../data/split.ts";
import type { VaeConfig } from "../vae/model.ts";
import { conditionSize, fitCondition } from "../vae/condition.ts";
import { defaultZ, type TrainConfig } from "./defaults.ts";

/**
 * The model config of a training config and a dataset (its example shape; for a conditional
 * model its classes or training lengths, which fix the condition's encoding).
 */
export function modelConfig(
  c: TrainConfig,
  data: { rows: number; cols: number; features: number; classes?: number; train?: Split },
): VaeConfig {
  const condition = c.condition === undefined || c.condition === "none"
    ? undefined
    : fitCondition(c.condition, { classes: data.classes ?? 0, train: data.train! });
  const common = {
    // z = 0 (DEFAULTS) is the model's own default: 16 for conv (DESIGN.md), 20 for mlp.
    z: c.z || defaultZ(c.model),
    recon: c.recon,
    reconWeight: c["recon-weight"],
    // Values per point (3 for streamlines): the error differences are taken point to point.
    reconSmooth: c["recon-smooth"] > 0
      ? { weight: c["recon-smooth"], stride: data.features / (data.rows * data.cols) }
      : undefined,
    beta: c.ae ? 0 : c.beta,
    logvarClamp: c["logvar-clamp"],
    seed: c.seed,
    freeBits: c["free-bits"],
    // Only when not 1, so a default run's model config (and spec) is as before.
    ...((c["eps-std"] ?? 1) !== 1 ? { epsStd: c["eps-std"] } : {}),
    conditions: conditionSize(condition),
    condition,
    prior: condition && c.prior === "learned" ? { hidden: c["prior-hidden"] ?? [64] } : undefined,
    ...(c.regression > 0
      ? { regression: { hidden: c["regression-hidden"] ?? [64], weight: c.regression } }
      : {}),
  };
  if (c.model === "mlp") return { ...common, kind: "mlp", inputs: data.features, hidden: c.hidden };
  return {
    ...common,
    kind: "conv",
    height: data.rows,
    width: data.cols,
    channels: data.features / (data.rows * data.cols),
    filters: c.filters,
    kernels: c.kernels,
    strides: c.strides,
    decoderFilters: c["decoder-filters"],
    decoderKernels: c["decoder-kernels"],
    decoderStrides: c["decoder-strides"],
    batchnorm: c.batchnorm === "on",
    upsample: c.upsample,
    // The streamlines model uses ReLU (the tractography seeds); the image model LeakyReLU.
    leak: c.model === "streamlines" ? 0 : 0.2,
  };
}
