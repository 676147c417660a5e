import { readbackU32, upload, write } from "../src/gpu/buffer.ts";
import { submit } from "../src/gpu/kernel.ts";
import type { TensorView } from "../src/gpu/kernel.ts";
import { adamStep, type AdamVariant } from "../src/nn/adam.ts";
import * as ref from "../src/reference/adam.ts";
import { assertClose, f32, gpuTest, Rng, run } from "./_helpers.ts";

// Ragged sizes run the scalar kernel; multiples of 4 the vec4 one (the default where it fits).
const SIZES = [13, 130, 785, 3001, 4, 132, 788, 3004];
const STEPS = 5;

/** Gradients of mixed size: a third of them near 1e-7, where eps shapes the step. */
function gradients(rng: Rng, n: number): Float64Array {
  return rng.normal(n).map((v, i) => Math.fround(i % 3 === 0 ? v * 1e-7 : v));
}

// Completed steps before this run: a fresh start; one where 1 - beta2^t crosses from the
// series to 1 - exp (t ln beta2 = -0.5 near t = 500); one late in training.
for (const start of [0, 497, 999]) {
  for (const weightDecay of [0, 0.1]) {
    gpuTest(`adam ${STEPS} steps from step ${start}, weight decay ${weightDecay}`, async (gpu) => {
      const rng = new Rng(41 + start + 10 * weightDecay);
      const h: ref.AdamHyper = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay };
      for (const n of SIZES) {
        const p = rng.uniform(n);
        const m = start ? rng.normal(n, 0.1) : new Float64Array(n);
        const v = start ? rng.uniform(n, 0, 0.01) : new Float64Array(n);
        const p0 = p.slice();
        const pT = f32(gpu, [n], p), mT = f32(gpu, [n], m), vT = f32(gpu, [n], v);
        const gT = f32(gpu, [n], new Float64Array(n));
        const counter = upload(gpu.device, "u32", [1], [start], "counter");
        const step = await adamStep(gpu, { params: pT, grads: gT, m: mT, v: vT, counter }, {
          lr: h.lr,
          weightDecay,
        });
        for (let s = 1; s <= STEPS; s++) {
          const g = gradients(rng, n);
          write(gpu.device, gT, g);
          submit(gpu.device, step);
          ref.adamStep(p, m, v, g, start + s, h);
        }
        const [pG, mG, vG] = await run(gpu, [], pT, mT, vT);
        const [count] = await readbackU32(gpu.device, counter);
        if (count !== start + STEPS) throw new Error(`counter is ${count}, not ${start + STEPS}`);
        const tag = `n=${n} ${step[0].entry}`;
        assertClose(`${tag} m`, mG, m, 1e-5);
        assertClose(`${tag} v`, vG, v, 1e-5);
        assertClose(`${tag} params`, pG, p, 1e-6);
        // The displacement alone, so an error in the (small) update cannot hide in p.
        assertClose(
          `${tag} params - params0`,
          pG.map((x, i) => x - p0[i]),
          p.map((x, i) => x - p0[i]),
          1e-4,
        );
        for (const t of [pT, mT, vT, gT, counter]) t.destroy();
      }
    });
  }
}

gpuTest("adam lr is a uniform the trainer can change", async (gpu) => {
  const rng = new Rng(48);
  const n = 130;
  const p = rng.uniform(n), g = gradients(rng, n);
  const m = new Float64Array(n), v = new Float64Array(n);
  const pT = f32(gpu, [n], p), gT = f32(gpu, [n], g);
  const mT = f32(gpu, [n], m), vT = f32(gpu, [n], v);
  const counter = upload(gpu.device, "u32", [1], [0], "counter");
  const step = await adamStep(gpu, { params: pT, grads: gT, m: mT, v: vT, counter }, { lr: 1 });
  step[0].update("dims", { lr: 0.003 });
  const [pG] = await run(gpu, step, pT);
  const h = { lr: 0.003, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };
  ref.adamStep(p, m, v, g, 1, h);
  assertClose("params after lr update", pG, p, 1e-6);
  for (const t of [pT, gT, mT, vT, counter]) t.destroy();
});

