/**
 * Training is unchanged, to the bit: 20 fixed-seed training steps of each model family
 * (mlp, conv, streamlines; label-conditioned with a learned prior; length-conditioned with
 * linear upsampling, smooth mse and free bits) on small real data, then one evaluation-mode
 * batch and the decoder alone on fixed codes. The f32 bits of every step's loss terms, a
 * SHA-256 of the parameters and of both Adam moments after step 20 (plus a few raw values),
 * and digests of the evaluation and decoder outputs must equal the fixture recorded from the
 * code as it was before the layer refactor (tests/golden/BACKEND.json). The Vulkan and GL
 * paths differ in the last bits of some values (their compilers round differently), so each
 * path has its own fixture; each is reproducible run to run.
 *
 * Two more cases run the conv and streamline models with batch norm and the (leaky) ReLU as
 * separate passes (`tuning: { fuseBatchNorm: false }`): more dispatches, the same bits as the
 * fused cases' fixtures.
 *
 * A digest of each case's input batches is checked first, so that a change in the data
 * loaders (not the model) is reported as such.
 *
 * The fixtures were recorded on llvmpipe. On another adapter (a real GPU: other compilers,
 * other rounding) bits cannot match, so there every case is held to the Vulkan fixture's numbers
 * within a tolerance instead: each step's loss terms within 1e-3 relative, the first parameter
 * values within 1e-3. That comparison also runs on llvmpipe, where GL is held to Vulkan's
 * numbers by it, before the bit-for-bit one.
 *
 * Re-record (only for an intended change of the numbers, and say so in the commit):
 *   WEBGPU_VAE_GOLDEN_RECORD=1 WEBGPU_VAE_BACKENDS=vulkan deno task test tests/golden_test.ts
 */
import assert from "node:assert/strict";
import type { Gpu } from "../src/gpu/device.ts";
import { readback, readbackBytes, Tensor, write } from "../src/gpu/buffer.ts";
import { submit } from "../src/gpu/kernel.ts";
import { loadDataset } from "../src/data/datasets.ts";
import { loadStreamlineDataset } from "../src/data/streamline_dataset.ts";
import type { Dataset } from "../src/data/datasets.ts";
import {
  destroyProgram,
  destroySource,
  identityOrder,
  initParams,
  METRIC,
  ModelState,
  setBatchOffset,
} from "../src/vae/common.ts";
import { fitCondition, splitSource } from "../src/vae/condition.ts";
import type { VaeTuning } from "../src/vae/layer.ts";
import { buildVaeDecode, buildVaeStep, type VaeConfig, vaeLayout } from "../src/vae/model.ts";
import { gpuTest, Rng } from "./_helpers.ts";

const STEPS = 20;
const ADAM = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };
const LOSS = {
  reconWeight: 1,
  beta: 1,
  logvarClamp: [-30, 20] as [number, number],
};

interface Case {
  name: string;
  data: "embedded" | "phantom";
  batch: number;
  condition?: "label" | "length";
  cfg: (data: Dataset) => VaeConfig;
  /** Kernel choices that must give the same bits as the case `sameAs` (not recorded). */
  tuning?: VaeTuning;
  sameAs?: string;
}

