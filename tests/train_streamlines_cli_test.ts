/**
 * `deno task train --model streamlines` and `--condition`, run as a user runs them
 * (subprocesses), small: a 240-streamline phantom and a narrow conv1d model. Checks the
 * streamline metrics and figures a run writes, the length-conditioned checks, `sample` on
 * streamline and conditional runs, and the one-line errors for conditions that do not fit.
 */
import assert from "node:assert/strict";
import { loadDataset } from "../src/data/datasets.ts";
import { encodeIdx } from "../src/data/idx.ts";
import { gpu } from "./_helpers.ts";
import { assertPng, parseSvg } from "./_images.ts";
import { runDeno } from "./_deno.ts";

const dir = await Deno.makeTempDir({ prefix: "webgpu-vae-streamlines-" });
const SMALL = [
  ...["--model", "streamlines", "--dataset", "phantom:240:3", "--batch", "32", "--z", "4"],
  ...["--filters", "4,8", "--kernels", "3,3", "--strides", "2,2", "--lr", "0.003"],
  ...["--decoder-filters", "4,3", "--decoder-kernels", "3,3", "--decoder-strides", "2,2"],
];

function cli(script: string, args: string[]) {
  return runDeno(["run", "--allow-read", "--allow-env", `--allow-write=${dir}`, script, ...args]);
}

const records = (path: string) =>
  Deno.readTextFileSync(path).trim().split("\n").map((l) => JSON.parse(l));

const opts = { sanitizeResources: false, sanitizeOps: false, ignore: gpu === null };

Deno.test({
  name: "train --model streamlines: distances per bundle in metrics.jsonl, figures in the report",
  ...opts,
  async fn() {
    const out = `${dir}/plain`;
    const r = await cli("src/cli/train.ts", [...SMALL, "--epochs", "2", "--out", out]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /training conv1d \(filters 4,8, .*z 4\) on phantom:240:3: 216 train/);
    const recs = records(`${out}/metrics.jsonl`);
    assert.equal(recs.length, 2);
    for (const rec of recs) {
      const s = rec.streamlines;
      assert.ok(s.distanceMm > 0 && Number.isFinite(s.distanceMm), `distance ${s.distanceMm}`);
      assert.equal(s.bundles.length, 6, "six phantom bundles");
      // The overall distance is the count-weighted mean of the bundles' (24 held out).
      const n = s.bundles.reduce((a: number, b: { count: number }) => a + b.count, 0);
      assert.equal(n, 24);
      const mean = s.bundles.reduce(
        (a: number, b: { count: number; distanceMm: number }) =>
          a + (b.count ? b.count * b.distanceMm : 0),
        0,
      ) / n;
      assert.ok(Math.abs(mean - s.distanceMm) < 1e-9 * s.distanceMm);
      for (const b of s.bundles) assert.ok(b.widthMm > 2 && b.widthMm < 40, `width ${b.widthMm}`);
      assert.equal(s.length, undefined, "no length check without --condition length");
    }
    const html = Deno.readTextFileSync(`${out}/report.html`);
    assert.match(html, /Streamlines/);
    assert.match(html, /mean point-wise reconstruction distance [0-9.]+ mm/);
    assert.doesNotMatch(html, /<img[^>]*reconstructions/, "no image sections for streamlines");
    for (const i of [1, 2, 3]) {
      const file = `${out}/streamlines_${i}.svg`;
      const svg = parseSvg(file, Deno.readTextFileSync(file));
      const lines = svg.getElementsByTagName("polyline");
      assert.ok(lines.length >= 2 * 8, `streamlines_${i}.svg has ${lines.length} polylines`);
    }
    const s = await cli("src/cli/sample.ts", [out, "--n", "5"]);
    assert.equal(s.code, 0, s.err);
    assert.match(s.out, /wrote .*samples-5\.svg: 5 samples .*; lengths [0-9.]+-[0-9.]+ mm/);
    parseSvg("samples-5.svg", Deno.readTextFileSync(`${out}/samples-5.svg`));
    const bad = await cli("src/cli/sample.ts", [out, "--length", "40"]);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /^error: --length: this run's model is not conditional/);
  },
});

Deno.test({
  name: "train --condition length --upsample linear: asked vs produced lengths; sample --length",
  ...opts,
  async fn() {
    const out = `${dir}/length`;
    const r = await cli("src/cli/train.ts", [
      ...SMALL,
      ...["--condition", "length", "--upsample", "linear", "--epochs", "1", "--out", out],
    ]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /conditioned on length \(mean [0-9.]+ mm, sd [0-9.]+ mm\)/);
    const [rec] = records(`${out}/metrics.jsonl`);
    const l = rec.streamlines.length;
    assert.equal(l.asked.length, 100);
    assert.equal(l.produced.length, 100);
    assert.ok(l.asked[0] < l.asked[99], "asked lengths increase");
    assert.ok(l.produced.every((v: number) => v > 0 && Number.isFinite(v)));
    assert.ok(Math.abs(l.correlation) <= 1 && Math.abs(l.correlationAtMean) <= 1);
    assert.equal(JSON.parse(Deno.readTextFileSync(`${out}/config.json`)).upsample, "linear");
    const s = await cli("src/cli/sample.ts", [out, "--n", "3", "--length", "45"]);
    assert.equal(s.code, 0, s.err);
    assert.match(s.out, /length 45\.0 mm/);
    // A length outside the training range is sampled, with a warning that gives the range.
    const far = await cli("src/cli/sample.ts", [out, "--n", "2", "--length", "500"]);
    assert.equal(far.code, 0, far.err);
    assert.match(
      far.err,
      /^warning: --length 500\.0 mm is outside the training lengths [0-9.]+-[0-9.]+ mm;/,
    );
    assert.doesNotMatch(s.err, /warning/);
    const wrong = await cli("src/cli/sample.ts", [out, "--class", "2"]);
    assert.match(wrong.err, /^error: --class: this model is conditioned on length/);
  },
});

