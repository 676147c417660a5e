/**
 * Bundle conditioning end to end, as a user runs it (a subprocess): `deno task train --model
 * streamlines --condition label` on a small phantom (six bundles) used to exit after epoch 1
 * with "report: classSamples needs rows and cols". Now the run completes; its report draws
 * the samples asked for each bundle (class_samples.svg, one legend entry per bundle) with the
 * nearest-bundle agreement overall and per bundle, and metrics.jsonl keeps the agreement and
 * how near prior samples come to real streamlines. The agreement itself is recomputed from
 * its per-bundle shares.
 */
import assert from "node:assert/strict";
import { gpu } from "./_helpers.ts";
import { parseSvg } from "./_images.ts";

const dir = await Deno.makeTempDir({ prefix: "webgpu-vae-bundles-" });

const SMALL = [
  ...["--model", "streamlines", "--dataset", "phantom:240:3", "--batch", "32", "--z", "4"],
  ...["--filters", "4,8", "--kernels", "3,3", "--strides", "2,2", "--lr", "0.003"],
  ...["--decoder-filters", "4,3", "--decoder-kernels", "3,3", "--decoder-strides", "2,2"],
];

Deno.test({
  name:
    "train --model streamlines --condition label: per-bundle samples and agreement in the report",
  sanitizeResources: false,
  sanitizeOps: false,
  ignore: gpu === null,
  async fn() {
    const out = `${dir}/label`;
    const r = await new Deno.Command(Deno.execPath(), {
      args: [
        ...["run", "--allow-read", "--allow-env", `--allow-write=${dir}`, "src/cli/train.ts"],
        ...SMALL,
        ...["--condition", "label", "--epochs", "2", "--out", out],
      ],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(r.stderr);
    assert.equal(r.code, 0, err);
    const recs = Deno.readTextFileSync(`${out}/metrics.jsonl`).trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    assert.equal(recs.length, 2);
    for (const rec of recs) {
      for (const metric of ["pooled", "euclidean"]) {
        const a = rec.classAgreement[metric];
        assert.equal(a.perClass.length, 6, "one share per phantom bundle");
        // 20 samples asked per bundle: the overall share is the mean of the per-bundle ones.
        const mean = a.perClass.reduce((s: number, x: number) => s + x, 0) / 6;
        assert.ok(Math.abs(mean - a.fraction) < 1e-12, `${metric}: ${mean} vs ${a.fraction}`);
        assert.ok(a.testAccuracy > 0.9, `real streamlines are told apart: ${a.testAccuracy}`);
      }
      const p = rec.streamlines.prior;
      assert.ok(p.samplesMm > 0 && p.heldOutMm > 0 && p.reference === 216, JSON.stringify(p));
    }
    const svg = Deno.readTextFileSync(`${out}/class_samples.svg`);
    parseSvg("class_samples.svg", svg);
    const names = [...svg.matchAll(/>asked ([^<]+) \(20\)</g)].map((m) => m[1]);
    assert.equal(names.length, 6, `legend: ${names}`);
    assert.equal((svg.match(/<polyline /g) ?? []).length, 2 * 6 * 20, "two views x 120 samples");
    const html = Deno.readTextFileSync(`${out}/report.html`);
    assert.ok(html.includes("<h2>Samples per bundle</h2>"));
    for (const n of names) assert.ok(html.includes(`<tr><td>${n}</td><td>`), n);
    assert.ok(html.includes(svg), "the figure is inlined");
    assert.match(html, /prior samples lie a median [0-9.]+ mm from the nearest of 216 training/);
  },
});

Deno.test({
  name: "bundle test folder removed",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await Deno.remove(dir, { recursive: true });
  },
});
