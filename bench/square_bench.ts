/**
 * Dense forward y = x W + b on square N^3 products (N = 1024, 2048, 4096 by default): GFLOP/s
 * of each register-tiled and workgroup-memory kernel (dense.ts's `vec4`, `tiled`, `shared`),
 * and on a real GPU the share of its f32 peak when given (PEAK_TFLOPS, e.g. 67 for an H200's
 * FP32 non-tensor peak per its datasheet; an estimate the bench does not measure). Writes
 * <BENCH_RESULTS or bench/results>/square_<adapter>-<backend>_<date>.{md,json}.
 *
 *   deno run --allow-read --allow-env --allow-write=bench/results bench/square_bench.ts [N ...]
 *
 * Timing: per (N, kernel) one warm-up launch, then rounds of `reps` launches in one submit
 * (reps for about 0.3 s a round), best of 3 rounds; wall time, the one wait included.
 */

import { requestGpu } from "../src/gpu/device.ts";
import { zeros } from "../src/gpu/buffer.ts";
import { type Dispatch, submit } from "../src/gpu/kernel.ts";
import { denseForward, type DenseVariant } from "../src/nn/dense.ts";

const sizes = Deno.args.length ? Deno.args.map(Number) : [1024, 2048, 4096];
const VARIANTS: DenseVariant[] = (Deno.env.get("SQUARE_VARIANTS") || "vec4,shared,tiled")
  .split(",") as DenseVariant[];
const peak = Number(Deno.env.get("PEAK_TFLOPS") || 0);
const RESULTS = (Deno.env.get("BENCH_RESULTS") || "bench/results").replace(/\/+$/, "");
const BUDGET_S = Number(Deno.env.get("SQUARE_BUDGET_S") || 60);

const gpu = await requestGpu();
const device = gpu.device;
const started = performance.now();

async function wall(d: Dispatch, reps: number): Promise<number> {
  const t0 = performance.now();
  submit(device, new Array(reps).fill(d), "square");
  await device.queue.onSubmittedWorkDone();
  return performance.now() - t0;
}

interface Row {
  n: number;
  variant: DenseVariant;
  reps: number;
  ms: number;
  gflops: number;
}
const rows: Row[] = [];
for (const n of sizes) {
  const x = zeros(device, [n * n]), W = zeros(device, [n * n]);
  const b = zeros(device, [n]), y = zeros(device, [n * n]);
  for (const variant of VARIANTS) {
    // Skip what would blow the budget (a slow kernel at 4096^3 on a CPU adapter).
    if ((performance.now() - started) / 1000 > BUDGET_S) {
      console.error(`  skipped ${variant} ${n}^3: over the ${BUDGET_S} s budget`);
      continue;
    }
    const s = { batch: n, inFeatures: n, outFeatures: n };
    const [d] = await denseForward(gpu, { y, x, W, b }, s, { variant });
    await wall(d, 1);
    const one = await wall(d, 1);
    const reps = Math.max(1, Math.min(500, Math.round(300 / Math.max(one, 1e-3))));
    let best = Infinity;
    for (let r = 0; r < 3; r++) best = Math.min(best, (await wall(d, reps)) / reps);
    const gflops = (2 * n ** 3) / best / 1e6;
    rows.push({ n, variant, reps, ms: best, gflops });
    console.error(`  ${n}^3 ${variant}: ${gflops.toFixed(1)} GFLOP/s (${best.toFixed(3)} ms)`);
  }
  for (const t of [x, W, b, y]) t.destroy();
}
gpu.destroy();

const backend = Deno.env.get("DENO_WEBGPU_BACKEND") ?? "vulkan";
const date = new Date().toISOString().slice(0, 10);
const lines = [
  `# Square dense products on ${gpu.adapterName}`,
  "",
  `${date}, Deno ${Deno.version.deno}, WebGPU backend \`${backend}\`. y = x W + b, N x N ` +
  `times N x N, GFLOP/s = 2 N^3 / time per launch (best of 3 rounds, wall time).` +
  (peak ? ` Share of an f32 peak of ${peak} TFLOP/s (given, not measured).` : ""),
  "",
  `| N | kernel | ms | GFLOP/s |${peak ? " of peak |" : ""}`,
  `|---:|---|---:|---:|${peak ? "---:|" : ""}`,
  ...rows.map((r) =>
    `| ${r.n} | ${r.variant} | ${r.ms.toFixed(3)} | ${r.gflops.toFixed(1)} |` +
    (peak ? ` ${(r.gflops / (10 * peak)).toFixed(1)}% |` : "")
  ),
  "",
].join("\n");
console.log(lines);
const slug = (gpu.adapterName.split(/[^A-Za-z0-9]+/)[0] || "adapter").toLowerCase();
const base = `${RESULTS}/square_${slug}-${backend}_${date}`;
await Deno.writeTextFile(`${base}.md`, lines);
await Deno.writeTextFile(
  `${base}.json`,
  JSON.stringify({ adapter: gpu.adapterName, backend, date, peakTflops: peak, rows }, null, 2) +
    "\n",
);
console.error(`wrote ${base}.md and .json`);
