/**
 * The standalone decoder (src/web/decoder.ts, the `./decoder` export): GPU decode vs the float64
 * reference on ragged shapes and batches, bit-for-bit agreement with the training side's
 * buildDecode for the same weights, and clear errors for files that do not describe a decoder.
 * The same for label-conditioned decoders ([z | one-hot(class)] into the first layer): vs the
 * float64 reference and vs the training side's buildVaeDecode with its conditions written.
 * Learned conditional priors (prior.* weights): priorCodes vs a float64 computation of
 * mp + t exp(0.5 clamp(pv)) eps (some pv outside the clamp), bit-for-bit agreement with the
 * training side's sampler (src/vae/prior_sample.ts), and clear errors for prior shapes that do
 * not chain K -> ... -> 2Z.
 */

import assert from "node:assert/strict";
import { readback } from "../src/gpu/buffer.ts";
import { submit } from "../src/gpu/kernel.ts";
import { leakyReluForward, sigmoidForward } from "../src/reference/activation.ts";
import { denseForward } from "../src/reference/dense.ts";
import { encodeSafetensors, parseSafetensors, type SafeTensor } from "../src/train/safetensors.ts";
import { Decoder, DecoderError, decoderShaders, readDecoderSpec } from "../src/web/decoder.ts";
import { buildDecode, type MlpVaeConfig, mlpVaeLayout } from "../src/vae/mlp_vae.ts";
import { buildVaeDecode } from "../src/vae/model.ts";
import { conditionRows } from "../src/vae/condition.ts";
import { initParams, ModelState } from "../src/vae/common.ts";
import { PriorSampler } from "../src/vae/prior_sample.ts";
import { assertClose, gpuTest, Rng } from "./_helpers.ts";

/** Random decoder weights Z -> hidden... -> F as named tensors (scaled like an init). */
function mlpWeights(rng: Rng, z: number, hidden: number[], features: number): SafeTensor[] {
  const out: SafeTensor[] = [];
  let k = z;
  const widths = [...hidden, features];
  widths.forEach((n, i) => {
    const name = i < hidden.length ? `decoder.${i}` : "decoder.out";
    const s = 1.5 / Math.sqrt(k);
    out.push({
      name: `${name}.weight`,
      dtype: "F32",
      shape: [k, n],
      data: Float32Array.from(rng.uniform(k * n, -s, s)),
    });
    out.push({
      name: `${name}.bias`,
      dtype: "F32",
      shape: [n],
      data: Float32Array.from(rng.uniform(n, -0.5, 0.5)),
    });
    k = n;
  });
  return out;
}

/** Float64 decode of codes `z` [B, Z] through the named weights. */
function referenceDecode(
  tensors: SafeTensor[],
  z: Float64Array,
  batch: number,
  sigmoid: boolean,
): Float64Array {
  const get = (name: string) => tensors.find((t) => t.name === name)!;
  let x = z;
  const names = tensors.filter((t) => t.name.endsWith(".weight")).map((t) => t.name.slice(0, -7));
  names.forEach((layer, i) => {
    const W = get(`${layer}.weight`);
    const s = { batch, inFeatures: W.shape[0], outFeatures: W.shape[1] };
    x = denseForward(x, W.data, get(`${layer}.bias`).data, s);
    if (i < names.length - 1) x = leakyReluForward(x, 0);
  });
  return sigmoid ? sigmoidForward(x) : x;
}

function file(tensors: SafeTensor[], config: Record<string, unknown>): Uint8Array {
  return encodeSafetensors(tensors, { config: JSON.stringify(config) });
}

/** [z | one-hot(cls)] in float64: codes [B, Z] with K one-hot class values appended per row. */
function withOneHot(z: Float64Array, cls: number[], Z: number, K: number): Float64Array {
  const B = cls.length, out = new Float64Array(B * (Z + K));
  for (let b = 0; b < B; b++) {
    out.set(z.subarray(b * Z, (b + 1) * Z), b * (Z + K));
    out[b * (Z + K) + Z + cls[b]] = 1;
  }
  return out;
}

