/**
 * Check an exported page against Deno: serve the folder `deno task export` wrote, open it in
 * headless chromium with WebGPU, decode `n` fixed codes (normal, sd 1.5, seed 77) in the page
 * and with the Deno decoder from the same decoder.safetensors, and print the largest
 * difference of the outputs; for images also the main canvas's bytes against Deno's means
 * rounded to 8 bits. Exits 1 when the outputs differ by more than 1e-4.
 *
 *   deno run --allow-read --allow-env --allow-run --allow-net --allow-sys --allow-write=/tmp \
 *     scripts/page_check.ts SITE [N]
 */

import { requestGpu } from "../src/gpu/device.ts";
import { Decoder } from "../src/web/decoder.ts";
import { mulberry32, standardNormal } from "../src/io/random.ts";
import { serveDir, withPage } from "../tests/_browser.ts";

const site = Deno.args[0];
if (!site) throw new Error("usage: scripts/page_check.ts SITE [N]");
const n = Number(Deno.args[1] ?? 8);
const gpu = await requestGpu();
const local = await Decoder.load(await Deno.readFile(`${site}/decoder.safetensors`), { gpu });
const next = mulberry32(77);
const codes = Array.from({ length: n * local.z }, () => 1.5 * standardNormal(next));
const server = await serveDir(site);
let worst = 0;
try {
  await withPage(async (page) => {
    await page.goto(server.url);
    await page.waitForFunction(`document.body.dataset.state !== "loading"`, null, {
      timeout: 300_000,
    });
    const status = await page.locator("#status").textContent();
    console.log(`page status: ${status}`);
    const call = <T>(f: string, ...args: unknown[]) =>
      page.evaluate(
        ([f, args]) =>
          // deno-lint-ignore no-explicit-any
          (globalThis as any).vaeDemo[f as string](...(args as unknown[])),
        [f, args] as const,
      ) as Promise<T>;
    const browser = await call<number[]>("decode", codes);
    const deno = await local.decode(codes);
    for (let i = 0; i < deno.length; i++) worst = Math.max(worst, Math.abs(browser[i] - deno[i]));
    console.log(
      `${n} codes, ${deno.length} values: browser vs Deno max |difference| ${
        worst.toExponential(2)
      }`,
    );
    const g = local.spec.data;
    if (g.kind === "image") {
      const want = await local.decode(await call<number[]>("z"));
      const rgba = await page.evaluate<number[]>(
        `(() => { const c = document.getElementById("image"); ` +
          `return Array.from(c.getContext("2d").getImageData(0, 0, c.width, c.height).data); })()`,
      );
      let levels = 0;
      for (let p = 0; p < g.height * g.width; p++) {
        for (let c = 0; c < 3; c++) {
          const v = want[p * g.channels + (g.channels === 3 ? c : 0)];
          const byte = Math.round(255 * Math.min(1, Math.max(0, v)));
          levels = Math.max(levels, Math.abs(rgba[4 * p + c] - byte));
        }
      }
      console.log(
        `main canvas (${g.width}x${g.height}x${g.channels}) vs Deno: max ${levels} levels`,
      );
    }
  }, { webgpu: true });
} finally {
  await server.close();
  await local.destroy();
  gpu.destroy();
}
if (!(worst <= 1e-4)) Deno.exit(1);
