/**
 * The convolutional VAE (DESIGN.md's `conv`, after seed 003), channels last throughout:
 *
 *   encoder  x [B, H, W, C] -> per layer i: Conv2d(filters[i], kernels[i], strides[i], same)
 *            -> BatchNorm -> LeakyReLU(leak); flatten [B, h, w, c] (no copy) -> Dense -> [mu | logvar]
 *   decoder  z -> Dense -> reshape [B, h, w, c] (no copy) -> per layer j:
 *            ConvTranspose2d(decoderFilters[j], decoderKernels[j], decoderStrides[j], same)
 *            -> BatchNorm -> LeakyReLU(leak), except the last layer, whose output is the logits
 *
 * With `batchnorm` off the BatchNorm layers are left out; with it on, a conv followed by
 * BatchNorm has no bias (BN subtracts the batch mean, so a bias would get a zero gradient and
 * Adam would turn its rounding noise into steps). Batch norm uses the batch
 * statistics in a training step and the running statistics everywhere else (test loss,
 * reconstructions, samples, metrics, the exported decoder). Running statistics live in the
 * flat parameter buffer as untrained buffers, so checkpoints and resume carry them.
 * BatchNorm and the LeakyReLU after it run fused (batchNormLeaky*: one elementwise pass each
 * way instead of two, the normed values never stored), with the same numbers as the two
 * layers run apart.
 *
 * Legend: B batch, H x W x C image, h x w x c the encoder's last feature map, Z latent size.
 */

import type { Tensor } from "../gpu/buffer.ts";
import type { Gpu } from "../gpu/device.ts";
import type { Dispatch, TensorView } from "../gpu/kernel.ts";
import { upsample1dBackward, upsample1dForward, type Upsample1dShape } from "../nn/upsample1d.ts";
import { activationBackward, activationForward } from "../nn/activation.ts";
import { type AdamConfig, adamStep } from "../nn/adam.ts";
import {
  batchNormBackward,
  batchNormForward,
  batchNormForwardEval,
  batchNormLeakyBackward,
  batchNormLeakyForward,
  batchNormLeakyForwardEval,
  type BatchNormShape,
} from "../nn/batchnorm.ts";
import { conv2dBackward, conv2dForward, conv2dOutputSize, type Conv2dShape } from "../nn/conv2d.ts";
import {
  convTranspose2dBackward,
  convTranspose2dForward,
  convTranspose2dOutputSize,
  type ConvTranspose2dShape,
} from "../nn/conv_transpose2d.ts";
import { concatBackward } from "../nn/concat.ts";
import { denseBackward, denseForward } from "../nn/dense.ts";
import { ParamLayout } from "../nn/params.ts";
import {
  addPriorLayout,
  type BatchSource,
  type DecodeProgram,
  gatherInput,
  latentGrad,
  latentShape,
  lossesAndMetrics,
  type MakeTensor,
  type ModelState,
  priorNetwork,
  sampleLatent,
  type StepProgram,
  tensorMaker,
  type VaeLossConfig,
  withCondition,
} from "./common.ts";

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
  let h = cfg.height, w = cfg.width, c = cfg.channels + (cfg.conditions ?? 0);
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

/**
 * The 2x upsampling before a "linear" decoder layer of shape `s` (whose width is already the
 * upsampled one), at batch `batch`.
 */
export function upsampleShape(s: ConvTranspose2dShape, batch: number): Upsample1dShape {
  return { rows: batch * s.height, width: s.width / 2, channels: s.inChannels };
}

