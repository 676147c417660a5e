/**
 * Real-browser tests: Debian's chromium driven by npm:playwright-core, each test in a fresh
 * profile (`--user-data-dir` in a temporary folder removed afterwards), and a static file
 * server on 127.0.0.1 for the pages under test.
 *
 * Needs `deno test --allow-read --allow-env --allow-run --allow-write --allow-net --allow-sys`
 * and /usr/bin/chromium (`.ci/run` installs it with apt-get). Under CI=true a missing
 * browser fails the test; elsewhere it is a loud skip, as for a missing GPU adapter.
 */

import { chromium, type Page } from "playwright-core";

/** Where Debian installs chromium. */
export const CHROMIUM = "/usr/bin/chromium";

const CI = Deno.env.get("CI") === "true";

function browserPresent(): boolean {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
}

/** Whether the browser tests can run here (chromium present, or CI, which then fails them). */
export const hasBrowser: boolean = browserPresent() || CI;
if (!hasBrowser) console.warn(`\n!!! SKIPPING BROWSER TESTS: ${CHROMIUM} is missing\n`);

/** Register a browser test (ignored, loudly, without chromium outside CI). */
export function browserTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, ignore: !hasBrowser, sanitizeResources: false, sanitizeOps: false, fn });
}

/** Options of {@linkcode withPage}. */
export interface PageOptions {
  /** Enable WebGPU (`--enable-unsafe-webgpu`, software adapter); default off (`--disable-gpu`). */
  webgpu?: boolean;
  /** Extra command-line switches. */
  args?: string[];
}

/** Launch chromium headless with a fresh profile, open one page, run `fn`, close everything. */
export async function withPage<T>(
  fn: (page: Page) => Promise<T>,
  opts: PageOptions = {},
): Promise<T> {
  const profile = await Deno.makeTempDir({ prefix: "webgpu-vae-chromium-" });
  const args = [
    "--headless",
    "--no-sandbox",
    ...(opts.webgpu ? ["--enable-unsafe-webgpu"] : ["--disable-gpu"]),
    ...(opts.args ?? []),
  ];
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args,
  });
  try {
    const page = context.pages()[0] ?? await context.newPage();
    return await fn(page);
  } finally {
    await context.close();
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
}

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
  wgsl: "text/plain; charset=utf-8",
  json: "application/json",
  css: "text/css",
  png: "image/png",
  svg: "image/svg+xml",
  safetensors: "application/octet-stream",
};

/** Serve the files under `root` on 127.0.0.1 at a free port; `url` ends with "/". */
export function serveDir(root: string): Promise<{ url: string; close(): Promise<void> }> {
  const base = root.replace(/\/+$/, "");
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    if (path.split("/").includes("..")) return new Response("bad path", { status: 400 });
    const file = base + (path.endsWith("/") ? path + "index.html" : path);
    try {
      const body = await Deno.readFile(file);
      const ext = file.split(".").pop() ?? "";
      return new Response(body, {
        headers: { "content-type": TYPES[ext] ?? "application/octet-stream" },
      });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  const { port } = server.addr as Deno.NetAddr;
  return Promise.resolve({
    url: `http://127.0.0.1:${port}/`,
    close: () => server.shutdown(),
  });
}
