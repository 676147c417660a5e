/**
 * `deno task export` end to end, one test per model family: a tiny run trained for one epoch by
 * the train CLI is exported with the task's own permissions, the folder is served on 127.0.0.1
 * and opened in headless chromium with WebGPU (its software adapter), and the page's outputs
 * for fixed codes are compared with the Deno decoder's for the same codes (within 1e-4):
 * mlp (the pad moves the image), conv (batch norm with running statistics; sliders, prior
 * samples), colour conv (16x16 shapes-rgb: RGB outputs, and the canvas's bytes are Deno's
 * means rounded), streamlines (two projections and the decoded length), length-conditioned
 * streamlines (the length slider re-decodes), label-conditioned with a learned prior (the page
 * samples p(z | class) as Deno does).
 * Also: the page's module graph (src/gpu, src/nn, src/vae touch no Deno API; the decoder is
 * built by src/vae/model.ts), the task's permissions (no --allow-run, scoped --allow-write),
 * export safety (never deletes what it did not write: run folders, folders holding the run,
 * foreign folders and foreign files in an earlier export are refused), one-line errors, and
 * the plain-words message without WebGPU.
 *
 * Needs: deno test --allow-read --allow-env --allow-run --allow-write --allow-net --allow-sys.
 * Screenshots go to $WEBGPU_VAE_SCREENSHOTS, or a fresh temporary folder; the path is printed.
 */

import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { parseSafetensors } from "../src/io/safetensors.ts";
import { EXPORT_MARKER, exportRun } from "../src/cli/export.ts";
import { loadDataset } from "../src/data/datasets.ts";
import { encodeIdx } from "../src/data/idx.ts";
import { Decoder } from "../src/web/decoder.ts";
import { hasBrowser, serveDir, withPage } from "./_browser.ts";
import { gpu, Rng } from "./_helpers.ts";
import { smallIdx } from "./_small_idx.ts";
import { writeSpecRun } from "./_spec_run.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const TOL = 1e-4;
/** Page expressions (strings, evaluated in the page): its state and the main output's decodes. */
const STATE = "document.body.dataset.state";
const DECODES = "Number(document.body.dataset.decodes)";
const GRIDS = "Number(document.body.dataset.grids)";
const tmp = await Deno.makeTempDir({ prefix: "webgpu-vae-export-test-" });

// A small labelled IDX cut from the embedded data: 300 images (270 train, 30 held out).
const embedded = await loadDataset("embedded", {});
const N = 300;
await Deno.writeFile(`${tmp}/small.idx`, smallIdx(embedded, N));
await Deno.writeFile(
  `${tmp}/small-labels.idx`,
  encodeIdx({ type: "u8", dims: [N], data: embedded.train.labels!.subarray(0, N) }),
);
const IMAGES = ["--dataset", `idx:${tmp}/small.idx,${tmp}/small-labels.idx`, "--batch", "32"];
const CONV = [
  ...IMAGES,
  ...["--model", "conv", "--z", "3", "--filters", "4,8", "--kernels", "3,3", "--strides", "2,2"],
  ...["--decoder-filters", "8,1", "--decoder-kernels", "3,3", "--decoder-strides", "2,2"],
];
/** A tiny colour conv model on 16x16 shapes-rgb: 16 -> 8 -> 4 and back to 3 channels. */
const COLOUR = [
  ...["--dataset", "shapes-rgb:160:5:16x16", "--batch", "32", "--model", "conv", "--z", "3"],
  ...["--filters", "4,8", "--kernels", "3,3", "--strides", "2,2", "--lr", "0.003"],
  ...["--decoder-filters", "8,3", "--decoder-kernels", "3,3", "--decoder-strides", "2,2"],
];
const STREAMLINES = [
  ...["--model", "streamlines", "--dataset", "phantom:240:3", "--batch", "32", "--z", "4"],
  ...["--filters", "4,8", "--kernels", "3,3", "--strides", "2,2", "--lr", "0.003"],
  ...["--decoder-filters", "4,3", "--decoder-kernels", "3,3", "--decoder-strides", "2,2"],
];

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

