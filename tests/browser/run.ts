/**
 * The kernel suite in Chromium: the same test files `deno test` runs (every kernel's
 * GPU-vs-float64 tests, the kernel runtime's and the profiler's), bundled for the browser
 * and run in one headless Chromium page on its own WebGPU implementation (Dawn, Tint, the
 * SwiftShader adapter). `scripts/run_tests.ts` runs this as the "chromium" part of
 * `deno task test`; it ends with one line, "chromium: N passed, M failed, K ignored".
 *
 *   deno run --allow-read --allow-write --allow-run --allow-env --allow-net=127.0.0.1 \
 *     --allow-sys tests/browser/run.ts [tests/dense_test.ts ...] [--filter TEXT]
 *
 * How: `deno bundle --platform=browser --code-splitting` turns tests/browser/page.ts (the
 * page's `Deno.test` / `Deno.env` shim and driver hooks) and the test files into ES modules
 * sharing chunks, so the page opens one GPU device (tests/_helpers.ts) for every file, as a
 * `deno test` process does. The page's import map sends `node:assert/strict` to
 * tests/browser/assert.ts. A static server on 127.0.0.1 serves them as `/suite/js/` with
 * the repository's `shaders/` at `/shaders/`, where src/gpu/kernel.ts's default loader
 * fetches them (`../../shaders/` from the chunk that holds it). One browser launch runs
 * every test, one at a time; each test's result and printed lines come back here.
 */

import { CHROMIUM, serveDir, withPage } from "../_browser.ts";
import type { PageTestResult } from "./page.ts";

/** The test files run in the page: every kernel's tests, the runtime's and the profiler's. */
export const BROWSER_SUITE: readonly string[] = [
  "activation_test.ts",
  "adam_test.ts",
  "batchnorm_test.ts",
  "concat_test.ts",
  "conv1d_test.ts",
  "conv2d_test.ts",
  "conv_transpose2d_test.ts",
  "dense_test.ts",
  "device_test.ts",
  "gather_test.ts",
  "iwae_test.ts",
  "kernel_test.ts",
  "kl_test.ts",
  "latent_test.ts",
  "profiler_test.ts",
  "recon_test.ts",
  "reduce_test.ts",
  "tuner_choices_test.ts",
  "upsample1d_test.ts",
];

/** Longest a single test may run in the page before the run is abandoned. */
const TEST_TIMEOUT_MS = 240_000;
const ROOT = new URL("../../", import.meta.url).pathname;

function usage(message: string): never {
  console.error(`error: ${message}`);
  Deno.exit(2);
}

/**
 * Which files and tests to run, from `deno test`-style arguments: test files (those outside
 * the browser suite are left to Deno) and `--filter TEXT`; other options are Deno's alone.
 */
function selection(args: string[]): { files: string[]; filter: string | null } {
  const files: string[] = [];
  let named = false;
  let filter: string | null = null;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--filter") filter = args[++i] ?? usage("--filter needs a value");
    else if (a.startsWith("--filter=")) filter = a.slice("--filter=".length);
    else if (!a.startsWith("-")) {
      named = true;
      const base = a.replace(/^.*\//, "");
      if (BROWSER_SUITE.includes(base)) files.push(base);
    }
  }
  return { files: named ? files : [...BROWSER_SUITE], filter };
}

