import type { Gpu } from "../src/gpu/device.ts";
import { readback, type Tensor, write } from "../src/gpu/buffer.ts";
import { submit } from "../src/gpu/kernel.ts";
import {
  batchNormBackward,
  batchNormBackwardEval,
  batchNormForward,
  batchNormForwardEval,
  batchNormLeakyBackward,
  batchNormLeakyForward,
  batchNormLeakyForwardEval,
  type BatchNormLeakyOptions,
  type BatchNormShape,
} from "../src/nn/batchnorm.ts";
import { activationBackward, activationForward } from "../src/nn/activation.ts";
import * as ref from "../src/reference/batchnorm.ts";
import { leakyReluBackward } from "../src/reference/activation.ts";
import { assertClose, assertGradient, dot, f32, gpuTest, out, Rng, run } from "./_helpers.ts";

const ROWS = [3, 7, 3 * 7 * 9, 128 * 49];
const CHANNELS = [1, 3, 5, 33, 64];
const EPS = 1e-5;

/** Per-channel parameters and running statistics, in ranges a trained layer might hold. */
function params(rng: Rng, c: number) {
  return {
    gamma: rng.uniform(c, 0.5, 2),
    beta: rng.uniform(c, -1, 1),
    runningMean: rng.uniform(c, -0.5, 0.5),
    runningVar: rng.uniform(c, 0.5, 2),
  };
}

/** x [M, C] with a different scale and offset per channel. */
function input(rng: Rng, rows: number, c: number, offset = 0): Float64Array {
  const scale = rng.uniform(c, 0.2, 3), shift = rng.uniform(c, -2, 2);
  const noise = rng.normal(rows * c);
  return noise.map((v, i) => Math.fround(offset + shift[i % c] + scale[i % c] * v));
}

Deno.test("batchnorm reference backwards match finite differences", () => {
  const rng = new Rng(11);
  const rows = 5, c = 3;
  const x = input(rng, rows, c);
  const p = params(rng, c);
  const w = rng.uniform(rows * c);
  const train = (xv: Float64Array, g: Float64Array, b: Float64Array) =>
    dot(w, ref.batchNormForward(xv, g, b, p.runningMean, p.runningVar, rows, c, EPS).y);
  const g = ref.batchNormBackward(w, x, p.gamma, rows, c, EPS);
  assertGradient("train dx", (v) => train(v, p.gamma, p.beta), x, g.dx, { rtol: 1e-5 });
  assertGradient("train dgamma", (v) => train(x, v, p.beta), p.gamma, g.dgamma, { rtol: 1e-5 });
  assertGradient("train dbeta", (v) => train(x, p.gamma, v), p.beta, g.dbeta, { rtol: 1e-5 });
  // The gradient through the statistics sums to zero over the rows of each channel.
  for (let k = 0; k < c; k++) {
    let s = 0;
    for (let m = 0; m < rows; m++) s += g.dx[m * c + k];
    if (Math.abs(s) > 1e-12) throw new Error(`train dx of channel ${k} sums to ${s}`);
  }

  const evalLoss = (xv: Float64Array, gv: Float64Array, bv: Float64Array) =>
    dot(w, ref.batchNormForwardEval(xv, gv, bv, p.runningMean, p.runningVar, rows, c, EPS));
  const e = ref.batchNormBackwardEval(w, x, p.gamma, p.runningMean, p.runningVar, rows, c, EPS);
  assertGradient("eval dx", (v) => evalLoss(v, p.gamma, p.beta), x, e.dx);
  assertGradient("eval dgamma", (v) => evalLoss(x, v, p.beta), p.gamma, e.dgamma);
  assertGradient("eval dbeta", (v) => evalLoss(x, p.gamma, v), p.beta, e.dbeta);
});

