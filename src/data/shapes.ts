/**
 * A procedural dataset with known generative factors, in the spirit of dSprites (Matthey et
 * al. 2017): one shape per image on black, drawn from a seed, at any count and size, with each
 * image's factors kept. No download; the same spec gives the same bytes on every machine.
 *
 * Spec: `shapes[:N[:SEED]][:HxW]` (grey: a white shape) or `shapes-rgb[:N[:SEED]][:HxW]` (a
 * coloured shape, 3 channels, channels last). Defaults: N {@link SHAPES_DEFAULT_COUNT}, SEED 1,
 * 64x64. The last 10% (at least 1) are the test split.
 *
 * Factors, each drawn uniformly and independently per image (mulberry32 from SEED, in the
 * order listed):
 *
 * - `shape`: 0 square, 1 ellipse (semi-axes r and r/2), 2 equilateral triangle (categorical;
 *   also the label, with class names {@link SHAPE_NAMES});
 * - `scale` in [0.5, 1): the shape's circumradius r = scale * 0.2 * min(H, W);
 * - `rotation` in [0, 2 pi) radians, counter-clockwise (as in dSprites, the square repeats
 *   every pi/2, the ellipse every pi, the triangle every 2 pi/3);
 * - `x`, `y` in [0, 1): the centre, from 0.2 min(H, W) to W (or H) - 0.2 min(H, W), so
 *   every shape at every scale and rotation lies whole inside the image (y grows downwards);
 * - `shapes-rgb` only: the shape's colour, a hue h in [0, 1) at full saturation and value
 *   ({@link hueColour}), kept as the factors `red`, `green`, `blue` in [0, 1] (one of them is 1,
 *   one 0). Pale colours (each channel uniform in [0.25, 1), the first version) were measured
 *   not to be learned: a 16x16 mlp autoencoder's reconstructions stayed grey after 1740 steps,
 *   where the same model takes in these hues by step 870
 *   (bench/results/shapes_colour_2026-12-05.md).
 *
 * Each pixel holds round(255 * colour * coverage), the coverage measured on a 4 x 4 grid of
 * sample points inside the pixel, so the total intensity tracks the analytic area.
 */

import { type Dataset, DatasetError, type DatasetFactors, holdOutCount } from "./dataset.ts";
import { mulberry32 } from "../io/random.ts";

/** Default number of images of a `shapes` dataset. */
export const SHAPES_DEFAULT_COUNT = 10000;
/** Class names of the `shape` factor, by value. */
export const SHAPE_NAMES: readonly string[] = ["square", "ellipse", "triangle"];
/** The largest circumradius, as a share of min(H, W). */
export const SHAPES_MAX_RADIUS = 0.2;
/** Sample points per pixel side when measuring coverage. */
export const SHAPES_SUPERSAMPLE = 4;

/** One image's factors. */
export interface ShapeFactors {
  /** 0 square, 1 ellipse, 2 triangle. */
  shape: number;
  /** Circumradius as a share of the largest, in [0.5, 1). */
  scale: number;
  /** Radians, counter-clockwise, in [0, 2 pi). */
  rotation: number;
  /** Centre, left to right, in [0, 1). */
  x: number;
  /** Centre, top to bottom, in [0, 1). */
  y: number;
  /** Colour, each channel in [0, 1] (1, 1, 1 for the grey variant). */
  colour: [number, number, number];
}

/** True for a spec this module loads. */
export function isShapesSpec(spec: string): boolean {
  return /^shapes(-rgb)?(:|$)/.test(spec);
}

/** The settings of a `shapes` spec. */
export interface ShapesSettings {
  /** Number of images N. */
  count: number;
  /** Seed of the factors. */
  seed: number;
  /** Image height H. */
  height: number;
  /** Image width W. */
  width: number;
  /** 1 (grey) or 3 (shapes-rgb). */
  channels: 1 | 3;
}

