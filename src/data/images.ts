/**
 * Your own images: `images:DIR` or `images:FILE.zip`, a folder (or zip) of PNG and JPEG files
 * of any sizes, turned into a u8 dataset of one size.
 *
 * Spec: `images:PATH[:HxW][:stretch|:crop][:grey|:rgb][:strict]`, options in any order after
 * the path, the later one winning where one is given twice (so `--image-size` can append a
 * size); a path that itself ends in such a segment cannot be named this way.
 *
 * - Size `HxW` (default {@link DEFAULT_IMAGE_SIZE}; also `imageSize` in the options, which
 *   wins). Every image is resized by area averaging: each output pixel is the mean of the
 *   source over its footprint, pixels cut by the footprint's edge weighted by the part inside
 *   (PIL's BOX filter). `stretch` (default) maps the whole image onto H x W, changing its
 *   aspect ratio if it must; `crop` first takes the largest centred box of the target's
 *   aspect ratio (fractional edges allowed), then resizes that.
 * - Colour: `rgb` keeps 3 channels, `grey` makes 1 (luma 0.299 R + 0.587 G + 0.114 B,
 *   ITU-R BT.601, on the resized values before rounding). By default the set is grey when
 *   every image is (grey files, and colour files whose pixels all have R = G = B), else RGB.
 *   Alpha is composited on black (each sample times alpha / 255, before resizing).
 * - Files: every regular file whose name does not start with "." is read and recognised by
 *   its first bytes (PNG signature, JPEG SOI), whatever its extension. A file that is not a
 *   PNG or JPEG, or does not decode, is skipped, and all of them are named in ONE warning;
 *   with `strict` they are an error instead.
 * - Labels: when the images lie in sub-folders, the first-level sub-folder is the class (the
 *   class names sorted, labels 0, 1, ...), and images lying directly in the top folder are
 *   skipped (named in the warning). A single folder wrapping everything (as zips of a folder
 *   have) is not a class level: it is looked through.
 * - Split: an image is held out for testing when a hash of its relative path (below any
 *   wrapping folder) is 0 mod 10 (about 10%), so the split stays the same across runs,
 *   machines, added files, and a folder zipped. Within each split images are in that path's
 *   order.
 * - Cache: the decoded set is cached (see image_cache.ts), so a second run starts at once.
 * - Not done: EXIF orientation (a phone photo stored sideways stays sideways, as PIL's plain
 *   open leaves it), colour profiles (samples are taken as sRGB), animated PNG frames after
 *   the first (APNG's extra chunks are ancillary and skipped).
 */

import { unzipSync } from "fflate";
import { type Dataset, DatasetError } from "./dataset.ts";
import { type DecodedImage, decodePng, isPng } from "./png_decode.ts";
import { decodeJpeg, isJpeg } from "./jpeg.ts";
import {
  type CachedImagesMeta,
  cacheKey,
  defaultCacheDir,
  IMAGE_CACHE_VERSION,
  readImageCache,
  writeImageCache,
} from "./image_cache.ts";

/** Default image size of an `images:` dataset, [H, W]. */
export const DEFAULT_IMAGE_SIZE: readonly [number, number] = [64, 64];

/** How each image is brought to the target size. */
export type ImageFit = "stretch" | "crop";
/** The dataset's channels: decided from the images, or forced. */
export type ImageColour = "auto" | "grey" | "rgb";

/** The settings of an `images:` spec. */
export interface ImageSettings {
  /** Target height H. */
  height: number;
  /** Target width W. */
  width: number;
  /** Stretch the whole image, or centre-crop to the target's aspect ratio first. */
  fit: ImageFit;
  /** Grey, RGB, or decided from the images. */
  colour: ImageColour;
  /** Unusable files are an error (true) or skipped with one warning (false). */
  strict: boolean;
}

/** Options of {@link loadImageDataset}. */
export interface ImageDatasetOptions {
  /** Target size [H, W], overriding the spec's. */
  imageSize?: [number, number];
  /** Cache folder (default {@link defaultCacheDir}); null for no cache. */
  cacheDir?: string | null;
  /** Where the one warning goes (default console.warn). */
  warn?: (message: string) => void;
}