/** GPU tensors of one layer: inputs uploaded, every output poisoned. */
function layer(
  gpu: Gpu,
  rows: number,
  c: number,
  x: Float64Array,
  dy: Float64Array,
  p: ReturnType<typeof params>,
) {
  const n = rows * c;
  return {
    x: f32(gpu, [rows, c], x, "x"),
    dy: f32(gpu, [rows, c], dy, "dy"),
    gamma: f32(gpu, [c], p.gamma, "gamma"),
    beta: f32(gpu, [c], p.beta, "beta"),
    runningMean: f32(gpu, [c], p.runningMean, "running_mean"),
    runningVar: f32(gpu, [c], p.runningVar, "running_var"),
    y: out(gpu, [n], "y"),
    mean: out(gpu, [c], "mean"),
    rstd: out(gpu, [c], "rstd"),
    dx: out(gpu, [n], "dx"),
    dgamma: out(gpu, [c], "dgamma"),
    dbeta: out(gpu, [c], "dbeta"),
  };
}

function destroy(t: Record<string, Tensor>): void {
  for (const v of Object.values(t)) v.destroy();
}

/** Training forward then backward on the GPU, compared with the float64 reference. */
async function checkTraining(gpu: Gpu, rows: number, c: number, x: Float64Array, rng: Rng) {
  const p = params(rng, c);
  const dy = rng.uniform(rows * c);
  const t = layer(gpu, rows, c, x, dy, p);
  const s: BatchNormShape = { rows, channels: c };
  const fwd = await batchNormForward(gpu, t, s);
  const bwd = await batchNormBackward(gpu, t, s);
  const [y, mean, rstd, rm, rv, dx, dgamma, dbeta] = await run(
    gpu,
    [...fwd, ...bwd],
    t.y,
    t.mean,
    t.rstd,
    t.runningMean,
    t.runningVar,
    t.dx,
    t.dgamma,
    t.dbeta,
  );
  const want = ref.batchNormForward(x, p.gamma, p.beta, p.runningMean, p.runningVar, rows, c);
  const g = ref.batchNormBackward(dy, x, p.gamma, rows, c);
  const tag = `M=${rows} C=${c}`;
  const errs = [
    assertClose(`y ${tag}`, y, want.y, 1e-5),
    assertClose(`mean ${tag}`, mean, want.mean, 1e-5),
    assertClose(`rstd ${tag}`, rstd, want.rstd, 1e-5),
    assertClose(`running_mean ${tag}`, rm, want.runningMean, 1e-5),
    assertClose(`running_var ${tag}`, rv, want.runningVar, 1e-5),
    assertClose(`dx ${tag}`, dx, g.dx, 1e-5),
    assertClose(`dgamma ${tag}`, dgamma, g.dgamma, 1e-5),
    assertClose(`dbeta ${tag}`, dbeta, g.dbeta, 1e-5),
  ];
  destroy(t);
  return errs;
}

gpuTest("batchnorm training forward and backward match the reference", async (gpu) => {
  const rng = new Rng(21);
  const worst = new Array(8).fill(0);
  for (const rows of ROWS) {
    for (const c of CHANNELS) {
      const errs = await checkTraining(gpu, rows, c, input(rng, rows, c), rng);
      errs.forEach((e, i) => (worst[i] = Math.max(worst[i], e)));
    }
  }
  // More channels than one 64-channel tile, the last tile ragged.
  for (const rows of [7, 189]) {
    const errs = await checkTraining(gpu, rows, 130, input(rng, rows, 130), rng);
    errs.forEach((e, i) => (worst[i] = Math.max(worst[i], e)));
  }
  const names = ["y", "mean", "rstd", "running_mean", "running_var", "dx", "dgamma", "dbeta"];
  console.log(`  worst: ${names.map((n, i) => `${n} ${worst[i].toExponential(2)}`).join(", ")}`);
});

gpuTest(
  "batchnorm variance is stable under a large common offset (x = 1000 + noise)",
  async (gpu) => {
    const rng = new Rng(31);
    for (const [rows, c] of [[7, 3], [128 * 49, 5]]) {
      // Noise of standard deviation 0.2..3 on 1000: E[x^2] - E[x]^2 in f32 would lose every digit.
      await checkTraining(gpu, rows, c, input(rng, rows, c, 1000), rng);
    }
  },
);

