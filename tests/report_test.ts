/**
 * The run report from synthetic inputs (no training): every file it names exists, each PNG
 * decodes to its stated size and is not blank, each SVG parses, and report.html inlines
 * exactly those images and plots with no external reference.
 */
import assert from "node:assert/strict";
import { writeReport } from "../src/eval/report.ts";
import { assertPng, parseSvg } from "./_images.ts";
import { COLS, ROWS, syntheticInput } from "./_report_input.ts";

const grid = (cols: number, rows: number) => ({
  width: cols * (COLS + 1) + 1,
  height: rows * (ROWS + 1) + 1,
});

/** PNG files the report writes and their sizes for the synthetic input with Z = `z`. */
function pngSizes(z: number): Record<string, { width: number; height: number }> {
  return {
    "reconstructions.png": grid(8, 2),
    "samples.png": grid(8, 4),
    "interpolation.png": grid(12, 1),
    "traversals.png": grid(9, z),
    ...(z === 2 ? { "manifold.png": { width: 20 * COLS, height: 20 * ROWS } } : {}),
  };
}

function fromBase64(s: string): Uint8Array {
  return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
}

/** Check the files and the page; returns the page. */
async function checkReport(dir: string, files: string[], z: number): Promise<string> {
  const html = await Deno.readTextFile(`${dir}/report.html`);
  const sizes = pngSizes(z);
  const pngs = files.filter((f) => f.endsWith(".png"));
  const svgs = files.filter((f) => f.endsWith(".svg"));
  assert.deepEqual(pngs.sort(), Object.keys(sizes).sort());
  for (const f of pngs) assertPng(f, await Deno.readFile(`${dir}/${f}`), sizes[f]);
  for (const f of svgs) parseSvg(f, await Deno.readTextFile(`${dir}/${f}`));
  // The page inlines each PNG byte for byte and each SVG verbatim.
  const inlined = [...html.matchAll(/src="data:image\/png;base64,([A-Za-z0-9+/=]+)"/g)].map((m) =>
    fromBase64(m[1])
  );
  assert.equal(inlined.length, pngs.length);
  for (const f of pngs) {
    const bytes = await Deno.readFile(`${dir}/${f}`);
    assert.ok(
      inlined.some((b) => b.length === bytes.length && b.every((v, i) => v === bytes[i])),
      f,
    );
  }
  for (const f of svgs) assert.ok(html.includes(await Deno.readTextFile(`${dir}/${f}`)), f);
  assert.equal((html.match(/<svg /g) ?? []).length, svgs.length);
  // Self-contained: nothing fetched from elsewhere.
  assert.ok(!/\s(src|href)="(?!data:)/.test(html), "an external reference");
  assert.ok(!/<script\b/.test(html), "a script tag");
  return html;
}

Deno.test("report: all figures for a 2-D model, inlined and written beside the page", async () => {
  const dir = await Deno.makeTempDir({ prefix: "report-test-" });
  try {
    const files = await writeReport(dir, syntheticInput({ z: 2 }));
    assert.deepEqual(files.sort(), [
      "active_units.svg",
      "interpolation.png",
      "kl.svg",
      "kl_per_dim.svg",
      "kl_weight.svg",
      "latent_scatter.svg",
      "loss.svg",
      "manifold.png",
      "mu_sigma.svg",
      "reconstructions.png",
      "samples.png",
      "traversals.png",
    ]);
    const html = await checkReport(dir, files, 2);
    for (
      const h of ["Latent manifold", "Latent space by label", "KL weight", "Active units"]
    ) assert.ok(html.includes(`<h2>${h}</h2>`), h);
    assert.match(html, /<th>active units<\/th>/);
    assert.match(html, /<td>2\/2<\/td>/);
    assert.ok(!html.includes('class="warn"'));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("report: Z = 5 has no manifold; the interpolation ends at another label", async () => {
  const dir = await Deno.makeTempDir({ prefix: "report-test-" });
  try {
    const input = syntheticInput({ z: 5 });
    const files = await writeReport(dir, input);
    assert.ok(!files.includes("manifold.png"));
    const html = await checkReport(dir, files, 5);
    const labels = input.latent!.labels!;
    let b = 1;
    while (labels[b] === labels[0]) b++;
    assert.ok(b < 8, "test setup: a different label among the shown originals");
    assert.ok(html.includes(`to mu of test image ${b} (the two originals at the ends)`), `${b}`);
    assert.ok(html.includes("highest-variance of 5 dimensions"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("report: the fields the current trainer supplies still make the plain report", async () => {
  const dir = await Deno.makeTempDir({ prefix: "report-test-" });
  try {
    const full = syntheticInput({ z: 2, latent: false, diagnostics: false });
    const { klSchedule: _, ...plain } = full;
    const files = await writeReport(dir, plain);
    assert.deepEqual(files, ["loss.svg", "kl.svg", "reconstructions.png", "samples.png"]);
    const html = await Deno.readTextFile(`${dir}/report.html`);
    assert.ok(!html.includes("active units"));
    assert.equal((html.match(/<img /g) ?? []).length, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("report: zero active units is called out", async () => {
  const dir = await Deno.makeTempDir({ prefix: "report-test-" });
  try {
    const input = syntheticInput({ z: 3, latent: false });
    const last = input.records.at(-1)!;
    last.diagnostics = { ...last.diagnostics!, activeUnits: 0 };
    await writeReport(dir, input);
    const html = await Deno.readTextFile(`${dir}/report.html`);
    assert.match(html, /<td class="warn">0\/3<\/td>/);
    assert.match(html, /No active latent units after epoch 5/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