/** Parameter names and shapes (running statistics last, as buffers). */
export function convVaeLayout(cfg: ConvVaeConfig): ParamLayout {
  const g = convVaeGeometry(cfg);
  const flat = g.map[0] * g.map[1] * g.map[2];
  const layout = new ParamLayout();
  const bn: string[] = [];
  g.encoder.forEach((s, i) => {
    const [kh, kw] = s.kernel;
    layout.add(`encoder.conv.${i}.weight`, [kh, kw, s.inChannels, s.outChannels]);
    if (cfg.batchnorm) bn.push(`encoder.bn.${i}`);
    else layout.add(`encoder.conv.${i}.bias`, [s.outChannels]);
  });
  layout.add("encoder.head.weight", [flat, 2 * cfg.z]);
  layout.add("encoder.head.bias", [2 * cfg.z]);
  layout.add("decoder.dense.weight", [cfg.z + (cfg.conditions ?? 0), flat]);
  layout.add("decoder.dense.bias", [flat]);
  g.decoder.forEach((s, j) => {
    const [kh, kw] = s.kernel;
    // Transposed-conv weights are [KH, KW, Cout, Cin] (the conv2d they are the gradient of).
    layout.add(`decoder.convt.${j}.weight`, [kh, kw, s.outChannels, s.inChannels]);
    if (cfg.batchnorm && j < g.decoder.length - 1) bn.push(`decoder.bn.${j}`);
    else layout.add(`decoder.convt.${j}.bias`, [s.outChannels]);
  });
  const channelsOf = (name: string) => {
    const [part, , i] = name.split(".");
    return part === "encoder" ? g.encoder[Number(i)].outChannels : g.decoder[Number(i)].outChannels;
  };
  addPriorLayout(layout, cfg);
  for (const b of bn) {
    layout.add(`${b}.gamma`, [channelsOf(b)]);
    layout.add(`${b}.beta`, [channelsOf(b)]);
  }
  for (const b of bn) {
    layout.addBuffer(`${b}.running_mean`, [channelsOf(b)]);
    layout.addBuffer(`${b}.running_var`, [channelsOf(b)]);
  }
  return layout;
}

/** A layer's bias and its gradient; none (undefined) for a conv followed by batch norm. */
function biasOf(state: ModelState, prefix: string) {
  const L = state.layout, name = `${prefix}.bias`;
  if (!L.has(name)) return { b: undefined, db: undefined };
  return { b: L.view(state.params, name), db: L.view(state.grads, name) };
}

/**
 * Build-time switches, read when a step is built. `fuseBatchNorm` false runs BatchNorm and
 * LeakyReLU as separate passes (the numbers are the same): for benchmarks of the fusion.
 */
export const convVaeTuning = { fuseBatchNorm: true };

/** One conv (or transposed conv) + [BN] + [LeakyReLU] block's tensors, for the backward. */
interface Block {
  input: Tensor;
  pre: Tensor;
  /** BN's output, the LeakyReLU's input; null when BN and LeakyReLU ran fused. */
  normed: Tensor | null;
  out: Tensor;
  mean?: Tensor;
  rstd?: Tensor;
  bnShape?: BatchNormShape;
  prefix: string;
  activated: boolean;
  /** A "linear" decoder layer's input upsampled 2x (the convolution's input); else absent. */
  upsampled?: Tensor;
}

/** Conv output -> BatchNorm (batch or running statistics) -> LeakyReLU, as configured. */
async function normAndActivate(
  gpu: Gpu,
  cfg: ConvVaeConfig,
  state: ModelState,
  pre: Tensor,
  rows: number,
  channels: number,
  bnName: string | null,
  train: boolean,
  mk: MakeTensor,
  name: string,
): Promise<
  { dispatches: Dispatch[]; normed: Tensor | null; out: Tensor; extra: Partial<Block> }
> {
  const P = (n: string) => state.layout.view(state.params, n);
  const dispatches: Dispatch[] = [];
  const out = mk(`${name}.h`, [...pre.shape]);
  if (!bnName) {
    dispatches.push(await activationForward(gpu, "leaky_relu", { y: out, x: pre }, cfg.leak));
    return { dispatches, normed: pre, out, extra: {} };
  }
  const shape = { rows, channels };
  const stats = {
    gamma: P(`${bnName}.gamma`),
    beta: P(`${bnName}.beta`),
    runningMean: P(`${bnName}.running_mean`),
    runningVar: P(`${bnName}.running_var`),
  };
  const extra: Partial<Block> = {};
  const saved = () => {
    const mean = mk(`${name}.bn_mean`, [channels]);
    const rstd = mk(`${name}.bn_rstd`, [channels]);
    Object.assign(extra, { mean, rstd, bnShape: shape });
    return { mean, rstd };
  };
  // The fused backward masks by the sign of the activated output, which is the normed
  // value's sign only for a leak >= 0.
  if (convVaeTuning.fuseBatchNorm && cfg.leak >= 0) {
    const t = { h: out, x: pre, ...stats };
    dispatches.push(
      ...train
        ? await batchNormLeakyForward(gpu, { ...t, ...saved() }, shape, cfg.leak)
        : await batchNormLeakyForwardEval(gpu, t, shape, cfg.leak),
    );
    return { dispatches, normed: null, out, extra };
  }
  const normed = mk(`${name}.bn`, [...pre.shape]);
  const t = { y: normed, x: pre, ...stats };
  dispatches.push(
    ...train
      ? await batchNormForward(gpu, { ...t, ...saved() }, shape)
      : await batchNormForwardEval(gpu, t, shape),
  );
  dispatches.push(await activationForward(gpu, "leaky_relu", { y: out, x: normed }, cfg.leak));
  return { dispatches, normed, out, extra };
}