gpuTest("batchnorm eval forward and backward match the reference", async (gpu) => {
  const rng = new Rng(41);
  const worst = [0, 0, 0, 0];
  for (const rows of [1, ...ROWS]) {
    for (const c of [...CHANNELS, ...(rows === 189 ? [130] : [])]) {
      const p = params(rng, c);
      const x = input(rng, rows, c), dy = rng.uniform(rows * c);
      const t = layer(gpu, rows, c, x, dy, p);
      const s: BatchNormShape = { rows, channels: c };
      const fwd = await batchNormForwardEval(gpu, t, s);
      const bwd = await batchNormBackwardEval(gpu, t, s);
      const [y, dx, dgamma, dbeta, rm, rv] = await run(
        gpu,
        [...fwd, ...bwd],
        t.y,
        t.dx,
        t.dgamma,
        t.dbeta,
        t.runningMean,
        t.runningVar,
      );
      const tag = `eval M=${rows} C=${c}`;
      const { runningMean: m0, runningVar: v0 } = p;
      const yErr = assertClose(
        `y ${tag}`,
        y,
        ref.batchNormForwardEval(x, p.gamma, p.beta, m0, v0, rows, c),
        1e-5,
      );
      const g = ref.batchNormBackwardEval(dy, x, p.gamma, m0, v0, rows, c);
      const errs = [
        yErr,
        assertClose(`dx ${tag}`, dx, g.dx, 1e-5),
        assertClose(`dgamma ${tag}`, dgamma, g.dgamma, 1e-5),
        assertClose(`dbeta ${tag}`, dbeta, g.dbeta, 1e-5),
      ];
      errs.forEach((e, i) => (worst[i] = Math.max(worst[i], e)));
      // Eval mode never moves the running statistics.
      assertClose(`running stats untouched ${tag}`, [...rm, ...rv], [...m0, ...v0], 0);
      destroy(t);
    }
  }
  const names = ["y", "dx", "dgamma", "dbeta"];
  console.log(`  worst: ${names.map((n, i) => `${n} ${worst[i].toExponential(2)}`).join(", ")}`);
});

gpuTest("batchnorm running statistics after 3 training steps; a batch of one", async (gpu) => {
  const rng = new Rng(51);
  for (const [rows, c, momentum] of [[7, 5, 0.1], [189, 33, 0.3], [1, 3, 0.1]]) {
    const p = params(rng, c);
    const x = input(rng, rows, c);
    const t = layer(gpu, rows, c, x, x, p);
    const fwd = await batchNormForward(gpu, t, { rows, channels: c, momentum });
    let rm = p.runningMean, rv = p.runningVar;
    for (let step = 0; step < 3; step++) {
      const xs = input(rng, rows, c);
      write(gpu.device, t.x, xs);
      submit(gpu.device, fwd);
      const want = ref.batchNormForward(xs, p.gamma, p.beta, rm, rv, rows, c, EPS, momentum);
      rm = want.runningMean;
      rv = want.runningVar;
    }
    const tag = `M=${rows} C=${c} momentum ${momentum}`;
    assertClose(`running_mean x3 ${tag}`, await readback(gpu.device, t.runningMean), rm, 1e-5);
    assertClose(`running_var x3 ${tag}`, await readback(gpu.device, t.runningVar), rv, 1e-5);
    destroy(t);
  }
});

gpuTest("batchnorm training forward and backward are bitwise deterministic", async (gpu) => {
  const rng = new Rng(61);
  const rows = 128 * 49, c = 5;
  const p = params(rng, c);
  const x = input(rng, rows, c), dy = rng.uniform(rows * c);
  const t = layer(gpu, rows, c, x, dy, p);
  const s: BatchNormShape = { rows, channels: c, momentum: 0 };
  const ds = [...await batchNormForward(gpu, t, s), ...await batchNormBackward(gpu, t, s)];
  const first = await run(gpu, ds, t.y, t.mean, t.rstd, t.dx, t.dgamma, t.dbeta);
  const second = await run(gpu, ds, t.y, t.mean, t.rstd, t.dx, t.dgamma, t.dbeta);
  first.forEach((a, k) => {
    if (a.some((v, i) => !Object.is(v, second[k][i]))) throw new Error(`output ${k} changed`);
  });
  destroy(t);
});