const RECORDED: Case[] = [
  {
    name: "mlp",
    data: "embedded",
    batch: 16,
    cfg: () => ({
      ...LOSS,
      kind: "mlp",
      inputs: 784,
      hidden: [24, 12],
      z: 4,
      recon: "bce",
      seed: 1,
    }),
  },
  {
    name: "mlp, label, learned prior",
    data: "embedded",
    batch: 12,
    condition: "label",
    cfg: () => ({
      ...LOSS,
      kind: "mlp",
      inputs: 784,
      hidden: [20],
      z: 3,
      recon: "bce",
      beta: 0.8,
      seed: 2,
      prior: { hidden: [8] },
    }),
  },
  {
    name: "conv",
    data: "embedded",
    batch: 8,
    cfg: () => ({
      ...LOSS,
      kind: "conv",
      height: 28,
      width: 28,
      channels: 1,
      filters: [4, 8],
      kernels: [3, 3],
      strides: [2, 2],
      decoderFilters: [4, 1],
      decoderKernels: [3, 3],
      decoderStrides: [2, 2],
      batchnorm: true,
      leak: 0.2,
      z: 4,
      recon: "bce",
      seed: 3,
    }),
  },
  {
    name: "conv, label, no batch norm",
    data: "embedded",
    batch: 6,
    condition: "label",
    cfg: () => ({
      ...LOSS,
      kind: "conv",
      height: 28,
      width: 28,
      channels: 1,
      filters: [3, 5],
      kernels: [3, 5],
      strides: [2, 1],
      decoderFilters: [3, 1],
      decoderKernels: [5, 3],
      decoderStrides: [1, 2],
      batchnorm: false,
      leak: 0.2,
      z: 3,
      recon: "bce",
      seed: 4,
    }),
  },
  {
    name: "streamlines",
    data: "phantom",
    batch: 8,
    cfg: () => ({
      ...LOSS,
      kind: "conv",
      height: 1,
      width: 32,
      channels: 3,
      filters: [8, 16],
      kernels: [3, 3],
      strides: [2, 2],
      decoderFilters: [8, 3],
      decoderKernels: [3, 3],
      decoderStrides: [2, 2],
      batchnorm: true,
      leak: 0,
      z: 4,
      recon: "mse",
      seed: 5,
    }),
  },
  {
    name: "streamlines, length, linear upsampling, smooth mse, free bits",
    data: "phantom",
    batch: 7,
    condition: "length",
    cfg: () => ({
      ...LOSS,
      kind: "conv",
      height: 1,
      width: 32,
      channels: 3,
      filters: [4, 8],
      kernels: [3, 3],
      strides: [2, 2],
      decoderFilters: [4, 3],
      decoderKernels: [4, 4],
      decoderStrides: [2, 2],
      upsample: "linear",
      batchnorm: true,
      leak: 0,
      z: 3,
      recon: "mse",
      reconSmooth: { weight: 0.5, stride: 3 },
      freeBits: 0.05,
      beta: 0.5,
      seed: 6,
    }),
  },
  {
    name: "streamlines, length, learned prior",
    data: "phantom",
    batch: 7,
    condition: "length",
    cfg: () => ({
      ...LOSS,
      kind: "conv",
      height: 1,
      width: 32,
      channels: 3,
      filters: [4, 8],
      kernels: [3, 3],
      strides: [2, 2],
      decoderFilters: [4, 3],
      decoderKernels: [3, 3],
      decoderStrides: [2, 2],
      upsample: "linear",
      batchnorm: true,
      leak: 0,
      z: 3,
      recon: "mse",
      seed: 7,
      prior: { hidden: [5] },
    }),
  },
];

/** A recorded case run with other kernel choices, which must give the same bits. */
function apart(sameAs: string, name: string, tuning: VaeTuning): Case {
  const c = RECORDED.find((c) => c.name === sameAs)!;
  return { ...c, name, sameAs, tuning };
}

const CASES: Case[] = [
  ...RECORDED,
  apart("conv", "conv, batch norm and LeakyReLU apart", { fuseBatchNorm: false }),
  apart("streamlines", "streamlines, batch norm and ReLU apart", { fuseBatchNorm: false }),
];

/** What a case records: hex f32 bits and SHA-256 digests. */
interface Golden {
  input: string;
  /** Per step: the bits of sum_b recon and sum_b kl over the step's batch. */
  losses: [string, string][];
  params: string;
  adamM: string;
  adamV: string;
  /** Bits of the first 3 values of every parameter (and buffer) after the last step. */
  firstValues: { [name: string]: string[] };
  /** Bits of sum recon and sum kl of one evaluation-mode batch after training. */
  evalLosses: [string, string];
  /** Digest of the decoder's output on fixed codes (and conditions). */
  decode: string;
}

function bits(x: number): string {
  const f = new Float32Array([x]);
  return new Uint32Array(f.buffer)[0].toString(16).padStart(8, "0");
}

