/**
 * A training split kept on disk as shards, for runs whose split is over the GPU budget
 * (`--gpu-data-mb`, src/train/stream.ts): the streamed trainer reads each window's examples
 * from these files instead of from host memory.
 *
 * An entry is a folder `KEY/` in the shard cache holding `shard-00000.bin`, `shard-00001.bin`,
 * ... (each up to `examplesPerShard` examples of `exampleBytes` bytes, one after another, as
 * the split stores them: u8 pixels, or f32 values for streamlines) and `index.json` (the
 * counts). KEY is a SHA-256 over the split's bytes and shape, so the same data finds its
 * shards again (a resume, a second run) and other data never does. The folder is written
 * under a temporary name and renamed into place whole, so a reader never sees half an entry;
 * an entry whose files do not have the sizes its index says is rebuilt.
 *
 * Reads are positioned reads of whole examples (one seek and read per example, sorted by
 * position within a window), so any order the epoch's permutation asks for costs the same.
 *
 * The shard cache is `$WEBGPU_VAE_CACHE/shards` when that is set, else `runs/.cache/shards`.
 * Needs --allow-read, and --allow-write there.
 */

import { cacheKey } from "./image_cache.ts";
import type { ExampleSource } from "./split.ts";

/** Bumped when the layout of an entry changes. */
export const SHARD_VERSION = 1;

/** Shard files hold at most this many bytes by default (64 MiB). */
export const SHARD_BYTES = 64 * 1024 * 1024;

/** What `index.json` holds. */
export interface ShardIndex {
  /** {@link SHARD_VERSION} when written. */
  version: number;
  /** Examples in the split. */
  count: number;
  /** Bytes per example. */
  exampleBytes: number;
  /** Examples per shard file (the last one may hold fewer). */
  examplesPerShard: number;
  /** Number of shard files. */
  shards: number;
}

/** The default shard cache: `$WEBGPU_VAE_CACHE/shards`, else `runs/.cache/shards`. */
export function defaultShardDir(): string {
  try {
    const env = Deno.env.get("WEBGPU_VAE_CACHE");
    if (env) return `${env}/shards`;
  } catch { /* no --allow-env: the default */ }
  return "runs/.cache/shards";
}

const shardName = (i: number) => `shard-${String(i).padStart(5, "0")}.bin`;

/** The entry's name: a hex SHA-256 (cacheKey) over the split's shape and its bytes' digest. */
async function splitKey(bytes: Uint8Array, count: number, exampleBytes: number): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>),
  );
  return await cacheKey({ SHARD_VERSION, count, exampleBytes, bytes: Array.from(digest) });
}

/** The index of the entry at `path` when it is whole (every shard the size it should be), else null. */
async function wholeIndex(path: string): Promise<ShardIndex | null> {
  try {
    const index = JSON.parse(await Deno.readTextFile(`${path}/index.json`)) as ShardIndex;
    if (index.version !== SHARD_VERSION) return null;
    for (let i = 0; i < index.shards; i++) {
      const n = Math.min(index.examplesPerShard, index.count - i * index.examplesPerShard);
      if ((await Deno.stat(`${path}/${shardName(i)}`)).size !== n * index.exampleBytes) return null;
    }
    return index;
  } catch {
    return null;
  }
}

/** Options of {@linkcode writeShards}. */
export interface ShardOptions {
  /** The shard cache folder (default {@linkcode defaultShardDir}). */
  dir?: string;
  /** Bytes per shard file at most (default {@link SHARD_BYTES}); at least one example each. */
  shardBytes?: number;
}

/**
 * Put a split's examples on disk as shards (or find them there from an earlier run) and open
 * them for reading.
 *
 * @param values the split, `count` examples one after another (u8 or f32)
 * @param count number of examples
 * @returns the reader and where the entry is
 */
