import assert from "node:assert/strict";
import { Tensor, upload, write } from "../src/gpu/buffer.ts";
import { accumulate, clearSlots, finiteGuard } from "../src/nn/reduce.ts";
import * as ref from "../src/reference/reduce.ts";
import { assertClose, f32, gpuTest, out, Rng, run } from "./_helpers.ts";

const SIZES = [1, 3, 7, 130, 785, 3001];
const SLOTS = 5;

gpuTest("reduce clear zeroes every slot", async (gpu) => {
  for (const slots of [1, 5, 300]) {
    const acc = out(gpu, [slots]);
    const [got] = await run(gpu, [await clearSlots(gpu, { acc })], acc);
    if (got.some((v) => v !== 0)) throw new Error(`clear left ${got.find((v) => v !== 0)}`);
    acc.destroy();
  }
});

gpuTest("reduce accumulate matches float64 sums", async (gpu) => {
  const rng = new Rng(31);
  for (const n of SIZES) {
    // Two batches into slot 2 (a running sum of means), one into slot 4, the rest untouched.
    const a = rng.uniform(n, 0, 3), b = rng.uniform(n, 0, 3), c = rng.uniform(n, -1, 1);
    const aT = f32(gpu, [n], a), bT = f32(gpu, [n], b), cT = f32(gpu, [n], c);
    const acc = out(gpu, [SLOTS]);
    const scale = Math.fround(1 / n);
    const steps = [
      await clearSlots(gpu, { acc }),
      await accumulate(gpu, { acc, x: aT }, { n, slot: 2, scale }),
      await accumulate(gpu, { acc, x: bT }, { n, slot: 2, scale }),
      await accumulate(gpu, { acc, x: cT }, { n, slot: 4, scale: 0.5 }),
    ];
    const [got] = await run(gpu, steps, acc);
    let want: Float64Array = new Float64Array(SLOTS);
    want = ref.accumulate(want, a, 2, scale);
    want = ref.accumulate(want, b, 2, scale);
    want = ref.accumulate(want, c, 4, 0.5);
    for (const i of [0, 1, 3]) {
      if (got[i] !== 0) throw new Error(`n=${n}: untouched slot ${i} is ${got[i]}`);
    }
    assertClose(`accumulate positive n=${n}`, [got[2]], [want[2]], 1e-6);
    // c has both signs and may nearly cancel: hold it to the size of what was summed.
    const mass = c.reduce((s, v) => s + Math.abs(v), 0) * 0.5;
    assertClose(`accumulate mixed signs n=${n}`, [got[4]], [want[4]], 0, 1e-6 * mass);

    // The order of additions is fixed: the same inputs give the same bits every run.
    const [again] = await run(gpu, steps, acc);
    if (again.some((v, i) => v !== got[i])) throw new Error(`n=${n}: a rerun changed the sum`);

    // scale is a uniform the trainer may change without rebuilding.
    steps[1].update("dims", { scale: 2 });
    const [scaled] = await run(gpu, steps, acc);
    const want2 = ref.accumulate(ref.accumulate(new Float64Array(SLOTS), a, 2, 2), b, 2, scale);
    assertClose(`accumulate scale updated n=${n}`, [scaled[2]], [want2[2]], 1e-6);
    for (const t of [aT, bT, cT, acc]) t.destroy();
  }
});

/** An f32 tensor holding exactly these bit patterns (no NaN canonicalisation on the way). */
function rawBits(gpu: Parameters<typeof f32>[0], bits: Uint32Array<ArrayBuffer>): Tensor {
  const t = new Tensor(gpu.device, "f32", [bits.length], "bits");
  gpu.device.queue.writeBuffer(t.buffer, 0, bits);
  return t;
}

