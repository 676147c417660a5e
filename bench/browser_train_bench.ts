/**
 * Training throughput of the training page (`deno task web`) in headless Chromium (WebGPU:
 * Dawn over SwiftShader) beside the same training loop in Deno (wgpu over Mesa's llvmpipe), in
 * one run, for DESIGN.md's reference models (mlp 784-512-512-20 and conv 32-64-64-64 z 16 with
 * batch norm, batch 128, Adam 1e-3) on the embedded Fashion-MNIST subset; and a screenshot of
 * the page after a few epochs of the mlp.
 *
 *   deno run --allow-read --allow-env --allow-run --allow-net=127.0.0.1 --allow-sys \
 *     --allow-write bench/browser_train_bench.ts [seconds] [epochs]
 *
 * Both sides run src/web/train/session.ts's TrainSession, chunked as the page runs it: steps
 * submitted back to back (one submit each), the metrics read once per chunk of about 250 ms,
 * an epoch's end running the test pass. Images per second count only the time inside those
 * chunks (submits and the read that waits for them), which is what the page shows; the page's
 * redraws (reconstructions, samples, KL per dimension, every 3 s and at each epoch's end) and
 * test passes are outside it, and the wall-clock rate that includes them is reported too. The
 * page side is the page itself (its Start button and its own loop); the Deno side is the same
 * loop in this process. Each side is timed for `seconds` (default 20; the conv model, whose
 * steps take seconds on a CPU adapter, three times as long) after a warm-up of 3 s.
 * The mlp page then trains on to `epochs` epochs (default 3) for the screenshot.
 *
 * Writes bench/results/browser_train_<date>.{md,json} and browser_train_<date>.png.
 */

import { loadDataset } from "../src/data/datasets.ts";
import { requestGpu } from "../src/gpu/device.ts";
import { writeTrainingPage } from "../src/cli/web.ts";
import { TrainSession } from "../src/web/train/session.ts";
import { PAGE_DEFAULTS, type PageSettings } from "../src/web/train/settings.ts";
import { serveDir, withPage } from "../tests/_browser.ts";

const seconds = Number(Deno.args[0] ?? 20);
const epochs = Number(Deno.args[1] ?? 3);
const WARMUP_S = 3;
const CHUNK_MS = 250;
const backend = Deno.env.get("DENO_WEBGPU_BACKEND") ?? "vulkan";
const started = performance.now();
const date = new Date().toISOString().slice(0, 10);

/** The conv model's steps take seconds on a CPU adapter: it is timed three times as long. */
const secondsOf = (model: "mlp" | "conv") => (model === "conv" ? 3 : 1) * seconds;
const settingsOf = (model: "mlp" | "conv"): PageSettings => ({ ...PAGE_DEFAULTS, model, epochs });

interface Rate {
  /** Images per second inside training chunks. */
  train: number;
  /** Images per second of wall-clock time (test passes and redraws included). */
  wall: number;
  /** Steps timed. */
  steps: number;
}

/** The page's loop in Deno: chunks of steps, one read each, epochs ended as the page does. */
async function denoRate(model: "mlp" | "conv"): Promise<Rate & { adapter: string }> {
  const gpu = await requestGpu();
  const data = await loadDataset("embedded", {});
  const session = await TrainSession.create(gpu, { ...settingsOf(model), epochs: 1000 }, {
    name: "embedded",
    rows: data.rows,
    cols: data.cols,
    train: { images: data.train.images as Uint8Array, labels: null, count: data.train.count },
    test: { images: data.test.images as Uint8Array, labels: null, count: data.test.count },
  });
  let chunk = 1, images = 0, inChunks = 0, steps = 0;
  let t0 = performance.now(), timing = false;
  for (;;) {
    const elapsed = (performance.now() - t0) / 1000;
    if (!timing && elapsed >= WARMUP_S) {
      timing = true;
      t0 = performance.now();
      images = inChunks = steps = 0;
      continue;
    }
    if (timing && elapsed >= secondsOf(model)) break;
    const c0 = performance.now();
    const n = session.run(chunk);
    if (n > 0) {
      await session.progress();
      const dt = (performance.now() - c0) / 1000;
      inChunks += dt;
      steps += n;
      images += n * session.batch;
      chunk = Math.max(1, Math.min(4 * chunk, Math.round((chunk * CHUNK_MS) / 1000 / dt)));
    }
    if (session.epochComplete) await session.finishEpoch();
  }
  const wall = (performance.now() - t0) / 1000;
  const adapter = gpu.adapterName;
  gpu.destroy();
  return { train: images / inChunks, wall: images / wall, steps, adapter };
}

