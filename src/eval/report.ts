/**
 * The run report: `report.html` in the run folder, one self-contained page (images inlined
 * as data URLs, plots as inline SVG) with the config, the metrics table, the loss curves,
 * reconstructions and samples from the prior; the images and plots are also written as
 * files beside it. Rewritten at every epoch.
 */

import { encodeBase64 } from "./base64.ts";
import { encodePng, imageGrid } from "./png.ts";
import { linePlot } from "./svg.ts";
import { writeFileAtomic, writeTextAtomic } from "../train/atomic.ts";
import type { EpochRecord } from "../train/trainer.ts";

/** What the report shows. */
export interface ReportInput {
  /** The resolved config (shown as a table). */
  config: Record<string, unknown>;
  /** metrics.jsonl so far. */
  records: EpochRecord[];
  /** Image height and width (1 x F data is shown as a row of F pixels). */
  rows: number;
  cols: number;
  /** First test images and their reconstructions, [n, rows * cols] in [0, 1]. */
  originals: Float32Array;
  reconstructions: Float32Array;
  /** Samples from the prior, [m, rows * cols] in [0, 1]. */
  samples: Float32Array;
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** Originals in the top row(s), their reconstructions below, 8 per row. */
function reconstructionGrid(r: ReportInput) {
  const size = r.rows * r.cols;
  const n = Math.min(8, Math.floor(r.originals.length / size));
  const both = new Float32Array(2 * n * size);
  both.set(r.originals.subarray(0, n * size));
  both.set(r.reconstructions.subarray(0, n * size), n * size);
  return imageGrid(both, 2 * n, r.rows, r.cols, n);
}

/** Write report.html, loss.svg, reconstructions.png and samples.png into `dir`. */
export async function writeReport(dir: string, r: ReportInput): Promise<void> {
  const epochs = r.records.map((x) => x.epoch);
  const col = (f: (x: EpochRecord) => number) => r.records.map(f);
  const loss = linePlot("loss (nats per image)", "epoch", epochs, [
    { name: "train total", color: "#1f77b4", values: col((x) => x.train.total) },
    { name: "test total", color: "#d62728", values: col((x) => x.test.total) },
    { name: "test recon", color: "#ff7f0e", values: col((x) => x.test.recon) },
  ]);
  const kl = linePlot("KL and its weight", "epoch", epochs, [
    { name: "train KL", color: "#2ca02c", values: col((x) => x.train.kl) },
    { name: "test KL", color: "#9467bd", values: col((x) => x.test.kl) },
    { name: "beta x 10", color: "#7f7f7f", values: col((x) => 10 * x.beta) },
  ]);
  const rec = reconstructionGrid(r);
  const size = r.rows * r.cols;
  const m = Math.floor(r.samples.length / size);
  const smp = imageGrid(r.samples, m, r.rows, r.cols, 8);
  const recPng = encodePng(rec.width, rec.height, rec.pixels);
  const smpPng = encodePng(smp.width, smp.height, smp.pixels);
  await writeTextAtomic(`${dir}/loss.svg`, loss);
  await writeTextAtomic(`${dir}/kl.svg`, kl);
  await writeFileAtomic(`${dir}/reconstructions.png`, recPng);
  await writeFileAtomic(`${dir}/samples.png`, smpPng);

  const last = r.records.at(-1);
  const img = (png: Uint8Array, alt: string, scale: number, w: number) =>
    `<img alt="${alt}" width="${w * scale}" style="image-rendering: pixelated" ` +
    `src="data:image/png;base64,${encodeBase64(png)}">`;
  const rows = r.records.map((x) =>
    `<tr><td>${x.epoch}</td><td>${x.train.total.toFixed(2)}</td><td>${
      x.test.total.toFixed(2)
    }</td>` +
    `<td>${x.test.recon.toFixed(2)}</td><td>${x.test.kl.toFixed(2)}</td><td>${
      x.test.elbo.toFixed(2)
    }</td>` +
    `<td>${x.beta}</td><td>${x.imagesPerSecond.toFixed(0)}</td></tr>`
  ).join("\n");
  const cfg = Object.entries(r.config).map(([k, v]) =>
    `<tr><td>${esc(k)}</td><td>${esc(JSON.stringify(v))}</td></tr>`
  ).join("\n");
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>webgpu-vae run ${
    esc(String(r.config.out ?? ""))
  }</title>
<style>
body { font-family: sans-serif; margin: 2em; max-width: 60em; }
table { border-collapse: collapse; margin: 1em 0; } td, th { border: 1px solid #ccc; padding: 2px 8px; text-align: right; }
td:first-child { text-align: left; }
</style></head><body>
<h1>Run ${esc(String(r.config.out ?? ""))}</h1>
<p>After epoch ${last?.epoch ?? 0}: test negative ELBO <b>${
    last ? last.test.elbo.toFixed(2) : "-"
  }</b> nats per image
(reconstruction ${last ? last.test.recon.toFixed(2) : "-"} + KL ${
    last ? last.test.kl.toFixed(2) : "-"
  }).</p>
<h2>Loss curves</h2>
${loss}
${kl}
<h2>Metrics per epoch</h2>
<table><tr><th>epoch</th><th>train loss</th><th>test loss</th><th>test recon</th><th>test KL</th><th>test -ELBO</th><th>beta</th><th>img/s</th></tr>
${rows}
</table>
<h2>Reconstructions</h2>
<p>Test images (top) and their reconstructions (bottom).</p>
${img(recPng, "reconstructions", 3, rec.width)}
<h2>Samples from the prior</h2>
${img(smpPng, "samples", 3, smp.width)}
<h2>Configuration</h2>
<table>${cfg}</table>
</body></html>
`;
  await writeTextAtomic(`${dir}/report.html`, html);
}
