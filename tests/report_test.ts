/**
 * The run report from synthetic inputs (no training): every file it names exists, each PNG
 * decodes to its stated size and is not blank, each SVG parses, and report.html inlines
 * exactly those images and plots with no external reference. The optional sections (samples
 * per class, streamlines) appear with their lines when given and not otherwise, and a
 * streamline model's report has no image sections.
 */
import assert from "node:assert/strict";
import { klWeightScale, writeReport } from "../src/eval/report.ts";
import { streamlinesSvg } from "../src/eval/streamline_svg.ts";
import { assertPng, parseSvg } from "./_images.ts";
import { CLASSES, COLS, PER_CLASS, ROWS, syntheticInput } from "./_report_input.ts";

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
async function checkReport(
  dir: string,
  files: string[],
  sizes: Record<string, { width: number; height: number }>,
): Promise<string> {
  const html = await Deno.readTextFile(`${dir}/report.html`);
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
    const html = await checkReport(dir, files, pngSizes(2));
    for (
      const h of ["Latent manifold", "Latent space by label", "KL weight", "Active units"]
    ) assert.ok(html.includes(`<h2>${h}</h2>`), h);
    assert.match(html, /<th>active units<\/th>/);
    assert.match(html, /<td>2\/2<\/td>/);
    assert.ok(!html.includes('class="warn"'));
    for (const h of ["Samples per class", "Streamlines"]) assert.ok(!html.includes(h), h);
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
    const html = await checkReport(dir, files, pngSizes(5));
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
    for (const h of ["Samples per class", "Streamlines", "classifier"]) {
      assert.ok(!html.includes(h), h);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("report: records with null, NaN or Infinity (an old or damaged metrics.jsonl) still render", async () => {
  const dir = await Deno.makeTempDir({ prefix: "report-test-" });
  try {
    const input = syntheticInput({ z: 3, latent: false });
    const last = input.records.at(-1)!;
    // JSON.parse of a line that held NaN gives null; keep one of each kind.
    (last.train as { total: unknown }).total = null;
    last.test.elbo = NaN;
    last.test.kl = Infinity;
    await writeReport(dir, input);
    const html = await Deno.readTextFile(`${dir}/report.html`);
    assert.match(html, /test negative ELBO <b>NaN<\/b>/);
    assert.match(html, /\+ KL Infinity\)/);
    assert.match(html, /<tr><td>5<\/td><td>null<\/td>/);
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

Deno.test("report: samples per class, one row per class named at its left, and streamlines", async () => {
  const dir = await Deno.makeTempDir({ prefix: "report-test-" });
  try {
    const input = syntheticInput({ z: 2, classSamples: true, streamlines: true });
    const files = await writeReport(dir, input);
    assert.deepEqual(files.slice(-3), [
      "class_samples.png",
      "streamlines_1.svg",
      "streamlines_2.svg",
    ]);
    const html = await checkReport(dir, files, {
      ...pngSizes(2),
      "class_samples.png": grid(PER_CLASS, CLASSES.length),
    });
    // The class grid: row c of the PNG holds class c's samples (each row's pixels differ).
    const png = assertPng("class_samples", await Deno.readFile(`${dir}/class_samples.png`));
    const rowMeans = CLASSES.map((_, c) => {
      let sum = 0;
      for (let y = 1 + c * (ROWS + 1); y < (c + 1) * (ROWS + 1); y++) {
        for (let x = 1; x < png.width - 1; x++) sum += png.pixels[y * png.width + x];
      }
      return sum;
    });
    assert.equal(new Set(rowMeans).size, CLASSES.length);
    const section = html.slice(html.indexOf("<h2>Samples per class</h2>"));
    assert.ok(section.length < html.length, "the section");
    // Both checks, each with its classifier's accuracy on real images.
    for (
      const line of [
        "(pooled within-class covariance distance) agrees with the asked class on 84.0% of " +
        `${CLASSES.length * PER_CLASS} samples (its accuracy on real test images: 81.5%)</p>`,
        "(Euclidean pixel distance) agrees with the asked class on 69.5% of " +
        `${CLASSES.length * PER_CLASS} samples (its accuracy on real test images: 67.7%)</p>`,
      ]
    ) assert.ok(section.includes(`<p>nearest-class-mean classifier ${line}`), line);
    // Names in class order, each box one image row high, so the column spans the image.
    const box = [
      ...section.matchAll(
        /<div style="height: (\d+)px; line-height: \d+px; margin-bottom: (\d+)px">([^<]*)<\/div>/g,
      ),
    ];
    assert.deepEqual(box.map((m) => m[3]), CLASSES);
    const im = section.match(/<img alt="samples per class" width="(\d+)" height="(\d+)"/)!;
    const scale = +im[1] / grid(PER_CLASS, 1).width;
    const top = +section.match(/class="class-names" style="padding-top: (\d+)px/)![1];
    assert.equal(top, scale);
    for (const m of box) assert.deepEqual([+m[1], +m[2]], [ROWS * scale, scale]);
    assert.equal(top + box.reduce((n, m) => n + +m[1] + +m[2], 0), +im[2]);
    // Streamlines: the distance line, the escaped extra line, both figures under their titles.
    const st = html.slice(html.indexOf("<h2>Streamlines</h2>"));
    assert.ok(
      st.includes(
        "<p>mean point-wise reconstruction distance 0.42 mm (bundle width 6.1 mm, 6.9%)</p>",
      ),
    );
    assert.ok(st.includes("<p>12 test streamlines of 21 points &lt;resampled&gt;</p>"));
    for (const [i, v] of input.streamlines!.views.entries()) {
      assert.ok(st.includes(`<h3>${v.title}</h3>\n${v.svg}`), v.title);
      assert.equal(await Deno.readTextFile(`${dir}/streamlines_${i + 1}.svg`), v.svg);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("report: a streamline model has no image sections and no broken images", async () => {
  const dir = await Deno.makeTempDir({ prefix: "report-test-" });
  try {
    const input = syntheticInput({ z: 4, images: false, latent: false, streamlines: true });
    delete input.streamlines!.widthMm;
    const files = await writeReport(dir, input);
    assert.deepEqual(files, [
      "loss.svg",
      "kl.svg",
      "kl_weight.svg",
      "mu_sigma.svg",
      "kl_per_dim.svg",
      "active_units.svg",
      "streamlines_1.svg",
      "streamlines_2.svg",
    ]);
    const html = await checkReport(dir, files, {});
    assert.ok(!html.includes("<img"));
    for (const h of ["Reconstructions", "Samples from the prior", "Samples per class"]) {
      assert.ok(!html.includes(`<h2>${h}</h2>`), h);
    }
    assert.ok(html.includes("<p>mean point-wise reconstruction distance 0.42 mm</p>"));
    // Latent inputs without a decoder (or an image shape): the scatter only.
    const withLatent = await writeReport(
      dir,
      syntheticInput({ z: 4, images: false, streamlines: true }),
    );
    assert.deepEqual(withLatent.filter((f) => !files.includes(f)), ["latent_scatter.svg"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("report: images without a shape, and per-class samples of the wrong size, are errors", async () => {
  const dir = await Deno.makeTempDir({ prefix: "report-test-" });
  try {
    const { rows: _, ...noShape } = syntheticInput({ latent: false });
    await assert.rejects(() => writeReport(dir, noShape), /originals needs rows and cols/);
    const bad = syntheticInput({ latent: false, classSamples: true });
    bad.classSamples!.images = bad.classSamples!.images.subarray(1);
    await assert.rejects(() => writeReport(dir, bad), /classSamples has \d+ values for 10 classes/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("report: bundle-conditioned streamline model: samples per bundle as a figure, agreement per bundle", async () => {
  const dir = await Deno.makeTempDir({ prefix: "report-test-" });
  try {
    const input = syntheticInput({ z: 4, images: false, latent: false, streamlines: true });
    const bundles = ["sub_1/AF_L", "sub_1/CC_ForcepsMajor", "sub_1/CST_R"];
    const line = (k: number, j: number) =>
      Float32Array.from({ length: 3 * 21 }, (_, i) => (i % 3 === 0 ? i / 3 : k * 10 + j * 0.3));
    const svg = streamlinesSvg(
      bundles.map((b, k) => ({
        label: `asked ${b}`,
        color: ["red", "green", "blue"][k],
        streamlines: [0, 1].map((j) => line(k, j)),
      })),
    );
    input.classSamples = {
      classNames: bundles,
      perClass: 2,
      images: new Float32Array(3 * 2 * 63),
      svg,
      checks: [{ metric: "pooled", fraction: 5 / 6, perClass: [1, 0.5, 1], testAccuracy: 0.97 }],
    };
    const files = await writeReport(dir, input);
    assert.ok(files.includes("class_samples.svg") && !files.includes("class_samples.png"));
    const html = await checkReport(dir, files, {});
    assert.ok(html.includes("<h2>Samples per bundle</h2>"));
    assert.ok(html.includes("<tr><td>sub_1/CC_ForcepsMajor</td><td>50%</td></tr>"), "per bundle");
    assert.match(html, /83\.3% of 6 samples/);
    // The legend holds the whole name: the figure is widened for it.
    const width = Number(svg.match(/<svg [^>]*width="(\d+(\.\d+)?)"/)![1]);
    const text = "asked sub_1/CC_ForcepsMajor (2)";
    const x = Number(
      svg.match(new RegExp(`<text x="([0-9.]+)"[^>]*>${text.replace(/[()]/g, "\\$&")}<`))![1],
    );
    assert.ok(width > 800 && x + 7.5 * text.length <= width, `legend at ${x}, figure ${width}`);
    // Without a figure and without an image shape, per-class samples cannot be drawn.
    delete input.classSamples.svg;
    await assert.rejects(() => writeReport(dir, input), /classSamples needs rows and cols/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("report: the KL plot scales the weight to the KL's size, so beta = 0.001 is not flat", () => {
  assert.equal(klWeightScale([20, 25], [1, 1]), 10);
  assert.equal(klWeightScale([80, 120], [0.001, 0.001]), 1e5);
  assert.equal(klWeightScale([3], [0.5]), 10);
  assert.equal(klWeightScale([0.5], [1]), 1);
  assert.equal(klWeightScale([0, 0], [0.001]), 10);
  assert.equal(klWeightScale([10], [0]), 10);
});

Deno.test("report: the factor table, and traversals of the active dimensions labelled by factor", async () => {
  const dir = await Deno.makeTempDir({ prefix: "report-test-" });
  try {
    const input = syntheticInput({ z: 5 });
    // z1 follows x strongly, z3 follows shape; z0, z2, z4 are inactive (sd 0.05).
    input.latent!.factors = {
      factors: ["shape", "x"],
      measures: ["eta", "r"],
      table: [[0.1, 0.05, 0.3, 0.8, 0.2], [0.05, -0.9, 0.6, 0.1, 0.1]],
      spread: [0.05, 1.2, 0.05, 0.7, 0.05],
      follows: [
        { factor: -1, name: "none", score: 0.1 },
        { factor: 1, name: "x", score: -0.9 },
        { factor: -1, name: "none", score: 0.6 },
        { factor: 0, name: "shape", score: 0.8 },
        { factor: -1, name: "none", score: 0.2 },
      ],
    };
    const files = await writeReport(dir, input);
    assert.ok(files.includes("factors.md"));
    const sizes = { ...pngSizes(5), "traversals.png": grid(9, 2) };
    const html = await checkReport(dir, files, sizes);
    // Only the active dimensions, most spread first: z1 then z3, each named by its factor.
    assert.match(html, /<tr><th>factor<\/th><th>z1<\/th><th>z3<\/th><\/tr>/);
    assert.match(html, /<tr><td>shape \(eta\)<\/td><td>0\.05<\/td><td><b>0\.80<\/b><\/td><\/tr>/);
    assert.match(html, /<tr><td>x \(r\)<\/td><td><b>-0\.90<\/b><\/td><td>0\.10<\/td><\/tr>/);
    assert.match(html, />z1: x \(-0\.90\)<\/div>\n<div[^>]*>z3: shape \(0\.80\)<\/div>/);
    const md = await Deno.readTextFile(`${dir}/factors.md`);
    assert.equal(md.split("\n")[0], "| factor | z0 | z1 | z2 | z3 | z4 |");
    assert.equal(md.split("\n")[3], "| x (r) | 0.05 | **-0.90** | 0.60 | 0.10 | 0.10 |");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
