/**
 * The training page (`deno task web`) against the Deno Trainer: the folder the task writes is
 * served on 127.0.0.1 and opened in headless chromium with WebGPU (Dawn over SwiftShader); the
 * page is given a small IDX file (250 images of the embedded data: 225 to train on, 25 held
 * out, as the CLI's idx: dataset splits them) through its file input, and trains 20 steps of a
 * tiny model one step at a time, reading the epoch's mean losses after each; the Deno Trainer
 * (src/train/trainer.ts, on Mesa) trains the same settings on the same file with readEvery 1.
 * 20 steps of batch 16 cross an epoch (15 steps, the last of one image): the reshuffle, the
 * partial-batch program and the test pass all happen on both sides. Checked: each step's
 * losses within 1e-4 relative, every parameter after 20 steps within 1e-5; then the run the
 * page's download button gives (a zip) is unpacked into runs/NAME and continued with
 * `train --resume` to the end of epoch 2, where it matches a straight Deno run within 1e-4;
 * and `sample`, `eval` and `export` take it.
 *
 * Also here: the page's own loop (Start, Pause, Resume: chunks of steps, one read each,
 * pictures redrawn) against the Deno Trainer over 10 epochs (parameters at the pause and at the
 * end within 1e-5, every epoch's training and held-out losses within 1e-4 relative); a folder of
 * PNGs through the folder picker; the page's settings and model config against the CLI's
 * (DEFAULTS, modelConfig); and the `deno task web` folder's safety rules.
 *
 * Needs: deno test --allow-read --allow-env --allow-run --allow-write --allow-net --allow-sys.
 */

import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { unzipSync } from "fflate";
import { loadDataset } from "../src/data/datasets.ts";
import { encodeIdx } from "../src/data/idx.ts";
import { encodePng } from "../src/eval/png.ts";
import { loadCheckpoint } from "../src/train/checkpoint.ts";
import { DEFAULTS, type TrainConfig } from "../src/train/config.ts";
import { modelConfig, type Progress, Trainer } from "../src/train/trainer.ts";
import { vaeLayout } from "../src/vae/model.ts";
import { parseSafetensors } from "../src/io/safetensors.ts";
import { WEB_MARKER, writeTrainingPage } from "../src/cli/web.ts";
import { exportRun } from "../src/cli/export.ts";
import {
  checkSettings,
  PAGE_DEFAULTS,
  pageModelConfig,
  type PageSettings,
} from "../src/web/train/settings.ts";
import { encodeU8Idx, parseU8Idx } from "../src/web/train/run_files.ts";
import { browserTest, serveDir, withPage } from "./_browser.ts";
import { gpu } from "./_helpers.ts";
import { runDeno } from "./_deno.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const LOSS_TOL = 1e-4;
const PARAM_TOL = 1e-5;
const STEPS = 20;
const tmp = await Deno.makeTempDir({ prefix: "webgpu-vae-train-page-" });

const embedded = await loadDataset("embedded", {});
const N = 250;
const SMALL = `${tmp}/small.idx`;
await Deno.writeFile(
  SMALL,
  encodeIdx({
    type: "u8",
    dims: [N, 28, 28],
    data: (embedded.train.images as Uint8Array).subarray(0, N * 784),
  }),
);
const small = await loadDataset(`idx:${SMALL}`, {});

const MLP: PageSettings = {
  ...PAGE_DEFAULTS,
  hidden: [24],
  z: 3,
  batch: 16,
  epochs: 2,
  lr: 3e-3,
  seed: 5,
  "kl-schedule": "linear:2:10",
};
const CONV: PageSettings = {
  ...MLP,
  model: "conv",
  filters: [4, 8],
  kernels: [3, 3],
  strides: [2, 2],
  "decoder-filters": [8, 1],
  "decoder-kernels": [3, 3],
  "decoder-strides": [2, 2],
  "kl-schedule": "constant",
};

/** The TrainConfig the CLI would resolve for page settings `s` on dataset `dataset`. */
function trainConfig(s: PageSettings, dataset: string): TrainConfig {
  return { ...DEFAULTS, ...s, dataset, out: "" };
}

