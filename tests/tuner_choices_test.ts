/**
 * What the kernel tuner (src/gpu/tuner.ts) picks on the adapter at hand, for the conv VAE's
 * convolutions and the mlp's dense layers at a small batch: printed, one line per (op, shape),
 * with every candidate's time. Runs in Deno and in the Chromium suite (tests/browser/run.ts),
 * so the SwiftShader adapter's choices show beside llvmpipe's. It checks only that each
 * choice names a candidate and that the kernels built under the tuner match the reference;
 * which candidate wins is the adapter's business (and times are never asserted).
 */

import { adapterKey, setTuner, Tuner } from "../src/gpu/tuner.ts";
import { conv2dBackward, conv2dForward, type Conv2dShape } from "../src/nn/conv2d.ts";
import { denseBackward, denseForward } from "../src/nn/dense.ts";
import * as ref from "../src/reference/conv2d.ts";
import { assertClose, f32, gpuTest, IN_BROWSER, out, Rng, run } from "./_helpers.ts";

const CANDIDATES: Record<string, string[]> = {
  "conv2d.forward": ["p64", "c32", "w4", "w2", "cin1", "blocks"],
  "conv2d.dx": [
    "direct",
    "subpixel",
    "subpixel-p64",
    "subpixel-c32",
    "subpixel-w4",
    "subpixel-w2",
    "subpixel-quads",
  ],
  "conv2d.dw": [
    "groups32",
    "groups8",
    "groups128",
    ...["cin1", "r32c64", "r64c32", "c32"].flatMap((k) =>
      [8, 32, 128].map((g) => `${k}-groups${g}`)
    ),
  ],
  "batchnorm.leaky": ["vec4", "scalar"],
  "dense.forward": ["vec4", "tiled", "shared"],
  "dense.backward": ["vec4", "tiled", "shared"],
};

function conv(h: number, ci: number, co: number, st: number): Conv2dShape {
  return {
    batch: 4,
    height: h,
    width: h,
    inChannels: ci,
    outChannels: co,
    kernel: [3, 3],
    stride: [st, st],
    padding: "same",
  };
}

gpuTest("tuner choices on this adapter (conv VAE and mlp shapes, small batch)", async (gpu) => {
  const backend = IN_BROWSER ? "browser" : (Deno.env.get("DENO_WEBGPU_BACKEND") ?? "vulkan");
  const lines: string[] = [];
  const tuner = new Tuner(gpu, adapterKey(gpu.device, backend), { log: (l) => lines.push(l) });
  setTuner(gpu, tuner);
  const rng = new Rng(21);
  try {
    // Encoder convolutions (the decoder's transposed ones are their partners' dx/forward).
    for (const s of [conv(28, 1, 32, 1), conv(28, 32, 64, 2), conv(14, 64, 64, 2)]) {
      const ho = Math.ceil(s.height / s.stride[0]);
      const X = 4 * s.height * s.width * s.inChannels, Y = 4 * ho * ho * s.outChannels;
      const WN = 9 * s.inChannels * s.outChannels;
      const x = rng.uniform(X), w = rng.uniform(WN, -0.5, 0.5), dy = rng.uniform(Y);
      const xT = f32(gpu, [X], x), wT = f32(gpu, [WN], w), dyT = f32(gpu, [Y], dy);
      const yT = out(gpu, [Y]), dxT = out(gpu, [X]), dwT = out(gpu, [WN]);
      const ds = [
        ...await conv2dForward(gpu, { y: yT, x: xT, w: wT }, s),
        ...await conv2dBackward(gpu, { dx: dxT, dw: dwT, dy: dyT, x: xT, w: wT }, s),
      ];
      const [y, dx, dw] = await run(gpu, ds, yT, dxT, dwT);
      const want = ref.conv2dBackward(dy, x, w, s);
      const tag = `tuned conv ${s.height}x${s.width}x${s.inChannels}->${s.outChannels}`;
      assertClose(`${tag} y`, y, ref.conv2dForward(x, w, new Float64Array(s.outChannels), s), 1e-4);
      assertClose(`${tag} dx`, dx, want.dx, 1e-4);
      assertClose(`${tag} dw`, dw, want.dw, 1e-4);
      for (const t of [xT, wT, dyT, yT, dxT, dwT]) t.destroy();
    }
    // The mlp's widest layer, at batch 32.
    const s = { batch: 32, inFeatures: 784, outFeatures: 512 };
    const t = {
      y: out(gpu, [32 * 512]),
      x: out(gpu, [32 * 784]),
      W: out(gpu, [784 * 512]),
      b: out(gpu, [512]),
    };
    const g = {
      dx: out(gpu, [32 * 784]),
      dW: out(gpu, [784 * 512]),
      db: out(gpu, [512]),
      dy: out(gpu, [32 * 512]),
    };
    await denseForward(gpu, t, s);
    await denseBackward(gpu, { ...g, x: t.x, W: t.W }, s);
    for (const v of [...Object.values(t), ...Object.values(g)]) v.destroy();
  } finally {
    setTuner(gpu, undefined);
  }
  console.log(`  adapter ${JSON.stringify(tuner.key)}`);
  for (const l of lines) console.log(`  ${l}`);
  for (const [id, c] of Object.entries(tuner.choices)) {
    const op = id.split(" ")[0];
    if (!(CANDIDATES[op] ?? []).includes(c.pick)) throw new Error(`${id}: pick '${c.pick}'`);
  }
  if (!Object.keys(tuner.choices).some((k) => k.startsWith("conv2d.dx "))) {
    throw new Error("no conv dx choice was made");
  }
});