/** True for a spec this module loads. */
export function isImagesSpec(spec: string): boolean {
  return spec.startsWith("images:");
}

/** Parses "HxW" (e.g. "64x64") into [H, W], or throws a one-line DatasetError. */
export function parseImageSize(text: string): [number, number] {
  const m = /^(\d+)x(\d+)$/.exec(text);
  const h = m ? Number(m[1]) : NaN, w = m ? Number(m[2]) : NaN;
  if (!m || h < 1 || w < 1 || h > 4096 || w > 4096) {
    throw new DatasetError(`bad image size "${text}": expected HxW, e.g. 64x64 (1 to 4096 each)`);
  }
  return [h, w];
}

/** Splits an `images:` spec into its path and settings. */
export function parseImagesSpec(spec: string): { path: string; settings: ImageSettings } {
  const parts = spec.slice("images:".length).split(":");
  const settings: ImageSettings = {
    height: DEFAULT_IMAGE_SIZE[0],
    width: DEFAULT_IMAGE_SIZE[1],
    fit: "stretch",
    colour: "auto",
    strict: false,
  };
  // Read from the end; where an option is given twice, the later one wins.
  const seen = new Set<string>();
  const once = (what: string, set: () => void) => {
    if (!seen.has(what)) set();
    seen.add(what);
  };
  while (parts.length > 1) {
    const last = parts[parts.length - 1];
    if (/^\d+x\d+$/.test(last)) {
      once("size", () => [settings.height, settings.width] = parseImageSize(last));
    } else if (last === "stretch" || last === "crop") once("fit", () => settings.fit = last);
    else if (last === "grey" || last === "gray") once("colour", () => settings.colour = "grey");
    else if (last === "rgb") once("colour", () => settings.colour = "rgb");
    else if (last === "strict") settings.strict = true;
    else break;
    parts.pop();
  }
  const path = parts.join(":");
  if (path === "") {
    throw new DatasetError(
      `bad dataset spec "${spec}": expected images:DIR or images:FILE.zip ` +
        `[:HxW][:stretch|:crop][:grey|:rgb][:strict]`,
    );
  }
  return { path, settings };
}

/** Decode a PNG or JPEG file by its first bytes; any problem is an Error with one line. */
export function decodeImage(bytes: Uint8Array): DecodedImage {
  if (isPng(bytes)) return decodePng(bytes);
  if (isJpeg(bytes)) return decodeJpeg(bytes);
  throw new Error("not a PNG or JPEG");
}

/**
 * Area-averaging weights along one axis: for each of `n` outputs over the source interval
 * [start, start + length) of a `size`-pixel axis, the source pixels it covers and the share of
 * the footprint each one has (they sum to 1).
 */
export function areaWeights(
  size: number,
  start: number,
  length: number,
  n: number,
): { index: number[]; weight: number[] }[] {
  const step = length / n;
  const out = [];
  for (let o = 0; o < n; o++) {
    const a = start + o * step, b = start + (o + 1) * step;
    const index: number[] = [], weight: number[] = [];
    for (let i = Math.max(0, Math.floor(a)); i < Math.min(size, Math.ceil(b)); i++) {
      const overlap = Math.min(b, i + 1) - Math.max(a, i);
      if (overlap > 0) {
        index.push(i);
        weight.push(overlap / step);
      }
    }
    out.push({ index, weight });
  }
  return out;
}

/**
 * Resize one decoded image to `height x width` RGB values in [0, 255] (float, not rounded):
 * alpha composited on black, grey replicated to three channels, area-averaged over the whole
 * image (`stretch`) or over its largest centred box of the target's aspect ratio (`crop`).
 * Works a source row at a time, so a large photo needs no full-size float copy.
 */
