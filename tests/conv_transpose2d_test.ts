import { type Conv2dOptions, conv2dOutputSize, type Padding } from "../src/nn/conv2d.ts";
import {
  convTranspose2dBackward,
  convTranspose2dForward,
  convTranspose2dOutputSize,
  convTranspose2dPartner,
  type ConvTranspose2dShape,
} from "../src/nn/conv_transpose2d.ts";
import * as ref from "../src/reference/conv_transpose2d.ts";
import { assertClose, assertGradient, dot, f32, gpuTest, out, Rng, run } from "./_helpers.ts";
import { convViews } from "./_conv_views.ts";

type Pair = number | [number, number];
/** [batch, h, w, in channels, out channels, kernel, stride, padding, outputPadding] */
type Case = [number, number, number, number, number, Pair, Pair, Padding, Pair?];

/** Any channel counts (the partner convolution's naive kernels). */
const NAIVE: Case[] = [
  [3, 7, 9, 1, 5, 3, 1, "same"],
  [3, 5, 7, 3, 1, 5, 2, "same"],
  [3, 7, 5, 5, 3, 3, 2, "valid"],
  [3, 5, 7, 33, 5, [3, 5], [2, 1], [1, 2]],
  [1, 4, 5, 5, 33, 3, 2, [1, 1], 1],
  [3, 3, 3, 3, 5, 5, 2, "valid", [1, 0]],
  [3, 5, 7, 5, 3, 3, [1, 2], "same"],
];
/** In channels divisible by 4 (the partner's out channels): the vec4 kernels. */
const VEC4: Case[] = [
  [3, 7, 9, 4, 1, 3, 1, "same"],
  [3, 5, 7, 8, 3, 5, 2, "same"],
  [3, 7, 5, 36, 5, 3, 2, "valid"],
  [3, 5, 7, 4, 33, [3, 5], [2, 1], [1, 2]],
  [1, 4, 5, 12, 8, 3, 2, [1, 1], 1],
  [3, 3, 3, 8, 4, 5, 2, "valid", [1, 0]],
  [3, 5, 7, 20, 36, 3, [1, 2], "same"],
  [3, 7, 7, 32, 1, 3, 1, "same"],
];

function shape(c: Case): ConvTranspose2dShape {
  const [batch, height, width, inChannels, outChannels, k, st, padding, op] = c;
  const pair = (v: Pair): [number, number] => typeof v === "number" ? [v, v] : v;
  return {
    batch,
    height,
    width,
    inChannels,
    outChannels,
    kernel: pair(k),
    stride: pair(st),
    padding,
    outputPadding: op === undefined ? undefined : pair(op),
  };
}

function sizes(s: ConvTranspose2dShape): { X: number; Y: number; WN: number } {
  const o = convTranspose2dOutputSize(s);
  return {
    X: s.batch * s.height * s.width * s.inChannels,
    Y: s.batch * o.height * o.width * s.outChannels,
    WN: s.kernel[0] * s.kernel[1] * s.inChannels * s.outChannels,
  };
}

function tag(s: ConvTranspose2dShape): string {
  const p = Array.isArray(s.padding) ? s.padding.join(",") : s.padding;
  return `${s.batch}x${s.height}x${s.width}x${s.inChannels}->${s.outChannels} ` +
    `k${s.kernel.join("x")} s${s.stride.join("x")} ${p}` +
    (s.outputPadding ? ` op${s.outputPadding.join("x")}` : "");
}

Deno.test("conv_transpose2d output size: 7 -> 14 -> 28 and back, valid, explicit", () => {
  const s = (h: number, k: number, st: number, padding: Padding, op = 0): ConvTranspose2dShape => ({
    batch: 1,
    height: h,
    width: h,
    inChannels: 1,
    outChannels: 1,
    kernel: [k, k],
    stride: [st, st],
    padding,
    outputPadding: [op, op],
  });
  const cases: [ConvTranspose2dShape, number][] = [
    [s(7, 3, 2, "same"), 14],
    [s(14, 3, 2, "same"), 28],
    [s(28, 3, 1, "same"), 28],
    [s(7, 5, 2, "same"), 14],
    [s(7, 3, 2, "valid"), 15],
    [s(7, 3, 2, "valid", 1), 16],
    [s(7, 3, 2, [1, 1]), 13],
    [s(7, 3, 2, [1, 1], 1), 14],
    [s(5, 5, 3, [2, 2], 2), 15],
  ];
  for (const [sh, size] of cases) {
    const o = convTranspose2dOutputSize(sh);
    if (o.height !== size || o.width !== size) {
      throw new Error(`${tag(sh)}: got ${JSON.stringify(o)}, want ${size}`);
    }
    // The partner convolution maps the output size back to the input size.
    const back = conv2dOutputSize(convTranspose2dPartner(sh));
    if (back.height !== sh.height || back.width !== sh.width) {
      throw new Error(`${tag(sh)}: partner maps ${size} to ${back.height}, not ${sh.height}`);
    }
  }
  const bad: [ConvTranspose2dShape, string][] = [
    [s(7, 3, 2, "same", 1), "outputPadding needs"],
    [s(7, 3, 2, "valid", 2), "outputPadding must"],
    [s(1, 3, 1, [2, 2]), "no output"],
  ];
  for (const [sh, want] of bad) {
    let m = "";
    try {
      convTranspose2dPartner(sh);
    } catch (e) {
      m = (e as Error).message;
    }
    if (!m.includes(want)) throw new Error(`${tag(sh)}: expected '${want}', got '${m}'`);
  }
});

