/**
 * `deno task export` end to end: a run trained by the train CLI is exported, the folder is
 * served on 127.0.0.1 and opened in headless chromium with WebGPU (its software adapter), and the
 * page's pixels for fixed codes are compared with the Deno decoder's for the same codes. Then the
 * pad and the sliders are moved with the mouse and the image must change (and still match).
 * A label-conditioned run gets a class selector: picking a class re-decodes the image and the
 * prior grid with that class, matching Deno's decode of the same codes and class.
 * A run with a learned conditional prior (--prior learned) keeps its prior.* weights, and the
 * page's prior samples (start code, grid, per class) are the Deno decoder's priorCodes of the
 * page's standard normal draws; prior shapes that do not chain are a one-line error.
 * Also: the folder's contents, the decoder module's import graph and bundle size, the plain-words
 * message without WebGPU, and one-line errors for bad runs and existing folders.
 *
 * Needs: deno test --allow-read --allow-env --allow-run --allow-write --allow-net --allow-sys.
 * Screenshots go to $WEBGPU_VAE_SCREENSHOTS, or a fresh temporary folder; the path is printed.
 */

import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { encodeSafetensors, parseSafetensors, type SafeTensor } from "../src/train/safetensors.ts";
import { exportRun } from "../src/cli/export.ts";
import { FASHION_MNIST_CLASSES } from "../src/data/datasets.ts";
import { Decoder } from "../src/web/decoder.ts";
import { hasBrowser, serveDir, withPage } from "./_browser.ts";
import { gpu, Rng } from "./_helpers.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const TOL = 1e-4;
/** Page expressions (strings, evaluated in the page): its state and the main image's decodes. */
const STATE = "document.body.dataset.state";
const DECODES = "Number(document.body.dataset.decodes)";
const tmp = await Deno.makeTempDir({ prefix: "webgpu-vae-export-test-" });

/** Run `deno ARGS` in the repo root; returns the exit code and both outputs. */
async function deno(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: r.code, stdout: text(r.stdout), stderr: text(r.stderr) };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, "pixel counts differ");
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= worst)) worst = Number.isNaN(d) ? Infinity : d;
  }
  return worst;
}

/** Random decoder weights Z -> hidden -> F, named as training names them. */
function randomDecoder(z: number, hidden: number, features: number, seed: number): SafeTensor[] {
  const rng = new Rng(seed);
  const layer = (name: string, k: number, n: number): SafeTensor[] => [
    {
      name: `${name}.weight`,
      dtype: "F32",
      shape: [k, n],
      data: Float32Array.from(rng.uniform(k * n, -1.5, 1.5)),
    },
    { name: `${name}.bias`, dtype: "F32", shape: [n], data: Float32Array.from(rng.uniform(n)) },
  ];
  return [...layer("decoder.0", z, hidden), ...layer("decoder.out", hidden, features)];
}

/** Open the exported site and wait until it has decoded (or fail with what the page says). */
async function open(page: Page, url: string): Promise<void> {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(url);
  await page.waitForFunction(`${STATE} !== "loading"`, null, { timeout: 90_000 });
  const state = await page.evaluate(STATE);
  const status = await page.locator("#status").textContent();
  assert.equal(state, "decoded", `page says: ${status} ${errors.join("; ")}`);
  console.log(`  page status: ${status}`);
}

const decodes = (page: Page): Promise<number> => page.evaluate(DECODES);

/** Wait for the main image to be decoded again after an input (its decode counter moves on). */
async function waitForDecode(page: Page, before: number): Promise<void> {
  await page.waitForFunction(`${DECODES} > ${before} && ${STATE} === "decoded"`, null, {
    timeout: 30_000,
  });
  // Merged moves: wait until no decode is pending (the counter stops moving).
  let last = -1;
  for (;;) {
    const n = await decodes(page);
    if (n === last) return;
    last = n;
    await new Promise((r) => setTimeout(r, 150));
  }
}

const demo = <T>(page: Page, f: string, arg?: unknown): Promise<T> =>
  page.evaluate(
    ([f, arg]) =>
      // deno-lint-ignore no-explicit-any
      (globalThis as any).vaeDemo[f as string](arg),
    [f, arg] as const,
  ) as Promise<T>;

