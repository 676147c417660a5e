/**
 * End to end: tiny conv VAEs on the GPU against the float64 reference of the whole model —
 * first-step loss, every parameter gradient, the running statistics, a 10-step Adam
 * trajectory, then evaluation mode (running statistics) and the decoder alone.
 */
import assert from "node:assert/strict";
import { readback, readbackU32, Tensor, upload, write } from "../src/gpu/buffer.ts";
import { submit } from "../src/gpu/kernel.ts";
import {
  convVaeDecode,
  convVaeForward,
  convVaeStep,
  convVaeTrain,
} from "../src/reference/conv_vae.ts";
import { normals } from "../src/reference/latent.ts";
import { identityOrder, initParams, METRIC, ModelState } from "../src/vae/common.ts";
import {
  buildConvDecode,
  buildConvStep,
  type ConvVaeConfig,
  convVaeGeometry,
  convVaeLayout,
} from "../src/vae/conv_vae.ts";
import { assertClose, assertGradient, conditionsFor, gpuTest, Rng } from "./_helpers.ts";

const BASE = {
  kind: "conv" as const,
  reconWeight: 1,
  beta: 1,
  leak: 0.2,
  logvarClamp: [-30, 20] as [number, number],
};

const CASES: { name: string; batch: number; cfg: ConvVaeConfig }[] = [
  {
    // Strides 2 down and up, batch norm, Bernoulli loss; 3 and 5 channels exercise the
    // kernels' ragged-channel paths, 4 the vec4 ones.
    name: "6x6x1 [3,4] s[1,2] -> z2 -> [5,1] s[2,1], bn, bce",
    batch: 3,
    cfg: {
      ...BASE,
      height: 6,
      width: 6,
      channels: 1,
      filters: [3, 4],
      kernels: [3, 3],
      strides: [1, 2],
      decoderFilters: [5, 1],
      decoderKernels: [3, 3],
      decoderStrides: [2, 1],
      batchnorm: true,
      z: 2,
      recon: "bce",
      seed: 21,
    },
  },
  {
    // Odd image, two channels, kernel 5, no batch norm, Gaussian loss, weighted terms and a
    // clamp that cuts some logvars.
    name: "5x5x2 [4,3] k[3,5] -> z3 -> [3,2] k[5,3], no bn, mse, clamped",
    batch: 2,
    cfg: {
      ...BASE,
      height: 5,
      width: 5,
      channels: 2,
      filters: [4, 3],
      kernels: [3, 5],
      strides: [1, 1],
      decoderFilters: [3, 2],
      decoderKernels: [5, 3],
      decoderStrides: [1, 1],
      batchnorm: false,
      z: 3,
      recon: "mse",
      reconWeight: 2,
      beta: 0.5,
      logvarClamp: [-0.3, 0.2],
      seed: 22,
    },
  },
  {
    // Conditional on a one-hot of 3 classes: 3 extra input channels and [z | c] to the decoder.
    name: "6x6x1 (+3 label channels) [4,3] s[2,1] -> z2 (+3) -> [3,1] s[1,2], bn, bce",
    batch: 4,
    cfg: {
      ...BASE,
      height: 6,
      width: 6,
      channels: 1,
      filters: [4, 3],
      kernels: [3, 3],
      strides: [2, 1],
      decoderFilters: [3, 1],
      decoderKernels: [3, 3],
      decoderStrides: [1, 2],
      batchnorm: true,
      z: 2,
      recon: "bce",
      seed: 23,
      conditions: 3,
    },
  },
  {
    // A sequence (height 1: 1-D kernels) of 3-D points, as the streamlines model, conditioned
    // on one value (a length): kernel 3, stride 2, channels doubling, ReLU, Gaussian loss.
    name: "1x12x3 (+1 value channel) [4,8] k3 s2 -> z3 (+1) -> [4,3] s2, bn, relu, mse",
    batch: 3,
    cfg: {
      ...BASE,
      height: 1,
      width: 12,
      channels: 3,
      filters: [4, 8],
      kernels: [3, 3],
      strides: [2, 2],
      decoderFilters: [4, 3],
      decoderKernels: [3, 3],
      decoderStrides: [2, 2],
      batchnorm: true,
      leak: 0,
      z: 3,
      recon: "mse",
      beta: 0.3,
      seed: 24,
      conditions: 1,
    },
  },
  {
    // The streamlines decoder with "linear" upsampling: a 2x linear upsampling before each
    // stride-2 decoder layer, which then convolves with stride 1 (odd width 13 -> 7 -> 4 -> 8
    // -> 16 does not fit, so 12 -> 6 -> 3 -> 6 -> 12); kernel 4 as in the dipy runs. The
    // loss adds 1.7 x the squared differences of consecutive points' errors (--recon-smooth).
    name: "1x12x3 (+1) [5,6] k3 s2 -> z2 (+1) -> linear-up [4,3] k4, bn, relu, mse smooth 1.7",
    batch: 3,
    cfg: {
      ...BASE,
      height: 1,
      width: 12,
      channels: 3,
      filters: [5, 6],
      kernels: [3, 3],
      strides: [2, 2],
      decoderFilters: [4, 3],
      decoderKernels: [4, 4],
      decoderStrides: [2, 2],
      upsample: "linear",
      batchnorm: true,
      leak: 0,
      z: 2,
      recon: "mse",
      reconSmooth: { weight: 1.7, stride: 3 },
      beta: 0.7,
      seed: 25,
      conditions: 1,
    },
  },
  {
    // The length-conditioned streamline model with a learned prior p(z | c): a network
    // 1 -> 5 (ReLU) -> [mp | pv] whose KL gradient reaches its weights.
    name: "1x12x3 (+1) [4,8] -> z3 (+1) -> linear-up [4,3], learned prior 1-5-6, bn, mse",
    batch: 3,
    cfg: {
      ...BASE,
      height: 1,
      width: 12,
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
      beta: 0.9,
      seed: 26,
      conditions: 1,
      prior: { hidden: [5] },
    },
  },
  {
    // The regression VAE (src/vae/regression.ts) on the streamline geometry: x -> 5 (ReLU) -> r^
    // with loss weight 1.5; the prior 1 -> 4 -> [mp | pv] reads r^; no condition channels.
    name: "1x12x3 [4,8] -> z3 -> linear-up [4,3], regression 36-5-1, prior on r^ 1-4, bn, mse",
    batch: 3,
    cfg: {
      ...BASE,
      height: 1,
      width: 12,
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
      beta: 0.9,
      seed: 27,
      conditions: 1,
      condition: { kind: "length", mean: 40, std: 10 },
      prior: { hidden: [4] },
      regression: { hidden: [5], weight: 1.5 },
    },
  },
];