export function resizeToRgb(
  img: DecodedImage,
  height: number,
  width: number,
  fit: ImageFit,
): Float64Array {
  const { width: W, height: H, channels: C, data } = img;
  let x0 = 0, y0 = 0, cw = W, ch = H;
  if (fit === "crop") {
    if (W * height > H * width) {
      cw = (H * width) / height;
      x0 = (W - cw) / 2;
    } else {
      ch = (W * height) / width;
      y0 = (H - ch) / 2;
    }
  }
  const xs = areaWeights(W, x0, cw, width);
  const ys = areaWeights(H, y0, ch, height);
  // For each source row, the output rows it feeds and with what weight.
  const feeds: { o: number; w: number }[][] = Array.from({ length: H }, () => []);
  ys.forEach(({ index, weight }, o) => index.forEach((y, k) => feeds[y].push({ o, w: weight[k] })));
  const out = new Float64Array(height * width * 3);
  const row = new Float64Array(W * 3); // one source row, composited RGB
  const across = new Float64Array(width * 3); // that row resampled to the output width
  for (let y = 0; y < H; y++) {
    if (feeds[y].length === 0) continue;
    const base = y * W * C;
    for (let x = 0; x < W; x++) {
      const p = base + x * C;
      if (C === 1 || C === 2) {
        const g = C === 2 ? (data[p] * data[p + 1]) / 255 : data[p];
        row[3 * x] = row[3 * x + 1] = row[3 * x + 2] = g;
      } else {
        row[3 * x] = C === 4 ? (data[p] * data[p + 3]) / 255 : data[p];
        row[3 * x + 1] = C === 4 ? (data[p + 1] * data[p + 3]) / 255 : data[p + 1];
        row[3 * x + 2] = C === 4 ? (data[p + 2] * data[p + 3]) / 255 : data[p + 2];
      }
    }
    for (let ox = 0; ox < width; ox++) {
      let r = 0, g = 0, b = 0;
      const { index, weight } = xs[ox];
      for (let k = 0; k < index.length; k++) {
        const i = 3 * index[k], wk = weight[k];
        r += wk * row[i];
        g += wk * row[i + 1];
        b += wk * row[i + 2];
      }
      across[3 * ox] = r;
      across[3 * ox + 1] = g;
      across[3 * ox + 2] = b;
    }
    for (const { o, w } of feeds[y]) {
      const at = o * width * 3;
      for (let i = 0; i < width * 3; i++) out[at + i] += w * across[i];
    }
  }
  return out;
}

/** True when every pixel of a decoded image has R = G = B (or it has no colour channels). */
function isGrey(img: DecodedImage): boolean {
  if (img.channels < 3) return true;
  const d = img.data, C = img.channels;
  for (let p = 0; p < d.length; p += C) if (d[p] !== d[p + 1] || d[p] !== d[p + 2]) return false;
  return true;
}

/** Rounds resized RGB floats to bytes: 3 channels, or 1 by BT.601 luma. */
export function toBytes(rgb: Float64Array, channels: 1 | 3): Uint8Array {
  const n = rgb.length / 3;
  const out = new Uint8Array(n * channels);
  const clamp = (v: number) => Math.min(255, Math.max(0, Math.round(v)));
  if (channels === 3) { for (let i = 0; i < rgb.length; i++) out[i] = clamp(rgb[i]); }
  else {
    for (let i = 0; i < n; i++) {
      out[i] = clamp(0.299 * rgb[3 * i] + 0.587 * rgb[3 * i + 1] + 0.114 * rgb[3 * i + 2]);
    }
  }
  return out;
}

/**
 * The hash that decides the split: FNV-1a over the path's UTF-8 bytes, then a murmur3-style
 * finaliser so its low digits are well mixed. Held out when `splitHash(path) % 10 === 0`.
 */
