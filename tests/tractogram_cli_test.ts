/**
 * Tractograms out of the CLIs, as a user runs them (subprocesses): `sample --out FILE` and
 * `eval --reconstructions FILE` in .trk, .tck and .trx, loaded by dipy / nibabel
 * (scripts/read_tractograms.py: `load_tractogram` with its bounding-box check on; .trx through
 * numpy by the TRX spec, as trx-python is not installable here) with the same
 * points as our decoder's output, computed here in-process from the same model.safetensors,
 * within 1e-4 mm. Also: the run's spec keeps the source's space, sample needs no dataset, and
 * `--temperature` scales the codes; `--eps-std` and `--keep-every` recorded and kept.
 */
import assert from "node:assert/strict";
import { readback, write } from "../src/gpu/buffer.ts";
import { submit } from "../src/gpu/kernel.ts";
import { loadDataset } from "../src/data/datasets.ts";
import { arcLength, denormalize } from "../src/data/streamlines.ts";
import { streamlinesInMm } from "../src/data/streamline_dataset.ts";
import { readRunModel } from "../src/cli/_model_file.ts";
import type { Checkpoint } from "../src/train/checkpoint.ts";
import { DEFAULTS, type TrainConfig } from "../src/train/config.ts";
import { priorSample } from "../src/io/random.ts";
import { Trainer } from "../src/train/trainer.ts";
import { ModelState } from "../src/vae/common.ts";
import { buildVaeDecode, vaeLayout } from "../src/vae/model.ts";
import { PriorSampler } from "../src/vae/prior_sample.ts";
import { gpu } from "./_helpers.ts";
import { runDeno } from "./_deno.ts";

const dir = await Deno.makeTempDir({ prefix: "webgpu-vae-tractogram-cli-" });
const SMALL = [
  ...["--model", "streamlines", "--dataset", "phantom:240:3", "--batch", "32", "--z", "4"],
  ...["--filters", "4,8", "--kernels", "3,3", "--strides", "2,2", "--lr", "0.003"],
  ...["--decoder-filters", "4,3", "--decoder-kernels", "3,3", "--decoder-strides", "2,2"],
];

function cli(script: string, args: string[]) {
  return runDeno(["run", "--allow-read", "--allow-env", `--allow-write=${dir}`, script, ...args]);
}

async function readWithDipy(paths: string[]): Promise<Record<string, { streamlines: number[][] }>> {
  const script = new URL("../scripts/read_tractograms.py", import.meta.url).pathname;
  const r = await new Deno.Command("/usr/bin/python3", { args: [script, ...paths] }).output();
  assert.ok(r.success, `read_tractograms.py failed: ${new TextDecoder().decode(r.stderr)}`);
  return JSON.parse(new TextDecoder().decode(r.stdout));
}

function maxDiff(got: number[][], want: Float32Array[]): number {
  assert.equal(got.length, want.length, "streamline count");
  let worst = 0;
  got.forEach((g, k) => {
    assert.equal(g.length, want[k].length, `streamline ${k} values`);
    for (let i = 0; i < g.length; i++) worst = Math.max(worst, Math.abs(g[i] - want[k][i]));
  });
  return worst;
}

