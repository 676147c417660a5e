/**
 * `deno task train` as a user runs it: exact resume, Ctrl-C, the NaN guard, bad input.
 * Runs the CLI in a subprocess on a small IDX file cut from the embedded data, with a small
 * model, so each run takes seconds.
 */
import assert from "node:assert/strict";
import { loadDataset } from "../src/data/datasets.ts";
import { parseSafetensors } from "../src/io/safetensors.ts";
import { gpu } from "./_helpers.ts";
import { smallIdx } from "./_small_idx.ts";

const dir = await Deno.makeTempDir({ prefix: "webgpu-vae-train-" });
const data = await loadDataset("embedded", {});
const N = 250; // 225 train (4 steps of 64, the last one 33), 25 held out
await Deno.writeFile(`${dir}/small.idx`, smallIdx(data, N));
const SMALL = ["--dataset", `idx:${dir}/small.idx`, "--hidden", "24", "--z", "3", "--batch", "64"];

interface Result {
  code: number;
  out: string;
  err: string;
}

function train(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-env",
      `--allow-write=${dir}`,
      "src/cli/train.ts",
      ...args,
    ],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function run(args: string[]): Promise<Result> {
  const r = await train(args).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

function errorLines(r: Result): string[] {
  return r.err.split("\n").filter((l) => l.trim() && !/^(Download|Check|Task)/.test(l));
}

/** The tensors and step of a safetensors file (its config metadata names the run folder). */
async function weights(path: string) {
  const f = parseSafetensors(await Deno.readFile(path), path);
  const t = [...f.tensors].map(([name, v]) => [name, v.shape, [...v.data]]);
  return { step: f.metadata.step, epoch: f.metadata.epoch, t };
}

/** Everything of an epoch record but the timings. */
function records(text: string) {
  return text.trim().split("\n").map((l) => {
    const { seconds: _s, imagesPerSecond: _i, ...rest } = JSON.parse(l);
    return rest;
  });
}

const opts = { sanitizeResources: false, sanitizeOps: false, ignore: gpu === null };

Deno.test({
  name: "train: 2 epochs equal 1 epoch then --resume to 2, bit for bit",
  ...opts,
  fn: async () => {
    const a = await run([...SMALL, "--epochs", "2", "--out", `${dir}/straight`]);
    assert.equal(a.code, 0, a.err);
    const b1 = await run([...SMALL, "--epochs", "1", "--out", `${dir}/resumed`]);
    assert.equal(b1.code, 0, b1.err);
    const b2 = await run(["--resume", `${dir}/resumed`, "--epochs", "2"]);
    assert.equal(b2.code, 0, b2.err);
    for (const f of ["model.safetensors", "optimizer.safetensors"]) {
      assert.deepEqual(await weights(`${dir}/resumed/${f}`), await weights(`${dir}/straight/${f}`));
    }
    const ma = records(await Deno.readTextFile(`${dir}/straight/metrics.jsonl`));
    const mb = records(await Deno.readTextFile(`${dir}/resumed/metrics.jsonl`));
    assert.deepEqual(mb, ma);
    assert.equal(ma.length, 2);
    assert.ok(ma[1].test.total < ma[0].test.total, "test loss went down");
    // The report: a self-contained page with the images inlined (reconstructions, samples,
    // interpolation, traversals; no manifold at z = 3, no scatter without labels) and the plots
    // (loss, KL, KL weight, mu/sigma ranges, KL per dimension, active units).
    const html = await Deno.readTextFile(`${dir}/straight/report.html`);
    assert.equal(html.match(/src="data:image\/png;base64,[A-Za-z0-9+/=]+"/g)?.length, 4);
    assert.equal(html.match(/<svg /g)?.length, 6);
    assert.match(html, new RegExp(`test negative ELBO <b>${ma[1].test.elbo.toFixed(2)}</b>`));
    for (const f of ["reconstructions.png", "samples.png"]) {
      const png = await Deno.readFile(`${dir}/straight/${f}`);
      assert.deepEqual([...png.subarray(1, 4)], [80, 78, 71], `${f} is a PNG`);
    }
    const model = parseSafetensors(await Deno.readFile(`${dir}/straight/model.safetensors`));
    assert.deepEqual(model.tensors.get("encoder.0.weight")?.shape, [784, 24]);
    assert.equal(model.metadata.step, String(2 * 4));
  },
});

Deno.test({
  name: "train: Ctrl-C finishes the step, saves, exits 130; --resume then matches a straight run",
  ...opts,
  fn: async () => {
    // Enough epochs that the interrupt lands mid-run; read progress until the first line.
    const child = train([...SMALL, "--epochs", "50", "--out", `${dir}/interrupted`]);
    const reader = child.stdout.getReader();
    let seen = "";
    while (!/epoch 1\/50 step/.test(seen)) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += new TextDecoder().decode(value);
    }
    child.kill("SIGINT");
    while (!(await reader.read()).done) { /* drain */ }
    const status = await child.status;
    const err = new TextDecoder().decode(await new Response(child.stderr).arrayBuffer());
    assert.equal(status.code, 130, err);
    const state = parseSafetensors(await Deno.readFile(`${dir}/interrupted/optimizer.safetensors`));
    const step = Number(state.metadata.step);
    assert.ok(step > 0 && step < 200, `saved at step ${step}`);
    // Finish the first 3 epochs from there and compare with 3 epochs in one go.
    const r = await run(["--resume", `${dir}/interrupted`, "--epochs", "3"]);
    assert.equal(r.code, 0, r.err);
    const s = await run([...SMALL, "--epochs", "3", "--out", `${dir}/three`]);
    assert.equal(s.code, 0, s.err);
    for (const f of ["model.safetensors", "optimizer.safetensors"]) {
      assert.deepEqual(
        await weights(`${dir}/interrupted/${f}`),
        await weights(`${dir}/three/${f}`),
      );
    }
  },
});