async function sha256(bytes: ArrayBuffer | ArrayBufferView): Promise<string> {
  const view = bytes instanceof ArrayBuffer
    ? new Uint8Array(bytes)
    : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const d = await crypto.subtle.digest("SHA-256", view.slice());
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const datasets: { [k: string]: Promise<Dataset> } = {};
function dataset(kind: Case["data"]): Promise<Dataset> {
  return datasets[kind] ??= kind === "embedded"
    ? loadDataset("embedded")
    : loadStreamlineDataset("phantom:200:3", 32);
}

/** Dispatches per training step, by case: a `tuning` must reach the kernels it chooses. */
const dispatchCounts = new Map<string, number>();

async function runCase(gpu: Gpu, c: Case): Promise<Golden> {
  const d = gpu.device;
  const data = await dataset(c.data);
  const condition = c.condition ? fitCondition(c.condition, data) : undefined;
  const base = c.cfg(data);
  const C = condition ? (condition.kind === "label" ? condition.classes : 1) : 0;
  const cfg: VaeConfig = condition ? { ...base, condition, conditions: C } : base;
  const B = c.batch;
  const layout = vaeLayout(cfg);
  const state = new ModelState(gpu, layout, initParams(layout, cfg.seed));
  const n = B * STEPS;
  assert.ok(data.train.count >= n, `${c.name}: ${data.train.count} examples, ${n} needed`);
  const split = {
    ...data.train,
    images: data.train.images.subarray(0, n * data.features),
    labels: data.train.labels?.subarray(0, n) ?? null,
    lengths: data.train.lengths?.subarray(0, n),
    count: n,
  };
  // Batches walk the first n examples in this fixed order.
  const order = identityOrder(n).reverse();
  const source = splitSource(d, condition, split, order, "golden");
  const input = await sha256(
    new Uint8Array([
      ...new Uint8Array(split.images.buffer, split.images.byteOffset, split.images.byteLength),
      ...new Uint8Array(order.buffer),
    ]),
  );
  const metrics = new Tensor(d, "f32", [METRIC.size], "metrics");
  const program = await buildVaeStep(gpu, cfg, state, source, metrics, B, ADAM, 0, c.tuning);
  dispatchCounts.set(c.name, program.forward.length + program.backward.length);
  const losses: [string, string][] = [];
  const zero = new Float32Array(METRIC.size);
  for (let s = 0; s < STEPS; s++) {
    setBatchOffset(program, s * B);
    write(d, metrics, zero);
    submit(d, [program.gather, ...program.forward, ...program.backward], "golden step");
    const m = await readback(d, metrics);
    assert.equal(m[METRIC.nonfinite], 0, `${c.name}: step ${s + 1} is not finite`);
    losses.push([bits(m[METRIC.recon]), bits(m[METRIC.kl])]);
  }
  const params = await readback(d, state.params);
  const firstValues: Golden["firstValues"] = {};
  for (const e of layout.entries) {
    firstValues[e.name] = [...params.subarray(e.offset, e.offset + Math.min(3, e.length))].map(
      bits,
    );
  }
  const rec = {
    input,
    losses,
    params: await sha256(params),
    adamM: await sha256(await readbackBytes(d, state.m)),
    adamV: await sha256(await readbackBytes(d, state.v)),
    firstValues,
  };

  // One evaluation-mode batch (running statistics, noise stream 1).
  const evalProgram = await buildVaeStep(
    gpu,
    cfg,
    state,
    source,
    metrics,
    B,
    undefined,
    1,
    c.tuning,
  );
  setBatchOffset(evalProgram, 3);
  write(d, metrics, zero);
  submit(d, [evalProgram.gather, ...evalProgram.forward], "golden eval");
  const em = await readback(d, metrics);
  const evalLosses: [string, string] = [bits(em[METRIC.recon]), bits(em[METRIC.kl])];

  // The decoder alone on fixed codes (and conditions).
  const dec = await buildVaeDecode(gpu, cfg, state, 5, c.tuning);
  const rng = new Rng(99);
  write(d, dec.z, Float32Array.from(rng.normal(5 * cfg.z)));
  if (dec.c) {
    const rows = new Float32Array(5 * C);
    for (let i = 0; i < 5; i++) {
      if (C === 1) rows[i] = rng.uniform(1, -1, 1)[0];
      else rows[i * C + (i % C)] = 1;
    }
    write(d, dec.c, rows);
  }
  submit(d, dec.dispatches, "golden decode");
  const decode = await sha256(await readbackBytes(d, dec.mean));

  destroyProgram(program);
  destroyProgram(evalProgram);
  destroySource(source);
  metrics.destroy();
  state.destroy();
  return { ...rec, evalLosses, decode };
}

const backend = Deno.env.get("DENO_WEBGPU_BACKEND") ?? "default";
const fixture = new URL(`./golden/${backend}.json`, import.meta.url);
const RECORD = Deno.env.get("WEBGPU_VAE_GOLDEN_RECORD") === "1";

/** The f32 a `bits` string stands for. */
function fromBits(hex: string): number {
  return new Float32Array(Uint32Array.of(parseInt(hex, 16)).buffer)[0];
}

/** Hold `g` to `w`'s numbers within a tolerance (another adapter, or GL against Vulkan). */
function assertClose(name: string, g: Golden, w: Golden): void {
  for (let s = 0; s < STEPS; s++) {
    for (let k = 0; k < 2; k++) {
      const a = fromBits(g.losses[s][k]), b = fromBits(w.losses[s][k]);
      assert.ok(
        Math.abs(a - b) <= 1e-3 * Math.abs(b),
        `${name}: step ${s + 1}'s ${k ? "kl" : "recon"} ${a} vs ${b} (fixture), over 1e-3 relative`,
      );
    }
  }
  for (const [p, values] of Object.entries(w.firstValues)) {
    values.forEach((hex, i) => {
      const a = fromBits(g.firstValues[p][i]), b = fromBits(hex);
      assert.ok(
        Math.abs(a - b) <= 1e-3,
        `${name}: ${p}[${i}] ${a} vs ${b} (fixture) after ${STEPS} steps`,
      );
    });
  }
}

gpuTest(`golden: ${STEPS} training steps of every model family are bit-identical`, async (gpu) => {
  const got: { [name: string]: Golden } = {};
  for (const c of CASES) got[c.name] = await runCase(gpu, c);
  // Bits are compared only on the adapter the fixtures come from; numbers everywhere.
  const recordedHere = /llvmpipe/i.test(gpu.adapterName);
  const recorded = CASES.filter((c) => !c.sameAs).map((c) => c.name);
  if (RECORD) {
    const keep = Object.fromEntries(recorded.map((n) => [n, got[n]]));
    await Deno.writeTextFile(fixture, JSON.stringify(keep, null, 2) + "\n");
    console.log(`  recorded ${fixture.pathname}`);
    return;
  }
  let want: { [name: string]: Golden };
  try {
    want = JSON.parse(await Deno.readTextFile(fixture));
  } catch (e) {
    throw new Error(
      `no golden fixture for backend "${backend}" (${(e as Error).message}); run it through ` +
        "`deno task test`, which sets DENO_WEBGPU_BACKEND",
    );
  }
  assert.deepEqual(recorded, Object.keys(want), "the cases changed");
  const vulkan: { [name: string]: Golden } = JSON.parse(
    await Deno.readTextFile(new URL("./golden/vulkan.json", import.meta.url)),
  );
  for (const c of CASES) {
    assertClose(c.name, got[c.name], vulkan[c.sameAs ?? c.name]);
    console.log(`  ${c.name}: within tolerance of the Vulkan fixture (llvmpipe)`);
  }
  if (!recordedHere) {
    console.log(`  ${gpu.adapterName}: not the fixtures' adapter; bits not compared`);
    return;
  }
  for (const c of CASES) {
    const g = got[c.name], w = want[c.sameAs ?? c.name];
    if (c.sameAs) {
      assert.ok(
        dispatchCounts.get(c.name)! > dispatchCounts.get(c.sameAs)!,
        `${c.name}: the tuning made no difference to the step's dispatches`,
      );
    }
    assert.equal(g.input, w.input, `${c.name}: the input data changed (not the model)`);
    for (let s = 0; s < STEPS; s++) {
      assert.deepEqual(g.losses[s], w.losses[s], `${c.name}: step ${s + 1}'s [recon, kl] bits`);
    }
    assert.deepEqual(g.firstValues, w.firstValues, `${c.name}: parameters after ${STEPS} steps`);
    assert.equal(g.params, w.params, `${c.name}: parameter digest after ${STEPS} steps`);
    assert.equal(g.adamM, w.adamM, `${c.name}: Adam m digest`);
    assert.equal(g.adamV, w.adamV, `${c.name}: Adam v digest`);
    assert.deepEqual(g.evalLosses, w.evalLosses, `${c.name}: evaluation-mode losses`);
    assert.equal(g.decode, w.decode, `${c.name}: decoder output digest`);
    console.log(`  ${c.name}: ${STEPS} steps, parameters, eval and decoder bit-identical`);
  }
});