/** The export task's command from deno.json, its write scope moved from runs/ to the test's. */
function exportTask(): string[] {
  const task: string = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`)).tasks.export;
  const words = task.split(/\s+/);
  assert.equal(words[0], "deno");
  return words.slice(1).map((w) => (w === "--allow-write=runs" ? `--allow-write=${tmp}` : w));
}

/** Train a run of one epoch with `args` into tmp/runs/NAME; returns its folder. */
async function train(name: string, args: string[]): Promise<string> {
  const run = `${tmp}/runs/${name}`;
  const r = await deno(
    "run",
    "--allow-read",
    "--allow-env",
    `--allow-write=${tmp}`,
    "src/cli/train.ts",
    ...args,
    ...["--epochs", "1", "--out", run],
  );
  assert.equal(r.code, 0, `training failed: ${r.stderr}`);
  return run;
}

/** Export `run` to tmp/NAME with the export task's permissions; returns the folder. */
async function exportCli(run: string, name: string): Promise<string> {
  const site = `${tmp}/${name}`;
  const ex = await deno(...exportTask(), run, "--out", site);
  assert.equal(ex.code, 0, `export failed: ${ex.stderr}`);
  console.log(`  ${ex.stdout.trimEnd().split("\n").at(-2)}`);
  return site;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, "output counts differ");
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= worst)) worst = Number.isNaN(d) ? Infinity : d;
  }
  return worst;
}

/** Open the exported site and wait until it has decoded (or fail with what the page says). */
async function open(page: Page, url: string): Promise<void> {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(url);
  await page.waitForFunction(`${STATE} !== "loading"`, null, { timeout: 120_000 });
  const state = await page.evaluate(STATE);
  const status = await page.locator("#status").textContent();
  assert.equal(state, "decoded", `page says: ${status} ${errors.join("; ")}`);
  console.log(`  page status: ${status}`);
}

/** Wait until the counter `counter` (a page expression) has moved past `before` and settled. */
async function waitFor(page: Page, counter: string, before: number): Promise<void> {
  await page.waitForFunction(`${counter} > ${before} && ${STATE} === "decoded"`, null, {
    timeout: 60_000,
  });
  // Merged moves: wait until no decode is pending (the counter stops moving).
  let last = -1;
  for (;;) {
    const n = await page.evaluate<number>(counter);
    if (n === last) return;
    last = n;
    await new Promise((r) => setTimeout(r, 150));
  }
}

const count = (page: Page, counter: string): Promise<number> => page.evaluate(counter);

const demo = <T>(page: Page, f: string, ...args: unknown[]): Promise<T> =>
  page.evaluate(
    ([f, args]) =>
      // deno-lint-ignore no-explicit-any
      (globalThis as any).vaeDemo[f as string](...(args as unknown[])),
    [f, args] as const,
  ) as Promise<T>;

/** The browser's outputs for `codes` (and condition) vs the Deno decoder's; max |difference|. */
async function compare(
  page: Page,
  local: Decoder,
  codes: number[],
  what: string,
  condition?: number | number[],
): Promise<number> {
  const browser = await demo<number[]>(page, "decode", codes, condition);
  const d = maxAbsDiff(browser, await local.decode(codes, condition));
  console.log(
    `  ${what}: browser vs Deno max |difference| ${d.toExponential(2)} ` +
      `(${browser.length} values)`,
  );
  assert.ok(d <= TOL, `${what}: browser and Deno outputs differ by ${d}`);
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

/**
 * Export `run`, check the folder, open it in chromium, compare fixed codes (with `conditions`,
 * one per code, for a conditional run) with the Deno decoder, then run `more`.
 */
async function familyTest(
  run: string,
  name: string,
  conditions: number[] | undefined,
  more: (page: Page, local: Decoder) => Promise<void>,
): Promise<void> {
  const site = await exportCli(run, `site-${name}`);
  const names = [...Deno.readDirSync(site)].map((e) => e.name).sort();
  assert.deepEqual(names, [
    EXPORT_MARKER,
    "app.js",
    "decoder.safetensors",
    "index.html",
    "shaders",
  ]);
  // The decoder's (and prior's) weights as the run has them, nothing of the encoder.
  const weights = await Deno.readFile(`${site}/decoder.safetensors`);
  const parsed = parseSafetensors(weights, "decoder.safetensors");
  const model = parseSafetensors(await Deno.readFile(`${run}/model.safetensors`));
  assert.ok([...parsed.tensors.keys()].every((k) => /^(decoder|prior)\./.test(k)));
  for (const [k, t] of parsed.tensors) assert.deepEqual(t.data, model.tensors.get(k)!.data, k);
  assert.ok(!parsed.metadata.spec.includes(tmp), "no local paths in the published spec");
  const local = await Decoder.load(weights, { gpu: gpu! });
  const server = await serveDir(site);
  try {
    await withPage(async (page) => {
      await open(page, server.url);
      const Z = local.z, n = conditions?.length ?? 5;
      const codes = Array.from(new Rng(77).normal(n * Z, 1.5));
      await compare(page, local, codes, `${n} fixed codes`, conditions);
      // What is on the page: the code it shows, decoded with the chosen condition.
      const z0 = await demo<number[]>(page, "z");
      const shown = await demo<number[]>(page, "pixels");
      const c0 = await demo<number | undefined>(page, "condition");
      const d0 = maxAbsDiff(shown, await local.decode(z0, c0));
      assert.ok(d0 <= TOL, `shown output differs from Deno's by ${d0}`);
      await more(page, local);
      await saveScreenshot(page, `export_${name}`);
    }, { webgpu: true });
  } finally {
    await server.close();
    await local.destroy();
  }
}