Deno.test({
  name: "sample --out and eval --reconstructions: .trk/.tck/.trx load in dipy with our points",
  sanitizeResources: false,
  sanitizeOps: false,
  ignore: gpu === null,
  async fn() {
    const run = `${dir}/run`;
    const r = await cli("src/cli/train.ts", [...SMALL, "--epochs", "1", "--out", run]);
    assert.equal(r.code, 0, r.err);
    const model = await readRunModel(run);
    const g = model.spec.data;
    assert.equal(g.kind, "sequence");
    if (g.kind !== "sequence") return;
    const data = await loadDataset("phantom:240:3");
    assert.deepEqual(g.space, data.streamlines!.space, "the spec keeps the source's space");

    // sample: the decoder's means in-process, from the same file, seed and temperature.
    const n = 7, seed = 5, t = 0.5, cfg = model.spec.model;
    const state = new ModelState(gpu!, vaeLayout(cfg), model.params);
    const program = await buildVaeDecode(gpu!, cfg, state, n);
    const eps = priorSample(n * cfg.z, seed);
    write(
      gpu!.device,
      program.z,
      await new PriorSampler(gpu!, cfg, state).codes(eps, n, undefined, t),
    );
    submit(gpu!.device, program.dispatches, "samples");
    const means = await readback(gpu!.device, program.mean);
    const F = g.points * g.pointSize;
    const want = Array.from(
      { length: n },
      (_, i) => denormalize(means.slice(i * F, (i + 1) * F), g.normalization),
    );
    const samples = ["trk", "tck", "trx"].map((e) => `${dir}/samples.${e}`);
    for (const p of samples) {
      const s = await cli("src/cli/sample.ts", [
        ...[run, "--n", String(n), "--seed", String(seed), "--temperature", String(t)],
        ...["--out", p],
      ]);
      assert.equal(s.code, 0, s.err);
      assert.match(s.out, /temperature 0\.5/);
      const lengths = want.map(arcLength);
      const lo = Math.min(...lengths).toFixed(1), hi = Math.max(...lengths).toFixed(1);
      assert.ok(s.out.includes(`lengths ${lo}-${hi} mm`), `${s.out} vs ${lo}-${hi}`);
    }
    // eval: the test split's reconstructions, as the trainer's evaluation programs make them.
    const recons = ["trk", "tck", "trx"].map((e) => `${dir}/recon.${e}`);
    for (const p of recons) {
      const e = await cli("src/cli/eval.ts", [
        run,
        "--k",
        "2",
        "--images",
        "4",
        "--reconstructions",
        p,
      ]);
      assert.equal(e.code, 0, e.err);
      assert.match(e.out, /wrote .*recon\.\w{3}: 24 test reconstructions/);
    }
    const config = { ...DEFAULTS, ...model.config } as TrainConfig;
    const zeros = new Float32Array(model.params.length);
    const checkpoint: Checkpoint = {
      params: model.params,
      m: zeros,
      v: zeros,
      step: model.step,
      epoch: 0,
      stepInEpoch: 0,
      sums: [],
      config: JSON.stringify(config),
    };
    const trainer = await Trainer.create(gpu!, config, data, checkpoint);
    const wantRecon = streamlinesInMm((await trainer.reconstructions()).means, data);

    // .tck has no space: dipy reads it against the .trk written beside it.
    const got = {
      ...await readWithDipy([samples[0], samples[1], samples[2]]),
      ...await readWithDipy([recons[0], recons[1], recons[2]]),
    };
    for (const [paths, lines] of [[samples, want], [recons, wantRecon]] as const) {
      for (const p of paths) {
        const d = maxDiff(got[p].streamlines, lines);
        console.log(
          `${p.slice(dir.length + 1)}: ${lines.length} streamlines, max difference ` +
            `from our decoder's output ${d.toExponential(2)} mm (` +
            (p.endsWith(".trx") ? "numpy, TRX spec" : "dipy, bbox check on") + ")",
        );
        assert.ok(d <= 1e-4, `${p}: ${d} mm`);
      }
    }
    // train refuses a Bernoulli loss on streamline coordinates before making a run folder.
    const bce = await cli("src/cli/train.ts", [
      ...["--model", "mlp", "--dataset", "phantom:240:3", "--recon", "bce", "--out", `${dir}/b`],
    ]);
    assert.equal(bce.code, 1);
    assert.match(bce.err, /^error: --recon bce \(a Bernoulli likelihood\) needs data in \[0, 1\]/);
    await assert.rejects(Deno.stat(`${dir}/b`), Deno.errors.NotFound);
    // A wrong extension is one line.
    const bad = await cli("src/cli/sample.ts", [run, "--out", `${dir}/x.vtk`]);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /^error: --out: '.*x\.vtk' must end in \.svg, \.trk, \.tck or \.trx\n$/);
    const badT = await cli("src/cli/sample.ts", [run, "--temperature", "hot"]);
    assert.match(badT.err, /^error: --temperature: 'hot' is not a number >= 0/);
    const badR = await cli("src/cli/eval.ts", [run, "--reconstructions", `${dir}/r.svg`]);
    assert.match(
      badR.err,
      /^error: --reconstructions: '.*r\.svg' must end in \.trk, \.tck or \.trx/,
    );
  },
});

