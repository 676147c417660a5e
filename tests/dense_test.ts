import type { Tensor } from "../src/gpu/buffer.ts";
import type { TensorView } from "../src/gpu/kernel.ts";
import {
  denseBackward,
  denseForward,
  type DenseShape,
  type DenseVariant,
  denseVariant,
} from "../src/nn/dense.ts";
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

for (const variant of ["naive", "tiled", "vec4"] as const) {
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
