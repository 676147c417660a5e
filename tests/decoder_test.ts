/**
 * The standalone decoder (src/web/decoder.ts, the `./decoder` export) is training's decoder:
 * for every family (mlp label-conditioned with a learned prior, conv with batch norm in
 * evaluation mode, a streamline conv1d conditioned on length with linear upsampling) on ragged
 * shapes, an exported decoder file decodes bit for bit as training's buildVaeDecode on the full
 * state, and as the float64 reference within tolerance; priorCodes agrees bit for bit with
 * training's sampler and with a float64 computation of mp + t exp(0.5 clamp(pv)) eps.
 * Also: the model spec round-trips and is checked (one-line errors), and decoder files that do
 * not fit (no spec, an older export, missing or non-finite weights, bad conditions) are
 * one-line errors.
 */

import assert from "node:assert/strict";
import { readback, write } from "../src/gpu/buffer.ts";
import type { Gpu } from "../src/gpu/device.ts";
import { submit } from "../src/gpu/kernel.ts";
import { leakyReluForward, sigmoidForward } from "../src/reference/activation.ts";
import { convVaeDecode } from "../src/reference/conv_vae.ts";
import { denseForward } from "../src/reference/dense.ts";
import { priorForward } from "../src/reference/prior.ts";
import { encodeSafetensors, parseSafetensors } from "../src/io/safetensors.ts";
import { ModelState } from "../src/vae/common.ts";
import { conditionRows } from "../src/vae/condition.ts";
import type { ConvVaeConfig } from "../src/vae/conv_vae.ts";
import type { MlpVaeConfig } from "../src/vae/mlp_vae.ts";
import { buildVaeDecode, vaeLayout } from "../src/vae/model.ts";
import { PriorSampler } from "../src/vae/prior_sample.ts";
import { type ModelSpec, parseModelSpec, SpecError } from "../src/vae/spec.ts";
import { Decoder, DecoderError, decoderFileBytes } from "../src/web/decoder.ts";
import { assertClose, gpuTest, Rng } from "./_helpers.ts";
import { specAndParams } from "./_spec_run.ts";

/** A run's model.safetensors for `spec` with `params`, parsed. */
function modelFile(spec: ModelSpec, params: Float32Array, extra: Record<string, string> = {}) {
  const tensors = vaeLayout(spec.model).entries.map((e) => ({
    name: e.name,
    dtype: "F32" as const,
    shape: e.shape,
    data: params.subarray(e.offset, e.offset + e.length),
  }));
  const bytes = encodeSafetensors(tensors, { spec: JSON.stringify(spec), step: "3", ...extra });
  return parseSafetensors(bytes, "model.safetensors");
}

/** Batch norm's running statistics set away from the identity (so evaluation mode shows). */
function perturbRunning(spec: ModelSpec, params: Float32Array, rng: Rng): void {
  for (const e of vaeLayout(spec.model).entries) {
    const lo = e.name.endsWith("running_var") ? 0.3 : -0.5;
    const hi = e.name.endsWith("running_var") ? 2 : 0.5;
    if (e.name.includes("running_")) params.set(rng.uniform(e.length, lo, hi), e.offset);
  }
}

/** The float64 MLP decoder, written out from the reference ops: [z | c] -> ReLU ... -> out. */
function mlpReference(
  cfg: MlpVaeConfig,
  p: Float64Array,
  z: Float64Array,
  B: number,
  c?: Float64Array,
): Float64Array {
  const layout = vaeLayout(cfg), P = (n: string) => layout.slice(p, n);
  const C = cfg.conditions ?? 0, Z = cfg.z;
  let h: Float64Array = new Float64Array(B * (Z + C)), k = Z + C;
  for (let b = 0; b < B; b++) {
    h.set(z.subarray(b * Z, (b + 1) * Z), b * k);
    if (c) h.set(c.subarray(b * C, (b + 1) * C), b * k + Z);
  }
  [...cfg.hidden].reverse().forEach((n, j) => {
    const shape = { batch: B, inFeatures: k, outFeatures: n };
    h = leakyReluForward(
      denseForward(h, P(`decoder.${j}.weight`), P(`decoder.${j}.bias`), shape),
      0,
    );
    k = n;
  });
  const out = { batch: B, inFeatures: k, outFeatures: cfg.inputs };
  const logits = denseForward(h, P("decoder.out.weight"), P("decoder.out.bias"), out);
  return cfg.recon === "bce" ? sigmoidForward(logits) : logits;
}

