/**
 * Training data above the GPU budget (src/train/stream.ts): a streamed run (the training split
 * uploaded in windows of 2 steps through two staging buffers) gives bit-identical weights,
 * Adam moments and losses to a resident run of the same data and seed, also across a resume
 * from the middle of a window; the placement rule and its one-line error.
 */
import assert from "node:assert/strict";
import { loadDataset } from "../src/data/datasets.ts";
import { DEFAULTS, type TrainConfig } from "../src/train/config.ts";
import { dataPlacement, MIB } from "../src/train/stream.ts";
import { type EpochRecord, Trainer } from "../src/train/trainer.ts";
import { gpuTest } from "./_helpers.ts";

const data = await loadDataset("shapes-rgb:200:7:16x16", {}); // 180 train (12 steps of 16)
const F = 16 * 16 * 3;

function config(gpuDataMb: number): TrainConfig {
  return {
    ...structuredClone(DEFAULTS),
    dataset: "shapes-rgb:200:7:16x16",
    model: "conv",
    z: 3,
    batch: 16,
    epochs: 2,
    lr: 0.003,
    filters: [4, 8],
    kernels: [3, 3],
    strides: [2, 2],
    "decoder-filters": [8, 3],
    "decoder-kernels": [3, 3],
    "decoder-strides": [2, 2],
    "gpu-data-mb": gpuDataMb,
    seed: 5,
  };
}

/** 0.08 MiB = 83886 B: two steps of 16 x 768 bytes, three times over (36864 B a step). */
const SMALL = 0.08;

Deno.test("stream: a split fits or is cut into windows of whole steps; too small a budget is one line", () => {
  assert.deepEqual(dataPlacement(180, F, 1, 16, 180 * F), {
    mode: "resident",
    bytes: 180 * F,
    budget: 180 * F,
  });
  const p = dataPlacement(180, F, 1, 16, SMALL * MIB);
  assert.equal(p.mode, "streamed");
  assert.equal(p.stepsPerWindow, 2);
  assert.equal(p.windowExamples, 32);
  assert.equal(p.windows, 6); // 5 x 32 + 20
  assert.throws(
    () => dataPlacement(180, F, 1, 16, 0.02 * MIB),
    /^Error: --gpu-data-mb 0\.02 holds less than 3 batches of 16 examples \(0\.03516 MiB\); raise it or lower --batch$/,
  );
});

gpuTest(
  "stream: a streamed run's weights, moments and losses equal a resident run's, bit for bit",
  async (gpu) => {
    const run = async (mb: number, stopAt?: number) => {
      const t = await Trainer.create(gpu, config(mb), data);
      const records: EpochRecord[] = [];
      const outcome = await t.train({
        onEpoch: (r) => void records.push(r),
        stop: () => stopAt !== undefined && t.step === stopAt,
      });
      return { t, records, outcome };
    };
    const resident = await run(0);
    assert.equal(resident.t.placement.mode, "resident");
    const streamed = await run(SMALL);
    assert.equal(streamed.t.placement.mode, "streamed");
    const a = await resident.t.checkpoint(), b = await streamed.t.checkpoint();
    assert.equal(b.step, 24);
    assert.deepEqual(b.params, a.params, "weights");
    assert.deepEqual(b.m, a.m, "Adam m");
    assert.deepEqual(b.v, a.v, "Adam v");
    const losses = (r: EpochRecord[]) => r.map((x) => [x.train, x.test]);
    assert.deepEqual(losses(streamed.records), losses(resident.records));
    console.log(
      `  2 epochs, 24 steps: identical; train loss ${
        resident.records.map((r) => r.train.total.toFixed(3)).join(", ")
      }`,
    );
    // Stopped at step 15 (epoch 2, step 3: inside its second window), resumed: the same again.
    const first = await run(SMALL, 15);
    assert.equal(first.outcome, "stopped");
    const cp = await first.t.checkpoint();
    assert.equal(cp.stepInEpoch, 3);
    const resumed = await Trainer.create(gpu, config(SMALL), data, cp);
    await resumed.train();
    const c = await resumed.checkpoint();
    assert.deepEqual(c.params, a.params, "weights after a resume inside a window");
    assert.deepEqual(c.v, a.v, "Adam v after a resume");
  },
);