const SHAPES = [
  // Ragged everything (tiled dense kernels), a 5 x 5 "image".
  { z: 3, hidden: [13, 7], features: 25, recon: "bce" },
  // Multiples of 4 (vec4 dense kernels), 28 x 28, no hidden layer, Gaussian output.
  { z: 4, hidden: [], features: 784, recon: "mse" },
  // The shape of a small trained run: z = 2, one hidden layer.
  { z: 2, hidden: [64], features: 784, recon: "bce" },
];

for (const [c, { z, hidden, features, recon }] of SHAPES.entries()) {
  gpuTest(`decoder: decode matches the float64 reference (z ${z}, [${hidden}], ${recon})`, async (
    gpu,
  ) => {
    const rng = new Rng(100 + c);
    const tensors = mlpWeights(rng, z, hidden, features);
    const decoder = await Decoder.load(file(tensors, { model: "mlp", recon }), { gpu });
    assert.equal(decoder.z, z);
    assert.equal(decoder.features, features);
    assert.equal(decoder.spec.height * decoder.spec.width, features);
    for (const batch of [1, 3, 7]) {
      const codes = rng.normal(batch * z);
      const got = await decoder.decode(codes);
      const want = referenceDecode(tensors, codes, batch, recon === "bce");
      assertClose(`decode B=${batch}`, got, want, 1e-4, 1e-6);
    }
    await decoder.destroy();
  });
}

gpuTest("decoder: same pixels as the training side's buildDecode for a model's weights", async (
  gpu,
) => {
  const cfg: MlpVaeConfig = {
    inputs: 784,
    hidden: [32, 20],
    z: 5,
    recon: "bce",
    reconWeight: 1,
    beta: 1,
    logvarClamp: [-30, 20],
    seed: 3,
  };
  const layout = mlpVaeLayout(cfg);
  const params = initParams(layout, cfg.seed);
  // The checkpoint as training writes it: every parameter by name, the config in the metadata.
  const bytes = encodeSafetensors(
    layout.entries.map((e) => ({
      name: e.name,
      dtype: "F32" as const,
      shape: e.shape,
      data: params.subarray(e.offset, e.offset + e.length),
    })),
    { config: JSON.stringify({ model: "mlp", hidden: cfg.hidden, z: cfg.z, recon: "bce" }) },
  );
  const decoder = await Decoder.load(bytes, { gpu });
  const state = new ModelState(gpu, layout, params);
  const batch = 6;
  const train = await buildDecode(gpu, cfg, state, batch);
  const codes = Float32Array.from(new Rng(9).normal(batch * cfg.z, 2));
  gpu.device.queue.writeBuffer(train.z.buffer, 0, codes);
  submit(gpu.device, train.dispatches);
  const want = await readback(gpu.device, train.mean);
  const got = await decoder.decode(codes);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  console.log(`  web decoder vs buildDecode: max abs difference ${worst}`);
  assert.equal(worst, 0, "the same kernels on the same weights should agree exactly");
  state.destroy();
  await decoder.destroy();
});

const CONDITIONAL = [
  // Ragged: z 3 + 4 classes into [13, 7] hidden, a 5 x 5 image.
  { z: 3, classes: 4, hidden: [13, 7], features: 25, recon: "bce" },
  // A small trained run's shape: z 2 + 10 classes, one hidden layer, 28 x 28, Gaussian output.
  { z: 2, classes: 10, hidden: [64], features: 784, recon: "mse" },
];

