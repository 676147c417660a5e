/**
 * Dense layer kernels: GFLOP/s of every variant (naive, tiled, vec4) of forward, dx and dW
 * on the dense layers of both reference models (mlp and conv) at batch 128, and on 1024^3
 * (the adapter's "matmul ceiling"), with each used kernel's share of that ceiling. Prints a markdown table and writes it, with the raw numbers as JSON, to
 * bench/results/dense_<adapter>_<date>.{md,json}.
 *
 *   deno run --allow-read --allow-env --allow-write=bench/results bench/dense_bench.ts [--all]
 *
 * By default only the variant dense.ts uses for each shape is timed (the other columns stay
 * empty); `--all` times naive and tiled too, which takes minutes more (naive at 1024^3 is
 * seconds a launch on llvmpipe).
 *
 * Timing: one kernel is encoded `reps` times into one compute pass, submitted once, and the
 * wall time to `onSubmittedWorkDone` is divided by `reps`; nothing is subtracted, so the one
 * wait (~12 ms on llvmpipe) is included, and `reps` is chosen to make a run last ~0.25 s so it
 * stays small. The variants of one (shape, kernel) are measured in interleaved rounds and
 * the best round is reported, which keeps load from other processes out of the comparison.
 * GFLOP/s = 2 B K N / time.
 *
 * Under `deno bench` (where this file is not the main module) it only registers a quick
 * Deno.bench per mlp layer and kernel, with the variant dense.ts picks, and writes nothing.
 */

import { requestGpu } from "../src/gpu/device.ts";
import { type Tensor, upload } from "../src/gpu/buffer.ts";
import { type Dispatch, submit } from "../src/gpu/kernel.ts";
import {
  denseBackward,
  denseForward,
  type DenseShape,
  type DenseVariant,
  denseVariant,
} from "../src/nn/dense.ts";

/** [name, batch, in features, out features] */
const SHAPES: [string, number, number, number][] = [
  ["enc 784->512", 128, 784, 512],
  ["enc 512->512", 128, 512, 512],
  ["heads 512->40", 128, 512, 40],
  ["dec 20->512", 128, 20, 512],
  ["dec 512->784", 128, 512, 784],
  // The conv model's dense layers (7 x 7 x 64 = 3136 features after the encoder, z = 16).
  ["conv heads 3136->32", 128, 3136, 32],
  ["conv dec 16->3136", 128, 16, 3136],
  ["ceiling 1024^3", 1024, 1024, 1024],
];
/** How many of the mlp's layers have each shape (the rest are the conv model's). */
const MLP_USES: Record<string, number> = {
  "enc 784->512": 1,
  "enc 512->512": 2,
  "heads 512->40": 1,
  "dec 20->512": 1,
  "dec 512->784": 1,
};
const VARIANTS: DenseVariant[] = ["naive", "tiled", "vec4"];
/** `--all`: time every variant; by default only the one dense.ts uses for each shape. */
const ALL = Deno.args.includes("--all");
const OPS = ["forward", "dx", "dW"] as const;
type Op = typeof OPS[number] | "db";
const TARGET_MS = 250;
const ROUNDS = 3;
const MAX_REPS = 2000;

interface Result {
  shape: string;
  batch: number;
  inFeatures: number;
  outFeatures: number;
  op: Op;
  variant: DenseVariant | "-";
  reps: number;
  ms: number;
  gflops: number;
}

const gpu = await requestGpu();
const device = gpu.device;

async function wall(d: Dispatch, reps: number): Promise<number> {
  const t0 = performance.now();
  submit(device, new Array(reps).fill(d), "bench");
  await device.queue.onSubmittedWorkDone();
  return performance.now() - t0;
}

/** Repetitions for a run of about TARGET_MS (a first run also compiles and warms up). */
async function calibrate(d: Dispatch): Promise<number> {
  await wall(d, 1);
  const one = await wall(d, 1);
  if (one >= TARGET_MS / 2) return 1;
  const ten = await wall(d, 10);
  const per = Math.max((ten - one) / 9, 2e-3);
  return Math.max(1, Math.min(MAX_REPS, Math.round(TARGET_MS / per)));
}

