import type { Tensor } from "../src/gpu/buffer.ts";
import type { TensorView } from "../src/gpu/kernel.ts";
import {
  denseBackward,
  denseForward,
  type DenseShape,
  type DenseVariant,
  denseVariant,
} from "../src/nn/dense.ts";
import { activationBackward, activationForward } from "../src/nn/activation.ts";
import * as ref from "../src/reference/dense.ts";
import { assertClose, assertGradient, dot, f32, gpuTest, out, Rng, run } from "./_helpers.ts";

/** [batch, in features, out features]: ragged against the 16x16 blocks and 8x4 workgroups. */
type Case = [number, number, number];

const ANY_SHAPE: Case[] = [
  [1, 13, 130],
  [3, 785, 13],
  [7, 13, 130],
  [3, 130, 785],
  [7, 1, 20],
  [1, 20, 1],
  [3, 4, 13],
  [7, 130, 4],
  [128, 785, 130],
];
/** Shapes the vec4 kernels serve (in and out features divisible by 4). */
const VEC4_SHAPE: Case[] = [
  [1, 4, 20],
  [3, 20, 4],
  [7, 20, 20],
  [1, 132, 68],
  [3, 784, 20],
  [7, 4, 132],
  [5, 68, 784],
  [128, 132, 68],
];
const CASES: Record<DenseVariant, Case[]> = {
  naive: ANY_SHAPE,
  tiled: ANY_SHAPE,
  vec4: VEC4_SHAPE,
  shared: [...ANY_SHAPE, [70, 129, 67]], // and one past a 64 x 64 tile both ways
};

const ALIGN = 64; // elements per 256 bytes: a view's offset must be 256-byte aligned

function shape([batch, inFeatures, outFeatures]: Case): DenseShape {
  return { batch, inFeatures, outFeatures };
}

Deno.test("dense reference backward matches finite differences", () => {
  const rng = new Rng(11);
  const s = { batch: 3, inFeatures: 5, outFeatures: 4 };
  const x = rng.uniform(15);
  const W = rng.uniform(20);
  const b = rng.uniform(4);
  const w = rng.uniform(12); // loss = sum w * y, so dy = w
  const g = ref.denseBackward(w, x, W, s);
  assertGradient("dense dx", (v) => dot(w, ref.denseForward(v, W, b, s)), x, g.dx);
  assertGradient("dense dW", (v) => dot(w, ref.denseForward(x, v, b, s)), W, g.dW);
  assertGradient("dense db", (v) => dot(w, ref.denseForward(x, W, v, s)), b, g.db);
});

/**
 * W and b as views into one flat parameter buffer, dW and db into one NaN-filled gradient
 * buffer, each at a non-zero 256-byte-aligned offset, as the models lay them out.
 */
function flatLayout(K: number, N: number): { W: number; b: number; total: number } {
  const W = ALIGN;
  const b = Math.ceil((W + K * N) / ALIGN) * ALIGN + ALIGN;
  return { W, b, total: b + N + 7 };
}

for (const variant of ["naive", "tiled", "vec4", "shared"] as const) {
  gpuTest(`dense ${variant} forward and backward match the reference`, async (gpu) => {
    const rng = new Rng(variant.length * 7919);
    for (const c of CASES[variant]) {
      const s = shape(c);
      const [B, K, N] = c;
      const at = flatLayout(K, N);
      const x = rng.uniform(B * K);
      const W = rng.uniform(K * N, -0.5, 0.5);
      const b = rng.uniform(N);
      const dy = rng.uniform(B * N);
      const flat = rng.uniform(at.total, -9, 9); // junk around the views
      flat.set(W, at.W);
      flat.set(b, at.b);
      const params = f32(gpu, [at.total], flat, "params");
      const grads = out(gpu, [at.total], "grads");
      const view = (t: Tensor, offset: number, length: number): TensorView => ({
        tensor: t,
        offset,
        length,
      });
      const xT = f32(gpu, [B, K], x), dyT = f32(gpu, [B, N], dy);
      const yT = out(gpu, [B, N]), dxT = out(gpu, [B, K]);
      const opt = { variant };
      const fwd = await denseForward(
        gpu,
        { y: yT, x: xT, W: view(params, at.W, K * N), b: view(params, at.b, N) },
        s,
        opt,
      );
      const bwd = await denseBackward(
        gpu,
        {
          dx: dxT,
          dW: view(grads, at.W, K * N),
          db: view(grads, at.b, N),
          dy: dyT,
          x: xT,
          W: view(params, at.W, K * N),
        },
        s,
        opt,
      );
      const [y, dx, g] = await run(gpu, [...fwd, ...bwd], yT, dxT, grads);
      const want = ref.denseBackward(dy, x, W, s);
      const tag = `${variant} B=${B} ${K}->${N}`;
      assertClose(`${tag} y`, y, ref.denseForward(x, W, b, s), 1e-4);
      assertClose(`${tag} dx`, dx, want.dx, 1e-4);
      assertClose(`${tag} dW`, g.subarray(at.W, at.W + K * N), want.dW, 1e-4);
      assertClose(`${tag} db`, g.subarray(at.b, at.b + N), want.db, 1e-4);
      // Nothing outside the gradient views was written.
      for (let i = 0; i < at.total; i++) {
        const inside = (i >= at.W && i < at.W + K * N) || (i >= at.b && i < at.b + N);
        if (!inside && !Number.isNaN(g[i])) {
          throw new Error(`${tag}: grads[${i}] outside dW and db was written`);
        }
      }
      for (const t of [params, grads, xT, dyT, yT, dxT]) t.destroy();
    }
  });
}