Deno.test("train page: settings default as the CLI's and resolve to the Trainer's model", () => {
  const keys = Object.keys(PAGE_DEFAULTS) as (keyof PageSettings)[];
  for (const k of keys) assert.deepEqual(PAGE_DEFAULTS[k], DEFAULTS[k], `default of ${k}`);
  for (const s of [PAGE_DEFAULTS, MLP, CONV, { ...CONV, batchnorm: "off" as const, z: 0 }]) {
    assert.deepEqual(
      pageModelConfig(s, small),
      modelConfig(trainConfig(s, small.name), small),
      `model config of ${s.model}`,
    );
  }
});

/** An assert.throws check: an Error whose message is one line matching `re`. */
const oneLine = (re: RegExp) => (e: unknown) =>
  e instanceof Error && !e.message.includes("\n") && re.test(e.message);

Deno.test("train page: bad settings and files are one-line errors", () => {
  const bad: [Partial<PageSettings>, RegExp][] = [
    [{ batch: 0 }, /^batch must be an integer >= 1, is 0$/],
    [{ lr: -1 }, /^lr: -1 is out of range$/],
    [{ hidden: [] }, /^hidden: give at least one value$/],
    [{ "logvar-clamp": [3, 2] }, /^logvar-clamp: 3,2 is not LO < HI$/],
    [{ "kl-schedule": "linear:5" }, /^--kl-schedule "linear:5": linear takes START and LENGTH/],
    [{ model: "conv", kernels: [3] }, /^filters, kernels and strides need one value per layer/],
  ];
  for (const [change, message] of bad) {
    assert.throws(() => checkSettings({ ...PAGE_DEFAULTS, ...change }, 100), oneLine(message));
  }
  const idx = encodeU8Idx([2, 3, 4], new Uint8Array(24).fill(7));
  assert.deepEqual(parseU8Idx(idx, "x.idx").dims, [2, 3, 4]);
  assert.throws(
    () => parseU8Idx(idx.subarray(0, 30), "x.idx"),
    oneLine(/^x.idx: header says 2x3x4/),
  );
  assert.throws(
    () => parseU8Idx(new Uint8Array([1, 2, 3, 4]), "y"),
    oneLine(/^y: not an IDX file/),
  );
  const f32 = idx.slice();
  f32[2] = 0x0d;
  assert.throws(() => parseU8Idx(f32, "z"), oneLine(/^z: holds IDX type 0xd; only u8/));
  assert.throws(
    () => parseU8Idx(new Uint8Array([0x1f, 0x8b, 0, 0]), "g.gz"),
    oneLine(/^g.gz: not a/),
  );
});

/** Per-step losses and final parameters of the Deno Trainer after `STEPS` steps. */
async function denoSteps(s: PageSettings) {
  const trainer = await Trainer.create(gpu!, trainConfig(s, small.name), small);
  trainer.readEvery = 1;
  const losses: Progress["losses"][] = [];
  await trainer.train({
    onProgress: (p) => losses.push(p.losses),
    stop: () => trainer.step >= STEPS,
  });
  assert.equal(trainer.step, STEPS);
  const c = await trainer.checkpoint();
  trainer.state.destroy();
  return { losses, params: c.params };
}

/** Serve a fresh `deno task web` folder; run `fn` on the page with the small IDX file loaded. */
async function onPage<T>(fn: (page: Page) => Promise<T>): Promise<T> {
  const out = `${tmp}/web-${crypto.randomUUID()}`;
  await writeTrainingPage(out, { minify: false });
  const server = await serveDir(out);
  try {
    return await withPage(async (page) => {
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(server.url);
      await page.waitForFunction("document.body.dataset.state === 'ready'", null, {
        timeout: 120_000,
      });
      await page.setInputFiles("#files", SMALL);
      await page.waitForFunction(
        "document.body.dataset.state === 'ready' && /small.idx/.test(document.getElementById('dataname').textContent)",
        null,
        { timeout: 60_000 },
      );
      const r = await fn(page);
      assert.deepEqual(errors, [], "errors on the page");
      return r;
    }, { webgpu: true });
  } finally {
    await server.close();
  }
}

