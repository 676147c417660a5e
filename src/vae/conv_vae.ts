/**
 * The convolutional VAE (DESIGN.md's `conv`, after seed 003; with height 1, the streamline
 * model), channels last throughout:
 *
 *   encoder  x [B, H, W, C] (+ C' condition channels) -> per layer i: conv block
 *            Conv2d(filters[i], kernels[i], strides[i], same) -> [BatchNorm] -> LeakyReLU(leak);
 *            flatten [B, h, w, c] (no copy) -> Dense -> [mu | logvar]
 *   decoder  z (+ c) -> Dense -> reshape [B, h, w, c] (no copy) -> per layer j: transposed
 *            conv block ConvTranspose2d(decoderFilters[j], decoderKernels[j],
 *            decoderStrides[j], same) -> [BatchNorm] -> LeakyReLU(leak), except the last
 *            layer, whose output is the logits; with upsample "linear", a stride-2 layer is a
 *            2x linear upsampling, then a stride-1 transposed conv block
 *
 * The layer kinds are in conv_block.ts, dense.ts, upsample.ts and condition_concat.ts; the
 * step that runs them in step.ts.
 *
 * Legend: B batch, H x W x C image, h x w x c the encoder's last feature map, Z latent size.
 */

import type { Gpu } from "../gpu/device.ts";
import { conv2dOutputSize, type Conv2dShape } from "../nn/conv2d.ts";
import { convTranspose2dOutputSize, type ConvTranspose2dShape } from "../nn/conv_transpose2d.ts";
import type { ParamLayout } from "../nn/params.ts";
import type { DecodeProgram, StepProgram, VaeLossConfig } from "./common.ts";
import { conditionConcat } from "./condition_concat.ts";
import { convBlock } from "./conv_block.ts";
import { dense } from "./dense.ts";
import type { Layer } from "./layer.ts";
import { priorLayers } from "./prior.ts";
import { concatConditions, regressionLayers } from "./regression.ts";
import { buildLayersDecode, buildLayersStep, layersLayout } from "./step.ts";
import type { DecodeArgs, StepArgs, VaeLayers } from "./step.ts";
import { upsample } from "./upsample.ts";

/** Shape and loss settings of a conv VAE. */
export interface ConvVaeConfig extends VaeLossConfig {
  /** Model family tag. */
  kind: "conv";
  /** Image rows H. */
  height: number;
  /** Image columns W. */
  width: number;
  /** Image channels C. */
  channels: number;
  /** Encoder Conv2d output channels, first to last. */
  filters: number[];
  /** Encoder kernel sizes (square), one per layer. */
  kernels: number[];
  /** Encoder strides, one per layer. */
  strides: number[];
  /** Decoder ConvTranspose2d output channels; the last must equal `channels`. */
  decoderFilters: number[];
  /** Decoder kernel sizes, one per layer. */
  decoderKernels: number[];
  /** Decoder strides, one per layer. */
  decoderStrides: number[];
  /** BatchNorm after every conv but the decoder's last. */
  batchnorm: boolean;
  /** LeakyReLU's negative slope. */
  leak: number;
  /**
   * How a decoder layer with stride 2 upsamples: "transposed" (a stride-2 transposed
   * convolution, the default) or "linear" (sequences only: linear 2x upsampling, then a
   * stride-1 transposed convolution with the same kernel and channels - "resize-convolution").
   */
  upsample?: "transposed" | "linear";
}

/** The settings of DESIGN.md's `conv` model for 28 x 28 x 1 images. */
export const CONV_DEFAULTS = {
  filters: [32, 64, 64, 64],
  kernels: [3, 3, 3, 3],
  strides: [1, 2, 2, 1],
  decoderFilters: [64, 64, 32, 1],
  decoderKernels: [3, 3, 3, 3],
  decoderStrides: [1, 2, 2, 1],
  z: 16,
  leak: 0.2,
} as const;

/** Layer shapes of a conv VAE (at batch 1), from {@linkcode convVaeGeometry}. */
export interface ConvVaeGeometry {
  /** Encoder layers' conv shapes at batch 1. */
  encoder: Conv2dShape[];
  /** Decoder layers' transposed-conv shapes at batch 1. */
  decoder: ConvTranspose2dShape[];
  /** Per decoder layer: its input is first upsampled 2x along the width (upsample "linear"). */
  upsample: boolean[];
  /** The encoder's last feature map [h, w, c], flattened for the dense head. */
  map: [number, number, number];
}

/**
 * Layer shapes of a config (batch 1); a config whose decoder does not give back the image's
 * size and channels is an error saying which flag to change.
 */
