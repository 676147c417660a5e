/**
 * Tractography streamlines for webgpu-vae (`@webgpu-vae/webgpu-vae/streamlines`): reading and
 * writing TrackVis `.trk` files, resampling a streamline along its arc length, orienting and
 * normalizing a bundle, a synthetic phantom, and the streamline dataset the `streamlines`
 * model trains on (seed 004's conditional VAE for tractography).
 *
 * A streamline is a `Float32Array` of P points as x, y, z triples (length 3P), in mm (RAS+).
 * Problems with files are one-line {@linkcode TrkError}s.
 *
 * ## Files
 *
 * {@linkcode parseTrk} reads a `.trk` file's header and streamlines (versions 1 and 2, with
 * per-point and per-streamline extras), {@linkcode writeTrk} writes one;
 * {@linkcode readStreamlineBundles} reads a `.trk` or a `.zip` of them as named bundles.
 *
 * ## Geometry
 *
 * {@linkcode resample} places N points equally spaced along the arc length;
 * {@linkcode orientAlike} makes a bundle's streamlines run the same way;
 * {@linkcode fitNormalization}, {@linkcode normalize} and {@linkcode denormalize} map
 * millimetres to the model's units and back; {@linkcode arcLength},
 * {@linkcode meanPointDistance} and {@linkcode bundleWidth} measure.
 *
 * ## Data for the model
 *
 * {@linkcode phantomBundles} draws a FiberCup-like phantom of six crossing bundles;
 * {@linkcode loadStreamlineDataset} (`phantom`, `phantom:COUNT[:SEED]`, `streamlines:PATH`,
 * `dipy-bundles`) and {@linkcode streamlineDataset} turn bundles into a dataset that the root
 * entry's `Trainer` takes as it takes images.
 *
 * @example A phantom, resampled and written as a .trk file, read back
 * ```ts
 * import * as sl from "./streamlines.ts";
 * const phantom = sl.phantomBundles({ count: 60, seed: 1 });
 * const even = phantom.streamlines.map((s) => sl.resample(s, 32));
 * const trk = sl.parseTrk(sl.writeTrk(even), "phantom.trk");
 * console.log(trk.streamlines.length, "streamlines,", sl.arcLength(trk.streamlines[0]), "mm");
 * const data = sl.streamlineDataset("phantom", [{ name: "all", streamlines: even }], 32, 1);
 * console.log(data.train.count, "train,", data.test.count, "test");
 * ```
 *
 * @module
 */

// Files: TrackVis .trk, and bundles of them.
export {
  parseTrk,
  type Tractogram,
  TrkError,
  type TrkHeader,
  writeTrk,
  type WriteTrkOptions,
} from "./src/data/trk.ts";
export {
  parseStreamlineBundles,
  readStreamlineBundles,
  type StreamlineBundle,
} from "./src/data/streamlines.ts";

// Geometry: resampling, orientation, normalization, measures.
export {
  arcLength,
  bundleWidth,
  coarseLength,
  denormalize,
  fitNormalization,
  meanPointDistance,
  type Normalization,
  normalize,
  orientAlike,
  resample,
  reversed,
} from "./src/data/streamlines.ts";

// Data for the model: the phantom and the streamline dataset.
export {
  type Phantom,
  type PhantomBundle,
  phantomBundles,
  type PhantomOptions,
} from "./src/data/phantom.ts";
export {
  DIPY_BUNDLES,
  loadStreamlineDataset,
  STREAMLINE_POINTS,
  streamlineDataset,
} from "./src/data/streamline_dataset.ts";
export type { Dataset, Split, StreamlineInfo } from "./src/data/datasets.ts";

// Figures: streamlines drawn as SVG, two projections.
export {
  interpolationSvg,
  type StreamlineGroup,
  streamlinesSvg,
  type StreamlineSvgOptions,
} from "./src/eval/streamline_svg.ts";
