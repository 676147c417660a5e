/**
 * The report page in a real browser: a report.html written from synthetic inputs (no
 * training) loads in headless chromium with no console errors, every <img> decodes
 * (naturalWidth > 0), every inline SVG lays out, and nothing but the page itself is fetched
 * (it opens offline); for image models with Z = 2 and 5, a conditional model (each class name
 * beside its row of samples) and a streamline model (no images at all).
 */
import assert from "node:assert/strict";
import { writeReport } from "../src/eval/report.ts";
import { browserTest, serveDir, withPage } from "./_browser.ts";
import { CLASSES, ROWS, syntheticInput } from "./_report_input.ts";

const cases = [
  { name: "Z = 2", input: () => syntheticInput({ z: 2 }) },
  { name: "Z = 5", input: () => syntheticInput({ z: 5 }) },
  {
    name: "conditional, samples per class",
    input: () => syntheticInput({ z: 2, latent: false, classSamples: true }),
  },
  {
    name: "streamline model",
    input: () => syntheticInput({ z: 3, images: false, latent: false, streamlines: true }),
  },
];

for (const { name, input } of cases) {
  browserTest(`report page (${name}) shows every image and plot in chromium`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "report-browser-" });
    const server = await serveDir(dir);
    try {
      const files = await writeReport(dir, input());
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
        // Each class name's box and the image row it labels (its top and height, px).
        const names = await page.$$eval(".class-names > div", (els) =>
          els.map((el) => {
            const r = el.getBoundingClientRect();
            return { text: el.textContent, mid: (r.top + r.bottom) / 2 };
          }));
        const grid = await page.$$eval('img[alt="samples per class"]', (els) =>
          els.map((el) => {
            const r = el.getBoundingClientRect();
            return { top: r.top, height: r.height };
          }));
        return { errors, requests, images, svgs, names, grid };
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
      if (files.includes("class_samples.png")) {
        // Row c of the grid spans [1 + c * (ROWS + 1), (c + 1) * (ROWS + 1)) image pixels.
        assert.deepEqual(result.names.map((n) => n.text), CLASSES);
        const { top, height } = result.grid[0];
        const px = height / (CLASSES.length * (ROWS + 1) + 1);
        result.names.forEach((n, c) => {
          const lo = top + px * (1 + c * (ROWS + 1)), hi = lo + px * ROWS;
          assert.ok(n.mid > lo && n.mid < hi, `${n.text} at ${n.mid}, its row ${lo}-${hi}`);
        });
      } else assert.equal(result.names.length, 0);
      console.log(
        `  ${name}: ${result.images.length} images decoded, ${result.svgs.length} SVGs laid ` +
          `out, no console errors` + (result.names.length ? ", class names beside their rows" : ""),
      );
    } finally {
      await server.close();
      await Deno.remove(dir, { recursive: true });
    }
  });
}