export function splitHash(path: string): number {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(path)) h = Math.imul(h ^ b, 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

interface Entry {
  /** Relative path, "/"-separated. */
  rel: string;
  /** The bytes (read lazily for a folder). */
  read: () => Promise<Uint8Array>;
}

async function listFolder(root: string): Promise<{ entries: Entry[]; listing: unknown[] }> {
  const entries: Entry[] = [];
  const listing: unknown[] = [];
  const visited = new Set<string>(); // real paths of folders walked: a symlink loop stops
  async function walk(dir: string, rel: string) {
    const real = await Deno.realPath(dir);
    if (visited.has(real)) return;
    visited.add(real);
    const names: string[] = [];
    for await (const e of Deno.readDir(dir)) if (!e.name.startsWith(".")) names.push(e.name);
    names.sort();
    for (const name of names) {
      const full = `${dir}/${name}`, r = rel ? `${rel}/${name}` : name;
      let st: Deno.FileInfo;
      try {
        st = await Deno.stat(full);
      } catch {
        entries.push({ rel: r, read: () => Deno.readFile(full) }); // fails when read: listed
        listing.push([r, -1, 0]);
        continue;
      }
      if (st.isDirectory) await walk(full, r);
      else if (st.isFile) {
        entries.push({ rel: r, read: () => Deno.readFile(full) });
        listing.push([r, st.size, st.mtime?.getTime() ?? 0]);
      }
    }
  }
  await walk(root, "");
  return { entries, listing };
}

function listZip(bytes: Uint8Array, path: string): Entry[] {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes, {
      filter: (f) =>
        !f.name.endsWith("/") && !f.name.split("/").some((p) => p.startsWith(".")) &&
        !f.name.startsWith("__MACOSX/"),
    });
  } catch (e) {
    throw new DatasetError(`${path}: not a readable zip file (${(e as Error).message})`);
  }
  return Object.keys(files).sort().map((rel) => ({ rel, read: () => Promise.resolve(files[rel]) }));
}

/** Drops the leading folders every entry shares (a zip of a folder wraps it in one). */
function stripCommonFolder(rels: string[]): string[] {
  let parts = rels.map((r) => r.split("/"));
  while (
    parts.length > 0 && parts.every((p) => p.length > 1 && p[0] === parts[0][0])
  ) parts = parts.map((p) => p.slice(1));
  return parts.map((p) => p.join("/"));
}

function warningText(source: string, skipped: string[], total: number): string {
  const shown = skipped.slice(0, 12).join("; ");
  const more = skipped.length > 12 ? `; and ${skipped.length - 12} more` : "";
  return `${source}: skipped ${skipped.length} of ${total} files: ${shown}${more}`;
}

/**
 * Load an `images:` dataset (see the module comment): from the cache when this folder and
 * these settings were decoded before, else by decoding every file and writing the cache.
 *
 * @throws DatasetError for a bad spec, a missing path, fewer than 2 usable images, or (with
 *   `strict`) any unusable file.
 */
export async function loadImageDataset(
  spec: string,
  opts: ImageDatasetOptions = {},
): Promise<Dataset> {
  const { path, settings } = parseImagesSpec(spec);
  if (opts.imageSize) [settings.height, settings.width] = opts.imageSize;
  const warn = opts.warn ?? ((m: string) => console.warn(`warning: ${m}`));
  let st: Deno.FileInfo;
  try {
    st = await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new DatasetError(`${path}: no such folder or zip file (dataset ${spec})`);
    }
    throw new DatasetError(`${path}: cannot read it (${(e as Error).message.split("\n")[0]})`);
  }
  let entries: Entry[];
  let listing: unknown[];
  if (st.isDirectory) ({ entries, listing } = await listFolder(path));
  else {
    listing = [[path, st.size, st.mtime?.getTime() ?? 0]];
    entries = listZip(await Deno.readFile(path), path);
  }
  const source = `images:${path}`;
  const { height, width, fit, colour } = settings;
  const key = await cacheKey({
    version: IMAGE_CACHE_VERSION,
    zip: !st.isDirectory,
    height,
    width,
    fit,
    colour,
    listing,
  });
  const cacheDir = opts.cacheDir === undefined ? defaultCacheDir() : opts.cacheDir;
  const cached = cacheDir === null ? null : await readImageCache(cacheDir, key);
  let meta: CachedImagesMeta, pixels: Uint8Array;
  if (cached) ({ meta, pixels } = cached);
  else {
    ({ meta, pixels } = await decodeAll(entries, settings));
    if (cacheDir !== null && meta.train.count > 0 && meta.test.count > 0) {
      const failed = await writeImageCache(cacheDir, key, meta, pixels);
      if (failed) warn(`${source}: decoded images not cached (${failed})`);
    }
  }
  if (meta.skipped.length > 0) {
    const text = warningText(source, meta.skipped, entries.length);
    if (settings.strict) throw new DatasetError(`${text} (strict)`);
    warn(text);
  }
  const total = meta.train.count + meta.test.count;
  if (meta.train.count === 0 || meta.test.count === 0) {
    throw new DatasetError(
      `${source}: ${total} usable image${total === 1 ? "" : "s"}; at least 2 are needed ` +
        `(one is held out for testing)`,
    );
  }
  const features = height * width * meta.channels;
  const cut = meta.train.count * features;
  const labels = (s: number[] | null) => (s === null ? null : Uint8Array.from(s));
  return {
    name: spec,
    rows: height,
    cols: width,
    features,
    train: {
      images: pixels.subarray(0, cut),
      labels: labels(meta.train.labels),
      count: meta.train.count,
    },
    test: {
      images: pixels.subarray(cut),
      labels: labels(meta.test.labels),
      count: meta.test.count,
    },
    classes: meta.classNames?.length ?? 0,
    classNames: meta.classNames ?? undefined,
    files: { train: meta.train.files, test: meta.test.files },
  };
}

