/**
 * End to end: a tiny MLP VAE trained on the GPU against the float64 reference of the whole
 * model — first-step loss, every parameter gradient, and a 20-step Adam trajectory.
 */
import assert from "node:assert/strict";
import { readback, Tensor, upload, write } from "../src/gpu/buffer.ts";
import { leakyReluForward, sigmoidForward } from "../src/reference/activation.ts";
import { denseForward } from "../src/reference/dense.ts";
import { submit } from "../src/gpu/kernel.ts";
import { normals } from "../src/reference/latent.ts";
import { mlpVaeForward, mlpVaeStep, mlpVaeTrain } from "../src/reference/mlp_vae.ts";
import { buildDecode, buildStep, type MlpVaeConfig, mlpVaeLayout } from "../src/vae/mlp_vae.ts";
import { initParams, METRIC, ModelState } from "../src/vae/common.ts";
import { PriorSampler } from "../src/vae/prior_sample.ts";
import { priorForward } from "../src/reference/prior.ts";
import { assertClose, assertGradient, conditionsFor, gpuTest, Rng } from "./_helpers.ts";

const CASES: { name: string; batch: number; cfg: MlpVaeConfig }[] = [
  {
    name: "12-8-2-8-12, bce",
    batch: 5,
    cfg: {
      inputs: 12,
      hidden: [8],
      z: 2,
      recon: "bce",
      reconWeight: 1,
      beta: 1,
      logvarClamp: [-30, 20],
      seed: 11,
    },
  },
  {
    // Two hidden layers, Gaussian loss, weights on both terms, and a clamp that some of the
    // first step's logvars fall below (their gradient must be exactly zero) while others are
    // inside (flipping the sign of dlogvar in latent.wgsl fails this case).
    name: "13-9-6-3-6-9-13, mse, clamped",
    batch: 3,
    cfg: {
      inputs: 13,
      hidden: [9, 6],
      z: 3,
      recon: "mse",
      reconWeight: 2,
      beta: 0.5,
      logvarClamp: [-0.4, 0.1],
      seed: 12,
    },
  },
  {
    // Conditional: a one-hot of 3 classes appended to x and to z.
    name: "(11+3)-7-2-(2+3)-7-11, conditional on a label, bce",
    batch: 5,
    cfg: {
      inputs: 11,
      hidden: [7],
      z: 2,
      recon: "bce",
      reconWeight: 1,
      beta: 1,
      logvarClamp: [-30, 20],
      seed: 13,
      conditions: 3,
    },
  },
  {
    // Conditional on one continuous value (a streamline's length, say), two hidden layers.
    name: "(9+1)-6-5-3-(3+1)-5-6-9, conditional on a value, mse",
    batch: 3,
    cfg: {
      inputs: 9,
      hidden: [6, 5],
      z: 3,
      recon: "mse",
      reconWeight: 1.5,
      beta: 0.7,
      logvarClamp: [-30, 20],
      seed: 14,
      conditions: 1,
    },
  },
  {
    // A learned conditional prior p(z | c) (Sohn et al. 2015), 4 classes -> 5 (ReLU) ->
    // [mp | pv]; the KL is taken from it, and its gradient trains the prior network. A clamp
    // some logvars fall outside.
    name: "(10+4)-7-3-(3+4)-7-10, label, learned prior 4-5-6, bce, clamped",
    batch: 5,
    cfg: {
      inputs: 10,
      hidden: [7],
      z: 3,
      recon: "bce",
      reconWeight: 1,
      beta: 1.3,
      logvarClamp: [-0.5, 0.4],
      seed: 15,
      conditions: 4,
      prior: { hidden: [5] },
    },
  },
  {
    // A linear prior network (no hidden layer) on one continuous value: p(z | c) with mean and
    // log variance linear in c.
    name: "(9+1)-6-2-(2+1)-6-9, value, learned prior 1-4, mse",
    batch: 4,
    cfg: {
      inputs: 9,
      hidden: [6],
      z: 2,
      recon: "mse",
      reconWeight: 1,
      beta: 0.8,
      logvarClamp: [-30, 20],
      seed: 16,
      conditions: 1,
      prior: { hidden: [] },
    },
  },
  {
    // Seed 001's knob: eps ~ N(0, 0.6^2) in training's reparameterization (--eps-std 0.6).
    name: "11-7-3-7-11, mse, eps std 0.6",
    batch: 5,
    cfg: {
      inputs: 11,
      hidden: [7],
      z: 3,
      recon: "mse",
      reconWeight: 1,
      beta: 0.9,
      logvarClamp: [-30, 20],
      seed: 17,
      epsStd: 0.6,
    },
  },
  {
    // A regression VAE (src/vae/regression.ts): x -> 5 (ReLU) -> r^, loss weight 2; the prior
    // 1 -> 4 -> [mp | pv] reads r^ (gradient stopped); encoder and decoder take no condition.
    name: "9-6-3-6-9, regression 9-5-1 (weight 2), prior on r^ 1-4, mse",
    batch: 5,
    cfg: {
      inputs: 9,
      hidden: [6],
      z: 3,
      recon: "mse",
      reconWeight: 1,
      beta: 0.8,
      logvarClamp: [-30, 20],
      seed: 18,
      conditions: 1,
      condition: { kind: "length", mean: 40, std: 10 },
      prior: { hidden: [4] },
      regression: { hidden: [5], weight: 2 },
    },
  },
];

