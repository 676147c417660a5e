/**
 * Quick A/B of convolution kernel variants on the conv VAE's shapes: each candidate and the
 * matmul ceiling (dense vec4 forward, 1024^3) are timed in alternation, several rounds, so a
 * loaded machine shifts both alike; prints GFLOP/s and the share of the ceiling (median of
 * rounds). Used to pick kernels (the tuner does the same per adapter).
 *
 *   deno run --allow-read --allow-env bench/conv_probe.ts [filter]
 */

import { type Gpu, requestGpu } from "../src/gpu/device.ts";
import { type Tensor, upload } from "../src/gpu/buffer.ts";
import { type Dispatch, submit } from "../src/gpu/kernel.ts";
import {
  conv2dBackwardDw,
  conv2dBackwardDx,
  conv2dForward,
  type Conv2dOptions,
  conv2dOutputSize,
  type Conv2dShape,
} from "../src/nn/conv2d.ts";
import { denseForward } from "../src/nn/dense.ts";
import process from "node:process";

/** One candidate: a name and a builder of its dispatches on fresh tensors. */
export interface ProbeCase {
  name: string;
  build: (gpu: Gpu, random: (n: number) => Tensor) => Promise<Dispatch[]>;
}

/** Times the cases against the ceiling; returns [name, GFLOP/s, share] rows. */
export async function probe(
  cases: ProbeCase[],
  rounds = 3,
  targetMs = 120,
): Promise<[string, number, number][]> {
  const gpu = await requestGpu();
  const device = gpu.device;
  const random = (n: number): Tensor => {
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = Math.random() * 2 - 1;
    return upload(device, "f32", [n], data, "probe");
  };
  // CPU time of this process (llvmpipe's threads run the kernels in it) is far steadier than
  // wall time on a machine shared with other work; on a real GPU use wall time (CPU_TIME=0).
  const cpu = Deno.env.get("CPU_TIME") !== "0";
  const wall = async (ds: Dispatch[], reps: number): Promise<number> => {
    const list: Dispatch[] = [];
    for (let r = 0; r < reps; r++) list.push(...ds);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    submit(device, list, "probe");
    await device.queue.onSubmittedWorkDone();
    const c = process.cpuUsage(c0);
    return cpu ? (c.user + c.system) / 1000 / 2 : performance.now() - t0;
  };
  const n = 1024;
  const [ceil] = await denseForward(
    gpu,
    { y: random(n * n), x: random(n * n), W: random(n * n), b: random(n) },
    { batch: n, inFeatures: n, outFeatures: n },
    { variant: "vec4" },
  );
  const all: { name: string; ds: Dispatch[]; reps: number; g: number[]; s: number[] }[] = [];
  for (const c of [{ name: "ceiling", build: () => Promise.resolve([ceil]) }, ...cases]) {
    const ds = await c.build(gpu, random);
    await wall(ds, 1);
    const one = await wall(ds, 1);
    all.push({ name: c.name, ds, reps: Math.max(1, Math.round(targetMs / one)), g: [], s: [] });
  }
  for (let r = 0; r < rounds; r++) {
    const cg = all[0];
    const flops0 = cg.ds.reduce((a, d) => a + d.flops, 0);
    const c0 = flops0 * cg.reps / (await wall(cg.ds, cg.reps)) / 1e6;
    for (const c of all) {
      const flops = c.ds.reduce((a, d) => a + d.flops, 0);
      const g = flops * c.reps / (await wall(c.ds, c.reps)) / 1e6;
      c.g.push(g);
      c.s.push(g / c0);
    }
  }
  const med = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];
  gpu.destroy();
  return all.map((c) => [c.name, med(c.g), med(c.s)]);
}

/** A 3x3 `same` convolution of h x h x ci -> co at stride st, batch b. */
export function same(h: number, ci: number, co: number, st: number, b = 128): Conv2dShape {
  return {
    batch: b,
    height: h,
    width: h,
    inChannels: ci,
    outChannels: co,
    kernel: [3, 3],
    stride: [st, st],
    padding: "same",
  };
}

/** Shapes of the conv VAE's convolutions (transposed layers as their partners). */
export const SHAPES: [string, Conv2dShape][] = [
  ["28x28x1->32 s1", same(28, 1, 32, 1)],
  ["28x28x32->64 s2", same(28, 32, 64, 2)],
  ["14x14x64->64 s2", same(14, 64, 64, 2)],
  ["7x7x64->64 s1", same(7, 64, 64, 1)],
  ["28x28x32->1 s1", same(28, 32, 1, 1)],
];

/** forward, dx and dw cases of a shape under some options. */
export function convCases(name: string, s: Conv2dShape, o: Conv2dOptions, tag: string) {
  const o2 = conv2dOutputSize(s);
  const X = s.batch * s.height * s.width * s.inChannels;
  const Y = s.batch * o2.height * o2.width * s.outChannels;
  const WN = s.kernel[0] * s.kernel[1] * s.inChannels * s.outChannels;
  const cases: ProbeCase[] = [
    {
      name: `${name} forward ${tag}`,
      build: (gpu, r) =>
        conv2dForward(gpu, { y: r(Y), x: r(X), w: r(WN), b: r(s.outChannels) }, s, o),
    },
    {
      name: `${name} dx ${tag}`,
      build: async (
        gpu,
        r,
      ) => [...await conv2dBackwardDx(gpu, { dx: r(X), dy: r(Y), w: r(WN) }, s, o)],
    },
    {
      name: `${name} dw ${tag}`,
      build: (gpu, r) => conv2dBackwardDw(gpu, { dw: r(WN), dy: r(Y), x: r(X) }, s, o),
    },
  ];
  return cases;
}

if (import.meta.main) {
  const filter = new RegExp(Deno.args[0] ?? ".");
  const cases = SHAPES.flatMap(([n, s]) => convCases(n, s, {}, "default"))
    .filter((c) => filter.test(c.name));
  for (const [name, g, s] of await probe(cases)) {
    console.log(
      `${name.padEnd(40)} ${g.toFixed(2).padStart(7)} GFLOP/s ${(100 * s).toFixed(0).padStart(4)}%`,
    );
  }
}
