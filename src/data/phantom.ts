/**
 * A synthetic FiberCup-like streamline phantom: six bundles of smooth curved tubes (arcs, an
 * S-curve, a straight bundle, a U-fibre and an out-of-plane bend) in a box of about
 * 60 x 60 x 12 mm (coordinates from 0 to 60 mm in x and y, 0 to 12 mm in z), several of them
 * crossing, with tube radii from 2 to 4 mm.
 *
 * Each bundle has a centre curve, parameterized by arc-length fraction u in [0, 1]. A
 * streamline of that bundle keeps one fixed offset in the tube's cross-section (drawn
 * uniformly from the disc of the tube's radius, in a frame that follows the curve), runs
 * from a random start fraction in [0, 0.2] to a random end fraction in [0.8, 1] (so lengths
 * vary continuously within a bundle), always from the curve's start towards its end, and
 * has smooth noise added: per coordinate a mix of three low-frequency sines whose
 * amplitudes add up to `noise / sqrt(3)`, so the noise vector never exceeds `noise` mm.
 * Every point therefore lies within `radius + noise` of the centre curve.
 *
 * Deterministic from the seed (mulberry32).
 */

import { mulberry32 } from "../io/random.ts";
import { resample } from "./streamlines.ts";

/** Options of {@link phantomBundles}. */
export interface PhantomOptions {
  /** Number of streamlines (spread evenly over the bundles, round robin). */
  count: number;
  /** Seed of the generator: the same seed gives the same phantom. */
  seed: number;
  /** Largest length of the smooth noise vector added to each point, mm (default 0.3). */
  noise?: number;
  /** Points per streamline, equally spaced in arc-length fraction (default 120, >= 2). */
  points?: number;
}

/** One bundle of the phantom. */
export interface PhantomBundle {
  /** Short name, e.g. "s_curve". */
  name: string;
  /** Tube radius, mm. */
  radius: number;
  /** The centre curve: {@link CENTRE_POINTS} points equally spaced along it, mm. */
  centre: Float32Array;
}

/** A generated phantom. */
export interface Phantom {
  /** Raw polylines in mm, each `points` points (x, y, z triples). */
  streamlines: Float32Array[];
  /** The bundle (index into `bundles`) of each streamline. */
  bundle: Uint8Array;
  /** The bundles, with their radius and centre curve. */
  bundles: PhantomBundle[];
}

/** Points on each bundle's tabulated centre curve. */
export const CENTRE_POINTS = 1025;

type Curve = (t: number) => [number, number, number];

/** Centre curves around the origin (x, y in [-30, 30], z in [-6, 6]); shifted by +30, +30, +6. */
const SHAPES: { name: string; radius: number; curve: Curve }[] = [
  { name: "straight", radius: 3, curve: (t) => [-27 + 54 * t, -8, 0] },
  {
    name: "arc_upper",
    radius: 4,
    curve: (t) => {
      const a = Math.PI * (0.25 + 0.5 * t);
      return [38 * Math.cos(a), -18 + 38 * Math.sin(a), 1.5 * Math.sin(Math.PI * t)];
    },
  },
  {
    name: "s_curve",
    radius: 3,
    curve: (t) => [
      -25 + 50 * t,
      22 - 44 * t + 9 * Math.sin(2 * Math.PI * t),
      -1.5 * Math.sin(2 * Math.PI * t),
    ],
  },
  {
    name: "u_fibre",
    radius: 2,
    curve: (t) => [-14 - 7 * Math.cos(Math.PI * t), 16 - 9 * Math.sin(Math.PI * t), 2.5],
  },
  {
    name: "vertical_bend",
    radius: 2.5,
    curve: (t) => [-6 + 14 * Math.sin(Math.PI * t), -27 + 54 * t, -3 + 6 * t],
  },
  {
    name: "arc_lower",
    radius: 3.5,
    curve: (t) => {
      const a = Math.PI * (242 + 56 * t) / 180;
      return [55 * Math.cos(a), 33 + 55 * Math.sin(a), -2];
    },
  },
];

interface Tube {
  centre: Float32Array;
  /** Two unit normals per centre point: n1 (horizontal), then n2 = n1 x tangent. */
  frame: Float32Array;
}

