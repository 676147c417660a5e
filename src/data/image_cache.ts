/**
 * The decoded-image cache: an image folder is decoded and resized once, and the result kept
 * as two files in a cache folder, `KEY.u8` (every image's bytes, train split then test split)
 * and `KEY.json` (shape, labels, file names, the files that were skipped). KEY is a SHA-256
 * over the folder's listing (each file's relative path, size and modification time) and the
 * settings that change the bytes (size, fit, colour), so touching, adding or removing a file,
 * or changing a setting, makes a new entry; a second run with nothing changed reads the bytes
 * back at once.
 *
 * The cache folder is `$WEBGPU_VAE_CACHE` when set, else `runs/.cache/images` (inside the
 * folder `deno task train` may write). A cache that cannot be written is a warning, never a
 * failure; an entry that does not read back whole is ignored and rebuilt.
 */

import { writeFileAtomic } from "../io/atomic.ts";

/** Bumped whenever the decoding or resizing changes what bytes a setting gives. */
export const IMAGE_CACHE_VERSION = 1;

/** One split of a cached image set. */
export interface CachedSplit {
  /** Number of images. */
  count: number;
  /** One label per image, or null when the folder has no class sub-folders. */
  labels: number[] | null;
  /** Relative path of each image, in order. */
  files: string[];
}

/** What `KEY.json` holds. */
export interface CachedImagesMeta {
  /** {@link IMAGE_CACHE_VERSION} when written. */
  version: number;
  /** Image height H. */
  height: number;
  /** Image width W. */
  width: number;
  /** Channels C (1 grey, 3 RGB); each image is `H x W x C` bytes, channels last. */
  channels: number;
  /** Class names by label (the sub-folder names), or null. */
  classNames: string[] | null;
  /** Training split. */
  train: CachedSplit;
  /** Held-out split. */
  test: CachedSplit;
  /** Files that could not be used, each "path (reason)". */
  skipped: string[];
}

/** The default cache folder: `$WEBGPU_VAE_CACHE`, else `runs/.cache/images`. */
export function defaultCacheDir(): string {
  try {
    const env = Deno.env.get("WEBGPU_VAE_CACHE");
    if (env) return env;
  } catch { /* no --allow-env: the default */ }
  return "runs/.cache/images";
}

/** A hex SHA-256 of `parts` as JSON, the first 32 hex digits (128 bits). */
export async function cacheKey(parts: unknown): Promise<string> {
  const bytes = new TextEncoder().encode(JSON.stringify(parts));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest.subarray(0, 16), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Read the entry `key` from `dir`: its metadata and bytes, or null when it is absent,
 * unreadable, of another version, or its byte count does not match its metadata.
 */
export async function readImageCache(
  dir: string,
  key: string,
): Promise<{ meta: CachedImagesMeta; pixels: Uint8Array } | null> {
  try {
    const meta = JSON.parse(await Deno.readTextFile(`${dir}/${key}.json`)) as CachedImagesMeta;
    if (meta.version !== IMAGE_CACHE_VERSION) return null;
    const pixels = await Deno.readFile(`${dir}/${key}.u8`);
    const per = meta.height * meta.width * meta.channels;
    if (pixels.length !== (meta.train.count + meta.test.count) * per) return null;
    return { meta, pixels };
  } catch {
    return null;
  }
}

/**
 * Write the entry `key` to `dir` (created if needed): the bytes first, then the metadata, each
 * atomically, so a reader never sees metadata without its bytes. Returns null, or one line
 * saying why the cache could not be written.
 */
export async function writeImageCache(
  dir: string,
  key: string,
  meta: CachedImagesMeta,
  pixels: Uint8Array,
): Promise<string | null> {
  try {
    await Deno.mkdir(dir, { recursive: true });
    await writeFileAtomic(`${dir}/${key}.u8`, pixels);
    await writeFileAtomic(`${dir}/${key}.json`, new TextEncoder().encode(JSON.stringify(meta)));
    return null;
  } catch (e) {
    return (e instanceof Error ? e.message : String(e)).split("\n")[0];
  }
}
