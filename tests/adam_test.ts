import { readbackU32, upload, write } from "../src/gpu/buffer.ts";
import { submit } from "../src/gpu/kernel.ts";
import { adamStep } from "../src/nn/adam.ts";
import * as ref from "../src/reference/adam.ts";
import { assertClose, f32, gpuTest, Rng, run } from "./_helpers.ts";

const SIZES = [13, 130, 785, 3001];
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
        const tag = `n=${n}`;
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