const ADAM = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };

for (const { name, batch, cfg } of CASES) {
  Deno.test(`mlp vae reference: whole-model gradient matches finite differences (${name})`, () => {
    const layout = mlpVaeLayout(cfg);
    const params = Float64Array.from(initParams(layout, cfg.seed));
    const rng = new Rng(cfg.seed);
    const x = rng.uniform(batch * cfg.inputs, 0, 1);
    const eps = normals(cfg.seed, 0, 0, batch * cfg.z, cfg.epsStd ?? 1);
    const c = conditionsFor(rng, batch, cfg.conditions ?? 0);
    // A regression VAE's prior reads r^ with its gradient stopped: held at its value here.
    const rhat = mlpVaeForward(cfg, layout, params, x, batch, eps, c).regression?.rhat;
    const r = mlpVaeStep(cfg, layout, params, x, batch, eps, c, rhat);
    // Only real parameters (not the alignment gaps) are perturbed.
    const idx = layout.entries.flatMap((e) =>
      Array.from({ length: e.length }, (_, i) => e.offset + i)
    );
    const packed = Float64Array.from(idx, (i) => params[i]);
    const loss = (p: Float64Array) => {
      const full = params.slice();
      idx.forEach((at, k) => (full[at] = p[k]));
      return mlpVaeStep(cfg, layout, full, x, batch, eps, c, rhat).loss;
    };
    assertGradient(`whole model (${name})`, loss, packed, idx.map((i) => r.grads[i]), {
      rtol: 1e-5,
      maxChecks: 300,
    });
  });

  gpuTest(
    `mlp vae on the GPU matches the float64 model: loss, gradients, 20 Adam steps (${name})`,
    async (gpu) => {
      const d = gpu.device;
      const layout = mlpVaeLayout(cfg);
      const init = initParams(layout, cfg.seed);
      const state = new ModelState(gpu, layout, init);
      const rng = new Rng(cfg.seed + 100);
      const bytes = Uint8Array.from(
        { length: batch * cfg.inputs },
        () => Math.floor(rng.next() * 256),
      );
      const c = conditionsFor(rng, batch, cfg.conditions ?? 0);
      const source = {
        data: upload(d, "u8", [bytes.length], bytes, "data"),
        index: upload(
          d,
          "u32",
          [batch],
          Uint32Array.from({ length: batch }, (_, i) => i),
          "index",
        ),
        scale: 1 / 255,
        shift: 0,
        cond: c ? upload(d, "f32", [c.length], c, "conditions") : undefined,
      };
      const metrics = new Tensor(d, "f32", [METRIC.size], "metrics");
      const program = await buildStep(gpu, cfg, state, source, metrics, batch, ADAM);
      const step = [program.gather, ...program.forward, ...program.backward];
      assert.equal(program.condGather !== undefined, c !== undefined);

      const x = Float64Array.from(bytes, (b) => Math.fround(b / 255));
      const params = Float64Array.from(init);
      const eps0 = normals(cfg.seed, 0, 0, batch * cfg.z, cfg.epsStd ?? 1);
      const want = mlpVaeStep(cfg, layout, params.slice(), x, batch, eps0, c);

      submit(d, step);
      const m0 = await readback(d, metrics);
      const grads = await readback(d, state.grads);
      assertClose(`${name} step 1 recon`, [m0[METRIC.recon] / batch], [want.recon], 1e-5);
      assertClose(`${name} step 1 kl`, [m0[METRIC.kl] / batch], [want.kl], 1e-4);
      for (const e of layout.entries) {
        const g = grads.subarray(e.offset, e.offset + e.length);
        const w = want.grads.subarray(e.offset, e.offset + e.length);
        assertClose(`${name} d${e.name}`, g, w, 1e-4);
      }
      assert.equal(m0[METRIC.nonfinite], 0);

      const steps = 20;
      const traj = mlpVaeTrain(cfg, layout, params, x, batch, steps, ADAM, c);
      const gotLoss: number[] = [
        (m0[METRIC.recon] * cfg.reconWeight + m0[METRIC.kl] * cfg.beta) / batch,
      ];
      let prev = m0;
      for (let s = 1; s < steps; s++) {
        submit(d, step);
        const m = await readback(d, metrics);
        const recon = (m[METRIC.recon] - prev[METRIC.recon]) / batch;
        const kl = (m[METRIC.kl] - prev[METRIC.kl]) / batch;
        gotLoss.push(cfg.reconWeight * recon + cfg.beta * kl);
        prev = m;
      }
      // Measured: f32 running sums and 20 steps of f32 Adam stay within about 1e-6 relative of
      // float64 here; the tolerances leave a margin of ten.
      const wantLoss = traj.map((r) =>
        r.loss - (cfg.regression?.weight ?? 0) * (r.regression ?? 0)
      );
      assertClose(`${name} 20-step loss trajectory`, gotLoss, wantLoss, 2e-5);
      const final = await readback(d, state.params);
      const finalWant = params; // mlpVaeTrain updated it in place
      for (const e of layout.entries) {
        const got = final.subarray(e.offset, e.offset + e.length);
        assertClose(
          `${name} ${e.name} after 20 steps`,
          got,
          finalWant.subarray(e.offset, e.offset + e.length),
          1e-5,
        );
      }
      assert.ok(traj.at(-1)!.loss < traj[0].loss, "the loss went down");
      if (cfg.regression) {
        // The regression loss went down too (it is not in the metrics buffer, so not above).
        const r = traj.map((t) => t.regression!);
        console.log(`  regression loss ${r[0].toFixed(4)} -> ${r.at(-1)!.toFixed(4)}`);
        assert.ok(r.at(-1)! < r[0]);
      }
      state.destroy();
    },
  );
}