/** Per-step losses and final parameters of the page after `STEPS` steps, one read per step. */
async function pageSteps(page: Page, s: PageSettings) {
  return await page.evaluate(async ([settings, steps]) => {
    // deno-lint-ignore no-explicit-any
    const t = (globalThis as any).vaeTrain;
    t.fillForm(settings);
    if (!await t.prepare()) throw new Error(t.status());
    const losses = [];
    for (let i = 0; i < steps; i++) losses.push(await t.stepAndRead());
    const c = await t.session.checkpoint();
    return { losses, params: [...c.params] as number[], step: t.session.step as number };
  }, [s, STEPS] as const);
}

function compare(
  what: string,
  page: { losses: Progress["losses"][]; params: ArrayLike<number> },
  deno: { losses: Progress["losses"][]; params: Float32Array },
): void {
  assert.equal(page.losses.length, STEPS);
  assert.equal(deno.losses.length, STEPS);
  let worstLoss = 0, worstParam = 0;
  for (let i = 0; i < STEPS; i++) {
    for (const k of ["recon", "kl", "total"] as const) {
      const a = page.losses[i][k], b = deno.losses[i][k];
      const rel = Math.abs(a - b) / Math.max(Math.abs(b), 1e-6);
      worstLoss = Math.max(worstLoss, rel);
      assert.ok(rel <= LOSS_TOL, `${what} step ${i + 1} ${k}: page ${a}, deno ${b}`);
    }
  }
  assert.equal(page.params.length, deno.params.length);
  for (let i = 0; i < deno.params.length; i++) {
    const diff = Math.abs(page.params[i] - deno.params[i]);
    worstParam = Math.max(worstParam, diff);
    assert.ok(
      diff <= PARAM_TOL,
      `${what} parameter ${i}: page ${page.params[i]}, deno ${deno.params[i]}`,
    );
  }
  console.log(
    `${what}: ${STEPS} steps, losses ${deno.losses[0].total.toFixed(3)} -> ` +
      `${deno.losses.at(-1)!.total.toFixed(3)}; max relative loss difference ` +
      `${worstLoss.toExponential(2)} (tolerance ${LOSS_TOL}), max parameter difference ` +
      `${worstParam.toExponential(2)} over ${deno.params.length} (tolerance ${PARAM_TOL})`,
  );
}

/** Run a CLI task's script as `deno task` would, from `cwd`, writing under `runs/` there. */
function task(script: string, args: string[], cwd: string) {
  return runDeno([
    "run",
    `--config=${ROOT}deno.json`,
    "--allow-read",
    "--allow-env",
    "--allow-write=runs",
    `${ROOT}src/cli/${script}`,
    ...args,
  ], cwd);
}