/** Decodes and resizes every entry; returns the cache entry's metadata and bytes. */
async function decodeAll(
  entries: Entry[],
  settings: ImageSettings,
): Promise<{ meta: CachedImagesMeta; pixels: Uint8Array }> {
  const { height, width, fit } = settings;
  const skipped: string[] = [];
  // Each image's bytes: luma when grey is forced, else RGB (reduced to one channel at the end
  // if every image turns out grey).
  const good: { rel: string; bytes: Uint8Array; grey: boolean }[] = [];
  for (const e of entries) {
    let img: DecodedImage;
    try {
      img = decodeImage(await e.read());
    } catch (err) {
      const why = (err instanceof Error ? err.message : String(err)).split("\n")[0];
      skipped.push(`${e.rel} (${why})`);
      continue;
    }
    const rgb = resizeToRgb(img, height, width, fit);
    const grey = isGrey(img);
    good.push({ rel: e.rel, bytes: toBytes(rgb, settings.colour === "grey" ? 1 : 3), grey });
  }
  const channels = settings.colour === "grey"
    ? 1
    : settings.colour === "rgb"
    ? 3
    : good.every((g) => g.grey)
    ? 1
    : 3;
  // Classes from first-level sub-folders (after looking through one wrapping folder).
  const rels = stripCommonFolder(good.map((g) => g.rel));
  const labelled = rels.some((r) => r.includes("/"));
  let classNames: string[] | null = null;
  // Sorted and hashed by the path below any wrapping folder, so a zip of a folder splits
  // as the folder does.
  const items: { rel: string; key: string; label: number; bytes: Uint8Array }[] = [];
  if (labelled) {
    classNames = [...new Set(rels.filter((r) => r.includes("/")).map((r) => r.split("/")[0]))]
      .sort();
    if (classNames.length > 256) {
      throw new DatasetError(`${classNames.length} class folders; at most 256 are supported`);
    }
  }
  good.forEach((g, i) => {
    if (labelled && !rels[i].includes("/")) {
      skipped.push(`${g.rel} (not in a class folder)`);
      return;
    }
    const label = labelled ? classNames!.indexOf(rels[i].split("/")[0]) : 0;
    const bytes = channels === 1 && settings.colour !== "grey"
      ? g.bytes.filter((_, k) => k % 3 === 0)
      : g.bytes;
    items.push({ rel: g.rel, key: rels[i], label, bytes });
  });
  items.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const test = items.filter((it) => splitHash(it.key) % 10 === 0);
  const train = items.filter((it) => splitHash(it.key) % 10 !== 0);
  // A tiny folder may hash nothing into the test split: hold out the smallest hash then.
  if (test.length === 0 && train.length > 1) {
    let k = 0;
    train.forEach((it, i) => (splitHash(it.key) < splitHash(train[k].key) ? (k = i) : 0));
    test.push(...train.splice(k, 1));
  }
  const per = height * width * channels;
  const pixels = new Uint8Array((train.length + test.length) * per);
  [...train, ...test].forEach((it, i) => pixels.set(it.bytes, i * per));
  const split = (s: typeof items) => ({
    count: s.length,
    labels: labelled ? s.map((it) => it.label) : null,
    files: s.map((it) => it.rel),
  });
  return {
    meta: {
      version: IMAGE_CACHE_VERSION,
      height,
      width,
      channels,
      classNames,
      train: split(train),
      test: split(test),
      skipped,
    },
    pixels,
  };
}