/** Decode with training's own program on the full state. */
async function trainingDecode(
  gpu: Gpu,
  spec: ModelSpec,
  params: Float32Array,
  z: Float32Array,
  B: number,
  c?: Float32Array,
): Promise<Float32Array> {
  const state = new ModelState(gpu, vaeLayout(spec.model), params);
  const p = await buildVaeDecode(gpu, spec.model, state, B);
  write(gpu.device, p.z, z);
  if (c) write(gpu.device, p.c!, c);
  submit(gpu.device, p.dispatches, "decode");
  const out = await readback(gpu.device, p.mean);
  state.destroy();
  return out;
}

const MLP: Partial<MlpVaeConfig> = {
  kind: "mlp",
  inputs: 15,
  hidden: [7, 5],
  z: 3,
  conditions: 4,
  condition: { kind: "label", classes: 4 },
  prior: { hidden: [6] },
  logvarClamp: [-3, 1.5],
};
const CONV: Partial<ConvVaeConfig> = {
  kind: "conv",
  height: 12,
  width: 12,
  channels: 1,
  filters: [3, 5],
  kernels: [3, 3],
  strides: [2, 2],
  decoderFilters: [5, 1],
  decoderKernels: [3, 3],
  decoderStrides: [2, 2],
  batchnorm: true,
  leak: 0.2,
  z: 5,
};
const STREAMLINES: Partial<ConvVaeConfig> = {
  kind: "conv",
  height: 1,
  width: 20,
  channels: 3,
  filters: [4, 6],
  kernels: [3, 3],
  strides: [2, 2],
  decoderFilters: [4, 3],
  decoderKernels: [3, 3],
  decoderStrides: [2, 2],
  batchnorm: true,
  leak: 0,
  upsample: "linear",
  z: 4,
  recon: "mse",
  conditions: 1,
  condition: { kind: "length", mean: 40, std: 10 },
};
const STREAM_DATA = {
  rows: 1,
  cols: 20,
  features: 60,
  train: { lengths: new Float32Array([21, 40, 66]) },
  streamlines: {
    points: 20,
    normalization: { center: [1, 2, 3] as [number, number, number], scale: 0.05 },
  },
};

gpuTest(
  "decoder: every family decodes as training's buildVaeDecode and the float64 reference",
  async (gpu) => {
    const rng = new Rng(5);
    const cases: {
      name: string;
      spec: ModelSpec;
      params: Float32Array;
      conditions?: number[];
      reference: (p: Float64Array, z: Float64Array, B: number, c?: Float64Array) => Float64Array;
    }[] = [];
    {
      const { spec, params } = specAndParams(MLP, { rows: 3, cols: 5 }, "mlp", [
        "a",
        "b",
        "c",
        "d",
      ]);
      const cfg = spec.model as MlpVaeConfig;
      cases.push({
        name: "mlp, label, learned prior",
        spec,
        params,
        conditions: [0, 3, 1, 2, 3],
        reference: (p, z, B, c) => mlpReference(cfg, p, z, B, c),
      });
    }
    for (
      const [name, m, data, family] of [
        ["conv, batch norm", CONV, { rows: 12, cols: 12 }, "conv"],
        ["streamlines, length, linear upsampling", STREAMLINES, STREAM_DATA, "streamlines"],
      ] as const
    ) {
      const { spec, params } = specAndParams(m, data, family);
      perturbRunning(spec, params, rng);
      const cfg = spec.model as ConvVaeConfig;
      cases.push({
        name,
        spec,
        params,
        conditions: m.condition ? [25, 40, 61.5, 33, 50] : undefined,
        reference: (p, z, B, c) => convVaeDecode(cfg, vaeLayout(cfg), p, z, B, c),
      });
    }
    for (const t of cases) {
      const file = modelFile(t.spec, t.params);
      const bytes = decoderFileBytes(file, "model.safetensors", "run");
      const exported = parseSafetensors(bytes, "decoder.safetensors");
      assert.ok([...exported.tensors.keys()].every((k) => /^(decoder|prior)\./.test(k)), t.name);
      const decoder = await Decoder.load(bytes, { gpu });
      assert.deepEqual(decoder.spec, t.spec);
      const B = 5, Z = t.spec.model.z;
      const z = Float32Array.from(rng.normal(B * Z, 1.2));
      const rows = t.conditions ? conditionRows(t.spec.model.condition!, t.conditions) : undefined;
      const got = await decoder.decode(z, t.conditions);
      assert.equal(got.length, B * decoder.features);
      const train = await trainingDecode(gpu, t.spec, t.params, z, B, rows);
      assert.deepEqual(got, train, `${t.name}: not bit for bit training's decode`);
      const want = t.reference(
        Float64Array.from(t.params),
        Float64Array.from(z),
        B,
        rows ? Float64Array.from(rows) : undefined,
      );
      assertClose(`${t.name}: decoder vs float64 reference`, got, want, 1e-4, 1e-6);
      await decoder.destroy();
    }
  },
);