const ADAM = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };

Deno.test("conv vae: the reference model's layers fit 28x28 (7 -> 14 -> 28) and bad configs say why", () => {
  const cfg: ConvVaeConfig = {
    ...BASE,
    ...CASES[0].cfg,
    height: 28,
    width: 28,
    filters: [32, 64, 64, 64],
    kernels: [3, 3, 3, 3],
    strides: [1, 2, 2, 1],
    decoderFilters: [64, 64, 32, 1],
    decoderKernels: [3, 3, 3, 3],
    decoderStrides: [1, 2, 2, 1],
    z: 16,
  };
  const g = convVaeGeometry(cfg);
  assert.deepEqual(g.map, [7, 7, 64]);
  assert.deepEqual(g.decoder.map((s) => s.height), [7, 7, 14, 28]);
  const layout = convVaeLayout(cfg);
  assert.deepEqual(layout.get("encoder.head.weight").shape, [3136, 32]);
  assert.deepEqual(layout.get("decoder.convt.1.weight").shape, [3, 3, 64, 64]);
  assert.ok(layout.get("encoder.bn.0.running_var").offset >= layout.trainableSize);
  assert.throws(
    () => convVaeGeometry({ ...cfg, decoderStrides: [1, 2, 1, 1] }),
    /decoder outputs 14x14x1 but the images are 28x28x1/,
  );
  assert.throws(() => convVaeGeometry({ ...cfg, kernels: [3, 3] }), /one value per encoder layer/);
  assert.throws(
    () => convVaeGeometry({ ...cfg, upsample: "linear" }),
    /--upsample linear needs a sequence model/,
  );
  const seq = convVaeGeometry(CASES.at(-1)!.cfg);
  assert.deepEqual(seq.upsample, [true, true]);
  assert.deepEqual(seq.decoder.map((s) => [s.width, s.stride[1]]), [[6, 1], [12, 1]]);
});

