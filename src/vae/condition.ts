/**
 * What a conditional VAE is conditioned on, and the condition rows it reads: a class label
 * as a one-hot of K values, or a streamline's length as one standardized value
 * (length - mean) / std, with mean and std taken from the training split so that asked
 * lengths in millimetres map the same way at sampling time.
 *
 * Legend: N examples, C condition values per example.
 */

import type { Split } from "../data/split.ts";
import { type BatchSource, uploadSource } from "./source.ts";

/** A conditional model's condition: a class label, or a streamline's length in mm. */
export type Condition =
  | { kind: "label"; classes: number }
  | { kind: "length"; mean: number; std: number };

/** Values per example C of a condition (0 for none). */
export function conditionSize(c: Condition | undefined): number {
  if (!c) return 0;
  return c.kind === "label" ? c.classes : 1;
}

/**
 * Condition rows [n, C] for asked values: class labels (integers in [0, K)) or lengths in
 * millimetres. A label out of range is an error naming the valid ones.
 */
export function conditionRows(c: Condition, asked: ArrayLike<number>): Float32Array {
  const n = asked.length;
  if (c.kind === "length") return Float32Array.from(asked, (v) => (v - c.mean) / c.std);
  const rows = new Float32Array(n * c.classes);
  for (let i = 0; i < n; i++) {
    const k = asked[i];
    if (!Number.isInteger(k) || k < 0 || k >= c.classes) {
      throw new Error(`class ${k} is not one of the model's classes 0..${c.classes - 1}`);
    }
    rows[i * c.classes + k] = 1;
  }
  return rows;
}

/** A split's condition rows [N, C]: its labels or its streamlines' lengths. */
export function splitConditions(c: Condition, split: Split): Float32Array {
  if (c.kind === "label") {
    if (!split.labels) throw new Error("--condition label needs a labelled dataset");
    return conditionRows(c, split.labels);
  }
  if (!split.lengths) {
    throw new Error("--condition length needs a streamline dataset (phantom, streamlines:PATH)");
  }
  return conditionRows(c, split.lengths);
}

/** The condition of `kind` fitted to a training split (classes, or length mean and std). */
export function fitCondition(
  kind: "label" | "length",
  data: { classes: number; train: Split },
): Condition {
  if (kind === "label") {
    if (data.classes < 2) {
      throw new Error("--condition label needs a dataset with labels of at least 2 classes");
    }
    return { kind, classes: data.classes };
  }
  const l = data.train.lengths;
  if (!l || l.length === 0) {
    throw new Error(
      "--condition length needs a streamline dataset (phantom, streamlines:PATH, dipy-bundles)",
    );
  }
  let mean = 0;
  for (const v of l) mean += v / l.length;
  let v2 = 0;
  for (const v of l) v2 += (v - mean) ** 2 / l.length;
  return { kind, mean, std: Math.sqrt(v2) || 1 };
}

/**
 * Upload a split with an example order as a batch source, with its condition rows when the
 * model is conditional.
 */
export function splitSource(
  device: GPUDevice,
  condition: Condition | undefined,
  split: Split,
  order: Uint32Array,
  label: string,
): BatchSource {
  const cond = condition ? splitConditions(condition, split) : undefined;
  return uploadSource(device, split.images, order, label, cond);
}