gpuTest("reduce finite_guard flags NaN and Inf anywhere, and nothing else", async (gpu) => {
  const rng = new Rng(32);
  const bad: [string, number][] = [
    ["NaN", 0x7fc00000],
    ["-NaN", 0xffc00000],
    ["NaN payload 1", 0x7f800001],
    ["NaN all ones", 0xffffffff],
    ["+Inf", 0x7f800000],
    ["-Inf", 0xff800000],
  ];
  // The largest finite floats, the smallest subnormal, -0: all finite, none may trip it.
  const edge = [0x7f7fffff, 0xff7fffff, 0x00000001, 0x80000001, 0x80000000, 0x00000000];
  for (const n of [1, 7, 257, 785, 3001]) {
    const base = new Uint32Array(new Float32Array(rng.uniform(n, -5, 5)).buffer);
    const positions = [...new Set([0, n - 1, n >> 1, 255, 256].filter((p) => p < n))];
    const cases: { label: string; bits: Uint32Array<ArrayBuffer> }[] = [];
    for (const [name, pattern] of bad) {
      for (const p of positions) {
        const bits = base.slice();
        bits[p] = pattern;
        cases.push({ label: `${name} at ${p}`, bits });
      }
    }
    const finite = base.slice();
    edge.forEach((pattern, j) => (finite[(j * 37) % n] = pattern));
    cases.push({ label: "all finite", bits: base.slice() }, {
      label: "finite extremes",
      bits: finite,
    });

    // Each case guards its own slot; the bad ones run twice to show the flag only grows.
    const acc = out(gpu, [cases.length]);
    const xs = cases.map((c) => rawBits(gpu, c.bits));
    const steps = [await clearSlots(gpu, { acc })];
    for (let s = 0; s < cases.length; s++) {
      const g = await finiteGuard(gpu, { acc, x: xs[s] }, { n, slot: s });
      steps.push(g, g);
    }
    const [got] = await run(gpu, steps, acc);
    let wrong = "";
    for (let s = 0; s < cases.length; s++) {
      const x = new Float32Array(cases[s].bits.buffer);
      const want = ref.finiteGuard(ref.finiteGuard(new Float64Array(1), x, 0), x, 0)[0];
      if (got[s] !== want) wrong += ` ${cases[s].label}: ${got[s]} (want ${want});`;
    }
    if (wrong) throw new Error(`finite_guard n=${n}:${wrong}`);
    console.log(`  finite_guard n=${n}: ${cases.length} cases right (flags exact)`);
    for (const t of [acc, ...xs]) t.destroy();
  }
});

gpuTest("reduce finite_guard_step records the first bad step from the counter", async (gpu) => {
  const acc = f32(gpu, [4], [0, 0, 0, 0]);
  const good = f32(gpu, [7], new Rng(3).uniform(7));
  const bad = f32(gpu, [7], [1, 2, NaN, 4, 5, 6, 7]);
  const counter = upload(gpu.device, "u32", [1], [41]);
  const onGood = await finiteGuard(gpu, { acc, x: good, counter }, { n: 7, slot: 1 });
  const onBad = await finiteGuard(gpu, { acc, x: bad, counter }, { n: 7, slot: 1 });
  const [a1] = await run(gpu, [onGood], acc);
  assert.deepEqual([...a1], [0, 0, 0, 0]);
  const [a2] = await run(gpu, [onBad], acc); // step 42 (41 completed) is the first bad one
  assert.deepEqual([...a2], [0, 1, 42, 0]);
  write(gpu.device, counter, [99]);
  const [a3] = await run(gpu, [onBad], acc); // later bad steps count but keep the first
  assert.deepEqual([...a3], [0, 2, 42, 0]);
  await assert.rejects(
    () => finiteGuard(gpu, { acc, x: bad, counter }, { n: 7, slot: 3 }),
    /slot 4/,
  );
});

gpuTest("reduce rejects a slot outside the accumulator", async (gpu) => {
  const acc = out(gpu, [3]), x = f32(gpu, [4], [1, 2, 3, 4]);
  let message = "";
  try {
    await accumulate(gpu, { acc, x }, { n: 4, slot: 3, scale: 1 });
  } catch (e) {
    message = (e as Error).message;
  }
  if (!message.includes("slot 3")) throw new Error(`expected a slot error, got '${message}'`);
  acc.destroy();
  x.destroy();
});