/**
 * The decoder's forward from z [B, Z] (with a conditional model's c [B, C] appended) to the
 * logits [B, H W C].
 */
async function decoderForward(
  gpu: Gpu,
  cfg: ConvVaeConfig,
  state: ModelState,
  z: Tensor,
  c: Tensor | undefined,
  B: number,
  train: boolean,
  mk: MakeTensor,
): Promise<
  { dispatches: Dispatch[]; zc: Tensor; dense: Tensor; blocks: Block[]; logits: Tensor }
> {
  const g = convVaeGeometry(cfg);
  const P = (n: string) => state.layout.view(state.params, n);
  const [h0, w0, c0] = g.map;
  const zc = await withCondition(gpu, z, c, 1, "zc", mk);
  const dispatches: Dispatch[] = [...zc.dispatches];
  const dense = mk("decoder.dense", [B, h0, w0, c0]);
  const inFeatures = cfg.z + (cfg.conditions ?? 0);
  dispatches.push(
    ...await denseForward(gpu, {
      y: dense,
      x: zc.y,
      W: P("decoder.dense.weight"),
      b: P("decoder.dense.bias"),
    }, { batch: B, inFeatures, outFeatures: h0 * w0 * c0 }),
  );
  const blocks: Block[] = [];
  let input = dense;
  for (const [j, s0] of g.decoder.entries()) {
    const s = { ...s0, batch: B };
    const { height: H, width: W } = convTranspose2dOutputSize(s);
    const C = s.outChannels;
    const last = j === g.decoder.length - 1;
    const pre = mk(last ? "logits" : `decoder.convt.${j}.pre`, [B, H, W, C]);
    const prefix = `decoder.convt.${j}`;
    let upsampled: Tensor | undefined;
    if (g.upsample[j]) {
      upsampled = mk(`decoder.up.${j}`, [B, s.height, s.width, s.inChannels]);
      dispatches.push(
        await upsample1dForward(gpu, { y: upsampled, x: input }, upsampleShape(s, B)),
      );
    }
    dispatches.push(
      ...await convTranspose2dForward(gpu, {
        y: pre,
        x: upsampled ?? input,
        w: P(`${prefix}.weight`),
        b: biasOf(state, prefix).b,
      }, s),
    );
    if (last) {
      blocks.push({ input, pre, normed: pre, out: pre, prefix, activated: false, upsampled });
      input = pre;
      break;
    }
    const bn = cfg.batchnorm ? `decoder.bn.${j}` : null;
    const r = await normAndActivate(gpu, cfg, state, pre, B * H * W, C, bn, train, mk, prefix);
    dispatches.push(...r.dispatches);
    blocks.push({
      input,
      pre,
      normed: r.normed,
      out: r.out,
      prefix,
      activated: true,
      upsampled,
      ...r.extra,
    });
    input = r.out;
  }
  // The logits [B, H, W, C] are the [B, F] the losses read: same buffer, flat shape.
  const logits = input.reshape([B, cfg.height * cfg.width * cfg.channels]);
  return { dispatches, zc: zc.y, dense, blocks, logits };
}

/** Build the decoder alone for `batch` codes (eval-mode batch norm): samples, figures, export. */
export async function buildConvDecode(
  gpu: Gpu,
  cfg: ConvVaeConfig,
  state: ModelState,
  batch: number,
): Promise<DecodeProgram> {
  const t: Record<string, Tensor> = {};
  const mk = tensorMaker(gpu.device, t);
  const z = mk("decode.z", [batch, cfg.z]);
  const c = cfg.conditions ? mk("decode.c", [batch, cfg.conditions]) : undefined;
  const { dispatches, logits } = await decoderForward(gpu, cfg, state, z, c, batch, false, mk);
  if (cfg.recon === "mse") return { z, c, mean: logits, dispatches };
  const mean = mk("decode.mean", [batch, cfg.height * cfg.width * cfg.channels]);
  dispatches.push(await activationForward(gpu, "sigmoid", { y: mean, x: logits }));
  return { z, c, mean, dispatches };
}