/** The browser's pixels for `codes` vs the Deno decoder's; returns the max abs difference. */
async function compare(page: Page, local: Decoder, codes: number[], what: string): Promise<number> {
  const browser = await demo<number[]>(page, "decode", codes);
  const deno = await local.decode(codes);
  const d = maxAbsDiff(browser, deno);
  console.log(
    `  ${what}: browser vs Deno max |difference| ${d.toExponential(2)} (${browser.length} px)`,
  );
  assert.ok(d <= TOL, `${what}: browser and Deno pixels differ by ${d}`);
  return d;
}

/** A full-page screenshot to $WEBGPU_VAE_SCREENSHOTS (or a fresh temporary folder), path printed. */
async function saveScreenshot(page: Page, name: string): Promise<void> {
  const dir = Deno.env.get("WEBGPU_VAE_SCREENSHOTS") ??
    await Deno.makeTempDir({ prefix: "webgpu-vae-screenshot-" });
  await Deno.mkdir(dir, { recursive: true });
  const path = `${dir}/${name}.png`;
  await page.screenshot({ path, fullPage: true });
  console.log(`  screenshot: ${path}`);
}

Deno.test("export: the decoder module imports nothing of training; its bundle size", async () => {
  const info = JSON.parse((await deno("info", "--json", "src/web/decoder.ts")).stdout);
  const specifiers: string[] = info.modules.map((m: { specifier: string }) => m.specifier);
  const local = specifiers.filter((s) => s.startsWith("file:")).map((s) =>
    s.slice(`file://${ROOT}`.length)
  ).sort();
  assert.deepEqual(local, [
    "src/gpu/buffer.ts",
    "src/gpu/device.ts",
    "src/gpu/kernel.ts",
    "src/nn/activation.ts",
    "src/nn/concat.ts", // conditional decoders: [z | one-hot(class)]
    "src/nn/dense.ts",
    "src/train/safetensors.ts", // the format reader: no Deno APIs, no training logic
    "src/web/decoder.ts",
  ]);
  const npm = specifiers.filter((s) => !s.startsWith("file:"));
  assert.ok(npm.every((s) => s.includes("wgsl_reflect")), `unexpected imports: ${npm}`);
  const out = `${tmp}/decoder.bundle.js`;
  const b = await deno(
    "bundle",
    "--platform=browser",
    "--minify",
    "--quiet",
    "-o",
    out,
    "src/web/decoder.ts",
  );
  assert.equal(b.code, 0, b.stderr);
  const size = (await Deno.stat(out)).size;
  console.log(`  ./decoder bundled for the browser, minified: ${(size / 1024).toFixed(1)} KB`);
  assert.ok(size < 400_000, `the decoder bundle grew to ${size} bytes`);
});