gpuTest(
  "mlp vae decoder alone matches the float64 decoder (bce: sigmoid of the logits)",
  async (gpu) => {
    const cfg = CASES[0].cfg;
    const layout = mlpVaeLayout(cfg);
    const init = initParams(layout, 3);
    const state = new ModelState(gpu, layout, init);
    const B = 7;
    const z = new Rng(9).normal(B * cfg.z);
    const program = await buildDecode(gpu, cfg, state, B);
    write(gpu.device, program.z, z);
    submit(gpu.device, program.dispatches);
    const got = await readback(gpu.device, program.mean);
    const p = Float64Array.from(init);
    const P = (n: string) =>
      p.subarray(layout.get(n).offset, layout.get(n).offset + layout.get(n).length);
    let h = z, width = cfg.z;
    for (const [j, H] of [...cfg.hidden].reverse().entries()) {
      const s = { batch: B, inFeatures: width, outFeatures: H };
      h = leakyReluForward(denseForward(h, P(`decoder.${j}.weight`), P(`decoder.${j}.bias`), s), 0);
      width = H;
    }
    const s = { batch: B, inFeatures: width, outFeatures: cfg.inputs };
    const want = sigmoidForward(denseForward(h, P("decoder.out.weight"), P("decoder.out.bias"), s));
    assertClose("decoded means", got, want, 1e-5);
    state.destroy();
  },
);