/** Bundle page.ts and the test files into `dir`. */
async function bundle(files: string[], dir: string): Promise<void> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--platform=browser",
      "--code-splitting",
      "--quiet",
      "--outdir",
      dir,
      "tests/browser/page.ts",
      "tests/browser/assert.ts",
      ...files.map((f) => `tests/${f}`),
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!r.success) {
    const text = new TextDecoder().decode(r.stderr).trim();
    throw new Error(`deno bundle failed: ${text.split("\n").slice(0, 8).join("\n")}`);
  }
}

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>webgpu-vae kernel suite</title>
<script type="importmap">{ "imports": { "node:assert/strict": "./js/browser/assert.js" } }</script>
<script type="module" src="./js/browser/page.js"></script>
`;

function indent(text: string, by = "    "): string {
  return text.split("\n").map((l) => by + l).join("\n");
}

/** Run the suite; returns the counts. */
export async function runBrowserSuite(
  files: string[],
  filter: string | null,
): Promise<{ passed: number; failed: number; ignored: number }> {
  const tmp = await Deno.makeTempDir({ prefix: "webgpu-vae-browser-suite-" });
  const server = await (async () => {
    await bundle(files, `${tmp}/suite/js`);
    await Deno.writeTextFile(`${tmp}/suite/index.html`, PAGE);
    await Deno.mkdir(`${tmp}/shaders`);
    for (const e of Deno.readDirSync(`${ROOT}shaders`)) {
      if (e.isFile) await Deno.copyFile(`${ROOT}shaders/${e.name}`, `${tmp}/shaders/${e.name}`);
    }
    return await serveDir(tmp);
  })().catch(async (e) => {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw e;
  });
  let passed = 0;
  let failed = 0;
  let ignored = 0;
  const failures: string[] = [];
  const t0 = performance.now();
  try {
    await withPage(async (page) => {
      const pageErrors: string[] = [];
      page.on("pageerror", (e) => pageErrors.push(e.message));
      await page.goto(`${server.url}suite/index.html`);
      await page.waitForFunction("globalThis.kernelSuite !== undefined", null, {
        timeout: 60_000,
      }).catch(() => {
        throw new Error(`the suite page did not start: ${pageErrors.join("; ") || "no error"}`);
      });
      const adapter = await page.evaluate("globalThis.kernelSuite.adapter()");
      const agent = String(await page.evaluate("navigator.userAgent"));
      console.log(`browser: ${agent.match(/(?:Headless)?Chrome\/[\d.]+/)?.[0] ?? agent}`);
      console.log(`adapter: ${JSON.stringify(adapter)}`);
      const list = await page.evaluate(
        ([f, base]) => (globalThis as unknown as Suite).kernelSuite.load(f, base),
        [files, `${server.url}suite/js/`] as const,
      ).catch((e: Error) => {
        throw new Error(`loading the test modules failed: ${e.message.split("\n")[0]}`);
      });
      for (const line of await page.evaluate("globalThis.kernelSuite.loose()") as string[]) {
        console.log(`  ${line}`);
      }
      for (let i = 0; i < list.length; i++) {
        const { file, name } = list[i];
        if (filter !== null && !name.includes(filter)) continue;
        let timer: ReturnType<typeof setTimeout> | undefined;
        const r = await Promise.race([
          page.evaluate((i) => (globalThis as unknown as Suite).kernelSuite.run(i), i),
          new Promise<PageTestResult>((resolve) => {
            timer = setTimeout(() =>
              resolve({
                file,
                name,
                status: "failed",
                ms: TEST_TIMEOUT_MS,
                error: `timed out after ${TEST_TIMEOUT_MS / 1000} s`,
                log: [],
              }), TEST_TIMEOUT_MS);
          }),
        ]).catch((e: Error): PageTestResult => ({
          file,
          name,
          status: "failed",
          ms: 0,
          error: `the page failed: ${e.message}`,
          log: [],
        }));
        clearTimeout(timer);
        const secs = (r.ms / 1000).toFixed(1);
        const mark = r.status === "passed" ? "ok" : r.status === "ignored" ? "ignored" : "FAILED";
        if (r.log.length) console.log(`${file} > ${name} ...\n${indent(r.log.join("\n"))}`);
        console.log(`${file} > ${name} ... ${mark} (${secs}s)`);
        if (r.status === "passed") passed++;
        else if (r.status === "ignored") ignored++;
        else {
          failed++;
          failures.push(`${file} > ${name}\n${indent(r.error ?? "")}`);
          console.log(indent(r.error ?? ""));
          if (r.error?.startsWith("timed out") || r.error?.startsWith("the page failed")) break;
        }
      }
      if (pageErrors.length) console.log(`page errors:\n${indent(pageErrors.join("\n"))}`);
    }, { webgpu: true });
  } finally {
    await server.close();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
  if (failures.length) console.log(`\nchromium failures:\n${failures.join("\n")}`);
  const secs = ((performance.now() - t0) / 1000).toFixed(0);
  console.log(
    `\nchromium: ${passed} passed, ${failed} failed, ${ignored} ignored (${secs}s, ${files.length} files)`,
  );
  return { passed, failed, ignored };
}

interface Suite {
  kernelSuite: {
    load(files: readonly string[], base: string): Promise<{ file: string; name: string }[]>;
    run(i: number): Promise<PageTestResult>;
  };
}

if (import.meta.main) {
  try {
    Deno.statSync(CHROMIUM);
  } catch {
    // As tests/_browser.ts does: a loud skip outside CI, a failure under CI=true.
    if (Deno.env.get("CI") === "true") {
      console.error(`error: ${CHROMIUM} is missing (apt-get install chromium)`);
      console.log("\nchromium: 0 passed, 1 failed, 0 ignored (no browser)");
      Deno.exit(1);
    }
    console.warn(`\n!!! SKIPPING THE BROWSER KERNEL SUITE: ${CHROMIUM} is missing\n`);
    console.log("\nchromium: 0 passed, 0 failed, 0 ignored (skipped: no browser)");
    Deno.exit(0);
  }
  const { files, filter } = selection(Deno.args);
  if (!files.length) {
    console.log("chromium: 0 passed, 0 failed, 0 ignored (no browser-suite files selected)");
    Deno.exit(0);
  }
  try {
    const r = await runBrowserSuite(files, filter);
    Deno.exit(r.failed > 0 || r.passed === 0 ? 1 : 0);
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    console.log("\nchromium: 0 passed, 1 failed, 0 ignored (the suite did not run)");
    Deno.exit(1);
  }
}
