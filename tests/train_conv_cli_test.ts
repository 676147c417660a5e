/**
 * `deno task train --model conv`, the KL controls and `deno task sample`, run as a user runs
 * them (subprocesses) on a small IDX file cut from the embedded data: exact resume with the
 * batch-norm running statistics, collapse diagnostics in metrics.jsonl, the seeds' NaN lesson
 * (no batch norm and no clamp blow up where batch norm and the clamp train), a linear KL
 * warm-up and --ae recorded, and the sample grid.
 */
import assert from "node:assert/strict";
import { loadDataset } from "../src/data/datasets.ts";
import { parseSafetensors } from "../src/io/safetensors.ts";
import { gpu } from "./_helpers.ts";
import { smallIdx } from "./_small_idx.ts";
import { assertPng } from "./_images.ts";
import { type DenoResult, runDeno } from "./_deno.ts";

const dir = await Deno.makeTempDir({ prefix: "webgpu-vae-conv-" });
const data = await loadDataset("embedded", {});
const N = 250; // 225 train (8 steps of 32, the last one 1), 25 held out
await Deno.writeFile(`${dir}/small.idx`, smallIdx(data, N));
/** A small conv model: 28 -> 14 -> 7 and back, 4 and 8 channels. */
const CONV = [
  ...["--dataset", `idx:${dir}/small.idx`, "--model", "conv", "--z", "3", "--batch", "32"],
  ...["--filters", "4,8", "--kernels", "3,3", "--strides", "2,2"],
  ...["--decoder-filters", "8,1", "--decoder-kernels", "3,3", "--decoder-strides", "2,2"],
];
const MLP = ["--dataset", `idx:${dir}/small.idx`, "--hidden", "24", "--z", "2", "--batch", "64"];

function cli(script: string, args: string[]): Promise<DenoResult> {
  return runDeno(["run", "--allow-read", "--allow-env", `--allow-write=${dir}`, script, ...args]);
}

const train = (args: string[]) => cli("src/cli/train.ts", args);

function records(path: string) {
  return Deno.readTextFileSync(path).trim().split("\n").map((l) => {
    const { seconds: _s, imagesPerSecond: _i, ...rest } = JSON.parse(l);
    return rest;
  });
}

const opts = { sanitizeResources: false, sanitizeOps: false, ignore: gpu === null };