/** Backward of one block from d(out): LeakyReLU, BatchNorm (batch statistics), to d(pre). */
async function blockGrad(
  gpu: Gpu,
  cfg: ConvVaeConfig,
  state: ModelState,
  b: Block,
  dOut: Tensor,
  bnName: string | null,
  mk: MakeTensor,
): Promise<{ dispatches: Dispatch[]; dpre: Tensor }> {
  if (!b.activated) return { dispatches: [], dpre: dOut };
  const L = state.layout;
  const dispatches: Dispatch[] = [];
  // d(normed), unless BN and LeakyReLU ran fused (b.normed null): their backward takes d(out).
  let dy = dOut;
  if (b.normed !== null) {
    dy = mk(`${b.prefix}.dh`, [...b.pre.shape]);
    dispatches.push(
      await activationBackward(gpu, "leaky_relu", { dx: dy, dy: dOut, x: b.normed }, cfg.leak),
    );
    if (!bnName) return { dispatches, dpre: dy };
  }
  const dpre = mk(`${b.prefix}.dpre`, [...b.pre.shape]);
  const t = {
    dx: dpre,
    dgamma: L.view(state.grads, `${bnName}.gamma`),
    dbeta: L.view(state.grads, `${bnName}.beta`),
    x: b.pre,
    gamma: L.view(state.params, `${bnName}.gamma`),
    mean: b.mean!,
    rstd: b.rstd!,
  };
  dispatches.push(
    ...b.normed === null
      ? await batchNormLeakyBackward(gpu, { ...t, dh: dOut, h: b.out }, b.bnShape!, cfg.leak)
      : await batchNormBackward(gpu, { ...t, dy }, b.bnShape!),
  );
  return { dispatches, dpre };
}

/**
 * Every dispatch of a step at batch size `batch`, built once (see the MLP's `buildStep`):
 * without `adam`, forward, losses and metrics only, batch norm in evaluation mode.
 */
