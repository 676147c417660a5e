import type { Tensor } from "../src/gpu/buffer.ts";
import type { Dispatch } from "../src/gpu/kernel.ts";
import type { Conv2dVariant } from "../src/nn/conv2d.ts";
import {
  conv1dBackward,
  conv1dForward,
  conv1dOutputLength,
  type Conv1dShape,
  convTranspose1dBackward,
  convTranspose1dForward,
  convTranspose1dOutputLength,
  type ConvTranspose1dShape,
  type Padding1d,
} from "../src/nn/conv1d.ts";
import * as ref from "../src/reference/conv1d.ts";
import { assertClose, assertGradient, dot, f32, gpuTest, out, Rng, run } from "./_helpers.ts";

type Gpu = Parameters<Parameters<typeof gpuTest>[1]>[0];
/** [batch, length, in channels, out channels, kernel, stride, padding, outputPadding] */
type Case = [number, number, number, number, number, number, Padding1d, number?];

/** Any channel counts (naive kernels); conv1d and its transpose use the same cases. */
const NAIVE: Case[] = [
  [3, 1, 3, 5, 3, 1, "same"],
  [3, 7, 1, 3, 3, 2, "same"],
  [3, 33, 5, 1, 5, 2, "valid"],
  [1, 33, 33, 5, 3, 1, 2],
  [3, 7, 5, 33, 5, 2, 1, 1],
  [2, 256, 3, 5, 3, 2, "same"],
];
/** Out channels (conv1d) / in channels (transpose) divisible by 4: vec4 kernels. */
const VEC4_CONV: Case[] = [
  [3, 1, 3, 4, 3, 1, "same"],
  [3, 7, 1, 8, 3, 2, "same"],
  [3, 33, 5, 36, 5, 2, "valid"],
  [1, 33, 33, 4, 3, 1, 2],
  [3, 7, 8, 12, 5, 2, 1],
  [2, 256, 4, 32, 3, 2, "same"],
];
const VEC4_TRANSPOSE: Case[] = [
  [3, 1, 4, 3, 3, 1, "same"],
  [3, 7, 8, 1, 3, 2, "same"],
  [3, 33, 36, 5, 5, 2, "valid"],
  [1, 33, 4, 33, 3, 1, 2],
  [3, 7, 12, 8, 5, 2, 1, 1],
  [2, 128, 32, 4, 3, 2, "same"],
];

function convShape(c: Case): Conv1dShape {
  const [batch, length, inChannels, outChannels, kernel, stride, padding] = c;
  return { batch, length, inChannels, outChannels, kernel, stride, padding };
}

function transposeShape(c: Case): ConvTranspose1dShape {
  const [batch, length, inChannels, outChannels, kernel, stride, padding, op] = c;
  return { batch, length, inChannels, outChannels, kernel, stride, padding, outputPadding: op };
}

function tag(s: Conv1dShape | ConvTranspose1dShape): string {
  const op = "outputPadding" in s && s.outputPadding ? ` op${s.outputPadding}` : "";
  return `${s.batch}x${s.length}x${s.inChannels}->${s.outChannels} k${s.kernel} ` +
    `s${s.stride} ${s.padding}${op}`;
}

