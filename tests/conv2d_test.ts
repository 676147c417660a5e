import type { Dispatch } from "../src/gpu/kernel.ts";
import {
  conv2dBackward,
  conv2dCin1Fits,
  conv2dDwKernel,
  conv2dDxKernel,
  conv2dForward,
  type Conv2dOptions,
  conv2dOutputSize,
  type Conv2dShape,
  conv2dSubpixelFits,
  conv2dVariant,
  type Padding,
} from "../src/nn/conv2d.ts";
import * as ref from "../src/reference/conv2d.ts";
import { assertClose, assertGradient, dot, f32, gpuTest, out, Rng, run } from "./_helpers.ts";
import { convViews } from "./_conv_views.ts";

/** [batch, height, width, in channels, out channels, kernel, stride, padding] */
type Case = [
  number,
  number,
  number,
  number,
  number,
  number | [number, number],
  number | [
    number,
    number,
  ],
  Padding,
];

/** Any channel counts: ragged against the 16x16 naive workgroups. */
const NAIVE: Case[] = [
  [3, 7, 9, 1, 5, 3, 1, "same"],
  [1, 13, 11, 3, 1, 5, 2, "same"],
  [3, 7, 9, 5, 3, 3, 2, "valid"],
  [3, 13, 11, 33, 5, [3, 5], [2, 1], [1, 2]],
  [1, 9, 7, 5, 33, 3, 2, [1, 1]],
  [3, 8, 8, 3, 5, 5, 2, "same"],
  [3, 9, 10, 5, 3, 3, [1, 3], "same"],
];
/** Out channels divisible by 4: ragged against 16-channel x 4-pixel blocks. */
const VEC4: Case[] = [
  [3, 7, 9, 1, 4, 3, 1, "same"],
  [1, 13, 11, 3, 36, 5, 2, "same"],
  [3, 7, 9, 5, 8, 3, 2, "valid"],
  [3, 13, 11, 33, 20, [3, 5], [2, 1], [1, 2]],
  [3, 8, 8, 5, 4, 5, 2, "same"],
  [1, 9, 7, 33, 36, 3, 1, [2, 0]],
  // In channels divisible by 4 too (forward_vec4_cin4).
  [3, 7, 9, 8, 4, 3, 1, "same"],
  [1, 9, 7, 12, 20, 5, 2, "valid"],
  [3, 13, 11, 4, 8, [3, 5], [2, 1], [1, 2]],
  [3, 8, 8, 36, 36, 5, 2, "same"],
  [3, 9, 10, 5, 8, 3, [1, 3], "same"],
  // One in channel, 3x3 (forward_cin1_k3): strips of 19, 24 (3 a row), clipped channel blocks.
  [2, 9, 37, 1, 36, 3, 2, "same"],
  [3, 5, 70, 1, 8, 3, 1, [0, 2]],
  [2, 6, 5, 1, 20, 3, [2, 1], "valid"],
  // Blocks of 64 pixels (forward_vec4_cin4_p64): 198 pixels, 9 channel vec4s.
  [2, 9, 11, 8, 36, 3, 1, "same"],
  // backward_dx_vec4's other pixel grids: 2 x 8 and 1 x 16.
  [3, 4, 20, 20, 8, 3, 2, "same"],
  [3, 1, 37, 16, 8, [1, 3], [1, 2], [0, 1]],
];

function shape(c: Case): Conv2dShape {
  const [batch, height, width, inChannels, outChannels, k, st, padding] = c;
  const pair = (v: number | [number, number]): [number, number] =>
    typeof v === "number" ? [v, v] : v;
  return {
    batch,
    height,
    width,
    inChannels,
    outChannels,
    kernel: pair(k),
    stride: pair(st),
    padding,
  };
}

Deno.test("conv2d output size follows the TensorFlow conventions", () => {
  const s = (h: number, k: number, st: number, padding: Padding): Conv2dShape => ({
    batch: 1,
    height: h,
    width: h,
    inChannels: 1,
    outChannels: 1,
    kernel: [k, k],
    stride: [st, st],
    padding,
  });
  const cases: [Conv2dShape, number, number][] = [
    [s(28, 3, 1, "same"), 28, 1],
    [s(28, 3, 2, "same"), 14, 0], // total pad 1: all of it below
    [s(7, 3, 2, "same"), 4, 1],
    [s(8, 5, 2, "same"), 4, 1], // total 3: 1 above, 2 below
    [s(13, 5, 2, "valid"), 5, 0],
    [s(7, 3, 2, [1, 1]), 4, 1],
    [s(9, 3, 1, [2, 2]), 11, 2],
  ];
  for (const [sh, size, top] of cases) {
    const o = conv2dOutputSize(sh);
    if (o.height !== size || o.width !== size || o.padTop !== top || o.padLeft !== top) {
      throw new Error(`${JSON.stringify(sh)}: got ${JSON.stringify(o)}, want ${size}, pad ${top}`);
    }
  }
});