export async function writeShards(
  values: Uint8Array | Float32Array,
  count: number,
  options: ShardOptions = {},
): Promise<{ reader: ShardReader; path: string; reused: boolean }> {
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  if (count < 1 || bytes.length % count) {
    throw new Error(`shards: ${bytes.length} bytes are not ${count} whole examples`);
  }
  const exampleBytes = bytes.length / count;
  const dir = options.dir ?? defaultShardDir();
  const path = `${dir}/${await splitKey(bytes, count, exampleBytes)}`;
  const found = await wholeIndex(path);
  if (found) return { reader: new ShardReader(path, found), path, reused: true };

  const per = Math.max(1, Math.floor((options.shardBytes ?? SHARD_BYTES) / exampleBytes));
  const index: ShardIndex = {
    version: SHARD_VERSION,
    count,
    exampleBytes,
    examplesPerShard: per,
    shards: Math.ceil(count / per),
  };
  const tag = crypto.getRandomValues(new Uint32Array(1))[0].toString(16);
  const tmp = `${path}.tmp-${Deno.pid}-${tag}`;
  await Deno.mkdir(tmp, { recursive: true });
  try {
    for (let i = 0; i < index.shards; i++) {
      const lo = i * per * exampleBytes;
      const file = await Deno.open(`${tmp}/${shardName(i)}`, { write: true, create: true });
      try {
        const part = bytes.subarray(lo, Math.min(bytes.length, lo + per * exampleBytes));
        for (let at = 0; at < part.length;) at += await file.write(part.subarray(at));
        await file.sync();
      } finally {
        file.close();
      }
    }
    await Deno.writeTextFile(`${tmp}/index.json`, JSON.stringify(index));
    // A stale or broken entry under the name is replaced; a whole one written meanwhile by
    // another run is kept (same key, same bytes).
    if (await wholeIndex(path)) {
      await Deno.remove(tmp, { recursive: true });
    } else {
      await Deno.remove(path, { recursive: true }).catch(() => {});
      await Deno.rename(tmp, path);
    }
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw e;
  }
  return { reader: new ShardReader(path, index), path, reused: false };
}

/** Reads examples from an entry written by {@linkcode writeShards}. */
export class ShardReader implements ExampleSource {
  /** Bytes per example. */
  readonly exampleBytes: number;
  /** Examples in the split. */
  readonly count: number;
  /** Bytes read from disk so far (for tests and benchmarks). */
  bytesRead = 0;
  readonly #path: string;
  readonly #per: number;
  readonly #files: (Deno.FsFile | undefined)[];

  /**
   * @param path the entry's folder
   * @param index its index.json
   */
  constructor(path: string, index: ShardIndex) {
    this.#path = path;
    this.exampleBytes = index.exampleBytes;
    this.count = index.count;
    this.#per = index.examplesPerShard;
    this.#files = new Array(index.shards);
  }

  /**
   * Copy examples `order[lo]`, ..., `order[hi - 1]` one after another into `dst`, reading them
   * in the order they lie on disk.
   */
  read(order: Uint32Array, lo: number, hi: number, dst: Uint8Array): void {
    const E = this.exampleBytes;
    const slots = Array.from({ length: hi - lo }, (_, j) => j);
    slots.sort((a, b) => order[lo + a] - order[lo + b]);
    for (const j of slots) {
      const e = order[lo + j];
      if (e >= this.count) throw new Error(`shards: example ${e} of ${this.count}`);
      const s = Math.floor(e / this.#per);
      const file = this.#files[s] ??= Deno.openSync(`${this.#path}/${shardName(s)}`);
      file.seekSync((e - s * this.#per) * E, Deno.SeekMode.Start);
      const out = dst.subarray(j * E, (j + 1) * E);
      for (let at = 0; at < E;) {
        const n = file.readSync(out.subarray(at));
        if (n === null || n === 0) {
          throw new Error(`shards: ${this.#path}/${shardName(s)} ends early`);
        }
        at += n;
      }
      this.bytesRead += E;
    }
  }

  /** Close the shard files. */
  close(): void {
    for (const f of this.#files) f?.close();
    this.#files.fill(undefined);
  }
}