Deno.test({
  name: "train --model conv: 2 epochs equal 1 then --resume (running stats too); diagnostics",
  ...opts,
  fn: async () => {
    const a = await train([...CONV, "--epochs", "2", "--out", `${dir}/straight`]);
    assert.equal(a.code, 0, a.err);
    assert.match(a.out, /training conv \(filters 4,8, strides 2,2, decoder 8,1, batch norm on/);
    const b1 = await train([...CONV, "--epochs", "1", "--out", `${dir}/resumed`]);
    assert.equal(b1.code, 0, b1.err);
    const b2 = await train(["--resume", `${dir}/resumed`, "--epochs", "2"]);
    assert.equal(b2.code, 0, b2.err);
    const wa = parseSafetensors(await Deno.readFile(`${dir}/straight/model.safetensors`));
    const wb = parseSafetensors(await Deno.readFile(`${dir}/resumed/model.safetensors`));
    assert.deepEqual(wa.tensors.get("encoder.bn.0.running_var")?.shape, [4]);
    assert.ok(!wa.tensors.has("encoder.conv.0.bias"), "a conv before batch norm has no bias");
    for (const [name, t] of wa.tensors) {
      assert.deepEqual([...wb.tensors.get(name)!.data], [...t.data], `${name} after resume`);
    }
    // Running statistics moved away from their initial 0 and 1.
    assert.ok([...wa.tensors.get("decoder.bn.0.running_mean")!.data].some((v) => v !== 0));
    const ra = records(`${dir}/straight/metrics.jsonl`);
    assert.deepEqual(records(`${dir}/resumed/metrics.jsonl`), ra);
    const diag = ra[1].diagnostics;
    assert.equal(diag.klPerDim.length, 3);
    assert.ok(diag.activeUnits >= 0 && diag.activeUnits <= 3);
    assert.ok(diag.sigma.min > 0 && diag.sigma.min <= diag.sigma.mean);
    assert.ok(diag.mu.min <= diag.mu.mean && diag.mu.mean <= diag.mu.max);
    const files = [...Deno.readDirSync(`${dir}/straight`)].map((f) => f.name);
    for (const f of ["report.html", "traversals.png", "mu_sigma.svg", "kl_per_dim.svg"]) {
      assert.ok(files.includes(f), `the report wrote ${f}`);
    }
  },
});

Deno.test({
  name:
    "train --model conv: lr 0.3 without batch norm or clamp hits the NaN guard; with them trains",
  ...opts,
  fn: async () => {
    const fast = [...CONV, "--lr", "0.3", "--epochs", "3"];
    const raw = await train([
      ...fast,
      "--batchnorm",
      "off",
      "--logvar-clamp",
      "off",
      "--out",
      `${dir}/raw`,
    ]);
    assert.equal(raw.code, 1);
    assert.match(raw.err, /error: the loss became NaN or Inf in epoch 1, step \d+ of 8; stopped/);
    const safe = await train([...fast, "--out", `${dir}/safe`]);
    assert.equal(safe.code, 0, safe.err);
    const r = records(`${dir}/safe/metrics.jsonl`);
    assert.equal(r.length, 3);
    for (const e of r) assert.ok(Number.isFinite(e.test.elbo), `epoch ${e.epoch} finite`);
    assert.ok(r[2].train.total < r[0].train.total, "it learns");
  },
});

Deno.test({
  name: "train: --kl-schedule linear records the ramp; --ae trains with KL weight 0",
  ...opts,
  fn: async () => {
    // 4 steps per epoch; the weight rises from 0 at step 2 to 1 at step 8.
    const lin = await train([
      ...MLP,
      "--epochs",
      "3",
      "--kl-schedule",
      "linear:2:6",
      "--out",
      `${dir}/linear`,
    ]);
    assert.equal(lin.code, 0, lin.err);
    const r = records(`${dir}/linear/metrics.jsonl`);
    // Epoch e ends with step 4e - 1 (0-based): weights 1/6, 5/6, 1; means over its 4 steps.
    assert.deepEqual(r.map((e) => +e.beta.toFixed(6)), [
      +(1 / 6).toFixed(6),
      +(5 / 6).toFixed(6),
      1,
    ]);
    assert.deepEqual(r.map((e) => +e.betaMean.toFixed(6)), [
      +(1 / 24).toFixed(6),
      +(14 / 24).toFixed(6),
      1,
    ]);
    const t = r[0].test;
    assert.ok(
      Math.abs(t.total - (t.recon + t.kl / 6)) < 1e-3 * t.total,
      "test total uses the weight",
    );
    assert.match(Deno.readTextFileSync(`${dir}/linear/report.html`), /KL weight/);

    const ae = await train([...MLP, "--epochs", "1", "--ae", "--out", `${dir}/ae`]);
    assert.equal(ae.code, 0, ae.err);
    const a = records(`${dir}/ae/metrics.jsonl`)[0];
    assert.equal(a.beta, 0);
    assert.ok(Math.abs(a.train.total - a.train.recon) < 1e-9, "an autoencoder minimises recon");
    assert.ok(a.test.kl > 0, "the KL is still measured");
  },
});

Deno.test({
  name: "sample: a PNG grid of n prior samples; bad input is one line",
  ...opts,
  fn: async () => {
    const t = await train([...CONV, "--epochs", "1", "--out", `${dir}/s`]);
    assert.equal(t.code, 0, t.err);
    const s = await cli("src/cli/sample.ts", [`${dir}/s`, "--n", "10", "--out", `${dir}/g.png`]);
    assert.equal(s.code, 0, s.err);
    // 10 samples, 4 columns (ceil sqrt 10) and 3 rows of 28 + 1 pixels of border each.
    assertPng("samples", await Deno.readFile(`${dir}/g.png`), { width: 117, height: 88 });
    const bad = await cli("src/cli/sample.ts", [`${dir}/nope`]);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /error: .*nope: no readable model.safetensors/);
  },
});