browserTest(
  "train page: 20 mlp steps match the Deno Trainer; its download resumes in Deno",
  async () => {
    if (!gpu) return;
    const deno = await denoSteps(MLP);
    const { page: fromPage, zip, name } = await onPage(async (page) => {
      const r = await pageSteps(page, MLP);
      assert.equal(r.step, STEPS);
      const [download] = await Promise.all([
        page.waitForEvent("download"),
        page.click("#download"),
      ]);
      const path = `${tmp}/download.zip`;
      await download.saveAs(path);
      return { page: r, zip: await Deno.readFile(path), name: download.suggestedFilename() };
    });
    compare("mlp", fromPage, deno);

    // The zip is one folder: unpack it under runs/ and continue it with the train CLI.
    const runName = name.replace(/\.zip$/, "");
    const cwd = `${tmp}/resume`;
    for (const [path, bytes] of Object.entries(unzipSync(zip))) {
      assert.ok(path.startsWith(`${runName}/`), `zip entry ${path}`);
      await Deno.mkdir(`${cwd}/runs/${path.slice(0, path.lastIndexOf("/"))}`, { recursive: true });
      await Deno.writeFile(`${cwd}/runs/${path}`, bytes);
    }
    const dir = `${cwd}/runs/${runName}`;
    const layout = vaeLayout(modelConfig(trainConfig(MLP, small.name), small));
    const saved = await loadCheckpoint(dir, layout);
    assert.equal(saved.step, STEPS);
    assert.equal(saved.epoch, 1);
    assert.equal(saved.stepInEpoch, STEPS - 15);
    assert.deepEqual([...saved.params], fromPage.params.map(Math.fround));
    const metrics = (await Deno.readTextFile(`${dir}/metrics.jsonl`)).trim().split("\n");
    assert.equal(metrics.length, 1, "epoch 1's record");
    assert.equal(JSON.parse(metrics[0]).step, 15);

    const resumed = await task("train.ts", ["--resume", `runs/${runName}`], cwd);
    assert.equal(resumed.code, 0, resumed.err);
    assert.match(resumed.out, /epoch 2: train loss/);
    // A straight Deno run of both epochs, on the same file (train --resume reads images.idx).
    const straight = await Trainer.create(gpu!, trainConfig(MLP, small.name), small);
    await straight.train();
    const want = (await straight.checkpoint()).params;
    straight.state.destroy();
    const got = parseSafetensors(await Deno.readFile(`${dir}/optimizer.safetensors`), "resumed");
    assert.equal(got.metadata.step, "30");
    const params = got.tensors.get("params")!.data as Float32Array;
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(params[i] - want[i]));
    console.log(
      `resumed to step 30: max parameter difference from a straight Deno run ${
        worst.toExponential(2)
      }`,
    );
    assert.ok(worst <= 1e-4, `resumed vs straight: ${worst}`);
    const records = (await Deno.readTextFile(`${dir}/metrics.jsonl`)).trim().split("\n");
    assert.equal(records.length, 2);

    // The other tasks take it too: sample and eval as the CLI (eval reads images.idx), export.
    const sampled = await task("sample.ts", [`runs/${runName}`, "--n", "8"], cwd);
    assert.equal(sampled.code, 0, sampled.err);
    const evaluated = await task("eval.ts", [`runs/${runName}`, "--k", "4", "--images", "10"], cwd);
    assert.equal(evaluated.code, 0, evaluated.err);
    assert.match(evaluated.out, /nats/);
    const exported = await exportRun(dir, `${cwd}/runs/${runName}/web`);
    assert.ok(exported.files.some((f) => f.path === "decoder.safetensors"));
  },
);

browserTest("train page: Start, Pause and Resume run the Deno Trainer's numbers", async () => {
  if (!gpu) return;
  // The page's own loop (chunks of steps, one read per chunk, pictures redrawn), paused once.
  const s: PageSettings = { ...MLP, epochs: 10 };
  const steps = 10 * 15;
  const r = await onPage(async (page) => {
    await page.evaluate((settings) => {
      // deno-lint-ignore no-explicit-any
      (globalThis as any).vaeTrain.fillForm(settings);
    }, s);
    await page.click("#start");
    // Pause from inside the page between two chunks, once 20 steps are read back.
    const paused = await page.evaluate(async () => {
      // deno-lint-ignore no-explicit-any
      const t = (globalThis as any).vaeTrain;
      while (!(t.session && t.session.step >= 20)) await new Promise((r) => setTimeout(r, 0));
      await t.pause();
      return { step: t.session.step as number, params: [...(await t.session.checkpoint()).params] };
    });
    assert.equal(await page.evaluate("document.body.dataset.state"), "paused");
    await page.click("#pause"); // now "Resume"
    await page.waitForFunction("document.body.dataset.state === 'done'", null, {
      timeout: 300_000,
    });
    return await page.evaluate(async (p) => {
      // deno-lint-ignore no-explicit-any
      const t = (globalThis as any).vaeTrain;
      const params = [...(await t.session.checkpoint()).params] as number[];
      return { paused: p, step: t.session.step as number, params, records: t.records };
    }, paused);
  });
  assert.ok(r.paused.step >= 20 && r.paused.step < steps, `paused at ${r.paused.step}`);
  assert.equal(r.step, steps);

  const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    let worst = 0;
    for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
    return worst;
  };
  const atPause = await Trainer.create(gpu, trainConfig(s, small.name), small);
  await atPause.train({ stop: () => atPause.step >= r.paused.step });
  assert.equal(atPause.step, r.paused.step);
  const pausedDiff = maxDiff(r.paused.params, (await atPause.checkpoint()).params);
  atPause.state.destroy();
  const straight = await Trainer.create(gpu, trainConfig(s, small.name), small);
  const records: { train: Progress["losses"]; test: Progress["losses"] }[] = [];
  await straight.train({ onEpoch: (e) => void records.push(e) });
  const finalDiff = maxDiff(r.params, (await straight.checkpoint()).params);
  straight.state.destroy();
  let worstLoss = 0;
  assert.equal(r.records.length, 10);
  for (let e = 0; e < 10; e++) {
    for (const split of ["train", "test"] as const) {
      for (const k of ["recon", "kl", "total"] as const) {
        const a = r.records[e][split][k], b = records[e][split][k];
        worstLoss = Math.max(worstLoss, Math.abs(a - b) / Math.abs(b));
      }
    }
  }
  console.log(
    `paused at step ${r.paused.step}: max parameter difference ${pausedDiff.toExponential(2)}; ` +
      `after ${steps} steps ${finalDiff.toExponential(2)}; epoch losses (train and held-out) ` +
      `within ${worstLoss.toExponential(2)} relative`,
  );
  assert.ok(pausedDiff <= PARAM_TOL, `parameters at the pause: ${pausedDiff}`);
  assert.ok(finalDiff <= PARAM_TOL, `parameters at the end: ${finalDiff}`);
  assert.ok(worstLoss <= LOSS_TOL, `epoch losses: ${worstLoss}`);
});

