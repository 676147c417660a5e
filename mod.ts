/**
 * webgpu-vae: variational autoencoders trained on the GPU through WebGPU, with
 * hand-written WGSL compute shaders.
 *
 * The pieces, from the bottom up:
 * - {@linkcode requestGpu} opens a device; {@linkcode Gpu.kernel} loads a shader file and
 *   reflects its bindings; {@linkcode Kernel.dispatch} builds a checked, reusable launch.
 * - The ops (`denseForward`, `latentForward`, `reconForward`, `adamStep`, ...) build the
 *   dispatches of one layer each, forward and backward.
 * - {@linkcode buildStep} strings them into a whole training step of the MLP VAE: gather,
 *   forward, losses, backward, Adam — encoded into one submit.
 * - {@linkcode Trainer} runs epochs over a {@linkcode loadDataset} dataset kept on the GPU,
 *   with a test pass per epoch; {@linkcode saveCheckpoint} / {@linkcode loadCheckpoint} write
 *   and read a run folder's safetensors files (exact resume).
 * - Conditional models ({@linkcode Condition}: a one-hot label or a streamline's length,
 *   appended by {@linkcode concatForward}) and streamline data: {@linkcode parseTrk},
 *   {@linkcode resample}, {@linkcode phantomBundles}, {@linkcode loadStreamlineDataset}.
 * - Your own pictures and a dataset with known factors: {@linkcode loadImageDataset}
 *   (`images:DIR`, PNG and JPEG), {@linkcode loadShapesDataset} (`shapes`), and
 *   {@linkcode factorLatentTable} (which latent dimension follows which factor).
 *
 * @example Train the mlp reference model on the embedded data, save, load
 * ```ts
 * import * as vae from "./mod.ts";
 * const gpu = await vae.requestGpu();
 * const data = await vae.loadDataset("embedded", {});
 * const config = { ...vae.TRAIN_DEFAULTS, epochs: 2, out: "runs/api" };
 * const trainer = await vae.Trainer.create(gpu, config, data);
 * await trainer.train({ onEpoch: (r) => console.log(r.epoch, r.test.elbo) });
 * await Deno.mkdir(config.out, { recursive: true });
 * await vae.saveCheckpoint(config.out, trainer.state.layout, await trainer.checkpoint());
 * const back = await vae.loadCheckpoint(config.out, trainer.state.layout);
 * const again = await vae.Trainer.create(gpu, { ...config, epochs: 3 }, data, back);
 * await again.train();
 * ```
 *
 * @example Train a tiny VAE for a few steps
 * ```ts
 * import * as vae from "./mod.ts";
 * const gpu = await vae.requestGpu();
 * const cfg: vae.MlpVaeConfig = {
 *   inputs: 12, hidden: [8], z: 2, recon: "bce", reconWeight: 1, beta: 1,
 *   logvarClamp: [-30, 20], seed: 1,
 * };
 * const layout = vae.mlpVaeLayout(cfg);
 * const state = new vae.ModelState(gpu, layout, vae.initParams(layout, cfg.seed));
 * const bytes = new Uint8Array(4 * 12).map((_, i) => (i * 37) % 256);
 * const source = {
 *   data: vae.upload(gpu.device, "u8", [bytes.length], bytes),
 *   index: vae.upload(gpu.device, "u32", [4], [0, 1, 2, 3]),
 *   scale: 1 / 255,
 *   shift: 0,
 * };
 * const metrics = new vae.Tensor(gpu.device, "f32", [vae.METRIC.size]);
 * const step = await vae.buildStep(gpu, cfg, state, source, metrics, 4, { lr: 1e-3 });
 * for (let i = 0; i < 10; i++) {
 *   vae.submit(gpu.device, [step.gather, ...step.forward, ...step.backward]);
 * }
 * const m = await vae.readback(gpu.device, metrics);
 * console.log("mean recon over 10 steps", m[vae.METRIC.recon] / 10);
 * ```
 *
 * @module
 */