export async function buildConvStep(
  gpu: Gpu,
  cfg: ConvVaeConfig,
  state: ModelState,
  source: BatchSource,
  metrics: Tensor,
  batch: number,
  adam?: AdamConfig,
  stream = adam ? 0 : 1,
): Promise<StepProgram> {
  const B = batch, Z = cfg.z;
  const train = adam !== undefined;
  const g = convVaeGeometry(cfg);
  const L = state.layout;
  const P = (n: string): TensorView => L.view(state.params, n);
  const G = (n: string): TensorView => L.view(state.grads, n);
  const t: Record<string, Tensor> = {};
  const mk = tensorMaker(gpu.device, t);
  const fwd: Dispatch[] = [];
  const bwd: Dispatch[] = [];
  const F = cfg.height * cfg.width * cfg.channels;
  const C = cfg.conditions ?? 0;
  const { gather, x, condGather, c } = await gatherInput(gpu, source, B, F, mk, C);
  if (condGather) fwd.push(condGather);
  const xc = await withCondition(gpu, x, c, cfg.height * cfg.width, "xc", mk);
  fwd.push(...xc.dispatches);

  const enc: Block[] = [];
  let input = xc.y.reshape([B, cfg.height, cfg.width, cfg.channels + C]);
  for (const [i, s0] of g.encoder.entries()) {
    const s = { ...s0, batch: B };
    const o = conv2dOutputSize(s);
    const C = s.outChannels;
    const prefix = `encoder.conv.${i}`;
    const pre = mk(`${prefix}.pre`, [B, o.height, o.width, C]);
    fwd.push(
      ...await conv2dForward(gpu, {
        y: pre,
        x: input,
        w: P(`${prefix}.weight`),
        b: biasOf(state, prefix).b,
      }, s),
    );
    const bn = cfg.batchnorm ? `encoder.bn.${i}` : null;
    const rows = B * o.height * o.width;
    const r = await normAndActivate(gpu, cfg, state, pre, rows, C, bn, train, mk, prefix);
    fwd.push(...r.dispatches);
    enc.push({ input, pre, normed: r.normed, out: r.out, prefix, activated: true, ...r.extra });
    input = r.out;
  }
  const flat = g.map[0] * g.map[1] * g.map[2];
  const features = input.reshape([B, flat]);
  const mulogvar = mk("mulogvar", [B, 2 * Z]);
  const head = { batch: B, inFeatures: flat, outFeatures: 2 * Z };
  fwd.push(
    ...await denseForward(gpu, {
      y: mulogvar,
      x: features,
      W: P("encoder.head.weight"),
      b: P("encoder.head.bias"),
    }, head),
  );
  const latent = latentShape(cfg, B, stream);
  const prior = await priorNetwork(gpu, cfg, state, c, mk);
  if (prior) fwd.push(...prior.dispatches);
  const { dispatches: sample, z, eps, kl } = await sampleLatent(
    gpu,
    latent,
    mulogvar,
    state.counter,
    mk,
    prior?.prior,
  );
  fwd.push(...sample);
  const dec = await decoderForward(gpu, cfg, state, z, c, B, train, mk);
  fwd.push(...dec.dispatches);
  const logits = dec.logits;
  t.logits = logits;
  const counter = train ? state.counter : undefined;
  const losses = await lossesAndMetrics(
    gpu,
    cfg,
    { logits, x, kl, metrics, counter },
    latent,
    mk,
    train,
  );
  fwd.push(...losses.dispatches);
  const program = { batch: B, gather, condGather, forward: fwd, tensors: t };
  if (!adam) return { ...program, backward: [], klBackward: null };

  // Backward, in reverse, from d(loss)/d(logits) (written with the loss, in the forward).
  let dy = losses.dlogits!.reshape([...dec.blocks.at(-1)!.pre.shape]);
  for (let j = dec.blocks.length - 1; j >= 0; j--) {
    const b = dec.blocks[j];
    const bn = cfg.batchnorm && b.activated ? `decoder.bn.${j}` : null;
    const r = await blockGrad(gpu, cfg, state, b, dy, bn, mk);
    bwd.push(...r.dispatches);
    const dIn = mk(j > 0 ? `decoder.convt.${j - 1}.dout` : "decoder.ddense", [...b.input.shape]);
    // A "linear" layer: the convolution's input gradient, then the upsampling's transpose.
    const dConvIn = b.upsampled ? mk(`decoder.up.${j}.d`, [...b.upsampled.shape]) : dIn;
    bwd.push(
      ...await convTranspose2dBackward(gpu, {
        dx: dConvIn,
        dw: G(`${b.prefix}.weight`),
        db: biasOf(state, b.prefix).db,
        dy: r.dpre,
        x: b.upsampled ?? b.input,
        w: P(`${b.prefix}.weight`),
      }, { ...g.decoder[j], batch: B }),
    );
    if (b.upsampled) {
      const shape = upsampleShape(g.decoder[j], B);
      bwd.push(await upsample1dBackward(gpu, { dx: dIn, dy: dConvIn }, shape));
    }
    dy = dIn;
  }
  // A conditional decoder's input gradient d[z | c] is cut to dz.
  const dz = mk("dz", [B, Z]);
  const dzc = C ? mk("dzc", [B, Z + C]) : dz;
  bwd.push(
    ...await denseBackward(
      gpu,
      {
        dx: dzc,
        dW: G("decoder.dense.weight"),
        db: G("decoder.dense.bias"),
        dy: dy.reshape([B, flat]),
        x: dec.zc,
        W: P("decoder.dense.weight"),
      },
      { batch: B, inFeatures: Z + C, outFeatures: flat },
      { fuseDb: true },
    ),
  );
  if (C) {
    const shape = { batch: B, positions: 1, features: Z, conditions: C };
    bwd.push(await concatBackward(gpu, { da: dz, dy: dzc }, shape));
  }
  const lg = await latentGrad(gpu, cfg, { dz, eps, mulogvar, prior, state }, latent, mk);
  bwd.push(...lg.dispatches);
  const dFeatures = mk(`encoder.conv.${enc.length - 1}.dout`, [B, ...g.map]);
  bwd.push(
    ...await denseBackward(
      gpu,
      {
        dx: dFeatures.reshape([B, flat]),
        dW: G("encoder.head.weight"),
        db: G("encoder.head.bias"),
        dy: lg.dmulogvar,
        x: features,
        W: P("encoder.head.weight"),
      },
      head,
      { fuseDb: true },
    ),
  );
  dy = dFeatures;
  for (let i = enc.length - 1; i >= 0; i--) {
    const b = enc[i];
    const r = await blockGrad(gpu, cfg, state, b, dy, cfg.batchnorm ? `encoder.bn.${i}` : null, mk);
    bwd.push(...r.dispatches);
    const dIn = i > 0 ? mk(`encoder.conv.${i - 1}.dout`, [...b.input.shape]) : undefined;
    bwd.push(
      ...await conv2dBackward(gpu, {
        dx: dIn,
        dw: G(`${b.prefix}.weight`),
        db: biasOf(state, b.prefix).db,
        dy: r.dpre,
        x: b.input,
        w: P(`${b.prefix}.weight`),
      }, { ...g.encoder[i], batch: B }),
    );
    if (dIn) dy = dIn;
  }
  bwd.push(...await adamStep(gpu, state.optimized(), adam));
  return { ...program, backward: bwd, klBackward: lg.klBackward };
}