gpuTest("dense backward without dx (first layer) writes dW and db only", async (gpu) => {
  const rng = new Rng(5);
  const s = { batch: 7, inFeatures: 20, outFeatures: 12 };
  const x = rng.uniform(7 * 20), W = rng.uniform(20 * 12), dy = rng.uniform(7 * 12);
  const xT = f32(gpu, [7, 20], x), WT = f32(gpu, [20, 12], W), dyT = f32(gpu, [7, 12], dy);
  const dWT = out(gpu, [20, 12]), dbT = out(gpu, [12]);
  const ds = await denseBackward(gpu, { dW: dWT, db: dbT, dy: dyT, x: xT, W: WT }, s);
  if (ds.length !== 2) throw new Error(`expected 2 dispatches (dW, db), got ${ds.length}`);
  const [dW, db] = await run(gpu, ds, dWT, dbT);
  const want = ref.denseBackward(dy, x, W, s);
  assertClose("no-dx dW", dW, want.dW, 1e-4);
  assertClose("no-dx db", db, want.db, 1e-4);
  for (const t of [xT, WT, dyT, dWT, dbT]) t.destroy();
});

gpuTest("dense picks vec4 only where it fits, and refuses it elsewhere", async (gpu) => {
  const fits = { batch: 3, inFeatures: 20, outFeatures: 4 };
  const ragged = { batch: 4, inFeatures: 20, outFeatures: 13 };
  if (denseVariant(fits) !== "vec4" || denseVariant(ragged) !== "tiled") {
    throw new Error("denseVariant chose the wrong kernel family");
  }
  const t = {
    y: out(gpu, [4, 13]),
    x: out(gpu, [4, 20]),
    W: out(gpu, [20, 13]),
    b: out(gpu, [13]),
  };
  let message = "";
  try {
    await denseForward(gpu, t, ragged, { variant: "vec4" });
  } catch (e) {
    message = (e as Error).message;
  }
  if (!message.includes("divisible by 4")) throw new Error(`no clear error: '${message}'`);
  const [d] = await denseForward(gpu, t, ragged);
  if (!d.entry.endsWith("tiled")) throw new Error(`ragged shape ran ${d.entry}`);
  // The shape check names the binding.
  const small = out(gpu, [3]);
  message = "";
  try {
    await denseForward(gpu, { ...t, y: small }, ragged);
  } catch (e) {
    message = (e as Error).message;
  }
  if (!message.includes("'y'")) throw new Error(`shape error does not name y: '${message}'`);
  for (const v of [...Object.values(t), small]) v.destroy();
});

Deno.test("dense fused-ReLU reference backward matches finite differences", () => {
  // loss(pre) = sum w * dense(relu(pre)): the gradient of pre is the fused dx.
  const rng = new Rng(12);
  const s = { batch: 3, inFeatures: 5, outFeatures: 4 };
  const pre = rng.awayFromZero(15);
  const W = rng.uniform(20), b = rng.uniform(4), w = rng.uniform(12);
  const h = pre.map((v) => Math.max(v, 0));
  const g = ref.denseBackwardReluInput(w, h, W, s);
  assertGradient(
    "dense relu-input dx",
    (v) => dot(w, ref.denseForward(v.map((u) => Math.max(u, 0)), W, b, s)),
    pre,
    g.dx,
  );
  // And the fused forward's output is relu of the plain one.
  const y = ref.denseReluForward(h, W, b, s), y0 = ref.denseForward(h, W, b, s);
  y.forEach((v, i) => {
    if (v !== Math.max(y0[i], 0)) throw new Error(`relu forward reference at ${i}`);
  });
});