for (const [c, { z, classes, hidden, features, recon }] of CONDITIONAL.entries()) {
  gpuTest(
    `decoder: label-conditioned decode matches the float64 reference (z ${z}, ${classes} ` +
      `classes, [${hidden}], ${recon})`,
    async (gpu) => {
      const rng = new Rng(300 + c);
      const tensors = mlpWeights(rng, z + classes, hidden, features);
      const names = Array.from({ length: classes }, (_, k) => `class-${k}`);
      const bytes = encodeSafetensors(tensors, {
        config: JSON.stringify({ model: "mlp", recon, z, condition: "label" }),
        condition: JSON.stringify({ kind: "label", classes, names }),
      });
      const decoder = await Decoder.load(bytes, { gpu });
      assert.deepEqual([decoder.z, decoder.classes], [z, classes]);
      assert.deepEqual(decoder.spec.condition, { kind: "label", classes, names });
      for (const batch of [1, 3, 7]) {
        const codes = rng.normal(batch * z);
        const cls = Array.from({ length: batch }, (_, i) => (3 * i + batch) % classes);
        const got = await decoder.decode(codes, cls);
        const want = referenceDecode(
          tensors,
          withOneHot(codes, cls, z, classes),
          batch,
          recon === "bce",
        );
        assertClose(`decode B=${batch}, classes [${cls}]`, got, want, 1e-4, 1e-6);
        // One class for every code is the same as that class repeated.
        const one = await decoder.decode(codes, cls[0]);
        const each = await decoder.decode(codes, new Array(batch).fill(cls[0]));
        assert.deepEqual(one, each);
      }
      // The class matters: the same code decodes differently for two classes.
      const code = rng.normal(z);
      const a = await decoder.decode(code, 0), b = await decoder.decode(code, classes - 1);
      let moved = 0;
      for (let i = 0; i < a.length; i++) moved = Math.max(moved, Math.abs(a[i] - b[i]));
      console.log(`  class 0 vs class ${classes - 1}, same code: max |difference| ${moved}`);
      assert.ok(moved > 1e-3, "the class does not change the decoded image");
      await decoder.destroy();
    },
  );
}