Deno.test("conv2d reference backward matches finite differences", () => {
  const rng = new Rng(17);
  for (
    const c of [
      [2, 5, 4, 2, 3, 3, 2, "same"],
      [1, 6, 5, 3, 2, [3, 2], [1, 2], [1, 0]],
    ] as Case[]
  ) {
    const s = shape(c);
    const o = conv2dOutputSize(s);
    const x = rng.uniform(s.batch * s.height * s.width * s.inChannels);
    const w = rng.uniform(s.kernel[0] * s.kernel[1] * s.inChannels * s.outChannels);
    const b = rng.uniform(s.outChannels);
    const g = rng.uniform(s.batch * o.height * o.width * s.outChannels); // loss = sum g * y
    const want = ref.conv2dBackward(g, x, w, s);
    assertGradient("conv2d dx", (v) => dot(g, ref.conv2dForward(v, w, b, s)), x, want.dx);
    assertGradient("conv2d dw", (v) => dot(g, ref.conv2dForward(x, v, b, s)), w, want.dw);
    assertGradient("conv2d db", (v) => dot(g, ref.conv2dForward(x, w, v, s)), b, want.db);
  }
});

/** Kernel configurations checked: the naive family, and vec4 with each dx kernel. */
const CONFIGS: [string, Conv2dOptions, Case[]][] = [
  ["naive", { variant: "naive" }, NAIVE],
  ["vec4", { variant: "vec4", dx: "direct" }, VEC4],
  // Only the shapes the sub-pixel dx serves (in and out channels divisible by 4).
  // The tuner's other candidates (src/gpu/tuner.ts): forward_vec4_cin4 2 x 32, dw chunking.
  ["vec4 forward width 2, dw 8 groups", {
    variant: "vec4",
    forwardChannels: 16,
    forwardWidth: 2,
    dwMinGroups: 8,
  }, [
    ...VEC4.filter((c) => c[3] % 4 === 0),
  ]],
  ["vec4 dw 128 groups", { variant: "vec4", dwMinGroups: 128 }, VEC4],
  // forward_vec4_cin4_c32 (16 pixels) where the default is forward_vec4_cin4_p64.
  ["vec4 forward 16 pixels x 32 channels", { variant: "vec4", forwardPixels: 16, dx: "subpixel" }, [
    ...VEC4.filter((c) => conv2dSubpixelFits(shape(c)) && c[3] % 4 === 0),
  ]],
  // forward_vec4_cin4 (16 channels, width 4) where the default is forward_vec4_cin4_p64.
  ["vec4 forward 16 channels, dw blocks", {
    variant: "vec4",
    forwardChannels: 16,
    dx: "subpixel",
    dwKernel: "blocks",
  }, [
    ...VEC4.filter((c) => conv2dSubpixelFits(shape(c)) && c[3] % 4 === 0),
  ]],
  // The tuner's other kernels for one in channel and a 3x3 kernel: forward_vec4's and
  // backward_dw_vec4's blocks.
  ["vec4 forward and dw blocks", { variant: "vec4", forwardKernel: "blocks", dwKernel: "blocks" }, [
    ...VEC4.filter((c) => c[3] === 1),
  ]],
  // backward_dw_vec4_cin4_c32 (16 rows x 32 channels), a tuner candidate.
  ["vec4 dw c32", { variant: "vec4", dwKernel: "c32" }, [
    ...VEC4.filter((c) => c[3] % 4 === 0),
    [5, 5, 4, 48, 20, 3, 2, "same"],
  ]],
  // backward_dw_cin1_k3 with chunks of several rows (4 x 40 rows in chunks of 2; 90 in 4s).
  ["vec4 dw 1 group", { variant: "vec4", dwMinGroups: 1 }, [
    [4, 40, 5, 1, 8, 3, 1, "same"],
    [2, 45, 3, 1, 36, 3, [1, 2], "same"],
    [1, 7, 9, 1, 4, 3, 1, "valid"],
    [1, 3, 9, 1, 4, 3, 1, "valid"], // one row: one chunk, no reduce_splits
    // backward_dw_vec4_cin4_r64c32: one chunk; chunks of 2, 2 and 1 images. _r32c64 the same.
    [1, 5, 5, 8, 20, 3, 1, "same"],
    [5, 5, 4, 48, 20, 3, 2, "same"],
    [1, 5, 5, 8, 40, 3, 1, "same"],
    [5, 3, 4, 64, 40, 3, 1, "same"],
  ]],
  ["vec4 subpixel dx, forward width 2", {
    variant: "vec4",
    dx: "subpixel",
    forwardChannels: 16,
    forwardWidth: 2,
  }, [
    [2, 7, 5, 8, 12, 3, 2, "same"],
    [3, 8, 8, 36, 36, 5, 2, "same"],
  ]],
  // forward_cout1 where forward_cout1_k3 is the default.
  ["vec4 subpixel dx, one in channel, quads", { variant: "vec4", dx: "subpixel", cout1: "quads" }, [
    [3, 7, 9, 1, 8, 3, 1, "same"],
    [2, 5, 37, 1, 8, 3, 1, "same"],
  ]],
  ["vec4 subpixel dx", { variant: "vec4", dx: "subpixel" }, [
    ...VEC4.filter((c) => conv2dSubpixelFits(shape(c))),
    [2, 7, 5, 8, 12, 3, 2, "same"], // odd sizes: classes of unequal rows and columns
    [3, 7, 9, 1, 8, 3, 1, "same"], // one in channel, 3x3: forward_cout1_k3
    [2, 5, 37, 1, 8, 3, 1, "same"], // strips of 16, 16 and 5
    [2, 7, 20, 1, 12, 3, 1, "valid"],
    [1, 6, 17, 1, 4, 3, 1, [2, 2]],
    [2, 9, 6, 1, 12, [3, 2], [2, 2], [1, 0]],
    [2, 9, 6, 4, 8, [3, 2], [3, 2], "valid"], // stride = kernel: classes of 1 tap
    [1, 3, 9, 12, 4, 3, [4, 2], "valid"], // row stride 4 > rows: classes of one row
  ]],
];