Deno.test("conv vae reference: works out its own shapes and refuses a layout that disagrees", () => {
  const { cfg, batch } = CASES[0];
  const F = cfg.height * cfg.width * cfg.channels;
  const rng = new Rng(5);
  const x = rng.uniform(batch * F, 0, 1);
  const eps = normals(cfg.seed, 0, 0, batch * cfg.z);
  // A layout for strides [1, 1]: the encoder's last map is 6x6, not 3x3, so the head's weight
  // is [144, 4] where the reference (strides [1, 2]) expects [36, 4].
  const wrong = convVaeLayout({ ...cfg, strides: [1, 1], decoderStrides: [1, 1] });
  const params = Float64Array.from(initParams(wrong, 1));
  assert.throws(
    () => convVaeStep(cfg, wrong, params, x, batch, eps),
    /encoder\.head\.weight is \[144,4\] in the layout, expected \[36,4\]/,
  );
  // A layout that gives a conv before batch norm a bias the reference does not expect, or
  // leaves it out where it does, fails too.
  const noBn = convVaeLayout({ ...cfg, batchnorm: false });
  assert.throws(
    () => convVaeStep(cfg, noBn, Float64Array.from(initParams(noBn, 1)), x, batch, eps),
    /the layout has no encoder\.bn\.0\.gamma/,
  );
  assert.throws(
    () => convVaeStep({ ...cfg, batchnorm: false }, convVaeLayout(cfg), params, x, batch, eps),
    /the layout has no encoder\.conv\.0\.bias/,
  );
  // A decoder that does not give the image back is the reference's own error as well.
  assert.throws(
    () =>
      convVaeStep({ ...cfg, decoderStrides: [1, 1] }, convVaeLayout(cfg), params, x, batch, eps),
    /the decoder gives 3x3x1, not the image's 6x6x1/,
  );
});