const browserOpts = {
  ignore: !hasBrowser || gpu === null,
  sanitizeResources: false,
  sanitizeOps: false,
};

Deno.test("export: src/gpu, src/nn, src/vae touch no Deno API; the page builds src/vae's decoder", async () => {
  // The page's runtime module graph: imports followed, type-only ones left out.
  type Dep = { code?: { specifier: string } };
  const info: { modules: { specifier: string; dependencies?: Dep[] }[] } = JSON.parse(
    (await deno("info", "--json", "src/web/page.ts")).stdout,
  );
  const deps = new Map(info.modules.map((m) => [m.specifier, m.dependencies ?? []]));
  const seen = new Set<string>(), todo = [`file://${ROOT}src/web/page.ts`];
  while (todo.length) {
    const s = todo.pop()!;
    if (seen.has(s)) continue;
    seen.add(s);
    for (const d of deps.get(s) ?? []) if (d.code) todo.push(d.code.specifier);
  }
  const local = [...seen].filter((s) => s.startsWith("file:")).map((s) =>
    s.slice(`file://${ROOT}`.length)
  ).sort();
  // The one decoder: the page reaches the model builders training uses.
  for (const m of ["src/vae/model.ts", "src/vae/spec.ts", "src/vae/codes.ts"]) {
    assert.ok(local.includes(m), `the page does not import ${m}`);
  }
  // The rule, on every file of those folders (in the graph or not), comments left out.
  const files: string[] = [];
  for (const dir of ["src/gpu", "src/nn", "src/vae"]) {
    for (const e of Deno.readDirSync(`${ROOT}${dir}`)) {
      if (e.name.endsWith(".ts")) files.push(`${dir}/${e.name}`);
    }
  }
  const graphOnly = local.filter((m) => !files.includes(m));
  for (const f of [...files, ...graphOnly]) {
    const code = Deno.readTextFileSync(`${ROOT}${f}`).replace(/\/\*[\s\S]*?\*\//g, "")
      .replace(/(^|[^:])\/\/.*$/gm, "$1");
    assert.doesNotMatch(code, /\bDeno\s*\.\s*[A-Za-z]/, `${f} touches a Deno API`);
  }
  console.log(
    `  ${files.length} files of src/gpu, src/nn, src/vae and ${local.length} modules ` +
      "of the page's graph: no Deno API",
  );
  // The bundle the page loads: built in-process by export, no Deno API in it either.
  const run = `${tmp}/runs/graph`;
  await writeSpecRun(run, { kind: "mlp", inputs: 12, hidden: [5] }, { rows: 3, cols: 4 });
  await exportRun(run, `${tmp}/site-graph`);
  const app = await Deno.readTextFile(`${tmp}/site-graph/app.js`);
  assert.doesNotMatch(app, /\bDeno\.[a-z]/);
  console.log(`  app.js, minified: ${(app.length / 1024).toFixed(1)} KB`);
  assert.ok(app.length < 500_000, `the page bundle grew to ${app.length} bytes`);
});

Deno.test({
  name: "export mlp: train, export, open in chromium: outputs match Deno, the pad moves the image",
  ...browserOpts,
  fn: async () => {
    const run = await train("mlp", [...IMAGES, "--hidden", "32", "--z", "2"]);
    await familyTest(run, "mlp", undefined, async (page, local) => {
      assert.deepEqual(await demo<number[]>(page, "z"), [0, 0]);
      const before = await demo<number[]>(page, "pixels");
      // Drag on the pad (z = 2): the code follows the pointer, the image changes.
      const box = (await page.locator("#pad").boundingBox())!;
      const n = await count(page, DECODES);
      await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.5);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width * 0.7, box.y + box.height * 0.4, { steps: 4 });
      await page.mouse.move(box.x + box.width * 0.9, box.y + box.height * 0.2, { steps: 4 });
      await page.mouse.up();
      await waitFor(page, DECODES, n);
      const z1 = await demo<number[]>(page, "z");
      assert.ok(Math.abs(z1[0] - 2.4) < 0.1 && Math.abs(z1[1] - 1.8) < 0.1, `z after drag ${z1}`);
      const after = await demo<number[]>(page, "pixels");
      assert.ok(maxAbsDiff(before, after) > 1e-3, "the image did not change with the pad");
      const d1 = maxAbsDiff(after, await local.decode(z1));
      console.log(
        `  after the drag to [${z1.map((v) => v.toFixed(2))}]: vs Deno ${d1.toExponential(2)}`,
      );
      assert.ok(d1 <= TOL);
    });
  },
});