for (const [name, opt, cases] of CONFIGS) {
  gpuTest(`conv2d ${name} forward and backward match the reference`, async (gpu) => {
    const rng = new Rng(name.length * 31);
    for (const c of cases) {
      const s = shape(c);
      const o = conv2dOutputSize(s);
      const X = s.batch * s.height * s.width * s.inChannels;
      const Y = s.batch * o.height * o.width * s.outChannels;
      const WN = s.kernel[0] * s.kernel[1] * s.inChannels * s.outChannels;
      const BN = s.outChannels;
      const { at, x, w, b, dy, grads, yT, dxT, ...v } = convViews(gpu, rng, X, Y, WN, BN);
      const fwd = await conv2dForward(gpu, v.fwd, s, opt);
      const bwd = await conv2dBackward(gpu, v.bwd, s, opt);
      const [y, dx, g] = await run(gpu, [...fwd, ...bwd], yT, dxT, grads);
      const want = ref.conv2dBackward(dy, x, w, s);
      // "<entry point> <shape>", e.g. "forward_vec4 3x7x9x1->4 k3x3 s1x1 same".
      const names = (ds: Dispatch[]) =>
        ds.map((d) => d.entry).join(" + ") + " " + ds[0].label.split(" ").slice(1).join(" ");
      // forward; dx (one dispatch, or weights + forward per sub-pixel class); dw (plus
      // reduce_splits when the batch was split); db
      const isDx = (d: Dispatch) => /^conv2d_(dx|subpixel)/.test(d.label);
      const isDw = (d: Dispatch) => d.label.startsWith("conv2d_dw");
      const [fy, fdx, fdw, fdb] = [
        names(fwd),
        names(bwd.filter(isDx)),
        names(bwd.filter(isDw)),
        names(bwd.slice(-1)),
      ];
      const k3 = s.inChannels === 1 && s.kernel.join() === "3,3" && s.stride.join() === "1,1";
      if (opt.dx === "subpixel" && k3 && fdx.includes("cout1_k3") === (opt.cout1 === "quads")) {
        throw new Error(`${fdx}: not the expected one-channel kernel`);
      }
      if (opt.dx === "subpixel" && !fdx.includes("subpixel_weights")) {
        throw new Error(`${fdx}: not the sub-pixel dx`);
      }
      const cin1 = opt.variant === "vec4" && conv2dCin1Fits(s) && opt.forwardKernel !== "blocks";
      if (cin1 !== fy.startsWith("forward_cin1_k3")) {
        throw new Error(`${fy}: not the expected forward`);
      }
      if (opt.variant === "vec4" && s.inChannels % 4 === 0) {
        const c32 = (opt.forwardChannels ?? (s.outChannels > 16 ? 32 : 16)) === 32;
        const want = !c32
          ? "forward_vec4_cin4"
          : opt.forwardPixels === 16
          ? "forward_vec4_cin4_c32"
          : "forward_vec4_cin4_p64";
        if (fy.split(" ")[0] !== want) throw new Error(`${fy}: not ${want}`);
      }
      if (opt.variant === "vec4") {
        const kind = opt.dwKernel ?? conv2dDwKernel(s);
        const want = kind === "cin1"
          ? "backward_dw_cin1_k3"
          : kind !== "blocks"
          ? `backward_dw_vec4_cin4_${kind}`
          : s.inChannels % 4 === 0
          ? "backward_dw_vec4_cin4"
          : "backward_dw_vec4";
        if (fdw.split(" ")[0] !== want) throw new Error(`${fdw}: not ${want}`);
      }
      const tag = fy;
      assertClose(fy, y, ref.conv2dForward(x, w, b, s), 1e-4);
      assertClose(fdx, dx, want.dx, 1e-4);
      assertClose(fdw, g.subarray(at.w, at.w + WN), want.dw, 1e-4);
      assertClose(fdb, g.subarray(at.b, at.b + BN), want.db, 1e-4);
      for (let i = 0; i < at.total; i++) {
        const inside = (i >= at.w && i < at.w + WN) || (i >= at.b && i < at.b + BN);
        if (!inside && !Number.isNaN(g[i])) {
          throw new Error(`${tag}: grads[${i}] outside dw and db was written`);
        }
      }
      for (const t of v.tensors) t.destroy();
    }
  });
}