gpuTest(
  "decoder: priorCodes is training's sampler and mp + t exp(0.5 clamp(pv)) eps",
  async (gpu) => {
    const { spec, params } = specAndParams(MLP, { rows: 3, cols: 5 }, "mlp");
    const cfg = spec.model;
    // A wide prior head bias, so that some log variances fall outside the clamp [-3, 1.5].
    const head = vaeLayout(cfg).get("prior.head.bias");
    params.set(new Rng(3).uniform(head.length, -5, 4), head.offset);
    const decoder = await Decoder.load(
      decoderFileBytes(modelFile(spec, params), "model", "run"),
      { gpu },
    );
    const rng = new Rng(9);
    const B = 7, Z = cfg.z, classes = [0, 1, 2, 3, 3, 2, 0];
    const eps = Float32Array.from(rng.normal(B * Z));
    const rows = conditionRows(cfg.condition!, classes);
    const state = new ModelState(gpu, vaeLayout(cfg), params);
    const sampler = new PriorSampler(gpu, cfg, state);
    const p64 = Float64Array.from(params);
    const m = priorForward(cfg, vaeLayout(cfg), p64, Float64Array.from(rows), B).prior;
    let clamped = 0;
    for (const t of [1, 0.5, 0]) {
      const got = await decoder.priorCodes(eps, classes, t);
      assert.deepEqual(got, await sampler.codes(eps, B, rows, t), `t ${t}: not training's sampler`);
      const want = new Float64Array(B * Z);
      for (let i = 0; i < B; i++) {
        for (let j = 0; j < Z; j++) {
          const pv = m[i * 2 * Z + Z + j];
          if (pv < -3 || pv > 1.5) clamped++;
          const v = Math.min(Math.max(pv, -3), 1.5);
          want[i * Z + j] = m[i * 2 * Z + j] + t * Math.exp(0.5 * v) * eps[i * Z + j];
        }
      }
      assertClose(`priorCodes at t ${t} vs float64`, got, want, 1e-4, 1e-6);
    }
    console.log(`  ${clamped} of ${3 * B * Z} prior log variances were outside the clamp`);
    assert.ok(clamped > 0, "no log variance outside the clamp");
    // The standard prior: t eps, no condition needed by an unconditional decoder.
    const plain = specAndParams(CONV, { rows: 12, cols: 12 });
    const d2 = await Decoder.load(decoderFileBytes(modelFile(plain.spec, plain.params), "m", "r"), {
      gpu,
    });
    const e2 = Float32Array.from(rng.normal(2 * 5));
    assert.deepEqual(await d2.priorCodes(e2, undefined, 0.5), e2.map((v) => v * 0.5));
    // Conditions that do not fit are one-line errors.
    await assert.rejects(
      () => decoder.decode(eps),
      /conditioned on the label; give a class 0\.\.3/,
    );
    await assert.rejects(() => decoder.decode(eps, 4), /4 is not a class 0\.\.3/);
    await assert.rejects(() => decoder.decode(eps, [1, 2]), /2 conditions for 7 codes/);
    await assert.rejects(
      () => decoder.decode([1, 2]),
      /2 values is not a whole number of 3-d codes/,
    );
    await assert.rejects(() => d2.decode(e2, 1), /not conditional; it takes no condition/);
    await sampler.destroy();
    state.destroy();
    await decoder.destroy();
    await d2.destroy();
  },
);

gpuTest("decoder: a length-conditioned decoder takes lengths in mm", async (gpu) => {
  const { spec, params } = specAndParams(STREAMLINES, STREAM_DATA, "streamlines");
  const decoder = await Decoder.load(decoderFileBytes(modelFile(spec, params), "m", "r"), { gpu });
  assert.deepEqual(decoder.condition, { kind: "length", mean: 40, std: 10, min: 21, max: 66 });
  const z = [0.3, -1, 0.2, 0.5];
  const a = await decoder.decode(z, 30), b = await decoder.decode(z, 60);
  assert.ok(a.some((v, i) => Math.abs(v - b[i]) > 1e-6), "the length changes nothing");
  await assert.rejects(() => decoder.decode(z, -5), /-5 is not a length in mm/);
  await assert.rejects(() => decoder.decode(z), /conditioned on the length; give a length in mm/);
  await decoder.destroy();
});