Deno.test({
  name: "export colour conv: the page's RGB outputs and canvas pixels match Deno's",
  ...browserOpts,
  fn: async () => {
    const run = await train("colour", COLOUR);
    await familyTest(run, "colour", undefined, async (page, local) => {
      const g = local.spec.data;
      assert.ok(g.kind === "image" && g.channels === 3, "a 3-channel image model");
      // The main canvas: every pixel's R, G, B is the Deno decoder's mean for the shown code,
      // rounded to 8 bits, and alpha is opaque.
      const z = await demo<number[]>(page, "z");
      const want = await local.decode(z);
      const rgba = await page.evaluate<number[]>(
        `(() => { const c = document.getElementById("image"); ` +
          `return Array.from(c.getContext("2d").getImageData(0, 0, c.width, c.height).data); })()`,
      );
      assert.equal(rgba.length, 16 * 16 * 4);
      let worst = 0, spread = 0;
      for (let p = 0; p < 256; p++) {
        for (let c = 0; c < 3; c++) {
          const v = Math.round(255 * Math.min(1, Math.max(0, want[3 * p + c])));
          worst = Math.max(worst, Math.abs(rgba[4 * p + c] - v));
        }
        spread = Math.max(spread, Math.abs(rgba[4 * p] - rgba[4 * p + 2]));
        assert.equal(rgba[4 * p + 3], 255);
      }
      console.log(`  canvas vs Deno: max ${worst} levels of 255; largest |R - B| ${spread}`);
      assert.ok(worst <= 1, `canvas pixels differ from Deno's by ${worst} levels`);
      assert.ok(spread >= 2, "the canvas is grey: channels not drawn separately");
    });
  },
});

Deno.test({
  name: "export conv: batch norm's running statistics in the page; sliders and prior samples",
  ...browserOpts,
  fn: async () => {
    const run = await train("conv", CONV);
    await familyTest(run, "conv", undefined, async (page, local) => {
      assert.equal(local.spec.family, "conv");
      assert.equal(await page.locator("#sliders input[type=range]").count(), 3);
      const before = await demo<number[]>(page, "pixels");
      const box = (await page.locator("#z1").boundingBox())!;
      const n = await count(page, DECODES);
      await page.mouse.click(box.x + box.width * 0.875, box.y + box.height / 2);
      await waitFor(page, DECODES, n);
      const z = await demo<number[]>(page, "z");
      assert.ok(z[0] === 0 && z[2] === 0 && z[1] > 1.5 && z[1] < 3, `z after the click: ${z}`);
      const after = await demo<number[]>(page, "pixels");
      assert.ok(maxAbsDiff(before, after) > 1e-3, "the image did not change with the slider");
      assert.ok(maxAbsDiff(after, await local.decode(z)) <= TOL);
      // Sample from the prior: the grid is the decode of its codes.
      const g = await count(page, GRIDS);
      await page.locator("#prior").click();
      await waitFor(page, GRIDS, g);
      const codes = await demo<number[]>(page, "gridCodes");
      const d = maxAbsDiff(await demo<number[]>(page, "gridPixels"), await local.decode(codes));
      console.log(`  prior grid of ${codes.length / 3} codes: vs Deno ${d.toExponential(2)}`);
      assert.ok(d <= TOL);
    });
  },
});