gpuTest("decoder: label-conditioned, same pixels as the training side's buildVaeDecode", async (
  gpu,
) => {
  const K = 10;
  const cfg: MlpVaeConfig = {
    kind: "mlp",
    inputs: 784,
    hidden: [32, 20],
    z: 5,
    recon: "bce",
    reconWeight: 1,
    beta: 1,
    logvarClamp: [-30, 20],
    seed: 4,
    conditions: K,
    condition: { kind: "label", classes: K },
  };
  const layout = mlpVaeLayout(cfg);
  const params = initParams(layout, cfg.seed);
  // A run's model.safetensors: the training config names the condition, not the class count
  // (the decoder reads it from the first layer's inputs less z).
  const bytes = encodeSafetensors(
    layout.entries.map((e) => ({
      name: e.name,
      dtype: "F32" as const,
      shape: e.shape,
      data: params.subarray(e.offset, e.offset + e.length),
    })),
    {
      config: JSON.stringify({
        model: "mlp",
        hidden: cfg.hidden,
        z: cfg.z,
        recon: "bce",
        condition: "label",
      }),
    },
  );
  const decoder = await Decoder.load(bytes, { gpu });
  assert.deepEqual([decoder.z, decoder.classes], [cfg.z, K]);
  assert.deepEqual(decoder.spec.condition!.names, [
    "0",
    "1",
    "2",
    "3",
    "4",
    "5",
    "6",
    "7",
    "8",
    "9",
  ]);
  const state = new ModelState(gpu, layout, params);
  const batch = 7;
  const train = await buildVaeDecode(gpu, cfg, state, batch);
  const codes = Float32Array.from(new Rng(10).normal(batch * cfg.z, 2));
  const cls = [0, 9, 3, 3, 7, 1, 5];
  gpu.device.queue.writeBuffer(train.z.buffer, 0, codes);
  gpu.device.queue.writeBuffer(
    train.c!.buffer,
    0,
    Float32Array.from(conditionRows(cfg.condition!, cls)),
  );
  submit(gpu.device, train.dispatches);
  const want = await readback(gpu.device, train.mean);
  const got = await decoder.decode(codes, cls);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  console.log(`  conditional web decoder vs buildVaeDecode: max abs difference ${worst}`);
  assert.equal(worst, 0, "the same kernels on the same weights should agree exactly");

  // Classes: required, whole, in range, one per code (or one for all).
  const bad = (cls: unknown, why: RegExp) =>
    assert.rejects(
      () => decoder.decode(codes, cls as number[]),
      (e: Error) => e instanceof DecoderError && why.test(e.message),
    );
  await bad(undefined, /conditioned on the class; give one 0\.\.9/);
  await bad(10, /class 10 is not one of the decoder's 0\.\.9/);
  await bad(1.5, /class 1\.5 is not one/);
  await bad([1, 2], /2 classes for 7 codes/);
  state.destroy();
  await decoder.destroy();
});

gpuTest("decoder: concurrent decodes of different batch sizes each get their own pixels", async (
  gpu,
) => {
  const rng = new Rng(41);
  const tensors = mlpWeights(rng, 2, [8], 16);
  const decoder = await Decoder.load(file(tensors, {}), { gpu });
  const inputs = [1, 4, 1, 2].map((b) => rng.normal(2 * b));
  const outs = await Promise.all(inputs.map((z) => decoder.decode(z)));
  for (const [i, z] of inputs.entries()) {
    assertClose(`call ${i}`, outs[i], referenceDecode(tensors, z, z.length / 2, true), 1e-4, 1e-6);
  }
  await assert.rejects(() => decoder.decode([1, 2, 3]), DecoderError);
  await assert.rejects(() => decoder.decode([]), DecoderError);
  await assert.rejects(() => decoder.decode([1, 2], 0), /not conditional; it takes no class/);
  await decoder.destroy();
});

gpuTest("decoder: a shader folder without the shaders is a clear error at load", async () => {
  const bytes = file(mlpWeights(new Rng(8), 2, [4], 9), {});
  const nowhere = new URL("./no-such-folder/", import.meta.url);
  await assert.rejects(
    () => Decoder.load(bytes, { shaders: nowhere }),
    (e: Error) =>
      e instanceof DecoderError && /^shader dense: cannot load .*no-such-folder/.test(e.message),
  );
});

Deno.test("decoder spec: image shape, output, shaders, and clear errors for bad files", () => {
  const rng = new Rng(5);
  const good = mlpWeights(rng, 3, [6], 784);
  const spec = readDecoderSpec(parseSafetensors(file(good, { recon: "mse" }))).spec;
  assert.deepEqual(
    [spec.model, spec.z, spec.height, spec.width, spec.channels, spec.output],
    ["mlp", 3, 28, 28, 1, "identity"],
  );
  assert.deepEqual(decoderShaders("mlp"), ["dense", "activation"]);
  // Encoder weights are ignored; a configured image shape wins over the square guess.
  const withEncoder = [
    { name: "encoder.0.weight", dtype: "F32" as const, shape: [1], data: new Float32Array(1) },
    ...mlpWeights(rng, 2, [], 12),
  ];
  const s2 = readDecoderSpec(parseSafetensors(file(withEncoder, { image: [2, 2, 3] }))).spec;
  assert.deepEqual([s2.height, s2.width, s2.channels, s2.output], [2, 2, 3, "sigmoid"]);

  const bad = (why: RegExp, tensors: SafeTensor[], meta: Record<string, string> = {}) =>
    assert.throws(
      () => readDecoderSpec(parseSafetensors(encodeSafetensors(tensors, meta), "m.st"), "m.st"),
      (e: Error) =>
        e instanceof DecoderError && why.test(e.message) && e.message.startsWith("m.st"),
    );
  const without = (name: string) => good.filter((t) => t.name !== name);
  const reshaped = (name: string, shape: number[]) =>
    good.map((t) =>
      t.name === name ? { ...t, shape, data: new Float32Array(shape[0] * shape[1]) } : t
    );
  bad(/no decoder\.\* weights/, []);
  bad(/decoder\.out\.weight or decoder\.out\.bias is missing/, without("decoder.out.bias"));
  bad(/takes 5 inputs but decoder\.0 gives 6/, reshaped("decoder.out.weight", [5, 784]));
  bad(/decoder\.0\.bias has shape \[3\], expected \[6\]/, [
    ...without("decoder.0.bias"),
    { name: "decoder.0.bias", dtype: "F32", shape: [3], data: new Float32Array(3) },
  ]);
  bad(/decoder\.0\.weight is F64/, [
    { name: "decoder.0.weight", dtype: "F64", shape: [3, 6], data: new Float64Array(18) },
    ...without("decoder.0.weight"),
  ]);
  bad(/decoder\.7\.weight is not a weight of an mlp decoder/, [
    ...good,
    { name: "decoder.7.weight", dtype: "F32", shape: [1], data: new Float32Array(1) },
  ]);
  bad(/config in the metadata is not valid JSON/, good, { config: "{nope" });
  bad(/not a JSON object/, good, { config: "[1]" });
  bad(/model "gan" is not a decoder/, good, { config: '{"model":"gan"}' });
  bad(/conv decoder is not supported/, good, { config: '{"model":"conv"}' });

  // Conditions: from the exported metadata, or from a run's config (z and the first layer).
  assert.deepEqual(decoderShaders("mlp", true), ["dense", "activation", "concat"]);
  const cond = (meta: Record<string, string>) =>
    readDecoderSpec(parseSafetensors(encodeSafetensors(good, meta))).spec;
  const fromRun = cond({ config: '{"condition":"label","z":1}' });
  assert.deepEqual([fromRun.z, fromRun.condition], [1, {
    kind: "label",
    classes: 2,
    names: ["0", "1"],
  }]);
  const exported = cond({ condition: '{"kind":"label","classes":2,"names":["cat","dog"]}' });
  assert.deepEqual([exported.z, exported.condition!.names], [1, ["cat", "dog"]]);
  assert.equal(cond({ config: '{"condition":"none","z":3}' }).condition, undefined);
  const length = /length-conditioned decoder is not supported by the web export yet/;
  bad(length, good, { config: '{"condition":"length","z":2}' });
  bad(length, good, { condition: '{"kind":"length","mean":100,"std":20}' });
  bad(/label-conditioned config needs its z \(1\.\.2\), has 3/, good, {
    config: '{"condition":"label","z":3}',
  });
  bad(/condition classes 3 does not fit a first layer of 3 inputs/, good, {
    condition: '{"kind":"label","classes":3}',
  });
  bad(/condition names must be 2 strings/, good, {
    condition: '{"kind":"label","classes":2,"names":["a"]}',
  });
  bad(/condition in the metadata is not valid JSON/, good, { condition: "{" });
});

/** Random dense layers `${part}.0` ... then `last`, chaining the widths (scaled like an init). */
function denseWeights(
  rng: Rng,
  part: string,
  last: string,
  widths: number[],
  biasScale = 0.5,
): SafeTensor[] {
  const out: SafeTensor[] = [];
  for (let i = 1; i < widths.length; i++) {
    const k = widths[i - 1], n = widths[i];
    const name = i < widths.length - 1 ? `${part}.${i - 1}` : last;
    const s = 1.5 / Math.sqrt(k);
    out.push({
      name: `${name}.weight`,
      dtype: "F32",
      shape: [k, n],
      data: Float32Array.from(rng.uniform(k * n, -s, s)),
    });
    out.push({
      name: `${name}.bias`,
      dtype: "F32",
      shape: [n],
      data: Float32Array.from(rng.uniform(n, -biasScale, biasScale)),
    });
  }
  return out;
}

/**
 * Float64 prior codes: the network one-hot(cls) -> hidden (ReLU) -> [mp | pv], then
 * z = mp + t exp(0.5 clamp(pv, lo, hi)) eps; also how many pv fell below lo and above hi.
 */
function referencePriorCodes(
  tensors: SafeTensor[],
  eps: Float64Array,
  cls: number[],
  K: number,
  Z: number,
  [lo, hi]: [number, number],
  t: number,
): { z: Float64Array; pv: number[]; below: number; above: number } {
  const B = cls.length;
  const get = (name: string) => tensors.find((x) => x.name === name)!;
  const names = tensors.filter((x) => x.name.startsWith("prior.") && x.name.endsWith(".weight"))
    .map((x) => x.name.slice(0, -7));
  let x: Float64Array = new Float64Array(B * K);
  cls.forEach((k, b) => x[b * K + k] = 1);
  names.forEach((layer, i) => {
    const W = get(`${layer}.weight`);
    const shape = { batch: B, inFeatures: W.shape[0], outFeatures: W.shape[1] };
    x = denseForward(x, W.data, get(`${layer}.bias`).data, shape);
    if (i < names.length - 1) x = leakyReluForward(x, 0);
  });
  const z = new Float64Array(B * Z);
  let below = 0, above = 0;
  const pvs: number[] = [];
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < Z; j++) {
      const raw = x[b * 2 * Z + Z + j];
      pvs.push(raw);
      if (raw < lo) below++;
      if (raw > hi) above++;
      const pv = Math.min(Math.max(raw, lo), hi);
      z[b * Z + j] = x[b * 2 * Z + j] + t * Math.exp(0.5 * pv) * eps[b * Z + j];
    }
  }
  return { z, pv: pvs, below, above };
}