export function convVaeGeometry(cfg: ConvVaeConfig): ConvVaeGeometry {
  const n = cfg.filters.length, m = cfg.decoderFilters.length;
  const need = (ok: boolean, msg: string) => {
    if (!ok) throw new Error(`conv model: ${msg}`);
  };
  need(n > 0 && m > 0, "needs at least one encoder and one decoder layer");
  need(
    cfg.kernels.length === n && cfg.strides.length === n,
    `--filters, --kernels and --strides need one value per encoder layer (${n})`,
  );
  need(
    cfg.decoderKernels.length === m && cfg.decoderStrides.length === m,
    `--decoder-filters, --decoder-kernels and --decoder-strides need one value per layer (${m})`,
  );
  // Sequences (height 1: streamlines) get 1-D kernels and strides, [1, k] and [1, s].
  const oneD = cfg.height === 1;
  const square = (k: number): [number, number] => [oneD ? 1 : k, k];
  const encoder: Conv2dShape[] = [];
  // A conditional model's conditions are extra input channels.
  let h = cfg.height, w = cfg.width, c = cfg.channels + concatConditions(cfg);
  for (let i = 0; i < n; i++) {
    const s: Conv2dShape = {
      batch: 1,
      height: h,
      width: w,
      inChannels: c,
      outChannels: cfg.filters[i],
      kernel: square(cfg.kernels[i]),
      stride: square(cfg.strides[i]),
      padding: "same",
    };
    encoder.push(s);
    ({ height: h, width: w } = conv2dOutputSize(s));
    c = cfg.filters[i];
  }
  const map: [number, number, number] = [h, w, c];
  const decoder: ConvTranspose2dShape[] = [];
  const upsample: boolean[] = [];
  const linear = cfg.upsample === "linear";
  need(
    !linear || (oneD && cfg.decoderStrides.every((s) => s === 1 || s === 2)),
    "--upsample linear needs a sequence model (streamlines) with decoder strides of 1 or 2",
  );
  for (let j = 0; j < m; j++) {
    const up = linear && cfg.decoderStrides[j] === 2;
    const s: ConvTranspose2dShape = {
      batch: 1,
      height: h,
      width: up ? 2 * w : w,
      inChannels: c,
      outChannels: cfg.decoderFilters[j],
      kernel: square(cfg.decoderKernels[j]),
      stride: square(up ? 1 : cfg.decoderStrides[j]),
      padding: "same",
    };
    decoder.push(s);
    upsample.push(up);
    ({ height: h, width: w } = convTranspose2dOutputSize(s));
    c = cfg.decoderFilters[j];
  }
  need(
    h === cfg.height && w === cfg.width && c === cfg.channels,
    `the decoder outputs ${h}x${w}x${c} but the images are ${cfg.height}x${cfg.width}x` +
      `${cfg.channels}; make --decoder-strides multiply back what --strides divide, and end ` +
      `--decoder-filters with ${cfg.channels}`,
  );
  return { encoder, decoder, upsample, map };
}

/** The conv VAE's layers, from its geometry (a config that does not fit is an error). */
export function convVaeLayers(cfg: ConvVaeConfig): VaeLayers {
  const g = convVaeGeometry(cfg);
  const Z = cfg.z, C = concatConditions(cfg), leak = cfg.leak;
  const flat = g.map[0] * g.map[1] * g.map[2];
  const encoder: Layer[] = C
    ? [conditionConcat("xc", cfg.height * cfg.width, cfg.channels, C)]
    : [];
  g.encoder.forEach((shape, i) => {
    const bn = cfg.batchnorm ? `encoder.bn.${i}` : null;
    encoder.push(convBlock({ name: `encoder.conv.${i}`, shape, bn, leak }));
  });
  encoder.push(dense({ name: "encoder.head", inputs: flat, outputs: 2 * Z, out: "mulogvar" }));
  const decoder: Layer[] = C ? [conditionConcat("zc", 1, Z, C)] : [];
  decoder.push(
    dense({ name: "decoder.dense", inputs: Z + C, outputs: flat, out: "decoder.dense" }),
  );
  g.decoder.forEach((shape, j) => {
    if (g.upsample[j]) {
      decoder.push(upsample(`decoder.up.${j}`, shape.height, shape.width / 2, shape.inChannels));
    }
    const last = j === g.decoder.length - 1;
    const bn = cfg.batchnorm ? `decoder.bn.${j}` : null;
    decoder.push(
      convBlock({
        name: `decoder.convt.${j}`,
        shape,
        transposed: true,
        bn,
        leak,
        activate: !last,
        out: last ? "logits" : undefined,
      }),
    );
  });
  const features = cfg.height * cfg.width * cfg.channels;
  const regression = regressionLayers(cfg, features);
  return { features, encoder, decoder, prior: priorLayers(cfg), regression };
}

/** Parameter names and shapes (batch norm's gamma and beta after the weights, running statistics last, as buffers). */
export function convVaeLayout(cfg: ConvVaeConfig): ParamLayout {
  return layersLayout(convVaeLayers(cfg));
}

/** A conv VAE's step program (see `buildVaeStep` in model.ts). */
export function buildConvStep(
  gpu: Gpu,
  cfg: ConvVaeConfig,
  ...args: StepArgs
): Promise<StepProgram> {
  return buildLayersStep(gpu, cfg, convVaeLayers(cfg), ...args);
}

/** A conv VAE's decoder alone for `batch` codes (see `buildVaeDecode`). */
export function buildConvDecode(
  gpu: Gpu,
  cfg: ConvVaeConfig,
  ...args: DecodeArgs
): Promise<DecodeProgram> {
  return buildLayersDecode(gpu, cfg, convVaeLayers(cfg), ...args);
}