Deno.test({
  name: "export streamlines: two projections of decoded streamlines, matching Deno",
  ...browserOpts,
  fn: async () => {
    const run = await train("streamlines", STREAMLINES);
    await familyTest(run, "streamlines", undefined, async (page, local) => {
      assert.equal(local.spec.data.kind, "sequence");
      const caption = (await page.locator("#zvalue").textContent())!;
      console.log(`  caption: ${caption}`);
      assert.match(caption, /decoded length [0-9.]+ mm/);
      // The two panels of the main canvas have lines drawn in them.
      const inked = await page.evaluate<number[]>(`(() => {
        const c = document.getElementById("image");
        const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
        const half = Math.floor(c.width / 2), ink = [0, 0];
        for (let i = 0; i < d.length; i += 4) {
          if (d[i] > 150 && d[i + 1] < 100) ink[(i / 4) % c.width < half ? 0 : 1]++;
        }
        return ink;
      })()`);
      console.log(`  red pixels in the x-y and x-z panels: ${inked}`);
      assert.ok(inked[0] > 20 && inked[1] > 20, `projections not drawn: ${inked}`);
      const g = await count(page, GRIDS);
      await page.locator("#prior").click();
      await waitFor(page, GRIDS, g);
      const codes = await demo<number[]>(page, "gridCodes");
      assert.ok(
        maxAbsDiff(await demo<number[]>(page, "gridPixels"), await local.decode(codes)) <= TOL,
      );
    });
  },
});

Deno.test({
  name: "export length-conditioned streamlines: the length slider re-decodes, matching Deno",
  ...browserOpts,
  fn: async () => {
    const run = await train("length", [...STREAMLINES, "--condition", "length"]);
    await familyTest(run, "length", [30, 45, 60, 52.5], async (page, local) => {
      const c = local.condition!;
      assert.equal(c.kind, "length");
      assert.ok(c.kind === "length" && c.min < c.mean && c.mean < c.max);
      assert.equal(await page.locator("#lengthbox").isVisible(), true);
      assert.equal(
        await demo<number>(page, "condition"),
        Math.round(c.kind === "length" ? c.mean : 0),
      );
      const before = await demo<number[]>(page, "pixels");
      const target = Math.round(c.kind === "length" ? c.max : 0);
      const n = await count(page, DECODES), g = await count(page, GRIDS);
      await page.locator("#length").fill(String(target));
      await waitFor(page, DECODES, n);
      await waitFor(page, GRIDS, g);
      assert.equal(await demo<number>(page, "condition"), target);
      const z = await demo<number[]>(page, "z");
      const after = await demo<number[]>(page, "pixels");
      assert.ok(maxAbsDiff(before, after) > 1e-4, "the streamline did not change with the length");
      const d = maxAbsDiff(after, await local.decode(z, target));
      console.log(
        `  decoded at ${target} mm: vs Deno ${d.toExponential(2)}; ` +
          `${await page.locator("#zvalue").textContent()}`,
      );
      assert.ok(d <= TOL);
      const codes = await demo<number[]>(page, "gridCodes");
      const dg = maxAbsDiff(
        await demo<number[]>(page, "gridPixels"),
        await local.decode(codes, target),
      );
      assert.ok(dg <= TOL, `grid at ${target} mm differs by ${dg}`);
    });
  },
});

