/**
 * The standalone decoder (src/web/decoder.ts, the `./decoder` export): GPU decode vs the float64
 * reference on ragged shapes and batches, bit-for-bit agreement with the training side's
 * buildDecode for the same weights, and clear errors for files that do not describe a decoder.
 * The same for label-conditioned decoders ([z | one-hot(class)] into the first layer): vs the
 * float64 reference and vs the training side's buildVaeDecode with its conditions written.
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