function _tube(curve: Curve): Tube {
  const dense = new Float32Array(3 * CENTRE_POINTS);
  for (let i = 0; i < CENTRE_POINTS; i++) {
    const p = curve(i / (CENTRE_POINTS - 1));
    dense[3 * i] = p[0] + 30;
    dense[3 * i + 1] = p[1] + 30;
    dense[3 * i + 2] = p[2] + 6;
  }
  const centre = resample(dense, CENTRE_POINTS); // equal arc-length steps
  const frame = new Float32Array(6 * CENTRE_POINTS);
  for (let i = 0; i < CENTRE_POINTS; i++) {
    const a = Math.max(0, i - 1), b = Math.min(CENTRE_POINTS - 1, i + 1);
    let tx = centre[3 * b] - centre[3 * a], ty = centre[3 * b + 1] - centre[3 * a + 1];
    let tz = centre[3 * b + 2] - centre[3 * a + 2];
    const tl = Math.hypot(tx, ty, tz);
    tx /= tl, ty /= tl, tz /= tl;
    // n1 = t x z-hat (horizontal; the curves never run along z), n2 = n1 x t.
    const hl = Math.hypot(ty, tx);
    const n1 = [ty / hl, -tx / hl, 0];
    const n2 = [n1[1] * tz - n1[2] * ty, n1[2] * tx - n1[0] * tz, n1[0] * ty - n1[1] * tx];
    frame.set([...n1, ...n2], 6 * i);
  }
  return { centre, frame };
}

let _tubes: Tube[] | null = null;

/**
 * Generates the phantom: `count` streamlines spread round robin over the bundles (streamline
 * i belongs to bundle i mod 6), each `points` points from its start to its end fraction.
 *
 * @throws RangeError for a negative or fractional count, fewer than 2 points or a negative
 *   or non-finite noise.
 */
export function phantomBundles(o: PhantomOptions): Phantom {
  const noise = o.noise ?? 0.3, points = o.points ?? 120;
  if (!Number.isInteger(o.count) || o.count < 0) {
    throw new RangeError(`phantomBundles: count is ${o.count}, expected an integer >= 0`);
  }
  if (!Number.isInteger(points) || points < 2) {
    throw new RangeError(`phantomBundles: points is ${points}, expected an integer >= 2`);
  }
  if (!(noise >= 0) || !Number.isFinite(noise)) {
    throw new RangeError(`phantomBundles: noise is ${noise}, expected a finite value >= 0`);
  }
  _tubes ??= SHAPES.map((s) => _tube(s.curve));
  const tubes = _tubes;
  const next = mulberry32(o.seed);
  const bundle = new Uint8Array(o.count);
  const streamlines: Float32Array[] = [];
  const last = CENTRE_POINTS - 1;
  for (let k = 0; k < o.count; k++) {
    const b = k % SHAPES.length;
    bundle[k] = b;
    const { centre, frame } = tubes[b];
    const rho = SHAPES[b].radius * Math.sqrt(next()), phi = 2 * Math.PI * next();
    const ou = rho * Math.cos(phi), ov = rho * Math.sin(phi);
    const start = 0.2 * next(), end = 0.8 + 0.2 * next();
    // Noise: coordinate c gets sum_j amp[c][j] sin(2 pi freq[c][j] u + phase[c][j]), with
    // sum_j amp[c][j] = noise / sqrt(3), so |noise vector| <= noise.
    const amp: number[] = [], freq: number[] = [], phase: number[] = [];
    for (let c = 0; c < 3; c++) {
      const w = [next(), next(), next()];
      const sum = w[0] + w[1] + w[2] || 1;
      for (let j = 0; j < 3; j++) {
        amp.push((noise / Math.sqrt(3)) * (w[j] / sum));
        freq.push(1 + Math.floor(3 * next()));
        phase.push(2 * Math.PI * next());
      }
    }
    const s = new Float32Array(3 * points);
    for (let i = 0; i < points; i++) {
      const u = start + ((end - start) * i) / (points - 1);
      const x = u * last, i0 = Math.min(Math.floor(x), last - 1), f = x - i0;
      for (let c = 0; c < 3; c++) {
        const at = (arr: Float32Array, stride: number, off: number) =>
          arr[stride * i0 + off] + f * (arr[stride * (i0 + 1) + off] - arr[stride * i0 + off]);
        let v = at(centre, 3, c) + ou * at(frame, 6, c) + ov * at(frame, 6, 3 + c);
        for (let j = 0; j < 3; j++) {
          v += amp[3 * c + j] * Math.sin(2 * Math.PI * freq[3 * c + j] * u + phase[3 * c + j]);
        }
        s[3 * i + c] = v;
      }
    }
    streamlines.push(s);
  }
  return {
    streamlines,
    bundle,
    bundles: SHAPES.map((s, b) => ({
      name: s.name,
      radius: s.radius,
      centre: tubes[b].centre.slice(),
    })),
  };
}
