/**
 * The report page in a real browser: a report.html written from synthetic inputs (no
 * training) loads in headless chromium with no console errors, every <img> decodes
 * (naturalWidth > 0), every inline SVG lays out, and nothing but the page itself is fetched
 * (it opens offline).
 */
import assert from "node:assert/strict";
import { writeReport } from "../src/eval/report.ts";
import { browserTest, serveDir, withPage } from "./_browser.ts";
import { syntheticInput } from "./_report_input.ts";

for (const z of [2, 5]) {
  browserTest(`report page (Z = ${z}) shows every image and plot in chromium`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "report-browser-" });
    const server = await serveDir(dir);
    try {
      const files = await writeReport(dir, syntheticInput({ z }));
      const expectImages = files.filter((f) => f.endsWith(".png")).length;
      const expectSvgs = files.filter((f) => f.endsWith(".svg")).length;
      const result = await withPage(async (page) => {
        const errors: string[] = [];
        const requests: string[] = [];
        page.on("console", (m) => {
          if (m.type() === "error") errors.push(m.text());
        });
        page.on("pageerror", (e) => errors.push(String(e)));
        page.on("request", (r) => requests.push(r.url()));
        await page.goto(`${server.url}report.html`, { waitUntil: "load" });
        const images = await page.$$eval("img", (els) =>
          els.map((el) => {
            // deno-lint-ignore no-explicit-any -- a DOM element; Deno's types have no DOM
            const img = el as any;
            return { alt: img.alt, complete: img.complete, naturalWidth: img.naturalWidth };
          }));
        const svgs = await page.$$eval("svg", (els) =>
          els.map((el) => {
            const r = el.getBoundingClientRect();
            return { width: r.width, height: r.height, marks: el.querySelectorAll("*").length };
          }));
        return { errors, requests, images, svgs };
      });
      assert.deepEqual(result.errors, [], "console errors");
      assert.equal(result.images.length, expectImages);
      for (const img of result.images) {
        assert.ok(img.complete && img.naturalWidth > 0, `image ${img.alt} did not decode`);
      }
      assert.equal(result.svgs.length, expectSvgs);
      for (const s of result.svgs) assert.ok(s.width > 0 && s.height > 0 && s.marks > 5);
      // Only the page itself (data: URLs are not requests over the network).
      const fetched = result.requests.filter((u) => !u.startsWith("data:"));
      assert.deepEqual(fetched, [`${server.url}report.html`]);
      console.log(
        `  Z=${z}: ${result.images.length} images decoded, ${result.svgs.length} SVGs laid out, ` +
          `no console errors`,
      );
    } finally {
      await server.close();
      await Deno.remove(dir, { recursive: true });
    }
  });
}