Deno.test({
  name: "export: train, export, open in chromium: pixels match Deno, the pad moves the image",
  ignore: !hasBrowser || gpu === null,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const run = `${tmp}/runs/tiny`;
    const train = await deno(
      "run",
      "--allow-read",
      "--allow-env",
      `--allow-write=${tmp}`,
      "src/cli/train.ts",
      "--epochs",
      "1",
      "--hidden",
      "32",
      "--z",
      "2",
      "--out",
      run,
    );
    assert.equal(train.code, 0, `training failed: ${train.stderr}`);
    const site = `${tmp}/site`;
    const ex = await deno("task", "export", run, "--out", site);
    assert.equal(ex.code, 0, `export failed: ${ex.stderr}`);
    console.log(ex.stdout.trimEnd().split("\n").map((l) => `  ${l}`).join("\n"));

    // The folder: the page, one bundle, the decoder weights, the shaders as training has them.
    const names: string[] = [];
    for await (const e of Deno.readDir(site)) names.push(e.name);
    assert.deepEqual(names.sort(), ["app.js", "decoder.safetensors", "index.html", "shaders"]);
    for (const s of ["dense", "activation"]) {
      assert.deepEqual(
        await Deno.readFile(`${site}/shaders/${s}.wgsl`),
        await Deno.readFile(`${ROOT}shaders/${s}.wgsl`),
        `${s}.wgsl must be the training shader, byte for byte`,
      );
    }
    const weights = await Deno.readFile(`${site}/decoder.safetensors`);
    const parsed = parseSafetensors(weights, "decoder.safetensors");
    assert.ok([...parsed.tensors.keys()].every((k) => k.startsWith("decoder.")));
    const model = parseSafetensors(await Deno.readFile(`${run}/model.safetensors`));
    for (const [k, t] of parsed.tensors) assert.deepEqual(t.data, model.tensors.get(k)!.data, k);
    assert.ok(!parsed.metadata.config.includes(tmp), "no local paths in the published config");

    const local = await Decoder.load(weights, { gpu: gpu! });
    const server = await serveDir(site);
    try {
      await withPage(async (page) => {
        await open(page, server.url);
        // Fixed codes, decoded by the page's WebGPU and by Deno's.
        const rng = new Rng(77);
        await compare(page, local, Array.from(rng.normal(2 * 5, 1.5)), "5 fixed codes");
        // What is on the page: the code it shows, decoded.
        const z0 = await demo<number[]>(page, "z");
        assert.deepEqual(z0, [0, 0]);
        const before = await demo<number[]>(page, "pixels");
        const d0 = maxAbsDiff(before, await local.decode(z0));
        assert.ok(d0 <= TOL, `shown image differs from Deno's by ${d0}`);
        const shotBefore = await page.locator("#image").screenshot();

        // Drag on the pad (z = 2): the code follows the pointer, the image changes.
        const box = (await page.locator("#pad").boundingBox())!;
        const n = await decodes(page);
        await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.5);
        await page.mouse.down();
        await page.mouse.move(box.x + box.width * 0.7, box.y + box.height * 0.4, { steps: 4 });
        await page.mouse.move(box.x + box.width * 0.9, box.y + box.height * 0.2, { steps: 4 });
        await page.mouse.up();
        await waitForDecode(page, n);
        const z1 = await demo<number[]>(page, "z");
        assert.ok(Math.abs(z1[0] - 2.4) < 0.1 && Math.abs(z1[1] - 1.8) < 0.1, `z after drag ${z1}`);
        const after = await demo<number[]>(page, "pixels");
        const moved = maxAbsDiff(before, after);
        console.log(
          `  drag moved z to [${z1.map((v) => v.toFixed(2))}]: pixels changed by up to ${
            moved.toFixed(3)
          }`,
        );
        assert.ok(moved > 1e-3, "the image did not change when the pad was dragged");
        const d1 = maxAbsDiff(after, await local.decode(z1));
        console.log(`  shown image after the drag vs Deno: ${d1.toExponential(2)}`);
        assert.ok(d1 <= TOL, `shown image after the drag differs from Deno's by ${d1}`);
        const shotAfter = await page.locator("#image").screenshot();
        assert.notDeepEqual(shotAfter, shotBefore, "the canvas shows the same picture as before");

        await saveScreenshot(page, "export_page");
      }, { webgpu: true });
    } finally {
      await server.close();
      await local.destroy();
    }
  },
});

Deno.test({
  name: "export: sliders (z = 3) and sample from the prior, in chromium",
  ignore: !hasBrowser || gpu === null,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const run = `${tmp}/runs/z3`;
    await Deno.mkdir(run, { recursive: true });
    const tensors = randomDecoder(3, 16, 784, 3);
    await Deno.writeFile(
      `${run}/model.safetensors`,
      encodeSafetensors(tensors, { config: JSON.stringify({ model: "mlp", z: 3, recon: "bce" }) }),
    );
    const site = `${tmp}/site3`;
    const result = await exportRun(run, site);
    assert.deepEqual(
      result.files.map((f) => f.path),
      [
        "index.html",
        "app.js",
        "decoder.safetensors",
        "shaders/dense.wgsl",
        "shaders/activation.wgsl",
      ],
    );
    const local = await Decoder.load(await Deno.readFile(`${site}/decoder.safetensors`), {
      gpu: gpu!,
    });
    const server = await serveDir(site);
    try {
      await withPage(async (page) => {
        await open(page, server.url);
        assert.equal(await page.locator("#sliders input[type=range]").count(), 3);
        assert.equal(await page.locator("#pad").isVisible(), false);
        const before = await demo<number[]>(page, "pixels");
        // Click three quarters along the second slider.
        const box = (await page.locator("#z1").boundingBox())!;
        const n = await decodes(page);
        await page.mouse.click(box.x + box.width * 0.875, box.y + box.height / 2);
        await waitForDecode(page, n);
        const z = await demo<number[]>(page, "z");
        assert.ok(z[0] === 0 && z[2] === 0 && z[1] > 1.5 && z[1] < 3, `z after the click: ${z}`);
        const after = await demo<number[]>(page, "pixels");
        assert.ok(maxAbsDiff(before, after) > 1e-3, "the image did not change with the slider");
        const d = maxAbsDiff(after, await local.decode(z));
        console.log(
          `  slider moved z to [${z.map((v) => v.toFixed(2))}]; vs Deno ${d.toExponential(2)}`,
        );
        assert.ok(d <= TOL);
        // Sample from the prior: a new code and a new grid.
        const grid = await page.locator("#grid").screenshot();
        const m = await decodes(page);
        await page.locator("#prior").click();
        await waitForDecode(page, m);
        assert.notDeepEqual(await demo<number[]>(page, "z"), z);
        await page.waitForTimeout(300);
        assert.notDeepEqual(
          await page.locator("#grid").screenshot(),
          grid,
          "the grid did not change",
        );
        await compare(page, local, await demo<number[]>(page, "z"), "prior sample");
      }, { webgpu: true });
    } finally {
      await server.close();
      await local.destroy();
    }
  },
});