export { Gpu, type GpuOptions, GpuUnavailableError, requestGpu } from "./src/gpu/device.ts";
export {
  type DType,
  type GpuMemory,
  gpuMemory,
  type HostData,
  poisoned,
  readback,
  readbackBytes,
  readbackU32,
  resetPeak,
  submitCount,
  Tensor,
  upload,
  write,
  zeros,
} from "./src/gpu/buffer.ts";
export {
  type Binding,
  ceilDiv,
  Dispatch,
  expectLength,
  fetchShader,
  grid1d,
  Kernel,
  scoped,
  type ShaderLoader,
  submit,
  type TensorLike,
  type TensorView,
  type UniformValues,
} from "./src/gpu/kernel.ts";
export {
  type KernelStats,
  Profiler,
  type ProfilerOptions,
  type TraceEvent,
} from "./src/gpu/profiler.ts";
export { activationBackward, activationForward, type ActivationKind } from "./src/nn/activation.ts";
export {
  type DenseActivation,
  denseBackward,
  denseForward,
  type DenseOptions,
  type DenseShape,
  type DenseVariant,
  denseVariant,
} from "./src/nn/dense.ts";
export {
  latentBackward,
  latentBackwardKl,
  latentForward,
  latentForwardKl,
  type LatentShape,
} from "./src/nn/latent.ts";
export {
  klBackward,
  klForward,
  klPriorBackward,
  klPriorForward,
  type KlShape,
} from "./src/nn/kl.ts";
export {
  reconBackward,
  reconForward,
  reconForwardBackward,
  type ReconKind,
  type ReconShape,
  type ReconSmooth,
} from "./src/nn/recon.ts";
export { accumulate, clearSlots, finiteGuard } from "./src/nn/reduce.ts";
export { type AdamConfig, type AdamOptions, adamStep, type AdamVariant } from "./src/nn/adam.ts";
export { gatherBatch, type GatherShape } from "./src/nn/gather.ts";
export { PARAM_ALIGN, type ParamEntry, ParamLayout } from "./src/nn/params.ts";
export {
  type BatchSource,
  type DecodeProgram,
  initParams,
  METRIC,
  ModelState,
  setBatchOffset,
  type StepProgram,
  type VaeLossConfig,
} from "./src/vae/common.ts";
export { PriorSampler } from "./src/vae/prior_sample.ts";
export { buildDecode, buildStep, type MlpVaeConfig, mlpVaeLayout } from "./src/vae/mlp_vae.ts";
export {
  buildConvDecode,
  buildConvStep,
  CONV_DEFAULTS,
  type ConvVaeConfig,
  type ConvVaeGeometry,
  convVaeGeometry,
  convVaeLayout,
} from "./src/vae/conv_vae.ts";
export {
  buildVaeDecode,
  buildVaeStep,
  describeModel,
  type VaeConfig,
  vaeFeatures,
  vaeLayout,
} from "./src/vae/model.ts";
export type { VaeTuning } from "./src/vae/layer.ts";
export type { DecodeArgs, StepArgs } from "./src/vae/step.ts";
export {
  conv2dBackward,
  conv2dForward,
  type Conv2dOptions,
  conv2dOutputSize,
  type Conv2dShape,
  type Conv2dVariant,
  type Padding,
} from "./src/nn/conv2d.ts";
export {
  convTranspose2dBackward,
  convTranspose2dForward,
  convTranspose2dOutputSize,
  type ConvTranspose2dShape,
} from "./src/nn/conv_transpose2d.ts";
export {
  batchNormBackward,
  batchNormForward,
  batchNormForwardEval,
  type BatchNormShape,
} from "./src/nn/batchnorm.ts";
export { concatBackward, concatForward, type ConcatShape } from "./src/nn/concat.ts";
export {
  type Condition,
  conditionRows,
  conditionSize,
  fitCondition,
  splitConditions,
  splitSource,
} from "./src/vae/condition.ts";
export {
  parseTrk,
  type Tractogram,
  TrkError,
  type TrkHeader,
  writeTrk,
  type WriteTrkOptions,
} from "./src/data/trk.ts";
export {
  arcLength,
  bundleWidth,
  denormalize,
  fitNormalization,
  meanPointDistance,
  type Normalization,
  normalize,
  orientAlike,
  parseStreamlineBundles,
  readStreamlineBundles,
  resample,
  reversed,
  type StreamlineBundle,
} from "./src/data/streamlines.ts";
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
export {
  agreement,
  classCheckLine,
  type ClassCheckResult,
  classMeans,
  type ClassMetric,
  fitNearestMean,
  nearestClass,
  type NearestMeanClassifier,
  pooledCovariance,
} from "./src/eval/classify.ts";
export {
  interpolationSvg,
  type StreamlineGroup,
  streamlinesSvg,
  type StreamlineSvgOptions,
} from "./src/eval/streamline_svg.ts";
export {
  type ClassChecker,
  classSampleCheck,
  correlation,
  fitClassCheckers,
  type LengthCheck,
  lengthCheck,
  streamlineReport,
  type StreamlineStats,
} from "./src/eval/conditional.ts";
export {
  type ClassSamplesInput,
  type EpochDiagnostics,
  type StreamlinesInput,
} from "./src/eval/report.ts";
export { type Range } from "./src/eval/figures.ts";
export { type KlSchedule, klWeight, parseKlSchedule } from "./src/train/schedule.ts";
export {
  encodeSafetensors,
  type ParsedSafetensors,
  type ParsedTensor,
  parseSafetensors,
  type SafeTensor,
  type SafetensorsArrays,
  type SafetensorsData,
  type SafetensorsDtype,
  SafetensorsError,
} from "./src/train/safetensors.ts";
export {
  type Dataset,
  DatasetError,
  loadDataset,
  type LoadDatasetOptions,
  type Split,
  type StreamlineInfo,
} from "./src/data/datasets.ts";
export {
  encodeIdx,
  type IdxArray,
  IdxError,
  type IdxType,
  parseIdx,
  type ParseIdxOptions,
  readIdxFile,
  type ReadIdxFileOptions,
} from "./src/data/idx.ts";
export {
  ConfigError,
  DEFAULTS as TRAIN_DEFAULTS,
  defaultZ,
  parseTrainArgs,
  STREAMLINE_DEFAULTS,
  type TrainArgs,
  type TrainConfig,
} from "./src/train/config.ts";
export {
  type EpochRecord,
  type Losses,
  modelConfig,
  NonFiniteError,
  type Progress,
  Trainer,
} from "./src/train/trainer.ts";
// Where the training split lives on the GPU: resident, or streamed in windows (--gpu-data-mb).
export type { DataPlacement } from "./src/train/stream.ts";
export { type Checkpoint, loadCheckpoint, saveCheckpoint } from "./src/train/checkpoint.ts";
export { writeFileAtomic, writeTextAtomic } from "./src/train/atomic.ts";
export type { EpochLine, SaveOptions } from "./src/train/checkpoint.ts";
export type { WriteOptions, WritePoint } from "./src/train/atomic.ts";
export { epochOrder, mulberry32 } from "./src/train/random.ts";
export { type DatasetFactors } from "./src/data/datasets.ts";
export {
  decodeImage,
  DEFAULT_IMAGE_SIZE,
  type ImageColour,
  type ImageDatasetOptions,
  type ImageFit,
  type ImageSettings,
  loadImageDataset,
  parseImagesSpec,
} from "./src/data/images.ts";
export { type DecodedImage, decodePng, PngError } from "./src/data/png_decode.ts";
export { decodeJpeg, JpegError } from "./src/data/jpeg.ts";
export {
  loadShapesDataset,
  SHAPE_NAMES,
  shapeArea,
  type ShapeFactors,
  SHAPES_DEFAULT_COUNT,
} from "./src/data/shapes.ts";
export {
  ACTIVE_VARIANCE,
  type FactorKind,
  type FactorLatentTable,
  factorLatentTable,
  factorTableMarkdown,
  testSplitFactorTable,
} from "./src/eval/factors.ts";
// Tractogram formats in and out (.tck, .trx beside .trk), the source's space, data guards.
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
  checkSpace,
  coveringSpace,
  spaceFromAffine,
  spaceHolds,
  TractogramError,
  type TractogramSpace,
} from "./src/data/tractogram.ts";
export {
  encodeTractogram,
  type TractogramFormat,
  tractogramFormat,
  writeTractogram,
} from "./src/data/tractogram_io.ts";
export { trkOptions, trkSpace } from "./src/data/trk.ts";
export { checkReconRange } from "./src/data/datasets.ts";
export { streamlinesInMm } from "./src/data/streamline_dataset.ts";
export {
  askedLengthSvg,
  bundleSamplesSvg,
  nearestDistance,
  type PriorNearness,
  priorNearness,
} from "./src/eval/conditional.ts";