const PRIORS = [
  // Odd sizes: 3 classes, one hidden layer of 5, Z = 2.
  { classes: 3, hidden: [5], z: 2 },
  // Two hidden layers, Z = 3; no hidden layer (a linear prior), 5 classes, Z = 1.
  { classes: 3, hidden: [6, 5], z: 3 },
  { classes: 5, hidden: [], z: 1 },
];

for (const [c, { classes: K, hidden, z: Z }] of PRIORS.entries()) {
  gpuTest(
    `decoder: learned prior codes match float64 (${K} classes, [${hidden}], z ${Z})`,
    async (gpu) => {
      const rng = new Rng(500 + c);
      const decoderTensors = mlpWeights(rng, Z + K, [4], 9);
      const prior = denseWeights(rng, "prior", "prior.head", [K, ...hidden, 2 * Z], 2);
      const tensors = [...decoderTensors, ...prior];
      // A clamp between the 30th and 70th percentiles of the classes' pv: some fall below it,
      // some above, so the clamp is exercised on both sides.
      const all = Array.from({ length: K }, (_, k) => k);
      const pv = referencePriorCodes(prior, new Float64Array(K * Z), all, K, Z, [-1e30, 1e30], 1)
        .pv.sort((a, b) => a - b);
      const clamp: [number, number] = [
        pv[Math.floor(0.3 * pv.length)] - 1e-3,
        pv[Math.ceil(0.7 * pv.length) - 1] + 1e-3,
      ];
      console.log(`  pv of the classes in [${pv[0]}, ${pv.at(-1)}], clamp [${clamp}]`);
      const config = {
        model: "mlp",
        z: Z,
        condition: "label",
        prior: "learned",
        "prior-hidden": hidden,
        "logvar-clamp": clamp,
      };
      const decoder = await Decoder.load(file(tensors, config), { gpu });
      assert.deepEqual(decoder.spec.prior, { hidden, logvarClamp: clamp });
      assert.deepEqual([decoder.z, decoder.classes], [Z, K]);
      let below = 0, above = 0;
      for (const batch of [1, 3, 7]) {
        const eps = rng.normal(batch * Z);
        const cls = Array.from({ length: batch }, (_, i) => (2 * i + batch) % K);
        for (const t of [1, 0.5, 0]) {
          const got = await decoder.priorCodes(eps, cls, t);
          const want = referencePriorCodes(prior, eps, cls, K, Z, clamp, t);
          below += want.below;
          above += want.above;
          assertClose(`priorCodes B=${batch}, t=${t}`, got, want.z, 1e-5, 1e-6);
        }
        // One class for all codes is that class repeated; the default temperature is 1.
        assert.deepEqual(
          await decoder.priorCodes(eps, cls[0]),
          await decoder.priorCodes(eps, new Array(batch).fill(cls[0]), 1),
        );
      }
      console.log(`  pv outside the clamp: ${below} below, ${above} above`);
      assert.ok(below > 0 && above > 0, "the test should clamp on both sides");
      // The decoder itself is unchanged by the prior's weights.
      const codes = rng.normal(3 * Z), cls = [0, K - 1, 1];
      assertClose(
        "decode with a prior",
        await decoder.decode(codes, cls),
        referenceDecode(decoderTensors, withOneHot(codes, cls, Z, K), 3, true),
        1e-4,
        1e-6,
      );
      // The classes are checked as decode checks them.
      await assert.rejects(() => decoder.priorCodes(eps1(Z)), /priorCodes: .*conditioned/);
      await assert.rejects(() => decoder.priorCodes(eps1(Z), K), /class \d+ is not one of/);
      await assert.rejects(() => decoder.priorCodes([], 0), /0 values is not a whole number/);
      await decoder.destroy();
    },
  );
}

