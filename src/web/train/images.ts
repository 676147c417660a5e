/**
 * Images a user brings to the training page: PNG files decoded by the browser
 * (createImageBitmap), made gray and brought to the first image's size, or the rows of an IDX
 * file; the last tenth held out, as the CLI's `idx:` dataset does (at least one image).
 *
 * No Deno API: page code.
 */

import type { PageData } from "./session.ts";

/** A page's images and the dataset spec a downloaded run names for them. */
export interface PageImages {
  /** The images, split. */
  data: PageData;
  /** "embedded", or "idx" for brought images (the run then carries them as images.idx). */
  dataset: string;
}

/**
 * `n` images of `rows` x `cols` bytes as a page dataset: the first n - max(1, floor(n / 10))
 * to train on, the rest held out (src/data/datasets.ts's holdOutCount). Needs n >= 2.
 */
export function holdOut(
  name: string,
  rows: number,
  cols: number,
  pixels: Uint8Array,
  n: number,
): PageImages {
  if (n < 2) throw new Error(`${name}: ${n} image; training needs at least 2 (one is held out)`);
  const test = Math.max(1, Math.floor(n / 10)), train = n - test, F = rows * cols;
  return {
    data: {
      name,
      rows,
      cols,
      train: { images: pixels.subarray(0, train * F), labels: null, count: train },
      test: { images: pixels.subarray(train * F, n * F), labels: null, count: test },
    },
    dataset: "idx",
  };
}

/**
 * PNG files (sorted by name) as gray bytes, 0.299 R + 0.587 G + 0.114 B over black, each drawn
 * at the first image's size.
 */
export async function loadPngs(files: File[]): Promise<PageImages> {
  const sorted = [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  let rows = 0, cols = 0, pixels = new Uint8Array(0);
  let ctx: OffscreenCanvasRenderingContext2D | null = null;
  for (let i = 0; i < sorted.length; i++) {
    let bitmap: ImageBitmap;
    try {
      bitmap = await createImageBitmap(sorted[i]);
    } catch {
      throw new Error(`${sorted[i].name}: not an image this browser can decode`);
    }
    if (!ctx) {
      rows = bitmap.height;
      cols = bitmap.width;
      if (rows * cols > 256 * 256) {
        throw new Error(`${sorted[i].name}: ${cols}x${rows} is too large (at most 256x256 pixels)`);
      }
      ctx = new OffscreenCanvas(cols, rows).getContext("2d", { willReadFrequently: true })!;
      pixels = new Uint8Array(sorted.length * rows * cols);
    }
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, cols, rows);
    ctx.drawImage(bitmap, 0, 0, cols, rows);
    bitmap.close();
    const rgba = ctx.getImageData(0, 0, cols, rows).data;
    for (let p = 0; p < rows * cols; p++) {
      const v = 0.299 * rgba[4 * p] + 0.587 * rgba[4 * p + 1] + 0.114 * rgba[4 * p + 2];
      pixels[i * rows * cols + p] = Math.round(v);
    }
  }
  const name = sorted.length === 1 ? sorted[0].name : `${sorted.length} PNG images`;
  return holdOut(name, rows, cols, pixels, sorted.length);
}