Deno.test("model spec: round trip, and one-line errors for specs that do not fit", () => {
  const { spec } = specAndParams(CONV, { rows: 12, cols: 12 });
  assert.deepEqual(parseModelSpec(JSON.stringify(spec), "f"), spec);
  assert.deepEqual(spec.data, { kind: "image", height: 12, width: 12, channels: 1 });
  assert.equal(spec.layers.find((l) => l.name === "decoder.dense.weight")!.shape.join(), "5,45");
  const bad = (change: (s: Record<string, unknown>) => void, message: RegExp) => {
    const s = JSON.parse(JSON.stringify(spec));
    change(s);
    assert.throws(() => parseModelSpec(JSON.stringify(s), "f.safetensors"), (e: Error) => {
      assert.ok(e instanceof SpecError, String(e));
      assert.ok(!e.message.includes("\n"));
      assert.match(e.message, message);
      return true;
    });
  };
  bad((s) => (s.format = "other/1"), /^f\.safetensors: model spec format "other\/1"/);
  bad(
    (s) => (s.data = { kind: "image", height: 12, width: 11, channels: 1 }),
    /reads 144 values per example but the data geometry holds 132/,
  );
  bad((s) => ((s.model as Record<string, unknown>).z = 0), /latent size z 0/);
  bad((s) => ((s.model as Record<string, unknown>).logvarClamp = [3, 1]), /logvarClamp \[3,1\]/);
  bad(
    (s) => ((s.layers as { shape: number[] }[])[4].shape = [1, 2]),
    /layer 4 is .*builds decoder\.dense\.weight \[5,45\]/,
  );
  bad((s) => ((s.model as Record<string, unknown>).strides = [2, 5]), /does not build: conv model/);
  bad(
    (s) => ((s.model as Record<string, unknown>).prior = { hidden: [3] }),
    /learned prior needs a condition/,
  );
  bad(
    (s) => ((s.model as Record<string, unknown>).filters = [3, 2 ** 22]),
    /builds \d+ parameters, more than 268435456/,
  );
  assert.throws(
    () => parseModelSpec("{", "f"),
    /f: the model spec in the metadata is not valid JSON/,
  );
});

Deno.test("decoder file: one-line errors for files that do not fit", () => {
  const { spec, params } = specAndParams(MLP, { rows: 3, cols: 5 });
  const file = modelFile(spec, params);
  const noSpec = parseSafetensors(
    encodeSafetensors([...file.tensors].map(([name, t]) => ({ name, ...t })), { config: "{}" }),
  );
  const check = (f: () => unknown, message: RegExp) =>
    assert.throws(f, (e: Error) => {
      assert.ok(e instanceof DecoderError, String(e));
      assert.ok(!e.message.includes("\n"));
      assert.match(e.message, message);
      return true;
    });
  check(
    () => decoderFileBytes(noSpec, "old/model.safetensors", "r"),
    /^old\/model\.safetensors has no model spec .*deno task convert/,
  );
  const olderExport = parseSafetensors(encodeSafetensors([], { format: "webgpu-vae-decoder/1" }));
  check(
    () => decoderFileBytes(olderExport, "d", "r"),
    /exported by an older version .*export the run again/,
  );
  const tensors = [...file.tensors].map(([name, t]) => ({ name, ...t }));
  const missing = tensors.filter((t) => t.name !== "prior.head.bias");
  check(
    () => decoderFileBytes(parseSafetensors(encodeSafetensors(missing, file.metadata)), "m", "r"),
    /^m: prior\.head\.bias is missing/,
  );
  const nan = tensors.map((t) =>
    t.name === "decoder.out.weight"
      ? { ...t, data: (t.data as Float32Array).map((v, i) => (i === 4 ? NaN : v)) }
      : t
  );
  check(
    () => decoderFileBytes(parseSafetensors(encodeSafetensors(nan, file.metadata)), "m", "r"),
    /^m: decoder\.out\.weight holds a non-finite value \(NaN\) at 4/,
  );
  const wrongShape = tensors.map((t) =>
    t.name === "decoder.0.bias" ? { ...t, shape: [1, t.shape[0]] } : t
  );
  check(
    () =>
      decoderFileBytes(parseSafetensors(encodeSafetensors(wrongShape, file.metadata)), "m", "r"),
    /decoder\.0\.bias is F32 \[1,5\], the model needs F32 \[5\]/,
  );
  // The exported file: the spec, the run's name and step; nothing machine-local.
  const out = parseSafetensors(decoderFileBytes(file, "m", "tiny"));
  assert.deepEqual(Object.keys(out.metadata).sort(), ["format", "run", "spec", "step"]);
  assert.equal(out.metadata.run, "tiny");
  assert.deepEqual(JSON.parse(out.metadata.spec), spec);
});