Deno.test({
  name: "train --condition: labels on images, and conditions a dataset cannot give are one line",
  ...opts,
  async fn() {
    const data = await loadDataset("embedded", {});
    const images = data.train.images as Uint8Array;
    const N = 200, idx = `${dir}/small.idx`, labels = `${dir}/small-labels.idx`;
    await Deno.writeFile(
      idx,
      encodeIdx({ type: "u8", dims: [N, 28, 28], data: images.subarray(0, N * 784) }),
    );
    await Deno.writeFile(
      labels,
      encodeIdx({ type: "u8", dims: [N], data: data.train.labels!.subarray(0, N) }),
    );
    const out = `${dir}/label`;
    const base = ["--hidden", "16", "--z", "2", "--batch", "50", "--epochs", "1"];
    const r = await cli("src/cli/train.ts", [
      ...["--dataset", `idx:${idx},${labels}`, "--condition", "label", ...base, "--out", out],
    ]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /conditioned on the label \(10 classes\)/);
    for (const metric of ["pooled within-class covariance", "Euclidean pixel"]) {
      assert.match(
        r.out,
        new RegExp(
          `\\(${metric} distance\\) agrees with the asked class on [0-9.]+% of 200 samples ` +
            `\\(its accuracy on real test images: [0-9.]+%\\)`,
        ),
      );
    }
    const [rec] = records(`${out}/metrics.jsonl`);
    for (const metric of ["pooled", "euclidean"]) {
      const a = rec.classAgreement[metric];
      assert.equal(a.perClass.length, 10, metric);
      assert.ok(a.fraction >= 0 && a.fraction <= 1, `${metric} ${a.fraction}`);
      assert.ok(a.testAccuracy > 0.1 && a.testAccuracy <= 1, `${metric} ${a.testAccuracy}`);
    }
    const grid = assertPng("class_samples.png", Deno.readFileSync(`${out}/class_samples.png`));
    // Ten rows (one per class) of twenty samples, 28 pixels each with 1-pixel borders.
    assert.deepEqual([grid.width, grid.height], [20 * 29 + 1, 10 * 29 + 1]);
    const s = await cli("src/cli/sample.ts", [out, "--n", "4", "--class", "7"]);
    assert.equal(s.code, 0, s.err);
    assert.match(s.out, /class 7/);
    // The learned prior p(z | c): trained, evaluated (its KL per dimension), sampled per class.
    const lp = await cli("src/cli/train.ts", [
      ...["--dataset", `idx:${idx},${labels}`, "--condition", "label", ...base],
      ...["--prior", "learned", "--prior-hidden", "8", "--out", `${out}-prior`],
    ]);
    assert.equal(lp.code, 0, lp.err);
    assert.match(
      lp.out,
      /conditioned on the label \(10 classes\), learned prior p\(z \| c\) \(hidden 8\)/,
    );
    const [lrec] = records(`${out}-prior/metrics.jsonl`);
    const klSum = lrec.diagnostics.klPerDim.reduce((a: number, b: number) => a + b, 0);
    // The per-dimension KL (from the learned prior) adds up to the test set's KL term.
    assert.ok(Math.abs(klSum - lrec.test.kl) < 1e-3 * lrec.test.kl, `${klSum} vs ${lrec.test.kl}`);
    const ls = await cli("src/cli/sample.ts", [`${out}-prior`, "--n", "4", "--class", "3"]);
    assert.equal(ls.code, 0, ls.err);
    const noCond = await cli("src/cli/train.ts", [
      ...base,
      "--prior",
      "learned",
      "--out",
      `${dir}/p`,
    ]);
    assert.equal(noCond.code, 1);
    assert.match(noCond.err, /^error: --prior learned needs --condition label or length/);
    const badPrior = await cli("src/cli/train.ts", [
      ...base,
      "--prior",
      "vamp",
      "--out",
      `${dir}/p`,
    ]);
    assert.match(badPrior.err, /^error: --prior: 'vamp' is not standard or learned/);
    const nolabels = await cli("src/cli/train.ts", [
      ...["--dataset", `idx:${idx}`, "--condition", "label", ...base, "--out", `${dir}/x`],
    ]);
    assert.equal(nolabels.code, 1);
    assert.match(nolabels.err, /^error: --condition label needs a dataset with labels/);
    const nolength = await cli("src/cli/train.ts", [
      ...["--dataset", `idx:${idx},${labels}`, "--condition", "length", ...base],
      ...["--out", `${dir}/y`],
    ]);
    assert.equal(nolength.code, 1);
    assert.match(nolength.err, /^error: --condition length needs a streamline dataset/);
    const image = ["--dataset", `idx:${idx}`, "--model", "conv", ...base];
    const up = await cli("src/cli/train.ts", [
      ...image,
      "--upsample",
      "linear",
      "--out",
      `${dir}/u`,
    ]);
    assert.equal(up.code, 1);
    assert.match(up.err, /--upsample linear needs a sequence model \(streamlines\)[^\n]*\n?$/);
    const upBad = await cli("src/cli/train.ts", [...image, "--upsample", "cubic"]);
    assert.equal(upBad.code, 1);
    assert.match(upBad.err, /^error: --upsample: 'cubic' is not transposed or linear/);
    for (const d of ["x", "y", "u", "p"]) {
      await assert.rejects(Deno.stat(`${dir}/${d}`), Deno.errors.NotFound, "no run folder left");
    }
  },
});
