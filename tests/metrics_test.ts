/** Evaluation metrics of a tiny model against float64: the IWAE estimate and latent statistics. */
import assert from "node:assert/strict";
import { iwaeEstimate, latentStats } from "../src/eval/metrics.ts";
import { logWeights, nllFromWeights } from "../src/reference/iwae.ts";
import { klForward } from "../src/reference/kl.ts";
import { normals } from "../src/reference/latent.ts";
import { mlpVaeForward } from "../src/reference/mlp_vae.ts";
import { type MlpVaeConfig, mlpVaeLayout } from "../src/vae/mlp_vae.ts";
import { initParams, ModelState } from "../src/vae/common.ts";
import { assertClose, gpuTest, Rng } from "./_helpers.ts";

const cfg: MlpVaeConfig = {
  inputs: 12,
  hidden: [8],
  z: 2,
  recon: "bce",
  reconWeight: 1,
  beta: 1,
  logvarClamp: [-30, 20],
  seed: 4,
};

function reference(params: Float64Array, x: Float64Array, rows: number, eps: Float64Array) {
  return mlpVaeForward(cfg, mlpVaeLayout(cfg), params, x, rows, eps);
}

gpuTest(
  "metrics: the IWAE estimate of a tiny model matches float64 (3 and 11 images, k 5)",
  async (gpu) => {
    const layout = mlpVaeLayout(cfg);
    const init = initParams(layout, cfg.seed);
    const state = new ModelState(gpu, layout, init);
    const rng = new Rng(8);
    const N = 11;
    const images = Uint8Array.from({ length: N * 12 }, () => Math.floor(rng.next() * 256));
    const split = { images, labels: null, count: N };
    for (const [n, perBatch] of [[3, 8], [11, 4]]) {
      const k = 5;
      const got = await iwaeEstimate(gpu, cfg, state, split, { k, images: n, perBatch });
      // Image i's k rows in batch b (perBatch images each) use eps of rows r = (i - b * perBatch) * k + s.
      let total = 0;
      for (let b = 0; b * perBatch < n; b++) {
        const imgs = Math.min(perBatch, n - b * perBatch);
        const rows = imgs * k;
        const x = new Float64Array(rows * 12);
        for (let r = 0; r < rows; r++) {
          for (let f = 0; f < 12; f++) {
            x[r * 12 + f] = Math.fround(
              images[(b * perBatch + Math.floor(r / k)) * 12 + f] / 255,
            );
          }
        }
        const eps = normals(cfg.seed, 2, 0, rows * cfg.z);
        const { mulogvar, z, recon } = reference(Float64Array.from(init), x, rows, eps);
        total += nllFromWeights(logWeights(recon, mulogvar, eps, z, rows, 2, -30, 20), k).reduce(
          (a, v) => a + v,
          0,
        );
      }
      assertClose(`IWAE over ${n} images (${perBatch} per batch)`, [got], [total / n], 1e-5);
    }
    state.destroy();
  },
);

gpuTest(
  "metrics: latent statistics (KL per dimension, mu variance, active units) match float64",
  async (gpu) => {
    const layout = mlpVaeLayout(cfg);
    const init = initParams(layout, cfg.seed);
    const state = new ModelState(gpu, layout, init);
    const rng = new Rng(9);
    const N = 13;
    const images = Uint8Array.from({ length: N * 12 }, () => Math.floor(rng.next() * 256));
    const s = await latentStats(gpu, cfg, state, { images, labels: null, count: N }, 5);
    const x = Float64Array.from(images, (b) => Math.fround(b / 255));
    const { mulogvar } = reference(Float64Array.from(init), x, N, new Float64Array(N * 2));
    const klDim = [0, 1].map((d) => {
      const one = new Float64Array(N * 2 * 1);
      for (let r = 0; r < N; r++) {
        one[r * 2] = mulogvar[r * 4 + d];
        one[r * 2 + 1] = mulogvar[r * 4 + 2 + d];
      }
      return klForward(one, N, 1, -30, 20).reduce((a, v) => a + v, 0) / N;
    });
    const muVar = [0, 1].map((d) => {
      const m = Array.from({ length: N }, (_, r) => mulogvar[r * 4 + d]);
      const mean = m.reduce((a, v) => a + v, 0) / N;
      return m.reduce((a, v) => a + (v - mean) ** 2, 0) / N;
    });
    assertClose("KL per dimension", s.klPerDim, klDim, 1e-5);
    assertClose("variance of mu", s.muVariance, muVar, 1e-4);
    assert.equal(s.activeUnits, muVar.filter((v) => v > 0.01).length);
    state.destroy();
  },
);