const out = await Deno.makeTempDir({ prefix: "webgpu-vae-browser-bench-" });
await writeTrainingPage(`${out}/site`);
const server = await serveDir(`${out}/site`);
const rows: { model: string; deno: Rate; page: Rate }[] = [];
let denoAdapter = "", pageAdapter = "";
const shot = `bench/results/browser_train_${date}.png`;
try {
  await withPage(async (page) => {
    await page.setViewportSize({ width: 1100, height: 1200 });
    await page.goto(server.url);
    await page.waitForFunction("document.body.dataset.state === 'ready'", null, {
      timeout: 120_000,
    });
    pageAdapter = await page.evaluate("vaeTrain.gpu.adapterName") as string;
    for (const model of ["mlp", "conv"] as const) {
      const deno = await denoRate(model);
      denoAdapter = deno.adapter;
      console.log(`${model}: deno ${deno.train.toFixed(1)} images/s (${deno.steps} steps)`);
      await page.evaluate((s) => {
        // deno-lint-ignore no-explicit-any
        const t = (globalThis as any).vaeTrain;
        t.fillForm(s);
        // Not awaited: start() returns when training ends.
        void t.start();
      }, settingsOf(model));
      // The new session has trained its first chunk (the shaders are compiled by then).
      await page.waitForFunction(
        `vaeTrain.session?.settings.model === "${model}" && vaeTrain.trained.images > 0`,
        null,
        { timeout: 600_000 },
      );
      const sample = async () =>
        await page.evaluate(
          "({ ...vaeTrain.trained, step: vaeTrain.session.step, now: performance.now() })",
        ) as { images: number; seconds: number; step: number; now: number };
      await new Promise((r) => setTimeout(r, WARMUP_S * 1000));
      const a = await sample();
      await new Promise((r) => setTimeout(r, secondsOf(model) * 1000));
      const b = await sample();
      const pageRate: Rate = {
        train: (b.images - a.images) / (b.seconds - a.seconds),
        wall: (b.images - a.images) / ((b.now - a.now) / 1000),
        steps: b.step - a.step,
      };
      console.log(`${model}: page ${pageRate.train.toFixed(1)} images/s (${pageRate.steps} steps)`);
      rows.push({ model, deno, page: pageRate });
      if (model === "mlp") {
        await page.waitForFunction(
          `Number(document.body.dataset.epoch) >= ${epochs} && document.body.dataset.state === 'done'`,
          null,
          { timeout: 1_800_000, polling: 1000 },
        );
        await page.screenshot({ path: shot, fullPage: true });
        console.log(`screenshot after ${epochs} epochs: ${shot}`);
      } else {
        await page.evaluate("vaeTrain.pause()");
      }
    }
  }, { webgpu: true });
} finally {
  await server.close();
  await Deno.remove(out, { recursive: true });
}

const md = [
  `# The training page's throughput in Chromium beside Deno's`,
  "",
  `${date}, Deno ${Deno.version.deno}; Chromium's WebGPU (Dawn) on \`${pageAdapter}\`, Deno's ` +
  `(wgpu, backend \`${backend}\`) on \`${denoAdapter}\`; the embedded Fashion-MNIST subset ` +
  `(10000 train, 2000 test), batch 128, Adam 1e-3, DESIGN.md's reference mlp and conv. Both ` +
  `sides run the page's loop (src/web/train/session.ts): one submit per step, one metrics read ` +
  `per chunk of about ${CHUNK_MS} ms; ${WARMUP_S} s warm-up, then ${seconds} s timed ` +
  `(conv: ${secondsOf("conv")} s). ` +
  "Images/s count only the time inside training chunks (what the page shows); wall " +
  "images/s include the test pass at each epoch's end and, on the page, its redraws " +
  "(reconstructions, samples, KL per dimension, every 3 s). The machine's 2 cores are " +
  "shared with other work, so single runs vary by tens of percent.",
  "",
  "| model | Deno images/s | page images/s | page / Deno | Deno wall images/s | page wall images/s | Deno steps | page steps |",
  "|---|---:|---:|---:|---:|---:|---:|---:|",
  ...rows.map((r) =>
    `| ${r.model} | ${r.deno.train.toFixed(1)} | ${r.page.train.toFixed(1)} | ` +
    `${(r.page.train / r.deno.train).toFixed(2)} | ${r.deno.wall.toFixed(1)} | ` +
    `${r.page.wall.toFixed(1)} | ${r.deno.steps} | ${r.page.steps} |`
  ),
  "",
  `Screenshot: ${shot.split("/").pop()} (the mlp page after ${epochs} epochs).`,
  "",
  `Whole bench: ${((performance.now() - started) / 1000).toFixed(0)} s.`,
  "",
].join("\n");
const base = `bench/results/browser_train_${date}`;
await Deno.writeTextFile(`${base}.md`, md);
await Deno.writeTextFile(
  `${base}.json`,
  JSON.stringify({ date, backend, pageAdapter, denoAdapter, seconds, rows }, null, 2) + "\n",
);
console.log(md);