/** Wait until the prior grid has been decoded again (its counter moves on, then settles). */
async function waitForGrid(page: Page, before: number): Promise<void> {
  const grids = "Number(document.body.dataset.grids)";
  await page.waitForFunction(`${grids} > ${before} && ${STATE} === "decoded"`, null, {
    timeout: 30_000,
  });
  let last = -1;
  for (;;) {
    const n = await page.evaluate<number>(grids);
    if (n === last) return;
    last = n;
    await new Promise((r) => setTimeout(r, 150));
  }
}

Deno.test({
  name: "export: a label-conditioned run gets a class selector; pixels match Deno per class",
  ignore: !hasBrowser || gpu === null,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const run = `${tmp}/runs/cond`;
    const train = await deno(
      "run",
      "--allow-read",
      "--allow-env",
      `--allow-write=${tmp}`,
      "src/cli/train.ts",
      ...["--epochs", "1", "--hidden", "32", "--z", "2", "--condition", "label", "--out", run],
    );
    assert.equal(train.code, 0, `training failed: ${train.stderr}`);
    const site = `${tmp}/site-cond`;
    const ex = await deno("task", "export", run, "--out", site);
    assert.equal(ex.code, 0, `export failed: ${ex.stderr}`);
    console.log(ex.stdout.trimEnd().split("\n").map((l) => `  ${l}`).join("\n"));

    // The concat shader travels with the others; the classes and their names are in the file.
    for (const s of ["dense", "activation", "concat"]) {
      assert.deepEqual(
        await Deno.readFile(`${site}/shaders/${s}.wgsl`),
        await Deno.readFile(`${ROOT}shaders/${s}.wgsl`),
        `${s}.wgsl must be the training shader, byte for byte`,
      );
    }
    const weights = await Deno.readFile(`${site}/decoder.safetensors`);
    const meta = parseSafetensors(weights, "decoder.safetensors").metadata;
    const names = [...FASHION_MNIST_CLASSES];
    assert.deepEqual(JSON.parse(meta.condition), { kind: "label", classes: 10, names });
    const local = await Decoder.load(weights, { gpu: gpu! });
    assert.deepEqual([local.z, local.classes], [2, 10]);

    const server = await serveDir(site);
    try {
      await withPage(async (page) => {
        const errors: string[] = [];
        page.on("console", (m) => {
          if (m.type() === "error") errors.push(m.text());
        });
        page.on("pageerror", (e) => errors.push(e.message));
        await open(page, server.url);
        assert.ok(await page.locator("#class").isVisible(), "no class selector on the page");
        const options = await page.locator("#class option").allTextContents();
        assert.deepEqual(options, names.map((n, k) => `${k}: ${n}`));
        assert.equal(await demo<number>(page, "cls"), 0);

        // Fixed codes with explicit classes, decoded by the page's WebGPU and by Deno's.
        const codes = Array.from(new Rng(78).normal(2 * 5, 1.5));
        for (const k of [0, 7]) {
          const browser = await page.evaluate(
            // deno-lint-ignore no-explicit-any
            ([c, k]) => (globalThis as any).vaeDemo.decode(c, k),
            [codes, k] as const,
          ) as number[];
          const d = maxAbsDiff(browser, await local.decode(codes, k));
          console.log(`  5 fixed codes, class ${k}: browser vs Deno ${d.toExponential(2)}`);
          assert.ok(d <= TOL, `class ${k}: browser and Deno pixels differ by ${d}`);
        }

        // The shown image and grid are class 0's; select two other classes in turn.
        const z = await demo<number[]>(page, "z");
        const gridCodes = await demo<number[]>(page, "gridCodes");
        let image = await demo<number[]>(page, "pixels");
        let grid = await demo<number[]>(page, "gridPixels");
        assert.ok(maxAbsDiff(image, await local.decode(z, 0)) <= TOL);
        assert.ok(maxAbsDiff(grid, await local.decode(gridCodes, 0)) <= TOL);
        for (const k of [7, 1]) {
          const n = await decodes(page);
          const g = Number(await page.evaluate("document.body.dataset.grids"));
          await page.selectOption("#class", String(k));
          await waitForDecode(page, n);
          await waitForGrid(page, g);
          assert.equal(await demo<number>(page, "cls"), k);
          assert.deepEqual(await demo<number[]>(page, "z"), z, "the code moved with the class");
          const nextImage = await demo<number[]>(page, "pixels");
          const nextGrid = await demo<number[]>(page, "gridPixels");
          const moved = maxAbsDiff(image, nextImage), gridMoved = maxAbsDiff(grid, nextGrid);
          const d = maxAbsDiff(nextImage, await local.decode(z, k));
          const dg = maxAbsDiff(nextGrid, await local.decode(gridCodes, k));
          console.log(
            `  class ${k} (${names[k]}): image changed by up to ${moved.toFixed(3)}, grid by ` +
              `${gridMoved.toFixed(3)}; vs Deno: image ${d.toExponential(2)}, grid ` +
              `${dg.toExponential(2)}`,
          );
          assert.ok(moved > 1e-3, `the image did not change for class ${k}`);
          assert.ok(gridMoved > 1e-3, `the grid did not change for class ${k}`);
          assert.ok(d <= TOL, `class ${k}: shown image differs from Deno's by ${d}`);
          assert.ok(dg <= TOL, `class ${k}: grid differs from Deno's by ${dg}`);
          assert.match((await page.locator("#zvalue").textContent())!, new RegExp(names[k]));
          image = nextImage;
          grid = nextGrid;
        }
        assert.deepEqual(errors, [], `console errors: ${errors.join("; ")}`);

        await saveScreenshot(page, "export_page_conditional");
      }, { webgpu: true });
    } finally {
      await server.close();
      await local.destroy();
    }
  },
});