/** Best per-launch time (ms) of each dispatch over interleaved rounds. */
async function measure(ds: Dispatch[]): Promise<{ reps: number; ms: number }[]> {
  const reps: number[] = [];
  for (const d of ds) reps.push(await calibrate(d));
  const best = ds.map(() => Infinity);
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < ds.length; i++) {
      best[i] = Math.min(best[i], (await wall(ds[i], reps[i])) / reps[i]);
    }
  }
  return ds.map((_, i) => ({ reps: reps[i], ms: best[i] }));
}

function random(shape: number[], label: string): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.random() * 2 - 1;
  return upload(device, "f32", shape, data, label);
}

if (import.meta.main) await report();
else registerQuickBenches();

/** The full measurement, printed and written to bench/results. */
async function report(): Promise<void> {
  const results: Result[] = [];
  const started = performance.now();
  // The ceiling is probed again after every shape (one launch of the used kernel at 1024^3)
  // and the best probe kept: a load that comes and goes on shared cores then lowers it less.
  const cs = { batch: 1024, inFeatures: 1024, outFeatures: 1024 };
  const cx = random([1024, 1024], "cx"), cW = random([1024, 1024], "cW");
  const cb = random([1024], "cb"), cy = random([1024, 1024], "cy");
  const [probe] = await denseForward(gpu, { y: cy, x: cx, W: cW, b: cb }, cs);
  await wall(probe, 1);
  const probes: number[] = [];
  for (const [name, B, K, N] of SHAPES) {
    const s: DenseShape = { batch: B, inFeatures: K, outFeatures: N };
    const x = random([B, K], "x"), W = random([K, N], "W"), b = random([N], "b");
    const dy = random([B, N], "dy");
    const y = random([B, N], "y"), dx = random([B, K], "dx");
    const dW = random([K, N], "dW"), db = random([N], "db");
    const byOp: Record<Op, Dispatch[]> = { forward: [], dx: [], dW: [], db: [] };
    const variants = ALL ? VARIANTS : [denseVariant(s)];
    for (const [i, variant] of variants.entries()) {
      const [fwd] = await denseForward(gpu, { y, x, W, b }, s, { variant });
      const [ddx, ddW, ddb] = await denseBackward(gpu, { dx, dW, db, dy, x, W }, s, { variant });
      byOp.forward.push(fwd);
      byOp.dx.push(ddx);
      byOp.dW.push(ddW);
      if (i === 0) byOp.db.push(ddb);
    }
    for (const op of [...OPS, "db"] as Op[]) {
      const timed = await measure(byOp[op]);
      timed.forEach(({ reps, ms }, i) => {
        const flops = op === "db" ? B * N : 2 * B * K * N;
        results.push({
          shape: name,
          batch: B,
          inFeatures: K,
          outFeatures: N,
          op,
          variant: op === "db" ? "-" : variants[i],
          reps,
          ms,
          gflops: flops / ms / 1e6,
        });
      });
    }
    for (const t of [x, W, b, dy, y, dx, dW, db]) t.destroy();
    probes.push((2 * 1024 ** 3) / (await wall(probe, 1)) / 1e6);
    console.error(`  measured ${name} (${((performance.now() - started) / 1000).toFixed(0)} s)`);
  }

  // ---- report ----

  const backend = Deno.env.get("DENO_WEBGPU_BACKEND") ?? "vulkan";
  const date = new Date().toISOString().slice(0, 10);
  const slug = (gpu.adapterName.split(/[^A-Za-z0-9]+/)[0] || "adapter").toLowerCase();
  const find = (shape: string, op: Op, variant: DenseVariant | "-") =>
    results.find((r) => r.shape === shape && r.op === op && r.variant === variant);

  const lines: string[] = [];
  lines.push(`# Dense kernels on ${gpu.adapterName}`);
  lines.push("");
  lines.push(
    `${date}, Deno ${Deno.version.deno}, WebGPU backend \`${backend}\`. GFLOP/s = 2 B K N / ` +
      `time per launch (best of ${ROUNDS} rounds; each round one submit of many launches, ` +
      `wall time, nothing subtracted). **Bold**: the variant dense.ts uses for that shape` +
      (ALL ? "." : " (the only one timed; `--all` times every variant)."),
  );
  lines.push("");
  const ceiling = Math.max(
    ...probes,
    ...OPS.map((op) =>
      find(
        "ceiling 1024^3",
        op,
        denseVariant({ batch: 1024, inFeatures: 1024, outFeatures: 1024 }),
      )!
        .gflops
    ),
  );
  lines.push(
    "| layer (B x K -> N) | kernel | naive | tiled | vec4 | used: ms | used: % of ceiling |",
  );
  lines.push("|---|---|---:|---:|---:|---:|---:|");
  let stepMs = 0;
  for (const [name, B, K, N] of SHAPES) {
    const chosen = denseVariant({ batch: B, inFeatures: K, outFeatures: N });
    for (const op of OPS) {
      const cells = VARIANTS.map((v) => {
        const r = find(name, op, v);
        if (!r) return "";
        const g = r.gflops.toFixed(2);
        return v === chosen ? `**${g}**` : g;
      });
      const { ms, gflops } = find(name, op, chosen)!;
      stepMs += ms * (MLP_USES[name] ?? 0);
      const share = ((100 * gflops) / ceiling).toFixed(0);
      lines.push(
        `| ${name} (${B}) | ${op} | ${cells.join(" | ")} | ${ms.toFixed(3)} | ${share} |`,
      );
    }
    const d = find(name, "db", "-")!;
    stepMs += d.ms * (MLP_USES[name] ?? 0);
    lines.push(`| ${name} (${B}) | db | | | | ${d.ms.toFixed(3)} | |`);
  }
  lines.push("");
  lines.push(
    "Sum over the mlp's six layers (512->512 twice: encoder and decoder) of the kernels " +
      `used (forward, dx, dW, db of each): ` +
      `${stepMs.toFixed(2)} ms per batch of 128.`,
  );
  lines.push(
    `Matmul ceiling (best of forward, dx, dW at 1024^3 and of a forward probe after each ` +
      `shape: ${probes.map((p) => p.toFixed(1)).join(", ")}): ${ceiling.toFixed(2)} GFLOP/s.`,
  );
  const table = lines.join("\n") + "\n";
  console.log(table);

  const base = new URL(`./results/dense_${slug}-${backend}_${date}`, import.meta.url);
  await Deno.writeTextFile(new URL(`${base.href}.md`), table);
  await Deno.writeTextFile(
    new URL(`${base.href}.json`),
    JSON.stringify(
      {
        adapter: gpu.adapterName,
        backend,
        date,
        deno: Deno.version.deno,
        ceilingGflops: ceiling,
        ceilingProbes: probes,
        mlpDenseMsPerBatch: stepMs,
        results,
      },
      null,
      2,
    ) + "\n",
  );
  console.error(`wrote ${base.pathname}.md and .json`);
  gpu.destroy();
}

/** `deno bench`: one entry per mlp layer and kernel; each iteration is 10 launches, one wait. */
function registerQuickBenches(): void {
  for (const [name, B, K, N] of SHAPES.filter(([n]) => !n.startsWith("ceiling"))) {
    const s: DenseShape = { batch: B, inFeatures: K, outFeatures: N };
    const made = (async () => {
      const x = random([B, K], "x"), W = random([K, N], "W"), b = random([N], "b");
      const dy = random([B, N], "dy"), y = random([B, N], "y"), dx = random([B, K], "dx");
      const dW = random([K, N], "dW"), db = random([N], "db");
      const [forward] = await denseForward(gpu, { y, x, W, b }, s);
      const [ddx, ddW] = await denseBackward(gpu, { dx, dW, db, dy, x, W }, s);
      return { forward, dx: ddx, dW: ddW };
    })();
    for (const op of OPS) {
      Deno.bench({
        name: `dense ${op} ${name} (batch ${B}), 10 launches`,
        group: name,
        n: 10,
        warmup: 2,
        async fn() {
          await wall((await made)[op], 10);
        },
      });
    }
  }
}