gpuTest("batchnorm binds parameters, gradients and running stats as views", async (gpu) => {
  // gamma, beta, dgamma, dbeta, runningMean, runningVar at 256-byte-aligned offsets of flat
  // buffers, as in the parameter / gradient / state buffers; the rest of each buffer is
  // poisoned and must stay NaN where outputs are, and unread where inputs are.
  const rng = new Rng(71);
  const rows = 189, c = 33, at = 64;
  const p = params(rng, c);
  const x = input(rng, rows, c), dy = rng.uniform(rows * c);
  const flat = (parts: Float64Array[]) => {
    const v = new Float64Array(at * (parts.length - 1) + c).fill(NaN);
    parts.forEach((q, k) => v.set(q, at * k));
    return v;
  };
  const params_ = f32(gpu, [at + c], flat([p.gamma, p.beta]));
  const state = f32(gpu, [at + c], flat([p.runningMean, p.runningVar]));
  const grads = out(gpu, [at + c]);
  const view = (tensor: Tensor, k: number) => ({ tensor, offset: at * k, length: c });
  const t = layer(gpu, rows, c, x, dy, p);
  const v = {
    ...t,
    gamma: view(params_, 0),
    beta: view(params_, 1),
    runningMean: view(state, 0),
    runningVar: view(state, 1),
    dgamma: view(grads, 0),
    dbeta: view(grads, 1),
  };
  const s: BatchNormShape = { rows, channels: c };
  const ds = [...await batchNormForward(gpu, v, s), ...await batchNormBackward(gpu, v, s)];
  const [y, dx, st, gr] = await run(gpu, ds, t.y, t.dx, state, grads);
  const want = ref.batchNormForward(x, p.gamma, p.beta, p.runningMean, p.runningVar, rows, c);
  const g = ref.batchNormBackward(dy, x, p.gamma, rows, c);
  assertClose("view y", y, want.y, 1e-5);
  assertClose("view dx", dx, g.dx, 1e-5);
  assertClose("view running_mean", st.slice(0, c), want.runningMean, 1e-5);
  assertClose("view running_var", st.slice(at, at + c), want.runningVar, 1e-5);
  assertClose("view dgamma", gr.slice(0, c), g.dgamma, 1e-5);
  assertClose("view dbeta", gr.slice(at, at + c), g.dbeta, 1e-5);
  if (!gr.slice(c, at).every(Number.isNaN)) throw new Error("dgamma view wrote outside itself");
  destroy(t);
  for (const q of [params_, state, grads]) q.destroy();
});

Deno.test("batchnorm + leaky ReLU reference backward matches finite differences", () => {
  const rng = new Rng(13);
  const rows = 5, c = 3;
  for (const leak of [0.2, 0]) {
    const x = input(rng, rows, c);
    const p = params(rng, c);
    const w = rng.uniform(rows * c);
    const { runningMean: rm, runningVar: rv } = p;
    const loss = (xv: Float64Array, g: Float64Array, b: Float64Array) =>
      dot(w, ref.batchNormLeakyForward(xv, g, b, rm, rv, rows, c, leak, EPS).h);
    const g = ref.batchNormLeakyBackward(w, x, p.gamma, p.beta, rows, c, leak, EPS);
    const o = { rtol: 1e-5 };
    assertGradient(`leak ${leak} dx`, (v) => loss(v, p.gamma, p.beta), x, g.dx, o);
    assertGradient(`leak ${leak} dgamma`, (v) => loss(x, v, p.beta), p.gamma, g.dgamma, o);
    assertGradient(`leak ${leak} dbeta`, (v) => loss(x, p.gamma, v), p.beta, g.dbeta, o);
  }
});

/** layer() plus the fused activation's output h and a second eval output. */
function leakyLayer(
  gpu: Gpu,
  rows: number,
  c: number,
  x: Float64Array,
  dh: Float64Array,
  p: ReturnType<typeof params>,
) {
  const n = rows * c;
  return {
    ...layer(gpu, rows, c, x, dh, p),
    h: out(gpu, [n], "h"),
    hEval: out(gpu, [n], "h eval"),
    delta: out(gpu, [c], "delta"),
  };
}

