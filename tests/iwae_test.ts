/** Importance-weighted bound: log weights and the per-image log-sum-exp against float64. */
import assert from "node:assert/strict";
import { iwaeNll } from "../src/nn/iwae.ts";
import { logWeights, logWeightsPrior, nllFromWeights } from "../src/reference/iwae.ts";
import { assertClose, f32, gpuTest, out, Rng, run } from "./_helpers.ts";

Deno.test("iwae reference: k = 1 is the ELBO sample, and the bound sits below the mean -log w", () => {
  const rng = new Rng(2);
  const lw = rng.uniform(5 * 8, -320, -250);
  const nll = nllFromWeights(lw, 8);
  for (let i = 0; i < 5; i++) {
    const mean = -lw.subarray(i * 8, i * 8 + 8).reduce((a, b) => a + b, 0) / 8;
    assert.ok(nll[i] <= mean + 1e-12, "Jensen: IWAE is tighter than the averaged ELBO");
    assert.ok(nll[i] >= -Math.max(...lw.subarray(i * 8, i * 8 + 8)) - 1e-12);
  }
  assert.deepEqual(
    [...nllFromWeights(lw.subarray(0, 3), 1)],
    [...lw.subarray(0, 3)].map((v) => -v),
  );
});

for (const [images, k, Z] of [[1, 1, 1], [3, 7, 2], [5, 64, 13], [2, 33, 20]]) {
  gpuTest(
    `iwae log weights and nll match the reference (images ${images}, k ${k}, z ${Z})`,
    async (gpu) => {
      const rng = new Rng(images * 100 + k);
      const R = images * k;
      const [lo, hi] = [-4, 3];
      // Losses of a real model's size (hundreds of nats): the log-sum-exp must not overflow.
      const recon = rng.uniform(R, 150, 400);
      const mulogvar = rng.uniform(2 * R * Z, -6, 5); // some logvars beyond the clamp
      const eps = rng.normal(R * Z);
      const z = rng.normal(R * Z, 2);
      const t = {
        nll: out(gpu, [images]),
        lw: out(gpu, [R]),
        recon: f32(gpu, [R], recon),
        mulogvar: f32(gpu, [R, 2 * Z], mulogvar),
        eps: f32(gpu, [R, Z], eps),
        z: f32(gpu, [R, Z], z),
      };
      const d = await iwaeNll(gpu, t, { images, k, z: Z, logvarMin: lo, logvarMax: hi });
      const [lw, nll] = await run(gpu, d, t.lw, t.nll);
      const lwRef = logWeights(recon, mulogvar, eps, z, R, Z, lo, hi);
      assertClose(`log weights (${images}x${k}, z ${Z})`, lw, lwRef, 1e-6);
      // nll from the GPU's own log weights isolates the log-sum-exp's error.
      assertClose(`nll (${images}x${k})`, nll, nllFromWeights(lw, k), 1e-6);
      assertClose(`nll end to end (${images}x${k})`, nll, nllFromWeights(lwRef, k), 1e-6);
    },
  );
}

gpuTest(
  "iwae log weights with a learned prior match the reference; N(0, I) as it gives log_weight",
  async (gpu) => {
    const rng = new Rng(404);
    const images = 3, k = 5, Z = 7, R = images * k;
    const [lo, hi] = [-4, 3];
    const recon = rng.uniform(R, 150, 400);
    const mulogvar = rng.uniform(2 * R * Z, -6, 5);
    const prior = rng.uniform(2 * R * Z, -5, 4); // some prior logvars beyond the clamp
    const eps = rng.normal(R * Z);
    const z = rng.normal(R * Z, 2);
    const t = {
      nll: out(gpu, [images]),
      lw: out(gpu, [R]),
      recon: f32(gpu, [R], recon),
      mulogvar: f32(gpu, [R, 2 * Z], mulogvar),
      eps: f32(gpu, [R, Z], eps),
      z: f32(gpu, [R, Z], z),
      prior: f32(gpu, [R, 2 * Z], prior),
    };
    const shape = { images, k, z: Z, logvarMin: lo, logvarMax: hi };
    const [lw, nll] = await run(gpu, await iwaeNll(gpu, t, shape), t.lw, t.nll);
    const want = logWeightsPrior(recon, mulogvar, prior, eps, z, R, Z, lo, hi);
    assertClose("log weights, learned prior", lw, want, 1e-6);
    assertClose("nll, learned prior", nll, nllFromWeights(want, k), 1e-6);
    // The reference with a prior of zeros is the standard one.
    const zero = new Float64Array(2 * R * Z);
    assertClose(
      "prior 0",
      logWeightsPrior(recon, mulogvar, zero, eps, z, R, Z, lo, hi),
      logWeights(recon, mulogvar, eps, z, R, Z, lo, hi),
      1e-12,
    );
  },
);