Deno.test({
  name: "export: a learned-prior run keeps prior.*; the page samples p(z | class) like Deno",
  ignore: !hasBrowser || gpu === null,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const run = `${tmp}/runs/prior`;
    const train = await deno(
      "run",
      "--allow-read",
      "--allow-env",
      `--allow-write=${tmp}`,
      "src/cli/train.ts",
      ...["--epochs", "1", "--hidden", "32", "--z", "2", "--condition", "label"],
      ...["--prior", "learned", "--prior-hidden", "8", "--out", run],
    );
    assert.equal(train.code, 0, `training failed: ${train.stderr}`);
    const site = `${tmp}/site-prior`;
    const ex = await deno("task", "export", run, "--out", site);
    assert.equal(ex.code, 0, `export failed: ${ex.stderr}`);
    console.log(ex.stdout.trimEnd().split("\n").map((l) => `  ${l}`).join("\n"));

    // The prior's weights travel with the decoder's, unchanged; nothing of the encoder.
    const weights = await Deno.readFile(`${site}/decoder.safetensors`);
    const parsed = parseSafetensors(weights, "decoder.safetensors");
    const model = parseSafetensors(await Deno.readFile(`${run}/model.safetensors`));
    const priorKeys = [...parsed.tensors.keys()].filter((k) => k.startsWith("prior.")).sort();
    assert.deepEqual(priorKeys, [
      "prior.0.bias",
      "prior.0.weight",
      "prior.head.bias",
      "prior.head.weight",
    ]);
    assert.ok([...parsed.tensors.keys()].every((k) => /^(decoder|prior)\./.test(k)));
    for (const [k, t] of parsed.tensors) {
      assert.deepEqual(t.shape, model.tensors.get(k)!.shape, k);
      assert.deepEqual(t.data, model.tensors.get(k)!.data, k);
    }
    const local = await Decoder.load(weights, { gpu: gpu! });
    assert.deepEqual(local.spec.prior, { hidden: [8], logvarClamp: [-30, 20] });

    const server = await serveDir(site);
    try {
      await withPage(async (page) => {
        const errors: string[] = [];
        page.on("console", (m) => {
          if (m.type() === "error") errors.push(m.text());
        });
        await open(page, server.url);
        // The page starts at class 0's prior mean (temperature 0), and its controls cover
        // mp(k) +- 3 sigma_p(k) over the classes k.
        const mean0 = Array.from(await local.priorCodes([0, 0], 0, 0));
        const z0 = await demo<number[]>(page, "z");
        const dz = maxAbsDiff(z0, mean0);
        console.log(`  start code [${z0.map((v) => v.toFixed(3))}] vs Deno's prior mean: ${dz}`);
        assert.ok(dz <= TOL, `the start code is not class 0's prior mean (${z0} vs ${mean0})`);
        const { lo, hi } = await demo<{ lo: number[]; hi: number[] }>(page, "bounds");
        const classes = Array.from({ length: 10 }, (_, k) => k);
        const up = await local.priorCodes(new Array(20).fill(3), classes);
        const down = await local.priorCodes(new Array(20).fill(-3), classes);
        for (let j = 0; j < 2; j++) {
          const want = [
            Math.min(...classes.map((k) => down[2 * k + j])),
            Math.max(...classes.map((k) => up[2 * k + j])),
          ];
          assert.ok(maxAbsDiff([lo[j], hi[j]], want) <= TOL, `z${j + 1} range ${lo[j]}..${hi[j]}`);
        }
        console.log(
          `  control range: [${lo.map((v, j) => `${v.toFixed(2)}..${hi[j].toFixed(2)}`)}]`,
        );

        // Fixed draws through the page's priorCodes and Deno's, for two classes.
        const eps = Array.from(new Rng(79).normal(2 * 6));
        for (const k of [0, 7]) {
          const browser = await page.evaluate(
            // deno-lint-ignore no-explicit-any
            ([e, k]) => (globalThis as any).vaeDemo.priorCodes(e, k),
            [eps, k] as const,
          ) as number[];
          const d = maxAbsDiff(browser, await local.priorCodes(eps, k));
          console.log(`  priorCodes of 6 draws, class ${k}: browser vs Deno ${d.toExponential(2)}`);
          assert.ok(d <= TOL, `class ${k}: prior codes differ by ${d}`);
          assert.ok(maxAbsDiff(browser, eps) > 1e-3, "the learned prior did not move the codes");
        }

        // The grid: priorCodes of the page's draws for the selected class, then decoded.
        const gridEps = await demo<number[]>(page, "gridEps");
        const checkGrid = async (k: number): Promise<number[]> => {
          const codes = await demo<number[]>(page, "gridCodes");
          const dc = maxAbsDiff(codes, await local.priorCodes(gridEps, k));
          const dp = maxAbsDiff(
            await demo<number[]>(page, "gridPixels"),
            await local.decode(codes, k),
          );
          console.log(
            `  grid of class ${k}: codes vs Deno ${dc.toExponential(2)}, pixels ` +
              `${dp.toExponential(2)}`,
          );
          assert.ok(dc <= TOL, `class ${k}: grid codes are not p(z | ${k}) samples (${dc})`);
          assert.ok(dp <= TOL, `class ${k}: grid pixels differ from Deno's by ${dp}`);
          return codes;
        };
        let codes = await checkGrid(0);
        for (const k of [7, 1]) {
          const g = Number(await page.evaluate("document.body.dataset.grids"));
          await page.selectOption("#class", String(k));
          await waitForGrid(page, g);
          assert.deepEqual(await demo<number[]>(page, "gridEps"), gridEps, "the draws changed");
          const next = await checkGrid(k);
          assert.ok(maxAbsDiff(next, codes) > 1e-3, `class ${k}'s grid codes did not move`);
          codes = next;
        }

        // Sample from the prior: new draws, the grid is p(z | 1) of them.
        const g = Number(await page.evaluate("document.body.dataset.grids"));
        await page.locator("#prior").click();
        await waitForGrid(page, g);
        const fresh = await demo<number[]>(page, "gridEps");
        assert.notDeepEqual(fresh, gridEps);
        const dn = maxAbsDiff(
          await demo<number[]>(page, "gridCodes"),
          await local.priorCodes(fresh, 1),
        );
        console.log(`  after "sample from the prior": grid codes vs Deno ${dn.toExponential(2)}`);
        assert.ok(dn <= TOL);
        assert.deepEqual(errors, [], `console errors: ${errors.join("; ")}`);
      }, { webgpu: true });
    } finally {
      await server.close();
      await local.destroy();
    }
  },
});