for (const { name, batch, cfg } of CASES) {
  const layout = convVaeLayout(cfg);
  const F = cfg.height * cfg.width * cfg.channels;

  Deno.test(`conv vae reference: whole-model gradient matches finite differences (${name})`, () => {
    const params = Float64Array.from(initParams(layout, cfg.seed));
    const rng = new Rng(cfg.seed);
    const x = rng.uniform(batch * F, 0, 1);
    const c = conditionsFor(rng, batch, cfg.conditions ?? 0);
    const eps = normals(cfg.seed, 0, 0, batch * cfg.z);
    // A regression VAE's prior reads r^ with its gradient stopped: held at its value here.
    const rhat = convVaeForward(cfg, layout, params, x, batch, eps, true, c).regression?.rhat;
    const r = convVaeStep(cfg, layout, params, x, batch, eps, c, rhat);
    const idx = layout.entries.filter((e) => e.trainable).flatMap((e) =>
      Array.from({ length: e.length }, (_, i) => e.offset + i)
    );
    const packed = Float64Array.from(idx, (i) => params[i]);
    const loss = (p: Float64Array) => {
      const full = params.slice();
      idx.forEach((at, k) => (full[at] = p[k]));
      return convVaeStep(cfg, layout, full, x, batch, eps, c, rhat).loss;
    };
    assertGradient(`whole conv model (${name})`, loss, packed, idx.map((i) => r.grads[i]), {
      rtol: 1e-5,
      maxChecks: 300,
    });
  });

  gpuTest(
    `conv vae on the GPU matches the float64 model: loss, gradients, running stats, 10 Adam steps, eval (${name})`,
    async (gpu) => {
      const d = gpu.device;
      const init = initParams(layout, cfg.seed);
      const state = new ModelState(gpu, layout, init);
      const rng = new Rng(cfg.seed + 100);
      const bytes = Uint8Array.from({ length: batch * F }, () => Math.floor(rng.next() * 256));
      const c = conditionsFor(rng, batch, cfg.conditions ?? 0);
      const source = {
        data: upload(d, "u8", [bytes.length], bytes, "data"),
        cond: c ? upload(d, "f32", [c.length], c, "conditions") : undefined,
        index: upload(d, "u32", [batch], identityOrder(batch), "index"),
        scale: 1 / 255,
        shift: 0,
      };
      const metrics = new Tensor(d, "f32", [METRIC.size], "metrics");
      const program = await buildConvStep(gpu, cfg, state, source, metrics, batch, ADAM);
      const step = [program.gather, ...program.forward, ...program.backward];
      const x = Float64Array.from(bytes, (b) => Math.fround(b / 255));
      const params = Float64Array.from(init);
      const want = convVaeStep(
        cfg,
        layout,
        params,
        x,
        batch,
        normals(cfg.seed, 0, 0, batch * cfg.z),
        c,
      );

      submit(d, step);
      const m0 = await readback(d, metrics);
      assertClose(`${name} step 1 recon`, [m0[METRIC.recon] / batch], [want.recon], 1e-5);
      assertClose(`${name} step 1 kl`, [m0[METRIC.kl] / batch], [want.kl], 1e-4);
      const grads = await readback(d, state.grads);
      const after = await readback(d, state.params);
      for (const e of layout.entries) {
        const at = (a: ArrayLike<number> & { subarray(i: number, j: number): ArrayLike<number> }) =>
          a.subarray(e.offset, e.offset + e.length);
        if (e.trainable) assertClose(`${name} d${e.name}`, at(grads), at(want.grads), 1e-4);
        else assertClose(`${name} ${e.name} after step 1`, at(after), at(want.params), 1e-5);
      }
      assert.equal(m0[METRIC.nonfinite], 0);

      const steps = 10;
      const traj = convVaeTrain(cfg, layout, params, x, batch, steps, ADAM, c);
      const got = [(m0[METRIC.recon] * cfg.reconWeight + m0[METRIC.kl] * cfg.beta) / batch];
      let prev = m0;
      for (let s = 1; s < steps; s++) {
        submit(d, step);
        const m = await readback(d, metrics);
        const recon = (m[METRIC.recon] - prev[METRIC.recon]) / batch;
        const kl = (m[METRIC.kl] - prev[METRIC.kl]) / batch;
        got.push(cfg.reconWeight * recon + cfg.beta * kl);
        prev = m;
      }
      // The metrics buffer holds recon and KL; a regression VAE's own loss is checked apart.
      const w = cfg.regression?.weight ?? 0;
      const wantLoss = traj.map((r) => r.loss - w * (r.regression ?? 0));
      assertClose(`${name} 10-step loss trajectory`, got, wantLoss, 5e-5);
      const final = await readback(d, state.params);
      for (const e of layout.entries) {
        assertClose(
          `${name} ${e.name} after 10 steps`,
          final.subarray(e.offset, e.offset + e.length),
          params.subarray(e.offset, e.offset + e.length),
          5e-5,
        );
      }
      assert.ok(traj.at(-1)!.loss < traj[0].loss, "the loss went down");

      // Evaluation: running statistics, noise stream 1, nothing trained.
      const evalMetrics = new Tensor(d, "f32", [METRIC.size], "eval metrics");
      const ev = await buildConvStep(gpu, cfg, state, source, evalMetrics, batch);
      submit(d, [ev.gather, ...ev.forward]);
      assert.equal((await readbackU32(d, state.counter))[0], steps, "eval did not count a step");
      const evalWant = convVaeForward(
        cfg,
        layout,
        params,
        x,
        batch,
        normals(cfg.seed, 1, steps, batch * cfg.z),
        false,
        c,
      );
      assertClose(
        `${name} eval logits`,
        await readback(d, ev.tensors.logits),
        evalWant.logits,
        1e-4,
      );
      const em = await readback(d, evalMetrics);
      const sum = (a: Float64Array) => a.reduce((s, v) => s + v, 0);
      assertClose(`${name} eval recon sum`, [em[METRIC.recon]], [sum(evalWant.recon)], 1e-5);
      assert.deepEqual(await readback(d, state.params), final, "evaluation changed no parameter");

      // The decoder alone (eval mode) on random codes, 1 and 4 at a time.
      for (const B of [1, 4]) {
        const dec = await buildConvDecode(gpu, cfg, state, B);
        const codes = new Rng(9 + B);
        const z = codes.normal(B * cfg.z);
        const cz = conditionsFor(codes, B, cfg.conditions ?? 0);
        write(d, dec.z, z);
        if (cz) write(d, dec.c!, cz);
        submit(d, dec.dispatches);
        const mean = await readback(d, dec.mean);
        const ref = convVaeDecode(cfg, layout, params, z, B, cz);
        assertClose(`${name} decoded means (batch ${B})`, mean, ref, 1e-4);
      }
      state.destroy();
    },
  );
}
