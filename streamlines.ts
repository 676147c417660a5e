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
 * {@linkcode parseTrk} reads a TrackVis `.trk` file's header and streamlines (versions 1 and 2,
 * with per-point and per-streamline extras), {@linkcode parseTck} an MRtrix `.tck`,
 * {@linkcode parseTrx} a TRX (zip or folder); {@linkcode writeTrk}, {@linkcode writeTck},
 * {@linkcode writeTrx} write them, and {@linkcode writeTractogram} picks the format from the
 * file name. Each keeps the source's space ({@linkcode TractogramSpace}: the voxel grid and
 * affine), so decoded streamlines go back where they came from. {@linkcode readStreamlineBundles}
 * reads a file, a `.zip` or a folder of them as named bundles.
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
export {
  parseTck,
  type TckDatatype,
  TckError,
  type TckHeader,
  type TckTractogram,
  writeTck,
  type WriteTckOptions,
} from "./src/data/tck.ts";
export {
  parseTrx,
  parseTrxEntries,
  TrxError,
  type TrxHeader,
  type TrxOffsetsType,
  type TrxPositionsType,
  type TrxTractogram,
  writeTrx,
  type WriteTrxOptions,
} from "./src/data/trx.ts";
export {
  encodeTractogram,
  type TractogramFormat,
  tractogramFormat,
  writeTractogram,
} from "./src/data/tractogram_io.ts";

// The source's space: the voxel grid and affine a tractogram was written in, kept and written back.
export {
  checkSpace,
  coveringSpace,
  spaceFromAffine,
  spaceHolds,
  TractogramError,
  type TractogramSpace,
} from "./src/data/tractogram.ts";
export { trkOptions, trkSpace } from "./src/data/trk.ts";

// Geometry: resampling, orientation, normalization, measures.
export {
  arcLength,
  bundleWidth,
  coarseLength,
  denormalize,
  fitNormalization,
  lengthRangeWarning,
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
  streamlinesInMm,
} from "./src/data/streamline_dataset.ts";
export type { Dataset, ExampleSource, Split, StreamlineInfo } from "./src/data/datasets.ts";

// Checks and figures of a trained streamline model: distances in mm, SVG in two projections.
export {
  askedLengthSvg,
  bundleSamplesSvg,
  nearestDistance,
  type PriorNearness,
  priorNearness,
  type RegressionScores,
  regressionScores,
} from "./src/eval/conditional.ts";
export {
  interpolationSvg,
  type StreamlineGroup,
  streamlinesSvg,
  type StreamlineSvgOptions,
} from "./src/eval/streamline_svg.ts";