gpuTest("conv2d backward without dx (first layer) writes dw and db only", async (gpu) => {
  const rng = new Rng(5);
  const s = shape([3, 7, 9, 1, 8, 3, 1, "same"]);
  const X = 3 * 7 * 9, Y = 3 * 7 * 9 * 8, WN = 9 * 8;
  const x = rng.uniform(X), w = rng.uniform(WN), dy = rng.uniform(Y);
  const xT = f32(gpu, [X], x), wT = f32(gpu, [WN], w), dyT = f32(gpu, [Y], dy);
  const dwT = out(gpu, [WN]), dbT = out(gpu, [8]);
  const ds = await conv2dBackward(gpu, { dw: dwT, db: dbT, dy: dyT, x: xT, w: wT }, s);
  if (ds.some((d) => d.entry.startsWith("backward_dx"))) {
    throw new Error(`a dx dispatch without dx: ${ds.map((d) => d.entry)}`);
  }
  const [dw, db] = await run(gpu, ds, dwT, dbT);
  const want = ref.conv2dBackward(dy, x, w, s);
  assertClose("no-dx dw", dw, want.dw, 1e-4);
  assertClose("no-dx db", db, want.db, 1e-4);
  for (const t of [xT, wT, dyT, dwT, dbT]) t.destroy();
});

gpuTest("conv2d picks vec4 only where it fits, and checks shapes", async (gpu) => {
  const fits = shape([1, 5, 5, 3, 8, 3, 1, "same"]);
  const ragged = shape([1, 5, 5, 3, 5, 3, 1, "same"]);
  if (conv2dVariant(fits) !== "vec4" || conv2dVariant(ragged) !== "naive") {
    throw new Error("conv2dVariant chose the wrong kernel family");
  }
  // The sub-pixel dx by default: 32 in channels or more (or one), vec4 channels, and every class of
  // input rows reached by a tap at an output row not before its own (stride 3 with a top pad
  // of 1 reaches row 2 from oh = 1).
  const dxKernels = [
    conv2dDxKernel(shape([1, 9, 9, 64, 8, 3, 2, "same"])),
    conv2dDxKernel(shape([1, 9, 9, 63, 8, 3, 2, "same"])),
    conv2dDxKernel(shape([1, 9, 9, 1, 8, 3, 1, "same"])),
    conv2dDxKernel(shape([1, 9, 9, 64, 8, 1, 2, "valid"])),
    conv2dDxKernel(shape([1, 9, 9, 64, 8, 3, 3, [1, 1]])),
    conv2dDxKernel(shape([1, 9, 9, 32, 8, 3, 2, "same"])),
    conv2dDxKernel(shape([1, 9, 9, 16, 8, 3, 2, "same"])),
  ].join(" ");
  if (dxKernels !== "subpixel direct subpixel direct direct subpixel direct") {
    throw new Error(`conv2dDxKernel chose ${dxKernels}`);
  }
  const t = {
    y: out(gpu, [25 * 5]),
    x: out(gpu, [25 * 3]),
    w: out(gpu, [9 * 3 * 5]),
    b: out(gpu, [5]),
  };
  const message = async (f: () => Promise<unknown>) => {
    try {
      await f();
    } catch (e) {
      return (e as Error).message;
    }
    return "";
  };
  let m = await message(() => conv2dForward(gpu, t, ragged, { variant: "vec4" }));
  if (!m.includes("divisible by 4")) throw new Error(`no clear error: '${m}'`);
  m = await message(() => conv2dForward(gpu, t, { ...ragged, height: 6 }));
  if (!m.includes("'y'")) throw new Error(`shape error does not name y: '${m}'`);
  m = await message(() => conv2dForward(gpu, t, { ...ragged, kernel: [7, 7], padding: "valid" }));
  if (!m.includes("does not fit")) throw new Error(`no clear error for a kernel too large: '${m}'`);
  for (const v of Object.values(t)) v.destroy();
});