function eps1(Z: number): number[] {
  return Array.from({ length: Z }, (_, i) => i - 0.5);
}

gpuTest("decoder: learned prior codes equal the training side's sampler, bit for bit", async (
  gpu,
) => {
  const K = 10;
  const cfg: MlpVaeConfig = {
    kind: "mlp",
    inputs: 784,
    hidden: [16],
    z: 3,
    recon: "bce",
    reconWeight: 1,
    beta: 1,
    logvarClamp: [-30, 20],
    seed: 6,
    conditions: K,
    condition: { kind: "label", classes: K },
    prior: { hidden: [7] },
  };
  const layout = mlpVaeLayout(cfg);
  const params = initParams(layout, cfg.seed);
  const bytes = encodeSafetensors(
    layout.entries.map((e) => ({
      name: e.name,
      dtype: "F32" as const,
      shape: e.shape,
      data: params.subarray(e.offset, e.offset + e.length),
    })),
    {
      config: JSON.stringify({
        model: "mlp",
        hidden: cfg.hidden,
        z: cfg.z,
        condition: "label",
        prior: "learned",
        "prior-hidden": [7],
      }),
    },
  );
  const decoder = await Decoder.load(bytes, { gpu });
  assert.deepEqual(decoder.spec.prior, { hidden: [7], logvarClamp: [-30, 20] });
  const state = new ModelState(gpu, layout, params);
  const n = 9;
  const eps = Float32Array.from(new Rng(12).normal(n * cfg.z));
  const cls = [0, 9, 3, 3, 7, 1, 5, 2, 8];
  const cond = Float32Array.from(conditionRows(cfg.condition!, cls));
  for (const t of [1, 0.7]) {
    const want = await new PriorSampler(gpu, cfg, state).codes(eps, n, cond, t);
    const got = await decoder.priorCodes(eps, cls, t);
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
    console.log(`  t=${t}: web priorCodes vs training's priorCodes: max abs difference ${worst}`);
    assert.equal(worst, 0, "the same kernels on the same weights should agree exactly");
  }
  state.destroy();
  await decoder.destroy();
});