Deno.test({
  name: "export label + learned prior: the page samples p(z | class) like Deno",
  ...browserOpts,
  fn: async () => {
    const run = await train("prior", [
      ...IMAGES,
      ...["--hidden", "32", "--z", "2", "--condition", "label"],
      ...["--prior", "learned", "--prior-hidden", "8"],
    ]);
    await familyTest(run, "prior", [0, 3, 7, 9, 1], async (page, local) => {
      assert.deepEqual(local.spec.model.prior, { hidden: [8] });
      const K = local.classes;
      // The page starts at class 0's prior mean (temperature 0).
      const mean0 = Array.from(await local.priorCodes([0, 0], 0, 0));
      assert.ok(maxAbsDiff(await demo<number[]>(page, "z"), mean0) <= TOL);
      // Fixed draws through the page's priorCodes and Deno's, for two classes.
      const eps = Array.from(new Rng(79).normal(2 * 6));
      for (const k of [0, 7]) {
        const browser = await demo<number[]>(page, "priorCodes", eps, k);
        const d = maxAbsDiff(browser, await local.priorCodes(eps, k));
        console.log(`  priorCodes of 6 draws, class ${k}: browser vs Deno ${d.toExponential(2)}`);
        assert.ok(d <= TOL, `class ${k}: prior codes differ by ${d}`);
        assert.ok(maxAbsDiff(browser, eps) > 1e-3, "the learned prior did not move the codes");
      }
      // The grid follows the class selector: p(z | k) codes of the same draws, decoded.
      const gridEps = await demo<number[]>(page, "gridEps");
      for (const k of [7, K - 1]) {
        const g = await count(page, GRIDS);
        await page.selectOption("#class", String(k));
        await waitFor(page, GRIDS, g);
        assert.deepEqual(await demo<number[]>(page, "gridEps"), gridEps, "the draws changed");
        const codes = await demo<number[]>(page, "gridCodes");
        const dc = maxAbsDiff(codes, await local.priorCodes(gridEps, k));
        const dp = maxAbsDiff(
          await demo<number[]>(page, "gridPixels"),
          await local.decode(codes, k),
        );
        console.log(
          `  grid of class ${k}: codes vs Deno ${dc.toExponential(2)}, pixels ${
            dp.toExponential(2)
          }`,
        );
        assert.ok(dc <= TOL && dp <= TOL);
      }
    });
  },
});

Deno.test({
  name: "export: without WebGPU the page says so in plain words",
  ignore: !hasBrowser,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const run = `${tmp}/runs/plain`;
    await writeSpecRun(run, { kind: "mlp", inputs: 16, hidden: [4] }, { rows: 4, cols: 4 });
    const site = `${tmp}/site-plain`;
    await exportRun(run, site);
    const server = await serveDir(site);
    try {
      await withPage(async (page) => {
        // --disable-gpu: navigator.gpu is there, but no adapter.
        await page.goto(server.url);
        await page.waitForFunction(`${STATE} !== "loading"`);
        assert.equal(await page.evaluate(STATE), "no-webgpu");
        assert.match(
          (await page.locator("#status").textContent())!,
          /could not get a graphics adapter/,
        );
        // A browser without WebGPU at all.
        await page.addInitScript(() => {
          delete (Navigator.prototype as unknown as Record<string, unknown>).gpu;
        });
        await page.reload();
        await page.waitForFunction(`${STATE} !== "loading"`);
        assert.equal(await page.evaluate(STATE), "no-webgpu");
        assert.match(
          (await page.locator("#status").textContent())!,
          /this browser does not have WebGPU/,
        );
        assert.equal(await page.locator("#demo").isVisible(), false);
      });
    } finally {
      await server.close();
    }
  },
});