/** The fused launches of one layer: eval forward (before the running stats move), training. */
async function leakyDispatches(
  gpu: Gpu,
  t: ReturnType<typeof leakyLayer>,
  s: BatchNormShape,
  leak: number,
  opts: BatchNormLeakyOptions = {},
) {
  return [
    ...await batchNormLeakyForwardEval(gpu, { ...t, h: t.hEval }, s, leak),
    ...await batchNormLeakyForward(gpu, t, s, leak, opts),
    ...await batchNormLeakyBackward(gpu, { ...t, dh: t.dy }, s, leak, opts),
  ];
}

/** Fused BN + leaky ReLU forward (training, eval) and backward vs the float64 reference. */
async function checkLeaky(gpu: Gpu, rows: number, c: number, leak: number, rng: Rng) {
  const p = params(rng, c);
  const x = input(rng, rows, c), dh = rng.uniform(rows * c, -1, 1);
  const t = leakyLayer(gpu, rows, c, x, dh, p);
  const s: BatchNormShape = { rows, channels: c };
  const [h, mean, rstd, rm, rv, dx, dgamma, dbeta, hEval] = await run(
    gpu,
    await leakyDispatches(gpu, t, s, leak),
    t.h,
    t.mean,
    t.rstd,
    t.runningMean,
    t.runningVar,
    t.dx,
    t.dgamma,
    t.dbeta,
    t.hEval,
  );
  const { runningMean: m0, runningVar: v0 } = p;
  const want = ref.batchNormLeakyForward(x, p.gamma, p.beta, m0, v0, rows, c, leak);
  // Where y is within f32 rounding of 0 either mask is right: take the GPU's there (h > 0).
  let ambiguous = 0;
  const y = want.y.map((v, i) => Math.abs(v) < 1e-5 ? (ambiguous++, h[i]) : v);
  const g = ref.batchNormBackward(leakyReluBackward(dh, y, leak), x, p.gamma, rows, c);
  if (ambiguous === 0) {
    // Without ambiguous elements this is the reference backward itself.
    const r = ref.batchNormLeakyBackward(dh, x, p.gamma, p.beta, rows, c, leak);
    assertClose("reference paths agree", g.dx, r.dx, 1e-12);
  }
  const tag = `M=${rows} C=${c} leak ${leak}${ambiguous ? ` (${ambiguous} ambiguous)` : ""}`;
  const errs = [
    assertClose(`h ${tag}`, h, want.h, 1e-5),
    assertClose(`mean ${tag}`, mean, want.mean, 1e-5),
    assertClose(`rstd ${tag}`, rstd, want.rstd, 1e-5),
    assertClose(`running_mean ${tag}`, rm, want.runningMean, 1e-5),
    assertClose(`running_var ${tag}`, rv, want.runningVar, 1e-5),
    assertClose(`dx ${tag}`, dx, g.dx, 1e-5),
    assertClose(`dgamma ${tag}`, dgamma, g.dgamma, 1e-5),
    assertClose(`dbeta ${tag}`, dbeta, g.dbeta, 1e-5),
    assertClose(
      `eval h ${tag}`,
      hEval,
      ref.batchNormLeakyForwardEval(x, p.gamma, p.beta, m0, v0, rows, c, leak),
      1e-5,
    ),
  ];
  destroy(t);
  return errs;
}