/** Parses `shapes[-rgb][:N[:SEED]][:HxW]`, or throws a one-line DatasetError. */
export function parseShapesSpec(spec: string): ShapesSettings {
  const parts = spec.split(":");
  const rgb = parts[0] === "shapes-rgb";
  const bad = (why: string) =>
    new DatasetError(
      `bad dataset spec "${spec}": ${why}; expected shapes[:N[:SEED]][:HxW] or shapes-rgb[...]`,
    );
  let height = 0, width = 0;
  // Trailing sizes; the last one wins (so `--image-size` can append one).
  while (parts.length > 1 && /x/.test(parts[parts.length - 1])) {
    const m = /^(\d+)x(\d+)$/.exec(parts.pop()!);
    if (!m) throw bad("size must be HxW");
    if (height === 0) [height, width] = [Number(m[1]), Number(m[2])];
  }
  if (height === 0) [height, width] = [64, 64];
  if (parts.length > 3) throw bad("too many parts");
  const int = (s: string | undefined, dflt: number, what: string, min: number) => {
    if (s === undefined) return dflt;
    const n = /^\d+$/.test(s) ? Number(s) : NaN;
    if (!Number.isSafeInteger(n) || n < min) {
      throw bad(`${what} '${s}' is not an integer >= ${min}`);
    }
    return n;
  };
  const count = int(parts[1], SHAPES_DEFAULT_COUNT, "N", 2);
  const seed = int(parts[2], 1, "SEED", 0);
  if (height < 8 || width < 8 || height > 4096 || width > 4096) {
    throw bad(`size ${height}x${width} is outside 8..4096`);
  }
  return { count, seed, height, width, channels: rgb ? 3 : 1 };
}

/** Draws N images' factors from `seed` (the order documented in the module comment). */
export function drawShapeFactors(count: number, seed: number, rgb: boolean): ShapeFactors[] {
  const next = mulberry32(seed);
  const out: ShapeFactors[] = [];
  for (let i = 0; i < count; i++) {
    const shape = Math.min(2, Math.floor(3 * next()));
    const scale = 0.5 + 0.5 * next();
    const rotation = 2 * Math.PI * next();
    const x = next(), y = next();
    const colour: [number, number, number] = rgb ? hueColour(next()) : [1, 1, 1];
    out.push({ shape, scale, rotation, x, y, colour });
  }
  return out;
}

/**
 * RGB of hue h in [0, 1) at saturation 1 and value 1 (the HSV hexcone: red at 0, green at 1/3,
 * blue at 2/3): channel n's value is 1 - clamp(min(k, 4 - k), 0, 1) with k = (n + 6h) mod 6,
 * n = 5, 3, 1 for red, green, blue.
 */
export function hueColour(h: number): [number, number, number] {
  const channel = (n: number) => {
    const k = (n + 6 * h) % 6;
    return 1 - Math.max(0, Math.min(k, 4 - k, 1));
  };
  return [channel(5), channel(3), channel(1)];
}

/** Where a shape lies in an H x W image: centre (cx, cy) in pixels and circumradius r. */
export function shapeGeometry(
  f: ShapeFactors,
  height: number,
  width: number,
): { cx: number; cy: number; r: number } {
  const rmax = SHAPES_MAX_RADIUS * Math.min(height, width);
  return {
    cx: rmax + f.x * (width - 2 * rmax),
    cy: rmax + f.y * (height - 2 * rmax),
    r: f.scale * rmax,
  };
}

/** The analytic area of a shape of circumradius r, in square pixels. */
export function shapeArea(shape: number, r: number): number {
  if (shape === 0) return 2 * r * r; // square of half-diagonal r: side r sqrt 2
  if (shape === 1) return (Math.PI * r * r) / 2; // ellipse, semi-axes r and r / 2
  return ((3 * Math.sqrt(3)) / 4) * r * r; // equilateral triangle of circumradius r
}

/** True when (u, v), in the shape's own unrotated frame (centre at 0), lies inside it. */
function inside(shape: number, u: number, v: number, r: number): boolean {
  if (shape === 0) {
    const a = r / Math.SQRT2;
    return Math.abs(u) <= a && Math.abs(v) <= a;
  }
  if (shape === 1) return (u / r) ** 2 + (v / (r / 2)) ** 2 <= 1;
  // Triangle with a vertex at angle pi/2 (v up): inside all three edges, each at distance r/2
  // from the centre along its outward normal (angles -pi/2, pi/6, 5 pi/6).
  const h = r / 2;
  return -v <= h && (Math.sqrt(3) / 2) * u + 0.5 * v <= h && -(Math.sqrt(3) / 2) * u + 0.5 * v <= h;
}

