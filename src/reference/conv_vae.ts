/**
 * Float64 reference of the whole conv VAE (src/vae/conv_vae.ts), composed of reference
 * layers (vae_layers.ts): forward in training mode (batch statistics, running statistics
 * updated) or evaluation mode, the loss, every parameter gradient, and Adam steps over the
 * trained parameters. Noise comes from the GPU's own generator (normals()), as in
 * mlp_vae.ts.
 *
 * The layer shapes are worked out here, independently of the GPU side: "same" padding gives
 * a convolution ceil(in / s) outputs per axis and a transposed convolution in * s; a
 * sequence (height 1) has 1 x K kernels and 1 x s strides; a "linear" decoder layer doubles
 * the width, then convolves with stride 1.
 *
 * Legend: B batch, F = H W C values per image, C' condition values, Z latent size.
 */

import type { ParamLayout } from "../nn/params.ts";
import type { ConvVaeConfig } from "../vae/conv_vae.ts";
import { priorReference, refConcatConditions, regressionReference } from "./prior.ts";
import {
  refConcat,
  refConvBlock,
  refDecode,
  type RefDecodeArgs,
  refDense,
  type ReferenceForward,
  type ReferenceStep,
  refForward,
  type RefLayer,
  type RefMap,
  type RefModel,
  refStep,
  type RefStepArgs,
  refTrain,
  type RefTrainArgs,
  refUpsample,
} from "./vae_layers.ts";

/** The forward's outputs (see {@linkcode ReferenceForward}). */
export type ConvReferenceForward = ReferenceForward;

/** The conv VAE as reference layers, its shapes computed here; a config that does not fit throws. */
export function convVaeReference(cfg: ConvVaeConfig): RefModel {
  const Z = cfg.z, C = refConcatConditions(cfg), leak = cfg.leak;
  const square = (k: number): [number, number] => [cfg.height === 1 ? 1 : k, k];
  let map: RefMap = { height: cfg.height, width: cfg.width, channels: cfg.channels + C };
  const encoder: RefLayer[] = C ? [refConcat(cfg.height * cfg.width, cfg.channels, C)] : [];
  cfg.filters.forEach((filters, i) => {
    const conv = { filters, kernel: square(cfg.kernels[i]), stride: square(cfg.strides[i]) };
    const bn = cfg.batchnorm ? `encoder.bn.${i}` : null;
    encoder.push(refConvBlock(`encoder.conv.${i}`, map, conv, bn, leak));
    const [sh, sw] = conv.stride;
    map = {
      height: Math.ceil(map.height / sh),
      width: Math.ceil(map.width / sw),
      channels: filters,
    };
  });
  const flat = map.height * map.width * map.channels;
  encoder.push(refDense("encoder.head", flat, 2 * Z));
  const decoder: RefLayer[] = C ? [refConcat(1, Z, C)] : [];
  decoder.push(refDense("decoder.dense", Z + C, flat));
  const m = cfg.decoderFilters.length;
  cfg.decoderFilters.forEach((filters, j) => {
    const linear = cfg.upsample === "linear" && cfg.decoderStrides[j] === 2;
    if (linear) {
      decoder.push(refUpsample(map));
      map = { ...map, width: 2 * map.width };
    }
    const stride = square(linear ? 1 : cfg.decoderStrides[j]);
    const conv = { filters, kernel: square(cfg.decoderKernels[j]), stride, transposed: true };
    const bn = cfg.batchnorm ? `decoder.bn.${j}` : null;
    decoder.push(refConvBlock(`decoder.convt.${j}`, map, conv, bn, leak, j < m - 1));
    map = { height: map.height * stride[0], width: map.width * stride[1], channels: filters };
  });
  if (map.height !== cfg.height || map.width !== cfg.width || map.channels !== cfg.channels) {
    throw new Error(
      `reference conv model: the decoder gives ${map.height}x${map.width}x${map.channels}, ` +
        `not the image's ${cfg.height}x${cfg.width}x${cfg.channels}`,
    );
  }
  const features = cfg.height * cfg.width * cfg.channels;
  const regression = regressionReference(cfg, features);
  return { features, encoder, decoder, prior: priorReference(cfg), regression };
}

/** The decoder alone in evaluation mode: means [B, F] (sigmoid of the logits for bce). */
export function convVaeDecode(cfg: ConvVaeConfig, ...args: RefDecodeArgs): Float64Array {
  return refDecode(cfg, convVaeReference(cfg), ...args);
}

/**
 * The conv VAE's forward on x [B, F] with noise eps [B, Z]; `train` picks batch statistics.
 * A conditional model's `c` [B, C'] is appended as extra input channels and to z.
 */
export function convVaeForward(
  cfg: ConvVaeConfig,
  layout: ParamLayout,
  params: Float64Array,
  x: Float64Array,
  batch: number,
  eps: Float64Array,
  train: boolean,
  c?: Float64Array,
): ConvReferenceForward {
  return refForward(cfg, convVaeReference(cfg), train, layout, params, x, batch, eps, c);
}

/**
 * Loss and gradient of a training step (batch statistics) at `params`; `params` in the result
 * carries the updated running statistics.
 */
export function convVaeStep(
  cfg: ConvVaeConfig,
  ...args: RefStepArgs
): ReferenceStep & { params: Float64Array } {
  return refStep(cfg, convVaeReference(cfg), ...args);
}

/**
 * `steps` training steps on the same batch (noise as the GPU draws it), Adam over the
 * trained prefix of the layout; `params` is updated in place (running statistics included).
 */
export function convVaeTrain(cfg: ConvVaeConfig, ...args: RefTrainArgs): ReferenceStep[] {
  return refTrain(cfg, convVaeReference(cfg), ...args);
}