Deno.test("conv1d and transposed conv1d output lengths", () => {
  const c = (L: number, K: number, st: number, padding: Padding1d): Conv1dShape => ({
    batch: 1,
    length: L,
    inChannels: 1,
    outChannels: 1,
    kernel: K,
    stride: st,
    padding,
  });
  const conv: [Conv1dShape, number][] = [
    [c(256, 3, 2, "same"), 128],
    [c(33, 3, 2, "same"), 17],
    [c(33, 5, 2, "valid"), 15],
    [c(7, 3, 1, 2), 9],
    [c(1, 3, 1, "same"), 1],
  ];
  for (const [s, want] of conv) {
    const got = conv1dOutputLength(s);
    if (got !== want) throw new Error(`${tag(s)}: length ${got}, want ${want}`);
  }
  const t = (L: number, K: number, st: number, padding: Padding1d, op = 0) => ({
    ...c(L, K, st, padding),
    outputPadding: op,
  });
  const transposed: [ConvTranspose1dShape, number][] = [
    [t(32, 3, 2, "same"), 64],
    [t(64, 3, 2, "same"), 128],
    [t(7, 3, 2, "valid"), 15],
    [t(7, 3, 2, 1, 1), 14],
  ];
  for (const [s, want] of transposed) {
    const got = convTranspose1dOutputLength(s);
    if (got !== want) throw new Error(`${tag(s)}: length ${got}, want ${want}`);
  }
});

Deno.test("conv1d and transposed conv1d reference backwards match finite differences", () => {
  const rng = new Rng(29);
  const cases: Case[] = [[2, 7, 2, 3, 3, 2, "same"], [1, 5, 3, 2, 2, 2, 1, 1]];
  for (const c of cases) {
    const s = convShape(c);
    const lo = conv1dOutputLength(s);
    const x = rng.uniform(s.batch * s.length * s.inChannels);
    const w = rng.uniform(s.kernel * s.inChannels * s.outChannels);
    const b = rng.uniform(s.outChannels);
    const g = rng.uniform(s.batch * lo * s.outChannels);
    const want = ref.conv1dBackward(g, x, w, s);
    const f = ref.conv1dForward;
    assertGradient("conv1d dx", (v) => dot(g, f(v, w, b, s)), x, want.dx);
    assertGradient("conv1d dw", (v) => dot(g, f(x, v, b, s)), w, want.dw);
    assertGradient("conv1d db", (v) => dot(g, f(x, w, v, s)), b, want.db);

    const ts = transposeShape(c);
    const tg = rng.uniform(s.batch * convTranspose1dOutputLength(ts) * s.outChannels);
    const tw = ref.convTranspose1dBackward(tg, x, w, ts);
    const tf = ref.convTranspose1dForward;
    assertGradient("conv_transpose1d dx", (v) => dot(tg, tf(v, w, b, ts)), x, tw.dx);
    assertGradient("conv_transpose1d dw", (v) => dot(tg, tf(x, v, b, ts)), w, tw.dw);
    assertGradient("conv_transpose1d db", (v) => dot(tg, tf(x, w, v, ts)), b, tw.db);
  }
});

type Op = {
  forward: (gpu: Gpu, t: Record<string, Tensor>, opt: object) => Promise<Dispatch[]>;
  backward: (gpu: Gpu, t: Record<string, Tensor>, opt: object) => Promise<Dispatch[]>;
  yLength: number;
  refForward: (x: Float64Array, w: Float64Array, b: Float64Array) => Float64Array;
  refBackward: (dy: Float64Array, x: Float64Array, w: Float64Array) => {
    dx: Float64Array;
    dw: Float64Array;
    db: Float64Array;
  };
};

function convOp(s: Conv1dShape): Op {
  return {
    forward: (gpu, t, opt) =>
      conv1dForward(gpu, { y: t.y, x: t.x, w: t.w, b: t.b }, s, opt as never),
    backward: (gpu, t, opt) =>
      conv1dBackward(
        gpu,
        { dx: t.dx, dw: t.dw, db: t.db, dy: t.dy, x: t.x, w: t.w },
        s,
        opt as never,
      ),
    yLength: conv1dOutputLength(s),
    refForward: (x, w, b) => ref.conv1dForward(x, w, b, s),
    refBackward: (dy, x, w) => ref.conv1dBackward(dy, x, w, s),
  };
}