/** Fused-ReLU shapes per variant: ragged for naive and tiled, vec4-sized for vec4. */
const RELU_CASES: Record<DenseVariant, Case[]> = {
  naive: [[1, 13, 130], [7, 130, 13], [3, 785, 20]],
  tiled: [[1, 13, 130], [7, 130, 13], [3, 785, 20], [37, 20, 785]],
  vec4: [[1, 4, 20], [7, 132, 68], [3, 784, 20], [37, 20, 784]],
  shared: [[1, 13, 130], [7, 130, 13], [3, 785, 20], [70, 20, 129]],
};

for (const variant of ["naive", "tiled", "vec4", "shared"] as const) {
  gpuTest(`dense ${variant} fused ReLU and db match the reference and the unfused passes`, async (
    gpu,
  ) => {
    const rng = new Rng(variant.length * 31 + 3);
    for (const c of RELU_CASES[variant]) {
      const s = shape(c);
      const [B, K, N] = c;
      // x as a ReLU's output (about half exactly 0), as the layer above sees it.
      const x = rng.uniform(B * K).map((v) => Math.max(v, 0));
      const W = rng.uniform(K * N, -0.5, 0.5), b = rng.uniform(N), dy = rng.uniform(B * N);
      const xT = f32(gpu, [B, K], x), WT = f32(gpu, [K, N], W), bT = f32(gpu, [N], b);
      const dyT = f32(gpu, [B, N], dy);
      const y = out(gpu, [B, N]), pre = out(gpu, [B, N]), yU = out(gpu, [B, N]);
      const dx = out(gpu, [B, K]), dx0 = out(gpu, [B, K]), dxU = out(gpu, [B, K]);
      const dW = out(gpu, [K, N]), db = out(gpu, [N]), dW0 = out(gpu, [K, N]), db0 = out(gpu, [N]);
      const opt = { variant };
      const fused = [
        ...await denseForward(gpu, { y, x: xT, W: WT, b: bT }, s, { ...opt, activation: "relu" }),
        ...await denseBackward(gpu, { dx, dW, db, dy: dyT, x: xT, W: WT }, s, {
          ...opt,
          dxActivation: "relu",
          fuseDb: true,
        }),
      ];
      const unfused = [
        ...await denseForward(gpu, { y: pre, x: xT, W: WT, b: bT }, s, opt),
        await activationForward(gpu, "relu", { y: yU, x: pre }),
        ...await denseBackward(gpu, { dx: dx0, dW: dW0, db: db0, dy: dyT, x: xT, W: WT }, s, opt),
        await activationBackward(gpu, "relu", { dx: dxU, dy: dx0, x: xT }),
      ];
      const labels = fused.map((d) => d.label);
      // The shared kernels have no fused db: forward, dx, dW, then the db pass.
      const dbFused = variant !== "shared";
      if (
        labels.length !== (dbFused ? 3 : 4) || !labels[0].includes("+relu") ||
        !labels[1].includes("+relu") || (dbFused && !labels[2].includes("+db"))
      ) {
        throw new Error(`fused dispatches: ${labels.join(", ")}`);
      }
      const [yG, dxG, dWG, dbG] = await run(gpu, fused, y, dx, dW, db);
      const [yUG, dxUG, dWUG, dbUG] = await run(gpu, unfused, yU, dxU, dW0, db0);
      const want = ref.denseBackwardReluInput(dy, x, W, s);
      const tag = `${variant}+relu B=${B} ${K}->${N}`;
      assertClose(`${tag} y`, yG, ref.denseReluForward(x, W, b, s), 1e-4);
      assertClose(`${tag} dx`, dxG, want.dx, 1e-4);
      assertClose(`${tag} dW`, dWG, want.dW, 1e-4);
      assertClose(`${tag} db`, dbG, want.db, 1e-4);
      // The same f32 expressions on the same sums: the unfused passes' bits exactly.
      assertClose(`${tag} y vs unfused`, yG, yUG, 0);
      assertClose(`${tag} dx vs unfused`, dxG, dxUG, 0);
      assertClose(`${tag} dW vs unfused`, dWG, dWUG, 0);
      assertClose(`${tag} db vs unfused`, dbG, dbUG, 0);
      for (const t of [xT, WT, bT, dyT, y, pre, yU, dx, dx0, dxU, dW, db, dW0, db0]) t.destroy();
    }
  });
}

gpuTest("dense dxActivation needs dx", async (gpu) => {
  const s = { batch: 2, inFeatures: 4, outFeatures: 4 };
  const a = out(gpu, [8]), w = out(gpu, [16]), n = out(gpu, [4]);
  let message = "";
  try {
    await denseBackward(gpu, { dW: w, db: n, dy: a, x: a, W: w }, s, { dxActivation: "relu" });
  } catch (e) {
    message = (e as Error).message;
  }
  if (!message.includes("needs dx")) throw new Error(`no clear error: '${message}'`);
  for (const t of [a, w, n]) t.destroy();
});
