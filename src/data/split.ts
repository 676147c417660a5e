/**
 * One split of a dataset, as the trainer and the model read it. Kept apart from datasets.ts,
 * which reads files through Deno, so that code bundled for the browser can name it.
 */

/** One split of a dataset. */
export interface Split {
  /**
   * `count x features` values, row-major, one example after another: pixel bytes (u8), or
   * for a streamline dataset normalized coordinates (f32, x y z per point).
   */
  images: Uint8Array | Float32Array;
  /** One label per example (class, or a streamline's bundle), or null when unlabelled. */
  labels: Uint8Array | null;
  /** Number of examples. */
  count: number;
  /** Streamlines only: each one's arc length in millimetres before resampling. */
  lengths?: Float32Array;
  /**
   * When set, the examples live here (on disk: src/data/shards.ts) and `images` may be empty
   * (of the same type); only a streamed training split (src/train/stream.ts) reads them.
   */
  onDisk?: ExampleSource;
}

/** A split's examples held outside host memory, read by index. */
export interface ExampleSource {
  /** Bytes per example. */
  readonly exampleBytes: number;
  /** Copy examples `order[lo]`, ..., `order[hi - 1]` one after another into `dst`. */
  read(order: Uint32Array, lo: number, hi: number, dst: Uint8Array): void;
}