Deno.test({
  name: "train: a NaN stops the run naming the epoch and steps, the last checkpoint untouched",
  ...opts,
  fn: async () => {
    const r1 = await run([...SMALL, "--epochs", "1", "--out", `${dir}/nan`]);
    assert.equal(r1.code, 0, r1.err);
    const before = await Deno.readFile(`${dir}/nan/model.safetensors`);
    const beforeState = await Deno.readFile(`${dir}/nan/optimizer.safetensors`);
    // A learning rate this large throws the weights to ~1e38 in the first step of epoch 2
    // (its own loss is still finite): step 2 is the first whose loss overflows.
    const r = await run(["--resume", `${dir}/nan`, "--epochs", "3", "--lr", "1e38"]);
    assert.equal(r.code, 1);
    const lines = errorLines(r);
    assert.equal(lines.length, 1, r.err);
    assert.match(
      lines[0],
      /^error: the loss became NaN or Inf in epoch 2, step 2 of 4; .*last good checkpoint \(epoch 1\) is kept/,
    );
    assert.deepEqual(await Deno.readFile(`${dir}/nan/model.safetensors`), before);
    assert.deepEqual(await Deno.readFile(`${dir}/nan/optimizer.safetensors`), beforeState);
  },
});

const BAD: [string[], RegExp][] = [
  [["--dataset", "cifar"], /^error: .*cifar/],
  [["--epochs", "0"], /^error: --epochs: '0' is not a positive integer/],
  [["--lr", "fast"], /^error: --lr: 'fast' is not a positive number/],
  [["--logvar-clamp", "3,-3"], /^error: --logvar-clamp: '3,-3' is not LO,HI with LO < HI/],
  [["--recon", "l1"], /^error: --recon: 'l1' is not bce or mse/],
  [["--recon-smooth=-1"], /^error: --recon-smooth: '-1' is not a non-negative number/],
  [["--recon-smooth", "2"], /^error: --recon-smooth is for --model streamlines with --recon mse/],
  [["--bogus", "1"], /^error: .*bogus.*see --help/],
  [["--config", "/nonexistent.json"], /^error: --config \/nonexistent.json: cannot read it/],
];

Deno.test({
  name: "train: bad input is a one-line error, exit 1, nothing written",
  ...opts,
  fn: async () => {
    for (const [args, pattern] of BAD) {
      const out = `${dir}/bad`;
      const r = await run([...args, "--out", out]);
      const lines = errorLines(r);
      assert.equal(r.code, 1, `${args.join(" ")}: exit ${r.code}`);
      assert.equal(lines.length, 1, `${args.join(" ")}: ${r.err}`);
      assert.match(lines[0], pattern);
      await assert.rejects(() => Deno.lstat(out), Deno.errors.NotFound);
    }
    await Deno.writeTextFile(`${dir}/cfg.json`, JSON.stringify({ epochs: 1, "learning-rate": 3 }));
    const c = await run(["--config", `${dir}/cfg.json`]);
    assert.match(errorLines(c)[0], /^error: --config .*cfg.json: unknown key 'learning-rate'/);
    // An existing run folder is not touched without --resume or --force.
    await Deno.mkdir(`${dir}/exists`);
    await Deno.writeTextFile(`${dir}/exists/keep.txt`, "mine");
    const e = await run([...SMALL, "--out", `${dir}/exists`]);
    assert.equal(e.code, 1);
    assert.match(errorLines(e)[0], /already exists \(not a run folder\): pass --force/);
    assert.deepEqual([...Deno.readDirSync(`${dir}/exists`)].map((f) => f.name), ["keep.txt"]);
    // A folder the command may not write to (the task allows runs/ only) is named, not a
    // permission trace.
    const outside = `${dir}-elsewhere/run`;
    const p = await run([...SMALL, "--out", outside]);
    assert.equal(p.code, 1);
    assert.deepEqual(errorLines(p), [
      `error: --out ${outside}: not allowed to write there (deno task train writes under runs/ only): pick a folder under runs/`,
    ]);
    await assert.rejects(() => Deno.lstat(outside), Deno.errors.NotFound);
  },
});

const help = await run(["--help"]);
Deno.test("train: --help lists every flag with its default", () => {
  assert.equal(help.code, 0);
  for (
    const flag of [
      "--dataset",
      "--epochs",
      "--batch",
      "--lr",
      "--beta",
      "--recon",
      "--recon-weight",
      "--logvar-clamp",
      "--seed",
      "--out",
      "--config",
      "--hidden",
      "--z",
      "--resume",
      "--force",
      "--break-lock",
      "--stop-on-divergence",
    ]
  ) {
    assert.ok(help.out.includes(flag), `--help lacks ${flag}`);
  }
  assert.match(help.out, /--lr\s+.*\(default: 0\.001\)/);
});