/**
 * Draws one shape into `out` (an H x W x C image, channels last, at `offset`, already zero) and
 * returns its coverage sum (the area it covers, in square pixels, before rounding).
 */
export function renderShape(
  f: ShapeFactors,
  height: number,
  width: number,
  channels: 1 | 3,
  out: Uint8Array,
  offset: number,
): number {
  const { cx, cy, r } = shapeGeometry(f, height, width);
  const cos = Math.cos(f.rotation), sin = Math.sin(f.rotation);
  const S = SHAPES_SUPERSAMPLE;
  let total = 0;
  const y0 = Math.max(0, Math.floor(cy - r)), y1 = Math.min(height, Math.ceil(cy + r) + 1);
  const x0 = Math.max(0, Math.floor(cx - r)), x1 = Math.min(width, Math.ceil(cx + r) + 1);
  for (let py = y0; py < y1; py++) {
    for (let px = x0; px < x1; px++) {
      let hits = 0;
      for (let sy = 0; sy < S; sy++) {
        // Image y grows downwards; the shape's frame has v upwards, rotated counter-clockwise.
        const dy = cy - (py + (sy + 0.5) / S);
        for (let sx = 0; sx < S; sx++) {
          const dx = px + (sx + 0.5) / S - cx;
          const u = cos * dx + sin * dy, v = -sin * dx + cos * dy;
          if (inside(f.shape, u, v, r)) hits++;
        }
      }
      if (hits === 0) continue;
      const coverage = hits / (S * S);
      total += coverage;
      const at = offset + (py * width + px) * channels;
      for (let c = 0; c < channels; c++) out[at + c] = Math.round(255 * f.colour[c] * coverage);
    }
  }
  return total;
}

/** Factor names of a shapes dataset with `channels` channels. */
export function shapeFactorNames(channels: 1 | 3): string[] {
  const names = ["shape", "scale", "rotation", "x", "y"];
  return channels === 3 ? [...names, "red", "green", "blue"] : names;
}

/** Loads (generates) a `shapes` or `shapes-rgb` dataset; see the module comment. */
export function loadShapesDataset(
  spec: string,
  opts: { imageSize?: [number, number] } = {},
): Dataset {
  const s = parseShapesSpec(spec);
  if (opts.imageSize) [s.height, s.width] = opts.imageSize;
  const features = s.height * s.width * s.channels;
  if (s.count * features > 2 ** 31) {
    throw new DatasetError(
      `${spec}: ${s.count} images of ${s.height}x${s.width}x${s.channels} are ` +
        `${(s.count * features / 2 ** 30).toFixed(1)} GiB; at most 2 GiB`,
    );
  }
  const factors = drawShapeFactors(s.count, s.seed, s.channels === 3);
  const images = new Uint8Array(s.count * features);
  const names = shapeFactorNames(s.channels);
  const F = names.length;
  const table = new Float32Array(s.count * F);
  factors.forEach((f, i) => {
    renderShape(f, s.height, s.width, s.channels, images, i * features);
    const row = [f.shape, f.scale, f.rotation, f.x, f.y, ...(s.channels === 3 ? f.colour : [])];
    table.set(row, i * F);
  });
  const labels = Uint8Array.from(factors, (f) => f.shape);
  const testCount = holdOutCount(s.count);
  const trainCount = s.count - testCount;
  const kinds = names.map((n) => (n === "shape" ? "categorical" : "continuous")) as DatasetFactors[
    "kinds"
  ];
  return {
    name: spec,
    rows: s.height,
    cols: s.width,
    features,
    train: {
      images: images.subarray(0, trainCount * features),
      labels: labels.subarray(0, trainCount),
      count: trainCount,
    },
    test: {
      images: images.subarray(trainCount * features),
      labels: labels.subarray(trainCount),
      count: testCount,
    },
    classes: SHAPE_NAMES.length,
    classNames: [...SHAPE_NAMES],
    factors: {
      names,
      kinds,
      train: table.subarray(0, trainCount * F),
      test: table.subarray(trainCount * F),
    },
  };
}