/** Every file under `dir` with its bytes, to check that nothing changed. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string) => {
    for (const e of Deno.readDirSync(`${dir}${rel}`)) {
      if (e.isDirectory) walk(`${rel}/${e.name}`);
      else out.set(`${rel}/${e.name}`, Deno.readTextFileSync(`${dir}${rel}/${e.name}`));
    }
  };
  walk("");
  return out;
}

Deno.test("export --force never deletes what export did not write", async () => {
  const base = `${tmp}/safety`;
  const run = `${base}/runs/ex`;
  await writeSpecRun(run, { kind: "mlp", inputs: 12, hidden: [5] }, { rows: 3, cols: 4 });
  await Deno.writeTextFile(`${run}/config.json`, "{}\n");
  await Deno.writeTextFile(`${run}/metrics.jsonl`, "{}\n");
  const before = snapshot(run);

  // The old code deleted the run's own checkpoints here (issue 18, item 5).
  await assert.rejects(() => exportRun(run, run, { force: true }), /is the run folder or holds it/);
  // A folder holding the run (the old code deleted it whole).
  await assert.rejects(() => exportRun(run, `${base}/runs`, { force: true }), /holds it/);
  await assert.rejects(() => exportRun(run, `${run}/..`, { force: true }), /holds it/);
  // Any folder export did not make: another run, a folder of someone's files.
  const other = `${base}/runs/other`;
  await writeSpecRun(other, { kind: "mlp", inputs: 12, hidden: [5] }, { rows: 3, cols: 4 });
  await assert.rejects(() => exportRun(run, other, { force: true }), /holds a run/);
  const mine = `${base}/mine`;
  await Deno.mkdir(mine);
  await Deno.writeTextFile(`${mine}/notes.txt`, "keep me");
  await assert.rejects(() => exportRun(run, mine, { force: true }), /not a folder export wrote/);
  await Deno.writeTextFile(`${base}/file.txt`, "keep me too");
  await assert.rejects(() => exportRun(run, `${base}/file.txt`, { force: true }), /not a folder/);
  assert.equal(Deno.readTextFileSync(`${mine}/notes.txt`), "keep me");
  assert.equal(Deno.readTextFileSync(`${base}/file.txt`), "keep me too");
  assert.ok(snapshot(other).has("/model.safetensors"));

  // Inside the run folder as a new subfolder: fine (the default runs/NAME/web is one).
  const web = `${run}/web`;
  const first = await exportRun(run, web);
  assert.ok(first.files.some((f) => f.path === EXPORT_MARKER));
  await assert.rejects(() => exportRun(run, web), /already exists; pass --force/);
  // An earlier export is replaced with --force; one with a file export did not write is not.
  await exportRun(run, web, { force: true });
  await Deno.writeTextFile(`${web}/shaders/mine.wgsl`, "// mine");
  await assert.rejects(
    () => exportRun(run, web, { force: true }),
    /holds shaders\/mine\.wgsl, which export did not write/,
  );
  assert.equal(Deno.readTextFileSync(`${web}/shaders/mine.wgsl`), "// mine");
  const after = snapshot(run);
  for (const [k, v] of before) assert.equal(after.get(k), v, `${k} changed`);
  assert.deepEqual(
    [...Deno.readDirSync(run)].map((e) => e.name).filter((n) => n.startsWith(".export")),
    [],
    "no temporary folder left",
  );
});

Deno.test("export task: no --allow-run, writes only under runs/, one-line errors", async () => {
  const task: string = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`)).tasks.export;
  assert.doesNotMatch(task, /--allow-run|(^|\s)-A(\s|$)|--allow-all/, task);
  assert.match(task, /--allow-write=runs(\s|$)/, task);
  const run = `${tmp}/runs/task`;
  await writeSpecRun(run, { kind: "mlp", inputs: 12, hidden: [5] }, { rows: 3, cols: 4 });
  // Outside runs/ the task may not write: a one-line error, nothing written.
  const lines = async (...args: string[]) => {
    const r = await deno("task", "export", ...args);
    assert.equal(r.code, 1, r.stdout);
    return r.stderr.trim().split("\n").filter((l) => !l.startsWith("Task "));
  };
  const denied = await lines(run, "--out", `${tmp}/denied`);
  assert.equal(denied.length, 1, denied.join("\n"));
  assert.match(
    denied[0],
    /not allowed to write there \(deno task export writes under runs\/ only\)/,
  );
  await assert.rejects(() => Deno.stat(`${tmp}/denied`), Deno.errors.NotFound);
  assert.deepEqual(await lines(), [
    "error: usage: deno task export runs/NAME [--out DIR] [--force]",
  ]);
  const none = await lines(`${tmp}/runs/none`);
  assert.match(none[0], /model\.safetensors cannot be read/);
  // A run written before model specs: one line naming the converter for this run.
  const old = `${tmp}/runs/old`;
  await writeSpecRun(old, { kind: "mlp", inputs: 12, hidden: [5] }, { rows: 3, cols: 4 }, {
    withoutSpec: true,
  });
  const o = await lines(old, "--out", "runs/never");
  assert.equal(o.length, 1);
  assert.match(
    o[0],
    new RegExp(`no model spec .*convert it with: deno task convert ${old}, then export again$`),
  );
  // A truncated file.
  const bad = `${tmp}/runs/bad`;
  await Deno.mkdir(bad);
  const good = await Deno.readFile(`${run}/model.safetensors`);
  await Deno.writeFile(`${bad}/model.safetensors`, good.subarray(0, good.length - 3));
  await assert.rejects(() => exportRun(bad, `${tmp}/x`), /truncated/);
});

globalThis.addEventListener("unload", () => {
  try {
    Deno.removeSync(tmp, { recursive: true });
  } catch { /* already gone */ }
});