Deno.test("export: a learned prior whose shapes do not chain is a one-line error", async () => {
  const run = `${tmp}/runs/bad-prior`;
  await Deno.mkdir(run, { recursive: true });
  const rng = new Rng(11);
  const dense = (name: string, k: number, n: number): SafeTensor[] => [
    {
      name: `${name}.weight`,
      dtype: "F32",
      shape: [k, n],
      data: Float32Array.from(rng.uniform(k * n)),
    },
    { name: `${name}.bias`, dtype: "F32", shape: [n], data: Float32Array.from(rng.uniform(n)) },
  ];
  // z 2 + 3 classes into the decoder; a prior 4 -> 5 -> 4 (its input should be 3 classes).
  const config = JSON.stringify({ model: "mlp", z: 2, condition: "label", prior: "learned" });
  const write = (prior: SafeTensor[]) =>
    Deno.writeFile(
      `${run}/model.safetensors`,
      encodeSafetensors([...randomDecoder(5, 4, 16, 5), ...prior], { config }),
    );
  await write([...dense("prior.0", 4, 5), ...dense("prior.head", 5, 4)]);
  const message = /prior\.0\.weight takes 4 inputs but the condition has 3 classes/;
  await assert.rejects(() => exportRun(run, `${tmp}/site-bad-prior`), message);
  const cli = await deno("task", "export", run, "--out", `${tmp}/site-bad-prior`);
  assert.equal(cli.code, 1);
  const lines = cli.stderr.trim().split("\n").filter((l) => !l.startsWith("Task "));
  assert.equal(lines.length, 1, cli.stderr);
  assert.match(lines[0], message);
  console.log(`  ${lines[0]}`);
  // A head that does not give [mean | logvar] of the decoder's Z = 2.
  await write([...dense("prior.0", 3, 5), ...dense("prior.head", 5, 6)]);
  await assert.rejects(
    () => exportRun(run, `${tmp}/site-bad-prior`),
    /prior\.head\.weight gives 6 outputs, expected 2Z = 4/,
  );
  await assert.rejects(() => Deno.stat(`${tmp}/site-bad-prior`), Deno.errors.NotFound);
  // Chained right, it exports with the prior; a run without one gets no prior.* tensors.
  await write([...dense("prior.0", 3, 5), ...dense("prior.head", 5, 4)]);
  await exportRun(run, `${tmp}/site-bad-prior`);
  const keys = [
    ...parseSafetensors(await Deno.readFile(`${tmp}/site-bad-prior/decoder.safetensors`)).tensors
      .keys(),
  ];
  assert.deepEqual(keys.filter((k) => k.startsWith("prior.")).length, 4);
});