gpuTest("batchnorm + leaky ReLU fused forward and backward match the reference", async (gpu) => {
  const rng = new Rng(81);
  const worst = new Array(9).fill(0);
  // C a multiple of 4 takes the vec4 launches: 4, 12 (a partial tile of 3 quads by 21 row
  // lanes), 64, 132 (a ragged last tile of one quad).
  const cases = [
    [1, 3],
    [3, 5],
    [7, 13],
    [189, 33],
    [189, 130],
    [32 * 49, 64],
    [6272, 1],
    [7, 4],
    [189, 12],
    [45, 132],
  ];
  for (const [rows, c] of cases) {
    for (const leak of [0.2, 0]) {
      const errs = await checkLeaky(gpu, rows, c, leak, rng);
      errs.forEach((e, i) => (worst[i] = Math.max(worst[i], e)));
    }
  }
  const names = ["h", "mean", "rstd", "running_mean", "running_var", "dx", "dgamma", "dbeta"];
  console.log(
    `  worst: ${
      [...names, "eval h"].map((n, i) => `${n} ${worst[i].toExponential(2)}`).join(", ")
    }`,
  );
});

gpuTest("batchnorm + leaky ReLU fused equals BN then leaky_relu on the GPU", async (gpu) => {
  // The unfused chain the conv VAE ran before: BN writes y, leaky_relu_forward h; backward
  // leaky_relu_backward writes dy from dh and y, then the BN backward.
  const rng = new Rng(91);
  const cases = [
    [189, 33, 0.2],
    [128 * 49, 64, 0.2],
    [7 * 49, 130, 0],
    [189, 12, 0.2],
    [45, 132, 0],
    [32 * 49, 32, 0.2],
  ];
  for (const [rows, c, leak] of cases) {
    const p = params(rng, c);
    const x = input(rng, rows, c), dh = rng.uniform(rows * c, -1, 1);
    const s: BatchNormShape = { rows, channels: c };
    const u = leakyLayer(gpu, rows, c, x, dh, p);
    const dyU = out(gpu, [rows * c], "dy unfused");
    const unfused = [
      ...await batchNormForwardEval(gpu, u, s),
      await activationForward(gpu, "leaky_relu", { y: u.hEval, x: u.y }, leak),
      ...await batchNormForward(gpu, u, s),
      await activationForward(gpu, "leaky_relu", { y: u.h, x: u.y }, leak),
      await activationBackward(gpu, "leaky_relu", { dx: dyU, dy: u.dy, x: u.y }, leak),
      ...await batchNormBackward(gpu, { ...u, dy: dyU }, s),
    ];
    const names = ["h", "mean", "rstd", "running_mean", "running_var", "dx", "dgamma", "dbeta"];
    const pick = (t: typeof u) => [
      t.h,
      t.mean,
      t.rstd,
      t.runningMean,
      t.runningVar,
      t.dx,
      t.dgamma,
      t.dbeta,
      t.hEval,
    ];
    const b = await run(gpu, unfused, ...pick(u));
    // C a multiple of 4: the vec4 launches (the default below 16384 rows) and the scalar ones.
    for (const vec4 of c % 4 === 0 ? [true, false] : [false]) {
      const f = leakyLayer(gpu, rows, c, x, dh, p);
      const fused = await leakyDispatches(gpu, f, s, leak, { vec4 });
      const a = await run(gpu, fused, ...pick(f));
      const tag = `M=${rows} C=${c} leak ${leak} ${vec4 ? "vec4" : "scalar"}`;
      const diffs: string[] = [];
      [...names, "eval h"].forEach((n, k) => {
        assertClose(`fused vs unfused ${n} ${tag}`, a[k], b[k], 1e-6);
        const bits = a[k].filter((v, i) => !Object.is(v, b[k][i])).length;
        diffs.push(`${n} ${bits}`);
      });
      console.log(`  elements not bit-identical, ${tag}: ${diffs.join(", ")}`);
      destroy(f);
    }
    destroy(u);
    dyU.destroy();
  }
});

gpuTest("batchnorm + leaky ReLU rejects a negative or non-finite leak", async (gpu) => {
  const rng = new Rng(3);
  const p = params(rng, 3);
  const t = leakyLayer(gpu, 4, 3, input(rng, 4, 3), rng.uniform(12), p);
  for (const leak of [-0.1, NaN, Infinity]) {
    let threw = false;
    try {
      await batchNormLeakyForward(gpu, t, { rows: 4, channels: 3 }, leak);
    } catch {
      threw = true;
    }
    if (!threw) throw new Error(`leak ${leak} was accepted`);
  }
  destroy(t);
});
