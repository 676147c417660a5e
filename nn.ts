/**
 * The kernel level of webgpu-vae (`@webgpu-vae/webgpu-vae/nn`): GPU tensors, kernels (a WGSL
 * file and its reflected bindings), dispatches, and the ops the models are built from, each a
 * dispatch builder with its forward and backward side by side.
 *
 * ## Tensors, kernels, dispatches
 *
 * A {@linkcode Tensor} is one GPU buffer with a dtype and a shape ({@linkcode upload},
 * {@linkcode zeros}, {@linkcode readback}). {@linkcode Gpu.kernel} loads `shaders/NAME.wgsl`
 * and reflects its bindings into a {@linkcode Kernel}; {@linkcode Kernel.dispatch} checks the
 * tensors and uniforms against that reflection and returns a reusable {@linkcode Dispatch}.
 * {@linkcode submit} encodes a list of dispatches into one command buffer: one submit per
 * training step.
 *
 * ## The ops
 *
 * Every op takes the {@linkcode Gpu}, its tensors (outputs first, then inputs, then
 * parameters) and its sizes, checks the lengths, and returns its dispatches; nothing runs
 * until they are submitted. Gradients are the forward names with a `d` in front and overwrite
 * their outputs. Each has a float64 twin in `src/reference/` that the tests compare it to.
 *
 * - Matrix product: {@linkcode denseForward}, {@linkcode denseBackward} (ReLU epilogue
 *   optional).
 * - Convolutions, channels last: {@linkcode conv2dForward} / {@linkcode conv2dBackward},
 *   {@linkcode convTranspose2dForward} / {@linkcode convTranspose2dBackward}, and the 1-D
 *   ones of the streamline model ({@linkcode conv1dForward}, ...), with
 *   {@linkcode conv2dOutputSize} and its kin for the geometry; {@linkcode upsample1dForward}.
 * - Normalization and activations: {@linkcode batchNormForward} (and its evaluation form on
 *   running statistics, and the fused batch norm + LeakyReLU), {@linkcode activationForward}.
 * - The latent: {@linkcode latentForward} (z = mu + exp(0.5 clamp(logvar)) eps, noise from a
 *   counter-based RNG in WGSL), {@linkcode klForward} (closed-form KL from N(0, I)) and
 *   {@linkcode klPriorForward} (from a learned Gaussian prior).
 * - Losses and bookkeeping: {@linkcode reconForward} (BCE from logits, or squared error),
 *   {@linkcode accumulate}, {@linkcode finiteGuard}, {@linkcode iwaeNll}.
 * - Data and optimizer: {@linkcode gatherBatch} (a batch from a GPU-resident dataset),
 *   {@linkcode concatForward}, {@linkcode adamStep} over one flat {@linkcode ParamLayout}.
 *
 * @example y = relu(x W + b) on the GPU
 * ```ts
 * import * as nn from "./nn.ts";
 * const gpu = await nn.requestGpu();
 * const d = gpu.device;
 * const shape = { batch: 3, inFeatures: 5, outFeatures: 2 };
 * const x = nn.upload(d, "f32", [3, 5], Array.from({ length: 15 }, (_, i) => i / 10 - 0.7));
 * const W = nn.upload(d, "f32", [5, 2], [1, -1, 0.5, 2, -0.5, 0, 0.25, 1, 1, -1]);
 * const b = nn.upload(d, "f32", [2], [0.1, -0.1]);
 * const y = nn.zeros(d, [3, 2]);
 * const dispatches = await nn.denseForward(gpu, { y, x, W, b }, shape, { activation: "relu" });
 * nn.submit(d, dispatches);
 * console.log(await nn.readback(d, y));
 * ```
 *
 * @module
 */

// Device, tensors, kernels, dispatches.
export { Gpu, type GpuOptions, GpuUnavailableError, requestGpu } from "./src/gpu/device.ts";
export {
  type DType,
  type HostData,
  readback,
  readbackBytes,
  readbackU32,
  Tensor,
  upload,
  write,
  zeros,
} from "./src/gpu/buffer.ts";
export {
  type Binding,
  ceilDiv,
  Dispatch,
  fetchShader,
  Kernel,
  type ShaderLoader,
  submit,
  type TensorLike,
  type TensorView,
  type UniformValues,
} from "./src/gpu/kernel.ts";
export { PARAM_ALIGN, type ParamEntry, ParamLayout } from "./src/nn/params.ts";

// Matrix product.
export {
  type DenseActivation,
  denseBackward,
  denseForward,
  type DenseOptions,
  type DenseShape,
  type DenseVariant,
  denseVariant,
} from "./src/nn/dense.ts";

// Convolutions and upsampling.
export {
  conv2dBackward,
  type Conv2dDwKernel,
  type Conv2dDxKernel,
  conv2dForward,
  type Conv2dForwardKernel,
  type Conv2dOptions,
  conv2dOutputSize,
  type Conv2dShape,
  type Conv2dVariant,
  conv2dVariant,
  type ConvBackwardTensors,
  type ConvForwardTensors,
  type Padding,
} from "./src/nn/conv2d.ts";
export {
  convTranspose2dBackward,
  convTranspose2dForward,
  convTranspose2dOutputSize,
  type ConvTranspose2dShape,
} from "./src/nn/conv_transpose2d.ts";
export {
  conv1dBackward,
  conv1dForward,
  conv1dOutputLength,
  type Conv1dShape,
  convTranspose1dBackward,
  convTranspose1dForward,
  convTranspose1dOutputLength,
  type ConvTranspose1dShape,
  type Padding1d,
} from "./src/nn/conv1d.ts";
export {
  upsample1dBackward,
  upsample1dForward,
  type Upsample1dShape,
} from "./src/nn/upsample1d.ts";

// Normalization and activations.
export {
  batchNormBackward,
  batchNormBackwardEval,
  batchNormForward,
  batchNormForwardEval,
  batchNormLeakyBackward,
  batchNormLeakyForward,
  batchNormLeakyForwardEval,
  type BatchNormLeakyOptions,
  type BatchNormShape,
  type BatchNormTensors,
} from "./src/nn/batchnorm.ts";
export { activationBackward, activationForward, type ActivationKind } from "./src/nn/activation.ts";

// The latent and the KL.
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
  klPerDim,
  klPriorBackward,
  klPriorForward,
  type KlShape,
} from "./src/nn/kl.ts";

// Losses, sums, guards.
export {
  reconBackward,
  reconForward,
  reconForwardBackward,
  type ReconKind,
  type ReconShape,
  type ReconSmooth,
} from "./src/nn/recon.ts";
export { accumulate, clearSlots, finiteGuard } from "./src/nn/reduce.ts";
export { iwaeNll, type IwaeShape } from "./src/nn/iwae.ts";

// Data, conditions, optimizer.
export { gatherBatch, type GatherShape } from "./src/nn/gather.ts";
export { concatBackward, concatForward, type ConcatShape } from "./src/nn/concat.ts";
export { type AdamConfig, type AdamOptions, adamStep, type AdamVariant } from "./src/nn/adam.ts";