Deno.test("conv_transpose2d reference backward matches finite differences", () => {
  const rng = new Rng(23);
  const cases: Case[] = [
    [2, 3, 4, 2, 3, 3, 2, "same"],
    [1, 3, 2, 3, 2, [3, 2], [2, 1], [1, 0], [1, 0]],
    [1, 2, 3, 2, 2, 3, 2, "valid", 1],
  ];
  for (const c of cases) {
    const s = shape(c);
    const { X, Y, WN } = sizes(s);
    const x = rng.uniform(X), w = rng.uniform(WN), b = rng.uniform(s.outChannels);
    const g = rng.uniform(Y); // loss = sum g * y
    const want = ref.convTranspose2dBackward(g, x, w, s);
    const f = ref.convTranspose2dForward;
    assertGradient("conv_transpose2d dx", (v) => dot(g, f(v, w, b, s)), x, want.dx);
    assertGradient("conv_transpose2d dw", (v) => dot(g, f(x, v, b, s)), w, want.dw);
    assertGradient("conv_transpose2d db", (v) => dot(g, f(x, w, v, s)), b, want.db);
  }
});

/** GPU forward and backward of s vs the reference, parameters and gradients as views. */
async function check(
  gpu: Parameters<Parameters<typeof gpuTest>[1]>[0],
  s: ConvTranspose2dShape,
  rng: Rng,
  opt: Conv2dOptions = {},
): Promise<void> {
  const { X, Y, WN } = sizes(s);
  const BN = s.outChannels;
  const { at, x, w, b, dy, grads, yT, dxT, ...v } = convViews(gpu, rng, X, Y, WN, BN);
  const fwd = await convTranspose2dForward(gpu, v.fwd, s, opt);
  const bwd = await convTranspose2dBackward(gpu, v.bwd, s, opt);
  const [y, dx, g] = await run(gpu, [...fwd, ...bwd], yT, dxT, grads);
  const want = ref.convTranspose2dBackward(dy, x, w, s);
  // "<entry points> <shape>", e.g. "backward_dx_vec4 3x7x9x4->1 k3x3 s1x1 same".
  const name = (ds: { entry: string }[]) => `${ds.map((d) => d.entry).join(" + ")} ${tag(s)}`;
  assertClose(`y (${name(fwd)})`, y, ref.convTranspose2dForward(x, w, b, s), 1e-4);
  assertClose(`dx (${name(bwd.slice(0, 1))})`, dx, want.dx, 1e-4);
  assertClose(`dw (${name(bwd.slice(1, -1))})`, g.subarray(at.w, at.w + WN), want.dw, 1e-4);
  assertClose(`db (${name(bwd.slice(-1))})`, g.subarray(at.b, at.b + BN), want.db, 1e-4);
  for (let i = 0; i < at.total; i++) {
    const inside = (i >= at.w && i < at.w + WN) || (i >= at.b && i < at.b + BN);
    if (!inside && !Number.isNaN(g[i])) {
      throw new Error(`${tag(s)}: grads[${i}] outside dw and db was written`);
    }
  }
  for (const t of v.tensors) t.destroy();
}

// vec4 forwards: the partner's sub-pixel dx where it fits (the default), and the direct one.
const CONFIGS: [string, Conv2dOptions, Case[]][] = [
  ["naive", { variant: "naive" }, NAIVE],
  ["vec4", { variant: "vec4" }, VEC4],
  ["vec4 direct dx", { variant: "vec4", dx: "direct" }, VEC4],
];

for (const [name, opt, cases] of CONFIGS) {
  gpuTest(`conv_transpose2d ${name} forward and backward match the reference`, async (gpu) => {
    const rng = new Rng(name.length * 41);
    for (const c of cases) await check(gpu, shape(c), rng, opt);
  });
}

gpuTest("conv_transpose2d at the conv VAE decoder's shapes (batch 2)", async (gpu) => {
  const rng = new Rng(77);
  const layers: Case[] = [
    [2, 7, 7, 64, 64, 3, 1, "same"],
    [2, 7, 7, 64, 64, 3, 2, "same"],
    [2, 14, 14, 64, 32, 3, 2, "same"],
    [2, 28, 28, 32, 1, 3, 1, "same"],
  ];
  for (const c of layers) await check(gpu, shape(c), rng);
});

gpuTest("conv_transpose2d backward without dx writes dw and db only", async (gpu) => {
  const rng = new Rng(8);
  const s = shape([3, 5, 4, 8, 3, 3, 2, "same"]);
  const { X, Y, WN } = sizes(s);
  const x = rng.uniform(X), w = rng.uniform(WN), dy = rng.uniform(Y);
  const xT = f32(gpu, [X], x), wT = f32(gpu, [WN], w), dyT = f32(gpu, [Y], dy);
  const dwT = out(gpu, [WN]), dbT = out(gpu, [3]);
  const ds = await convTranspose2dBackward(gpu, { dw: dwT, db: dbT, dy: dyT, x: xT, w: wT }, s);
  // Its dx would be the partner's forward.
  if (ds.some((d) => d.entry.startsWith("forward"))) {
    throw new Error(`a dx dispatch without dx: ${ds.map((d) => d.entry)}`);
  }
  const [dw, db] = await run(gpu, ds, dwT, dbT);
  const want = ref.convTranspose2dBackward(dy, x, w, s);
  assertClose("no-dx dw", dw, want.dw, 1e-4);
  assertClose("no-dx db", db, want.db, 1e-4);
  for (const t of [xT, wT, dyT, dwT, dbT]) t.destroy();
});