Deno.test("export: length-conditioned and conv runs are a one-line 'not supported' error", async () => {
  const run = `${tmp}/runs/length`;
  await Deno.mkdir(run, { recursive: true });
  const config = { model: "mlp", z: 1, condition: "length" };
  await Deno.writeFile(
    `${run}/model.safetensors`,
    encodeSafetensors(randomDecoder(2, 4, 16, 4), { config: JSON.stringify(config) }),
  );
  const message = /length-conditioned decoder is not supported by the web export yet/;
  await assert.rejects(() => exportRun(run, `${tmp}/site-length`), message);
  const cli = await deno("task", "export", run, "--out", `${tmp}/site-length`);
  assert.equal(cli.code, 1);
  const lines = cli.stderr.trim().split("\n").filter((l) => !l.startsWith("Task "));
  assert.equal(lines.length, 1, cli.stderr);
  assert.match(lines[0], message);
  console.log(`  ${lines[0]}`);
  await Deno.writeFile(
    `${run}/model.safetensors`,
    encodeSafetensors(randomDecoder(2, 4, 16, 4), { config: '{"model":"conv"}' }),
  );
  await assert.rejects(
    () => exportRun(run, `${tmp}/site-length`),
    /conv decoder is not supported by the web export yet/,
  );
  await assert.rejects(() => Deno.stat(`${tmp}/site-length`), Deno.errors.NotFound);
});

