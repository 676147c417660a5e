/**
 * GPU memory and submit accounting (buffer.ts): tensors, reshapes, uniform buffers and
 * readback staging move the per-device tally by their buffer sizes; a training step of the
 * real Trainer is exactly one queue submit; epoch boundaries add a counted few.
 */
import assert from "node:assert/strict";
import { gpuMemory, readback, resetPeak, submitCount, Tensor, upload } from "../src/gpu/buffer.ts";
import { submit } from "../src/gpu/kernel.ts";
import { activationForward } from "../src/nn/activation.ts";
import type { Dataset } from "../src/data/datasets.ts";
import { DEFAULTS } from "../src/train/config.ts";
import { Trainer } from "../src/train/trainer.ts";
import { gpuTest, Rng } from "./_helpers.ts";

gpuTest("accounting: tensors, reshapes, uniforms and staging move live and peak", async (gpu) => {
  const d = gpu.device;
  const m0 = gpuMemory(d);
  const a = new Tensor(d, "f32", [3, 5], "a"); // 60 B -> 64 B (16-byte multiple)
  const b = new Tensor(d, "u8", [5], "b"); // 5 B -> 16 B
  assert.equal(gpuMemory(d).live - m0.live, 64 + 16);
  const flat = a.reshape([15]);
  assert.equal(gpuMemory(d).live - m0.live, 80, "a reshape shares its buffer");
  flat.destroy();
  a.destroy(); // the same buffer again: counted off once
  assert.equal(gpuMemory(d).live - m0.live, 16);
  assert.equal(gpuMemory(d).peak - Math.max(m0.peak, m0.live + 80) >= 0, true);
  resetPeak(d);
  assert.equal(gpuMemory(d).peak, gpuMemory(d).live);

  // A dispatch's uniform buffer counts at creation and stays (it lives as long as the device).
  const x = upload(d, "f32", [7], new Float32Array(7).fill(2), "x");
  const y = new Tensor(d, "f32", [7], "y");
  const before = gpuMemory(d).live;
  const relu = await activationForward(gpu, "relu", { y, x });
  const uniforms = gpuMemory(d).live - before;
  assert.ok(uniforms >= 16 && uniforms % 16 === 0, `uniform bytes ${uniforms}`);

  // Readback staging is counted while it exists, so the peak sees it and live does not.
  resetPeak(d);
  const live = gpuMemory(d).live;
  const s0 = submitCount(d);
  submit(d, [relu]);
  assert.deepEqual([...await readback(d, y)], new Array(7).fill(2));
  assert.equal(submitCount(d) - s0, 2, "the step and the readback's copy");
  assert.equal(gpuMemory(d).live, live);
  assert.equal(gpuMemory(d).peak, live + 28, "7 floats of staging");
  for (const t of [b, x, y]) t.destroy();
});

/** A 30-image, 6 x 6 unlabelled dataset: 7 full batches of 4 and a last batch of 2. */
function tinyData(): Dataset {
  const rng = new Rng(3);
  const split = (count: number) => ({
    images: Uint8Array.from({ length: count * 36 }, () => Math.floor(rng.next() * 256)),
    labels: null,
    count,
  });
  return {
    name: "tiny",
    rows: 6,
    cols: 6,
    features: 36,
    train: split(30),
    test: split(9),
    classes: 0,
  };
}

gpuTest("accounting: one training step of the Trainer is one queue submit", async (gpu) => {
  const d = gpu.device;
  const config = { ...DEFAULTS, hidden: [8], z: 2, batch: 4, epochs: 2, dataset: "tiny" };
  const trainer = await Trainer.create(gpu, config, tinyData());
  trainer.readEvery = Number.MAX_SAFE_INTEGER;
  // The first call clears the metrics (one submit) before its first step.
  let s0 = submitCount(d);
  let left = 1;
  await trainer.train({ stop: () => --left <= 0 });
  assert.equal(submitCount(d) - s0, 2);
  // Mid-epoch: nothing but the steps.
  s0 = submitCount(d);
  left = 5;
  await trainer.train({ stop: () => --left <= 0 });
  assert.equal(trainer.stepInEpoch, 6);
  assert.equal(submitCount(d) - s0, 5, "5 steps, 5 submits");
  // The epoch's last 2 steps, then its end: the metrics read back twice (the last step's
  // progress line and the epoch record) and the test pass (clear, 3 test batches, readback);
  // then the next epoch's clear before its first step.
  s0 = submitCount(d);
  left = 4;
  await trainer.train({ stop: () => --left <= 0 });
  assert.equal(trainer.epoch, 1);
  assert.equal(trainer.stepInEpoch, 1);
  const testBatches = Math.ceil(9 / 4);
  assert.equal(submitCount(d) - s0, 2 + 2 + (1 + testBatches + 1) + 1 + 1);
  trainer.state.destroy();
});
