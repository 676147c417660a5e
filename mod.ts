/**
 * webgpu-vae: variational autoencoders trained end to end on the GPU through WebGPU, with
 * hand-written WGSL compute shaders. This entry serves the person training a model; it is
 * grouped by what you do, in the order you do it.
 *
 * ## 1. Open a GPU
 *
 * {@linkcode requestGpu} finds an adapter (a real GPU, or Mesa's software one) and opens a
 * {@linkcode Gpu}: the device, its limits, and the shader loader every kernel uses. Without
 * WebGPU it throws {@linkcode GpuUnavailableError}, a one-line message.
 *
 * ## 2. Load a dataset
 *
 * {@linkcode loadDataset} reads a dataset by name (`embedded`, `fashion-mnist`, `mnist`,
 * `idx:IMAGES[,LABELS]`, `images:DIR`, `shapes`, and the streamline sets of `./streamlines`)
 * into a {@linkcode Dataset}: a train and a test {@linkcode Split} in their compact form (u8
 * pixels stay u8), labels, shape. Files that are missing or do not fit together are a one-line
 * {@linkcode DatasetError}, a malformed IDX file an {@linkcode IdxError}, each naming the file.
 *
 * Your own pictures are a dataset too: {@linkcode loadImageDataset} (`images:DIR`, PNG and
 * JPEG, resized to one size). {@linkcode loadShapesDataset} (`shapes`, as dSprites) draws
 * squares, ellipses and triangles from known factors ({@linkcode DatasetFactors}: shape, scale,
 * rotation, position, colour), to see which latent dimension learns which factor.
 *
 * ## 3. Describe a model
 *
 * A training configuration ({@linkcode TrainConfig}, defaults {@linkcode TRAIN_DEFAULTS}, the
 * flags of `deno task train` through {@linkcode parseTrainArgs}) and a dataset resolve to a
 * model config ({@linkcode modelConfig}: an {@linkcode MlpVaeConfig} or a
 * {@linkcode ConvVaeConfig}), and that to a {@linkcode ModelSpec} ({@linkcode modelSpec}):
 * every shape, the data's geometry, the loss, the clamp, the condition, the prior. The spec
 * travels inside the checkpoint files, and everything that builds a model builds it from the
 * spec's `model` through the same builders: {@linkcode vaeLayout} (the flat parameters),
 * {@linkcode buildVaeStep} (one training or evaluation step, one submit),
 * {@linkcode buildVaeDecode}.
 *
 * ## 4. Train
 *
 * {@linkcode Trainer} uploads the dataset once, builds every step, and runs epochs with a test
 * pass each ({@linkcode EpochRecord}). The KL weight follows a {@linkcode KlSchedule}. A NaN
 * or Inf in the loss stops training with a {@linkcode NonFiniteError} naming the step.
 *
 * ## 5. Checkpoint
 *
 * {@linkcode saveCheckpoint} writes a run folder's `model.safetensors` (the weights, by name)
 * and `optimizer.safetensors` (exact resume), each atomically; {@linkcode loadCheckpoint} reads
 * them back. A model file alone is enough to rebuild its model: {@linkcode parseSafetensors},
 * then {@linkcode specOfFile} and {@linkcode flatParams}.
 *
 * ## 6. Evaluate
 *
 * {@linkcode Trainer.evaluate} gives the test ELBO (nats per example);
 * {@linkcode iwaeEstimate} the importance-weighted estimate of -log p(x);
 * {@linkcode latentStats} the KL per latent dimension and the active units (posterior
 * collapse shows here). For a dataset with known factors, {@linkcode factorLatentTable} says
 * which latent dimension follows which factor.
 *
 * ## 7. Profile
 *
 * {@linkcode Profiler} times every pass of a step with GPU timestamps (or whole submits where
 * the adapter has none): a per-kernel table and a Chrome trace. {@linkcode gpuMemory} and
 * {@linkcode submitCount} count what a step allocates and submits.
 *
 * ## 8. Decode
 *
 * {@linkcode Trainer.decode} and {@linkcode Trainer.samples} decode codes during training;
 * {@linkcode buildVaeDecode} builds a decoder program on any {@linkcode ModelState};
 * {@linkcode PriorSampler} draws codes from the prior (standard or learned). For a web page,
 * the standalone decoder is its own entry, `@webgpu-vae/webgpu-vae/decoder`.
 *
 * ## The other entries
 *
 * - `@webgpu-vae/webgpu-vae/nn`: the kernel level: tensors, kernels and dispatches, and the
 *   ops (dense, conv, batch norm, latent, KL, losses, Adam) as dispatch builders.
 * - `@webgpu-vae/webgpu-vae/streamlines`: tractography: TrackVis `.trk` reading and writing,
 *   resampling, normalization, the phantom bundles, the streamline dataset, its checks.
 * - `@webgpu-vae/webgpu-vae/decoder`: a trained decoder alone, for web pages and Deno.
 *
 * @example Train the mlp model on the embedded data, save a checkpoint, resume from it
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
 * console.log("test ELBO", (await again.evaluate()).elbo);
 * ```
 *
 * @example Describe a model, build it, decode codes, profile its training step
 * ```ts
 * import * as vae from "./mod.ts";
 * const gpu = await vae.requestGpu();
 * const data = await vae.loadDataset("embedded", {});
 * const config = { ...vae.TRAIN_DEFAULTS, model: "mlp" as const, hidden: [32], z: 4 };
 * const model = vae.modelConfig(config, data);
 * const spec = vae.modelSpec("mlp", model, data);
 * console.log(vae.describeModel(spec.model), spec.layers.length, "parameter tensors");
 *
 * const layout = vae.vaeLayout(spec.model);
 * const state = new vae.ModelState(gpu, layout, vae.initParams(layout, model.seed));
 * const decode = await vae.buildVaeDecode(gpu, spec.model, state, 2);
 * vae.write(gpu.device, decode.z, new Float32Array(2 * model.z)); // two codes: z = 0
 * vae.submit(gpu.device, decode.dispatches);
 * const means = await vae.readback(gpu.device, decode.mean);
 * console.log(means.length / 2, "values per example");
 *
 * const order = vae.identityOrder(data.train.count);
 * const source = vae.uploadSource(gpu.device, data.train.images, order, "train");
 * const metrics = new vae.Tensor(gpu.device, "f32", [4], "metrics");
 * const step = await vae.buildVaeStep(gpu, spec.model, state, source, metrics, 16, { lr: 1e-3 });
 * const profiler = new vae.Profiler(gpu);
 * for (let i = 0; i < 3; i++) {
 *   await profiler.step([step.gather, ...step.forward, ...step.backward]);
 * }
 * console.log(profiler.table());
 * profiler.destroy();
 * ```
 *
 * @example Rebuild a model from its model.safetensors alone, and decode
 * ```ts
 * import * as vae from "./mod.ts";
 * const gpu = await vae.requestGpu();
 * // A run folder as training leaves it (here: fresh weights, spec in the metadata).
 * const data = await vae.loadDataset("embedded", {});
 * const model = vae.modelConfig({ ...vae.TRAIN_DEFAULTS, hidden: [16], z: 2 }, data);
 * const spec = vae.modelSpec("mlp", model, data);
 * const layout = vae.vaeLayout(model), params = vae.initParams(layout, 1);
 * const dir = await Deno.makeTempDir();
 * const zero = new Float32Array(layout.size);
 * await vae.saveCheckpoint(dir, layout, {
 *   params, m: zero, v: zero, step: 0, epoch: 0, stepInEpoch: 0, sums: [0, 0, 0, 0],
 *   config: "{}", spec: JSON.stringify(spec),
 * });
 *
 * // Later, elsewhere: the file says what the model is; no config, no dataset.
 * const file = vae.parseSafetensors(await Deno.readFile(`${dir}/model.safetensors`));
 * const back = vae.specOfFile(file, "model.safetensors");
 * const weights = vae.flatParams(back, file, "model.safetensors");
 * const state = new vae.ModelState(gpu, vae.vaeLayout(back.model), weights);
 * const decode = await vae.buildVaeDecode(gpu, back.model, state, 1);
 * vae.write(gpu.device, decode.z, [0.5, -1]);
 * vae.submit(gpu.device, decode.dispatches);
 * const image = await vae.readback(gpu.device, decode.mean); // 28 x 28 pixel means
 * console.log(back.data, image.length);
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

// 1. Open a GPU.
export { Gpu, type GpuOptions, GpuUnavailableError, requestGpu } from "./src/gpu/device.ts";
export { type DType, type HostData, readback, Tensor, upload, write } from "./src/gpu/buffer.ts";
export {
  type Binding,
  Dispatch,
  Kernel,
  type ShaderLoader,
  submit,
  type TensorView,
  type UniformValues,
} from "./src/gpu/kernel.ts";

// 2. Load a dataset.
export {
  type Dataset,
  DatasetError,
  type ExampleSource,
  loadDataset,
  type LoadDatasetOptions,
  type Split,
  type StreamlineInfo,
} from "./src/data/datasets.ts";
export { IdxError } from "./src/data/idx.ts";
export type { DatasetFactors } from "./src/data/datasets.ts";
export {
  DEFAULT_IMAGE_SIZE,
  type ImageColour,
  type ImageDatasetOptions,
  type ImageFit,
  type ImageSettings,
  loadImageDataset,
} from "./src/data/images.ts";
export { PngError } from "./src/data/png_decode.ts";
export { JpegError } from "./src/data/jpeg.ts";
export { loadShapesDataset, SHAPE_NAMES, type ShapeFactors } from "./src/data/shapes.ts";

// 3. Describe a model, and build it from its spec.
export {
  type ConditionInfo,
  type ImageGeometry,
  type ModelSpec,
  modelSpec,
  parseModelSpec,
  type SequenceGeometry,
  SPEC_FORMAT,
  type SpecData,
  SpecError,
  type SpecLayer,
} from "./src/vae/spec.ts";
export type { MlpVaeConfig } from "./src/vae/mlp_vae.ts";
export type { ConvVaeConfig } from "./src/vae/conv_vae.ts";
export type { VaeLossConfig } from "./src/vae/common.ts";
export type { Condition } from "./src/vae/condition.ts";
export type { ReconKind, ReconSmooth } from "./src/nn/recon.ts";
export {
  buildVaeDecode,
  buildVaeStep,
  describeModel,
  type VaeConfig,
  vaeLayout,
} from "./src/vae/model.ts";
export { initParams, ModelState } from "./src/vae/state.ts";
export { type BatchSource, identityOrder, uploadSource } from "./src/vae/source.ts";
export type { DecodeProgram, StepProgram } from "./src/vae/common.ts";
export type { DecodeArgs, StepArgs } from "./src/vae/step.ts";
export type { VaeTuning } from "./src/vae/layer.ts";
export type { AdamConfig } from "./src/nn/adam.ts";
export { type ParamEntry, ParamLayout } from "./src/nn/params.ts";

// 4. Train.
export {
  ConfigError,
  DEFAULTS as TRAIN_DEFAULTS,
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
export type { EpochDiagnostics } from "./src/eval/report.ts";
export type { Range } from "./src/eval/figures.ts";
export type { KlSchedule } from "./src/train/schedule.ts";
// Where the training split lives on the GPU: resident, or streamed in windows (--gpu-data-mb).
export type { DataPlacement } from "./src/train/stream.ts";

// 5. Checkpoint.
export { type Checkpoint, loadCheckpoint, saveCheckpoint } from "./src/train/checkpoint.ts";
export type { EpochLine, SaveOptions } from "./src/train/checkpoint.ts";
export { flatParams, specOfFile } from "./src/vae/spec.ts";
export {
  type ParsedSafetensors,
  type ParsedTensor,
  parseSafetensors,
  type SafetensorsArrays,
  type SafetensorsData,
  type SafetensorsDtype,
  SafetensorsError,
} from "./src/io/safetensors.ts";

// 6. Evaluate.
export { iwaeEstimate, type LatentStats, latentStats } from "./src/eval/metrics.ts";
export {
  type FactorKind,
  type FactorLatentTable,
  factorLatentTable,
  factorTableMarkdown,
  testSplitFactorTable,
} from "./src/eval/factors.ts";

// 7. Profile.
export {
  type KernelStats,
  Profiler,
  type ProfilerOptions,
  type TraceEvent,
} from "./src/gpu/profiler.ts";
export { type GpuMemory, gpuMemory, submitCount } from "./src/gpu/buffer.ts";

// 8. Decode.
export { PriorSampler } from "./src/vae/prior_sample.ts";
export { codesFromMoments } from "./src/vae/codes.ts";