Deno.test({
  name: "export: without WebGPU the page says so in plain words",
  ignore: !hasBrowser,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const run = `${tmp}/runs/plain`;
    await Deno.mkdir(run, { recursive: true });
    await Deno.writeFile(`${run}/model.safetensors`, encodeSafetensors(randomDecoder(2, 4, 16, 1)));
    const site = `${tmp}/site-plain`;
    await exportRun(run, site);
    const server = await serveDir(site);
    try {
      await withPage(async (page) => {
        // --disable-gpu: navigator.gpu is there, but no adapter.
        await page.goto(server.url);
        await page.waitForFunction(`${STATE} !== "loading"`);
        assert.equal(await page.evaluate(STATE), "no-webgpu");
        const noAdapter = (await page.locator("#status").textContent())!;
        console.log(`  no adapter: ${noAdapter}`);
        assert.match(noAdapter, /could not get a graphics adapter/);
        // A browser without WebGPU at all.
        await page.addInitScript(() => {
          delete (Navigator.prototype as unknown as Record<string, unknown>).gpu;
        });
        await page.reload();
        await page.waitForFunction(`${STATE} !== "loading"`);
        assert.equal(await page.evaluate(STATE), "no-webgpu");
        const none = (await page.locator("#status").textContent())!;
        console.log(`  no WebGPU: ${none}`);
        assert.match(none, /this browser does not have WebGPU/);
        assert.equal(await page.locator("#demo").isVisible(), false);
      });
    } finally {
      await server.close();
    }
  },
});

Deno.test("export: one-line errors for a bad run, an existing folder; --force replaces", async () => {
  const missing = `${tmp}/runs/none`;
  await assert.rejects(() => exportRun(missing, `${tmp}/x`), /model\.safetensors cannot be read/);
  const run = `${tmp}/runs/bad`;
  await Deno.mkdir(run, { recursive: true });
  const good = encodeSafetensors(randomDecoder(2, 4, 16, 2));
  await Deno.writeFile(`${run}/model.safetensors`, good.subarray(0, good.length - 3));
  const out = `${tmp}/out-bad/site`;
  await Deno.mkdir(`${tmp}/out-bad`);
  await assert.rejects(() => exportRun(run, out), /truncated/);
  assert.deepEqual([...Deno.readDirSync(`${tmp}/out-bad`)], [], "nothing left behind");
  await Deno.writeFile(
    `${run}/model.safetensors`,
    encodeSafetensors(randomDecoder(2, 4, 16, 2).slice(0, 3)),
  );
  await assert.rejects(
    () => exportRun(run, out),
    /decoder\.out\.weight or decoder\.out\.bias is missing/,
  );

  await Deno.writeFile(`${run}/model.safetensors`, good);
  await exportRun(run, out);
  await Deno.writeTextFile(`${out}/stale.txt`, "from before");
  await assert.rejects(() => exportRun(run, out), /already exists; pass --force/);
  await exportRun(run, out, { force: true });
  await assert.rejects(() => Deno.stat(`${out}/stale.txt`), Deno.errors.NotFound);
  assert.deepEqual([...Deno.readDirSync(`${tmp}/out-bad`)].map((e) => e.name), ["site"]);

  const cli = await deno("task", "export");
  assert.equal(cli.code, 1);
  const lines = cli.stderr.trim().split("\n").filter((l) => !l.startsWith("Task "));
  assert.deepEqual(lines, ["error: usage: deno task export runs/NAME [--out DIR] [--force]"]);
});

globalThis.addEventListener("unload", () => {
  try {
    Deno.removeSync(tmp, { recursive: true });
  } catch { /* already gone */ }
});