Deno.test({
  name: "train --eps-std and --keep-every: recorded, kept with the commit, repaired from it",
  sanitizeResources: false,
  sanitizeOps: false,
  ignore: gpu === null,
  async fn() {
    const run = `${dir}/kept`;
    const args = [...SMALL, "--epochs", "3", "--eps-std", "0.5", "--keep-every", "2"];
    const r = await cli("src/cli/train.ts", [...args, "--out", run]);
    assert.equal(r.code, 0, r.err);
    const config = JSON.parse(Deno.readTextFileSync(`${run}/config.json`));
    assert.equal(config["eps-std"], 0.5);
    assert.equal(config["keep-every"], 2);
    assert.equal(config.spec.model.epsStd, 0.5);
    const lines = Deno.readTextFileSync(`${run}/metrics.jsonl`).trim().split("\n");
    assert.deepEqual(lines.map((l) => JSON.parse(l).epsStd), [0.5, 0.5, 0.5]);
    const names = [...Deno.readDirSync(run)].map((e) => e.name).filter((n) =>
      n.includes("-epoch-")
    );
    assert.deepEqual(names, ["model-epoch-0002.safetensors"]);
    const kept = Deno.readFileSync(`${run}/${names[0]}`);
    const model = await readRunModel(run);
    assert.equal(model.step, 3 * Math.ceil(216 / 32));
    // The kept file is a model file of its own, at the end of epoch 2.
    const { parseSafetensors } = await import("../src/io/safetensors.ts");
    assert.equal(parseSafetensors(kept).metadata.step, String(2 * Math.ceil(216 / 32)));
    // eps std 0.5 trains a different model from the default's (same seed).
    const plain = await cli("src/cli/train.ts", [...SMALL, "--epochs", "1", "--out", `${run}-1`]);
    assert.equal(plain.code, 0, plain.err);
    const p1 = (await readRunModel(`${run}-1`)).params;
    assert.ok(p1.some((v, i) => v !== model.params[i]));
    assert.equal(JSON.parse(Deno.readTextFileSync(`${run}-1/metrics.jsonl`)).epsStd, undefined);

    // The commit record covers the kept files: a lost one is rewritten from it, one of an
    // epoch it never committed is removed.
    const { openCheckpoint, repairRun } = await import("../src/train/checkpoint.ts");
    const { vaeLayout: layoutOf } = await import("../src/vae/model.ts");
    const again = `${dir}/kept-repair`;
    const two = await cli("src/cli/train.ts", [
      ...[...SMALL, "--epochs", "2", "--keep-every", "2", "--out", again],
    ]);
    assert.equal(two.code, 0, two.err);
    const good = Deno.readFileSync(`${again}/model-epoch-0002.safetensors`);
    Deno.removeSync(`${again}/model-epoch-0002.safetensors`);
    Deno.writeFileSync(`${again}/model-epoch-0004.safetensors`, good);
    const c = (await openCheckpoint(again)).load(layoutOf(model.spec.model));
    const fixed = await repairRun(again, layoutOf(model.spec.model), c);
    assert.deepEqual(fixed.sort(), [
      "model-epoch-0002.safetensors",
      "model-epoch-0004.safetensors (removed)",
    ]);
    assert.deepEqual(Deno.readFileSync(`${again}/model-epoch-0002.safetensors`), good);
    const bad = await cli("src/cli/train.ts", [...SMALL, "--keep-every", "1.5"]);
    assert.match(bad.err, /^error: --keep-every: .*an integer >= 0/);
    const badE = await cli("src/cli/train.ts", [...SMALL, "--eps-std", "-1"]);
    assert.match(badE.err, /^error: --eps-std: .*non-negative/);
  },
});

Deno.test({
  name: "train --regression: predicted lengths scored on the test split; sample --length works",
  sanitizeResources: false,
  sanitizeOps: false,
  ignore: gpu === null,
  async fn() {
    const run = `${dir}/regression`;
    const reg = ["--condition", "length", "--prior", "learned", "--recon", "mse"];
    const r = await cli("src/cli/train.ts", [
      ...[...SMALL, ...reg, "--regression", "1", "--regression-hidden", "16"],
      ...["--epochs", "2", "--out", run],
    ]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /predicted length R\^2 -?[0-9.]+ \(MSE [0-9.]+ mm\^2\)/);
    const recs = Deno.readTextFileSync(`${run}/metrics.jsonl`).trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    for (const rec of recs) {
      const g = rec.streamlines.regression;
      assert.equal(g.count, 24);
      assert.ok(g.mse > 0 && Number.isFinite(g.r2) && g.r2 <= 1, JSON.stringify(g));
    }
    // The score is of what the model predicts: recompute it from the trainer in-process.
    const model = await readRunModel(run);
    assert.deepEqual(model.spec.model.regression, { hidden: [16], weight: 1 });
    assert.ok(model.spec.layers.some((l) => l.name === "regression.head.bias"));
    assert.match(r.out, /learned prior p\(z \| r\^\) .*, regression head \(hidden 16, weight 1\)/);
    const data = await loadDataset("phantom:240:3");
    const config = { ...DEFAULTS, ...model.config } as TrainConfig;
    const zeros = new Float32Array(model.params.length);
    const trainer = await Trainer.create(gpu!, config, data, {
      params: model.params,
      m: zeros,
      v: zeros,
      step: model.step,
      epoch: 0,
      stepInEpoch: 0,
      sums: [],
      config: JSON.stringify(config),
    });
    const predicted = (await trainer.predictedLengths())!;
    const truth = data.test.lengths!;
    let res = 0, tot = 0, mean = 0;
    for (const t of truth) mean += t / truth.length;
    truth.forEach((t, i) => (res += (predicted[i] - t) ** 2, tot += (t - mean) ** 2));
    const last = recs.at(-1).streamlines.regression;
    assert.ok(Math.abs(res / truth.length - last.mse) <= 1e-9 * last.mse + 1e-12);
    assert.ok(Math.abs(1 - res / tot - last.r2) < 1e-9);
    const html = Deno.readTextFileSync(`${run}/report.html`);
    assert.match(html, /length predicted from the streamline alone vs its true length/);
    // Generating for a chosen length still works (the prior reads the asked length).
    const s = await cli("src/cli/sample.ts", [run, "--n", "3", "--length", "45"]);
    assert.equal(s.code, 0, s.err);
    assert.match(s.out, /length 45\.0 mm/);
    const e = await cli("src/cli/eval.ts", [run, "--k", "2", "--images", "4"]);
    assert.equal(e.code, 0, e.err);
    const bad = await cli("src/cli/train.ts", [...SMALL, "--regression", "1"]);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /^error: --regression needs --condition length --prior learned/);
  },
});