browserTest("train page: 20 conv steps (batch norm) match the Deno Trainer", async () => {
  if (!gpu) return;
  const deno = await denoSteps(CONV);
  const fromPage = await onPage((page) => pageSteps(page, CONV));
  compare("conv", fromPage, deno);
});

browserTest(
  "train page: a folder of PNGs becomes gray bytes, the last tenth held out",
  async () => {
    // 12 PNGs named so that name order differs from creation order: 11 to train, 1 held out.
    const pngs: string[] = [];
    for (let i = 0; i < 12; i++) {
      const path = `${tmp}/png/img-${String(11 - i).padStart(2, "0")}.png`;
      await Deno.mkdir(`${tmp}/png`, { recursive: true });
      const pixels = (embedded.test.images as Uint8Array).subarray(i * 784, (i + 1) * 784);
      await Deno.writeFile(path, encodePng(28, 28, pixels));
      pngs.push(path);
    }
    const got = await onPage(async (page) => {
      // The folder picker (webkitdirectory): the page gets every file below the folder.
      await page.setInputFiles("#folder", `${tmp}/png`);
      await page.waitForFunction(
        "document.body.dataset.state === 'ready' && /12 PNG/.test(document.getElementById('dataname').textContent)",
        null,
        { timeout: 60_000 },
      );
      return await page.evaluate(() => {
        // deno-lint-ignore no-explicit-any
        const d = (globalThis as any).vaeTrain.images;
        return {
          rows: d.rows,
          cols: d.cols,
          train: [...d.train.images] as number[],
          test: [...d.test.images] as number[],
          counts: [d.train.count, d.test.count],
        };
      });
    });
    assert.deepEqual([got.rows, got.cols, ...got.counts], [28, 28, 11, 1]);
    // Sorted by name: img-00 (the 12th written) first.
    const want = (
      k: number,
    ) => [...(embedded.test.images as Uint8Array).subarray((11 - k) * 784, (12 - k) * 784)];
    for (let k = 0; k < 11; k++) assert.deepEqual(got.train.slice(k * 784, (k + 1) * 784), want(k));
    assert.deepEqual(got.test, want(11));
  },
);

Deno.test("deno task web: writes the folder, replaces only its own", async () => {
  const out = `${tmp}/site`;
  const r = await writeTrainingPage(out, { minify: true });
  const paths = r.files.map((f) => f.path);
  for (const p of ["index.html", "app.js", "shaders/dense.wgsl", WEB_MARKER]) {
    assert.ok(paths.includes(p), p);
  }
  assert.ok(paths.includes("data/fashion-mnist-train-images.idx3.gz"));
  await assert.rejects(writeTrainingPage(out), /already exists; pass --force/);
  await Deno.writeTextFile(`${out}/notes.txt`, "mine");
  await assert.rejects(writeTrainingPage(out, { force: true }), /holds notes.txt/);
  await Deno.remove(`${out}/notes.txt`);
  await writeTrainingPage(out, { force: true });
  await Deno.mkdir(`${tmp}/other`);
  await assert.rejects(
    writeTrainingPage(`${tmp}/other`, { force: true }),
    /not a folder deno task web wrote/,
  );
});