gpuTest("adam rejects bad hyper-parameters and shapes", async (gpu) => {
  const a = f32(gpu, [4], [1, 2, 3, 4]), b = f32(gpu, [3], [1, 2, 3]);
  const counter = upload(gpu.device, "u32", [1], [0], "counter");
  const expect = async (fn: () => Promise<unknown>, text: string) => {
    let message = "";
    try {
      await fn();
    } catch (e) {
      message = (e as Error).message;
    }
    if (!message.includes(text)) throw new Error(`expected '${text}', got '${message}'`);
  };
  const t = { params: a, grads: a, m: a, v: a, counter };
  await expect(() => adamStep(gpu, t, { lr: 1e-3, beta2: 1 }), "beta2");
  await expect(() => adamStep(gpu, t, { lr: NaN }), "lr");
  await expect(() => adamStep(gpu, { ...t, m: b }, { lr: 1e-3 }), "'m'");
  await expect(() => adamStep(gpu, { ...t, counter: b }, { lr: 1e-3 }), "counter");
  for (const x of [a, b, counter]) x.destroy();
});

gpuTest("adam vec4 and scalar kernels agree on views of a flat buffer", async (gpu) => {
  // As the models bind them: views at a 256-byte-aligned offset inside larger buffers, whose
  // elements outside the view must stay untouched.
  const rng = new Rng(49);
  const h: ref.AdamHyper = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 };
  for (const [offset, n] of [[64, 4], [128, 132], [64, 1000]]) {
    const total = offset + n + 64 + 3;
    const p = rng.uniform(total), m = rng.normal(total, 0.1), v = rng.uniform(total, 0, 0.01);
    const results: Float64Array[][] = [];
    for (const variant of ["scalar", "vec4"] as AdamVariant[]) {
      const pT = f32(gpu, [total], p), mT = f32(gpu, [total], m), vT = f32(gpu, [total], v);
      const gT = f32(gpu, [total], new Float64Array(total).fill(NaN));
      const counter = upload(gpu.device, "u32", [1], [3], "counter");
      const view = (tensor: typeof pT): TensorView => ({ tensor, offset, length: n });
      const step = await adamStep(
        gpu,
        { params: view(pT), grads: view(gT), m: view(mT), v: view(vT), counter },
        { lr: h.lr, weightDecay: h.weightDecay },
        { variant },
      );
      const rngG = new Rng(50);
      for (let s = 0; s < 3; s++) {
        const g = new Float64Array(total).fill(NaN);
        g.set(gradients(rngG, n), offset);
        write(gpu.device, gT, g);
        submit(gpu.device, step);
      }
      results.push(await run(gpu, [], pT, mT, vT));
      for (const t of [pT, mT, vT, gT, counter]) t.destroy();
    }
    // Reference over the view alone.
    const pr = p.slice(offset, offset + n), mr = m.slice(offset, offset + n);
    const vr = v.slice(offset, offset + n);
    const rngG = new Rng(50);
    for (let s = 1; s <= 3; s++) ref.adamStep(pr, mr, vr, gradients(rngG, n), 3 + s, h);
    const [[pS, mS, vS], [pV, mV, vV]] = results;
    const tag = `view [${offset}, ${offset + n})`;
    assertClose(`${tag} vec4 params`, pV.subarray(offset, offset + n), pr, 1e-6);
    assertClose(`${tag} vec4 m`, mV.subarray(offset, offset + n), mr, 1e-5);
    assertClose(`${tag} vec4 v`, vV.subarray(offset, offset + n), vr, 1e-5);
    // Same expressions lane by lane: vec4 equals scalar up to f32 rounding (in practice exactly).
    assertClose(`${tag} vec4 vs scalar params`, pV, pS, 1e-7);
    assertClose(`${tag} vec4 vs scalar m`, mV, mS, 1e-7);
    assertClose(`${tag} vec4 vs scalar v`, vV, vS, 1e-7);
    for (let i = 0; i < total; i++) {
      if (i >= offset && i < offset + n) continue;
      if (
        pV[i] !== Math.fround(p[i]) || mV[i] !== Math.fround(m[i]) || vV[i] !== Math.fround(v[i])
      ) {
        throw new Error(`${tag}: element ${i} outside the view was written`);
      }
    }
  }
});

gpuTest("adam refuses vec4 for a ragged length", async (gpu) => {
  const a = f32(gpu, [6], [1, 2, 3, 4, 5, 6]);
  const counter = upload(gpu.device, "u32", [1], [0], "counter");
  let message = "";
  try {
    await adamStep(gpu, { params: a, grads: a, m: a, v: a, counter }, { lr: 1e-3 }, {
      variant: "vec4",
    });
  } catch (e) {
    message = (e as Error).message;
  }
  if (!message.includes("divisible by 4")) throw new Error(`no clear error: '${message}'`);
  const [d] = await adamStep(gpu, { params: a, grads: a, m: a, v: a, counter }, { lr: 1e-3 });
  if (d.entry !== "update") throw new Error(`ragged n ran ${d.entry}`);
  for (const x of [a, counter]) x.destroy();
});
