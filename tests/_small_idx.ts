/** The small IDX files the CLI tests train on, cut from the embedded Fashion-MNIST subset. */
import type { Dataset } from "../src/data/dataset.ts";
import { encodeIdx } from "../src/data/idx.ts";

/** The first n training images of `data` (28 x 28 bytes each) as an IDX file. */
export function smallIdx(data: Dataset, n: number): Uint8Array {
  return encodeIdx({
    type: "u8",
    dims: [n, 28, 28],
    data: (data.train.images as Uint8Array).subarray(0, n * 784),
  });
}