gpuTest("decoder: with the standard prior, priorCodes is eps times the temperature", async (
  gpu,
) => {
  const rng = new Rng(61);
  const eps = rng.normal(6);
  const plain = await Decoder.load(file(mlpWeights(rng, 2, [4], 9), {}), { gpu });
  assert.equal(plain.spec.prior, undefined);
  assert.deepEqual(await plain.priorCodes(eps), Float32Array.from(eps));
  assert.deepEqual(
    await plain.priorCodes(eps, undefined, 0.5),
    Float32Array.from(eps, (v) => v / 2),
  );
  await assert.rejects(() => plain.priorCodes(eps, 0), /not conditional; it takes no class/);
  await plain.destroy();
  const cond = await Decoder.load(
    file(mlpWeights(rng, 2 + 3, [4], 9), { z: 2, condition: "label" }),
    { gpu },
  );
  assert.deepEqual(
    await cond.priorCodes(eps, [0, 2, 1], 0.3),
    Float32Array.from(eps, (v) => v * 0.3),
  );
  await assert.rejects(() => cond.priorCodes(eps), /give one 0\.\.2/);
  await cond.destroy();
});

Deno.test("decoder spec: learned prior shapes must chain K -> ... -> 2Z, one-line errors", () => {
  const rng = new Rng(62);
  // z 2 + 3 classes into the decoder; the prior 3 -> 5 -> 4.
  const dec = mlpWeights(rng, 5, [4], 9);
  const prior = denseWeights(rng, "prior", "prior.head", [3, 5, 4]);
  const config = JSON.stringify({ z: 2, condition: "label", prior: "learned" });
  const spec = (tensors: SafeTensor[], c = config) =>
    readDecoderSpec(parseSafetensors(encodeSafetensors(tensors, { config: c }), "m.st"), "m.st");
  const good = spec([...dec, ...prior]);
  assert.deepEqual(good.spec.prior, { hidden: [5], logvarClamp: [-30, 20] });
  assert.deepEqual([...good.weights.keys()].filter((k) => k.startsWith("prior.")).sort(), [
    "prior.0.bias",
    "prior.0.weight",
    "prior.head.bias",
    "prior.head.weight",
  ]);
  const bad = (why: RegExp, tensors: SafeTensor[], c = config) =>
    assert.throws(() => spec(tensors, c), (e: Error) => {
      const ok = e instanceof DecoderError && why.test(e.message) &&
        e.message.startsWith("m.st: ") && !e.message.includes("\n");
      if (ok) console.log(`  ${e.message}`);
      return ok;
    });
  const swap = (name: string, shape: number[]) =>
    prior.map((t) =>
      t.name === name
        ? { ...t, shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) }
        : t
    );
  bad(/prior\.0\.weight takes 4 inputs but the condition has 3 classes/, [
    ...dec,
    ...swap("prior.0.weight", [4, 5]),
  ]);
  bad(/prior\.head\.weight takes 6 inputs but prior\.0 gives 5/, [
    ...dec,
    ...swap("prior.head.weight", [6, 4]),
  ]);
  bad(/prior\.head\.weight gives 6 outputs, expected 2Z = 4/, [
    ...dec,
    ...swap("prior.head.weight", [5, 6]).filter((t) => t.name !== "prior.head.bias"),
    { name: "prior.head.bias", dtype: "F32", shape: [6], data: new Float32Array(6) },
  ]);
  bad(/prior\.0\.bias has shape \[4\], expected \[5\]/, [...dec, ...swap("prior.0.bias", [4])]);
  bad(
    /prior\.head\.weight or prior\.head\.bias is missing/,
    [...dec, ...prior.filter((t) => t.name !== "prior.head.bias")],
  );
  bad(/prior\.3\.weight is not a weight of the prior/, [
    ...dec,
    ...prior,
    { name: "prior.3.weight", dtype: "F32", shape: [1], data: new Float32Array(1) },
  ]);
  bad(/learned prior \(prior\.\*\) weights but no label condition/, [
    ...mlpWeights(rng, 2, [4], 9),
    ...prior,
  ], "{}");
  bad(/config says "prior": "learned" but no prior\.\* weights/, dec);
  bad(
    /logvar-clamp \[1,0\] is not \[lo, hi\]/,
    [...dec, ...prior],
    JSON.stringify({
      z: 2,
      condition: "label",
      "logvar-clamp": [1, 0],
    }),
  );
});
