/**
 * Quick timing of the conv2d kernels at the conv reference model's encoder layers (batch 128,
 * kernel 3, same padding): GFLOP/s of forward, dx, dw per variant, printed as a markdown table.
 *
 *   deno run --allow-read --allow-env bench/conv2d_bench.ts
 *
 * Timing as in dense_bench.ts: one kernel encoded `reps` times into one pass, submitted once,
 * wall time to onSubmittedWorkDone divided by reps (the one wait included), best of 3 rounds.
 * GFLOP/s = 2 B Ho Wo KH KW Cin Cout / time.
 */

import { requestGpu } from "../src/gpu/device.ts";
import { type Tensor, upload } from "../src/gpu/buffer.ts";
import { type Dispatch, submit } from "../src/gpu/kernel.ts";
import {
  conv2dBackward,
  conv2dForward,
  conv2dOutputSize,
  type Conv2dShape,
  type Conv2dVariant,
} from "../src/nn/conv2d.ts";

/** [name, H, Cin, Cout, stride] at batch 128, kernel 3, same padding. */
const LAYERS: [string, number, number, number, number][] = [
  ["28x28x1->32 s1", 28, 1, 32, 1],
  ["28x28x32->64 s2", 28, 32, 64, 2],
  ["14x14x64->64 s2", 14, 64, 64, 2],
  ["7x7x64->64 s1", 7, 64, 64, 1],
];
const TARGET_MS = 400;

const gpu = await requestGpu();
const device = gpu.device;

async function wall(d: Dispatch, reps: number): Promise<number> {
  const t0 = performance.now();
  submit(device, new Array(reps).fill(d), "bench");
  await device.queue.onSubmittedWorkDone();
  return performance.now() - t0;
}

async function measure(d: Dispatch): Promise<number> {
  await wall(d, 1); // compile and warm up
  const one = await wall(d, 1);
  const reps = Math.max(1, Math.min(200, Math.round(TARGET_MS / one)));
  let best = Infinity;
  for (let r = 0; r < 3; r++) best = Math.min(best, (await wall(d, reps)) / reps);
  return best;
}

function random(n: number): Tensor {
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.random() * 2 - 1;
  return upload(device, "f32", [n], data, "bench");
}

const backend = Deno.env.get("DENO_WEBGPU_BACKEND") ?? "vulkan";
console.log(`conv2d on ${gpu.adapterName} (${backend}), batch 128, GFLOP/s (ms per launch)\n`);
console.log("| layer | kernel | naive | vec4 |");
console.log("|---|---|---:|---:|");
for (const [name, H, Ci, Co, st] of LAYERS) {
  const s: Conv2dShape = {
    batch: 128,
    height: H,
    width: H,
    inChannels: Ci,
    outChannels: Co,
    kernel: [3, 3],
    stride: [st, st],
    padding: "same",
  };
  const o = conv2dOutputSize(s);
  const X = 128 * H * H * Ci, Y = 128 * o.height * o.width * Co, WN = 9 * Ci * Co;
  const x = random(X), w = random(WN), b = random(Co), dy = random(Y);
  const y = random(Y), dx = random(X), dw = random(WN), db = random(Co);
  const flops = 2 * 128 * o.height * o.width * 9 * Ci * Co;
  const rows: Record<string, string[]> = { forward: [], dx: [], dw: [] };
  for (const variant of ["naive", "vec4"] as Conv2dVariant[]) {
    const [f] = await conv2dForward(gpu, { y, x, w, b }, s, { variant });
    const [ddx, ddw] = await conv2dBackward(gpu, { dx, dw, db, dy, x, w }, s, { variant });
    for (const [op, d] of [["forward", f], ["dx", ddx], ["dw", ddw]] as const) {
      const ms = await measure(d);
      rows[op].push(`${(flops / ms / 1e6).toFixed(2)} (${ms.toFixed(1)})`);
    }
  }
  for (const op of ["forward", "dx", "dw"]) {
    console.log(`| ${name} | ${op} | ${rows[op].join(" | ")} |`);
  }
  for (const t of [x, w, b, dy, y, dx, dw, db]) t.destroy();
}