gpuTest("conditional mlp decoder alone matches the float64 forward's decoder", async (gpu) => {
  const { cfg } = CASES[2];
  const layout = mlpVaeLayout(cfg);
  const init = initParams(layout, 5);
  const state = new ModelState(gpu, layout, init);
  const B = 4, C = cfg.conditions!;
  const rng = new Rng(10);
  const z = rng.normal(B * cfg.z), c = conditionsFor(rng, B, C)!;
  const program = await buildDecode(gpu, cfg, state, B);
  write(gpu.device, program.z, z);
  write(gpu.device, program.c!, c);
  submit(gpu.device, program.dispatches);
  const got = await readback(gpu.device, program.mean);
  // The decoder's layers in float64 on [z | c].
  const p = Float64Array.from(init);
  const P = (n: string) =>
    p.subarray(layout.get(n).offset, layout.get(n).offset + layout.get(n).length);
  let h: Float64Array = new Float64Array(B * (cfg.z + C)), width = cfg.z + C;
  for (let b = 0; b < B; b++) {
    h.set(z.subarray(b * cfg.z, (b + 1) * cfg.z), b * width);
    h.set(c.subarray(b * C, (b + 1) * C), b * width + cfg.z);
  }
  for (const [j, H] of [...cfg.hidden].reverse().entries()) {
    const s = { batch: B, inFeatures: width, outFeatures: H };
    h = leakyReluForward(denseForward(h, P(`decoder.${j}.weight`), P(`decoder.${j}.bias`), s), 0);
    width = H;
  }
  const s = { batch: B, inFeatures: width, outFeatures: cfg.inputs };
  const want = sigmoidForward(denseForward(h, P("decoder.out.weight"), P("decoder.out.bias"), s));
  assertClose("conditional decoded means", got, want, 1e-5);
  state.destroy();
});

gpuTest(
  "learned prior: sampled codes are mp(c) + t sigma_p(c) eps, against float64",
  async (gpu) => {
    const { cfg } = CASES[4]; // label-conditioned, prior network 4 -> 5 -> 6, clamp [-0.5, 0.4]
    const layout = mlpVaeLayout(cfg);
    const rng = new Rng(31);
    // Random parameters of a larger spread than the initial ones, so that some prior logvars
    // fall outside the clamp.
    const init = Float32Array.from(initParams(layout, 9), (v) => 3 * v + 0.1 * rng.next());
    const state = new ModelState(gpu, layout, init);
    // More rows than one prior batch (256) holds, and not a multiple of it.
    const n = 300, C = cfg.conditions!, Z = cfg.z;
    const c = conditionsFor(rng, n, C)!;
    const eps = Float32Array.from(rng.normal(n * Z));
    const params = Float64Array.from(init);
    const prior = priorForward(cfg, layout, params, Float64Array.from(c), n).prior;
    const [lo, hi] = cfg.logvarClamp;
    let clamped = 0;
    const sampler = new PriorSampler(gpu, cfg, state);
    for (const t of [0, 0.6, 1]) {
      const got = await sampler.codes(eps, n, Float32Array.from(c), t);
      const want = new Float64Array(n * Z);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < Z; j++) {
          const pv = prior[i * 2 * Z + Z + j];
          if (t === 0 && (pv < lo || pv > hi)) clamped++;
          const sd = Math.exp(0.5 * Math.min(Math.max(pv, lo), hi));
          want[i * Z + j] = prior[i * 2 * Z + j] + t * sd * eps[i * Z + j];
        }
      }
      assertClose(`prior codes at t = ${t}`, got, want, 1e-5, 1e-6);
    }
    assert.ok(clamped > 10, `only ${clamped} prior logvars outside the clamp`);
    // The standard prior: t eps, whatever the conditions.
    const plain = await new PriorSampler(gpu, { ...cfg, prior: undefined }, state).codes(
      eps,
      n,
      undefined,
      0.5,
    );
    assert.deepEqual(plain, eps.map((v) => 0.5 * v));
    await sampler.destroy();
    state.destroy();
  },
);