function transposeOp(s: ConvTranspose1dShape): Op {
  return {
    forward: (gpu, t, opt) =>
      convTranspose1dForward(gpu, { y: t.y, x: t.x, w: t.w, b: t.b }, s, opt as never),
    backward: (gpu, t, opt) =>
      convTranspose1dBackward(
        gpu,
        { dx: t.dx, dw: t.dw, db: t.db, dy: t.dy, x: t.x, w: t.w },
        s,
        opt as never,
      ),
    yLength: convTranspose1dOutputLength(s),
    refForward: (x, w, b) => ref.convTranspose1dForward(x, w, b, s),
    refBackward: (dy, x, w) => ref.convTranspose1dBackward(dy, x, w, s),
  };
}

/** GPU forward and backward vs the reference, all outputs poisoned first. */
async function check(
  gpu: Gpu,
  name: string,
  s: Conv1dShape,
  op: Op,
  rng: Rng,
  variant?: Conv2dVariant,
): Promise<void> {
  const X = s.batch * s.length * s.inChannels;
  const Y = s.batch * op.yLength * s.outChannels;
  const WN = s.kernel * s.inChannels * s.outChannels;
  const x = rng.uniform(X), w = rng.uniform(WN, -0.5, 0.5), b = rng.uniform(s.outChannels);
  const dy = rng.uniform(Y);
  const t: Record<string, Tensor> = {
    x: f32(gpu, [X], x),
    w: f32(gpu, [WN], w),
    b: f32(gpu, [s.outChannels], b),
    dy: f32(gpu, [Y], dy),
    y: out(gpu, [Y]),
    dx: out(gpu, [X]),
    dw: out(gpu, [WN]),
    db: out(gpu, [s.outChannels]),
  };
  const opt = variant ? { variant } : {};
  const ds = [...await op.forward(gpu, t, opt), ...await op.backward(gpu, t, opt)];
  const [y, dx, dw, db] = await run(gpu, ds, t.y, t.dx, t.dw, t.db);
  const want = op.refBackward(dy, x, w);
  const at = `${name} ${tag(s)} [${ds.map((d) => d.entry).join(", ")}]`;
  assertClose(`y ${at}`, y, op.refForward(x, w, b), 1e-4);
  assertClose(`dx ${at}`, dx, want.dx, 1e-4);
  assertClose(`dw ${at}`, dw, want.dw, 1e-4);
  assertClose(`db ${at}`, db, want.db, 1e-4);
  for (const v of Object.values(t)) v.destroy();
}

for (const variant of ["naive", "vec4"] as const) {
  gpuTest(`conv1d ${variant} forward and backward match the reference`, async (gpu) => {
    const rng = new Rng(variant.length * 13);
    for (const c of variant === "naive" ? NAIVE : VEC4_CONV) {
      const s = convShape(c);
      await check(gpu, "conv1d", s, convOp(s), rng, variant);
    }
  });
  gpuTest(`conv_transpose1d ${variant} forward and backward match the reference`, async (gpu) => {
    const rng = new Rng(variant.length * 19);
    for (const c of variant === "naive" ? NAIVE : VEC4_TRANSPOSE) {
      const s = transposeShape(c);
      await check(gpu, "conv_transpose1d", s, transposeOp(s), rng, variant);
    }
  });
}

gpuTest("conv1d at the streamline model's shapes (batch 2)", async (gpu) => {
  const rng = new Rng(3);
  const enc: Case[] = [
    [2, 256, 3, 32, 3, 2, "same"],
    [2, 128, 32, 64, 3, 2, "same"],
    [2, 64, 64, 128, 3, 2, "same"],
  ];
  for (const c of enc) {
    const s = convShape(c);
    await check(gpu, "conv1d", s, convOp(s), rng);
  }
  const dec: Case[] = [
    [2, 32, 128, 64, 3, 2, "same"],
    [2, 64, 64, 32, 3, 2, "same"],
    [2, 128, 32, 3, 3, 2, "same"],
  ];
  for (const c of dec) {
    const s = transposeShape(c);
    await check(gpu, "conv_transpose1d", s, transposeOp(s), rng);
  }
});
