/**
 * A run's model.safetensors describes its model (src/vae/spec.ts): `sample` and `export` work
 * on a folder holding only that file, with the dataset (and the original run folder) denied
 * to them by --deny-read, so they cannot have read it; `eval` takes the model from the file and
 * only the test split from the dataset. Runs written before specs fail with one line naming
 * `deno task convert`, which adds the spec; the converted run then samples exactly as one
 * written with a spec. Run as a user runs them: subprocesses.
 */

import assert from "node:assert/strict";
import { loadDataset } from "../src/data/datasets.ts";
import { DIPY_BUNDLES } from "../src/data/streamline_dataset.ts";
import { encodeIdx } from "../src/data/idx.ts";
import { encodeSafetensors, parseSafetensors } from "../src/io/safetensors.ts";
import { gpu } from "./_helpers.ts";
import { smallIdx } from "./_small_idx.ts";
import { assertPng, parseSvg } from "./_images.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const tmp = await Deno.makeTempDir({ prefix: "webgpu-vae-model-file-" });
const embedded = await loadDataset("embedded", {});
const N = 200;
await Deno.writeFile(`${tmp}/small.idx`, smallIdx(embedded, N));
await Deno.writeFile(
  `${tmp}/small-labels.idx`,
  encodeIdx({ type: "u8", dims: [N], data: embedded.train.labels!.subarray(0, N) }),
);
const DATA = `${tmp}/small.idx,${tmp}/small-labels.idx`;

interface Result {
  code: number;
  out: string;
  err: string;
}

/** `deno run FLAGS script ARGS` in the repo root. */
async function run(flags: string[], script: string, args: string[]): Promise<Result> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...flags, script, ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: r.code, out: text(r.stdout), err: text(r.stderr) };
}

/** Flags that let a task read anything but `denied`, and write only under tmp. */
const denying = (...denied: string[]) => [
  "--allow-read",
  `--deny-read=${denied.join(",")}`,
  "--allow-env",
  `--allow-write=${tmp}`,
];

/** Train one epoch into tmp/runs/NAME. */
async function train(name: string, args: string[]): Promise<string> {
  const dir = `${tmp}/runs/${name}`;
  const r = await run(["--allow-read", "--allow-env", `--allow-write=${tmp}`], "src/cli/train.ts", [
    ...args,
    ...["--epochs", "1", "--out", dir],
  ]);
  assert.equal(r.code, 0, r.err);
  return dir;
}

/** A folder holding only a copy of `dir`'s model.safetensors. */
async function onlyModel(dir: string, name: string): Promise<string> {
  const only = `${tmp}/${name}`;
  await Deno.mkdir(only);
  await Deno.copyFile(`${dir}/model.safetensors`, `${only}/model.safetensors`);
  return only;
}

/** The one line of a failed task's stderr. */
function oneLine(r: Result): string {
  assert.equal(r.code, 1, r.out);
  const lines = r.err.trim().split("\n");
  assert.equal(lines.length, 1, r.err);
  return lines[0];
}

const opts = { ignore: gpu === null, sanitizeResources: false, sanitizeOps: false };

Deno.test({
  name: "model file: sample, export and eval from model.safetensors alone, the dataset denied",
  ...opts,
  fn: async () => {
    const full = await train("images", [
      ...["--dataset", `idx:${DATA}`, "--hidden", "24", "--z", "2", "--batch", "32"],
      ...["--condition", "label", "--prior", "learned", "--prior-hidden", "6"],
    ]);
    // The spec travels in both checkpoint files and config.json, the same in all three.
    const spec = parseSafetensors(await Deno.readFile(`${full}/model.safetensors`)).metadata.spec;
    const opt = parseSafetensors(await Deno.readFile(`${full}/optimizer.safetensors`)).metadata;
    assert.equal(opt.spec, spec);
    const config = JSON.parse(await Deno.readTextFile(`${full}/config.json`));
    assert.deepEqual(config.spec, JSON.parse(spec));
    assert.deepEqual(config.spec.data, { kind: "image", height: 28, width: 28, channels: 1 });
    assert.equal(config.spec.condition.names.length, 10);

    const only = await onlyModel(full, "only-images");
    const deny = denying(`${tmp}/small.idx`, `${tmp}/small-labels.idx`, full);
    const s = await run(deny, "src/cli/sample.ts", [only, "--n", "6", "--class", "3"]);
    assert.equal(s.code, 0, s.err);
    console.log(`  ${s.out.trim()}`);
    const png = await Deno.readFile(`${only}/samples-6.png`);
    assertPng("samples", png, { width: 88, height: 59 });
    // The same samples as from the full run folder.
    const sFull = await run(
      ["--allow-read", "--allow-env", `--allow-write=${tmp}`],
      "src/cli/sample.ts",
      [
        full,
        ...["--n", "6", "--class", "3"],
      ],
    );
    assert.equal(sFull.code, 0, sFull.err);
    assert.deepEqual(png, await Deno.readFile(`${full}/samples-6.png`));

    const ex = await run(
      ["--unstable-bundle", ...deny],
      "src/cli/export.ts",
      [only, "--out", `${tmp}/site-only`],
    );
    assert.equal(ex.code, 0, ex.err);
    const exFull = await run(
      ["--unstable-bundle", "--allow-read", "--allow-env", `--allow-write=${tmp}`],
      "src/cli/export.ts",
      [full, "--out", `${tmp}/site-full`],
    );
    assert.equal(exFull.code, 0, exFull.err);
    const weights = (dir: string) =>
      parseSafetensors(Deno.readFileSync(`${dir}/decoder.safetensors`));
    const a = weights(`${tmp}/site-only`), b = weights(`${tmp}/site-full`);
    assert.deepEqual([...a.tensors], [...b.tensors]);
    assert.equal(a.metadata.spec, b.metadata.spec);

    // Eval: the dataset gives the test split; the model comes from the file.
    const readable = ["--allow-read", "--allow-env", `--allow-write=${tmp}`];
    const e = await run(readable, "src/cli/eval.ts", [only, "--k", "4", "--images", "10"]);
    assert.equal(e.code, 0, e.err);
    const eFull = await run(readable, "src/cli/eval.ts", [full, "--k", "4", "--images", "10"]);
    assert.equal(eFull.code, 0, eFull.err);
    const result = (dir: string) => {
      const { run: _, ...rest } = JSON.parse(Deno.readTextFileSync(`${dir}/eval.json`));
      return rest;
    };
    assert.deepEqual(result(only), result(full));
    console.log(`  eval from model.safetensors alone: ${e.out.split("\n")[4]}`);
    // Without the dataset, eval says which file it could not read.
    const eDenied = await run(deny, "src/cli/eval.ts", [only]);
    assert.match(oneLine(eDenied), /small\.idx/);
  },
});

Deno.test({
  name: "model file: a streamline run samples from model.safetensors alone, its .trk denied",
  ...opts,
  fn: async () => {
    const zip = `${tmp}/bundles.zip`;
    await Deno.copyFile(DIPY_BUNDLES, zip);
    const full = await train("streamlines", [
      ...["--model", "streamlines", "--dataset", `streamlines:${zip}`, "--batch", "32"],
      ...["--z", "3", "--filters", "4,8", "--kernels", "3,3", "--strides", "2,2"],
      ...["--decoder-filters", "4,3", "--decoder-kernels", "3,3", "--decoder-strides", "2,2"],
      ...["--condition", "length"],
    ]);
    const only = await onlyModel(full, "only-streamlines");
    const deny = denying(zip, full);
    const s = await run(deny, "src/cli/sample.ts", [only, "--n", "4", "--length", "60"]);
    assert.equal(s.code, 0, s.err);
    console.log(`  ${s.out.trim()}`);
    assert.match(s.out, /4 samples from the prior \(seed 0\), length 60\.0 mm, .*lengths [0-9.]+-/);
    parseSvg("samples-4.svg", await Deno.readTextFile(`${only}/samples-4.svg`));
    const ex = await run(["--unstable-bundle", ...deny], "src/cli/export.ts", [only]);
    assert.equal(ex.code, 0, ex.err);
    const d = parseSafetensors(await Deno.readFile(`${only}/web/decoder.safetensors`));
    const spec = JSON.parse(d.metadata.spec);
    assert.equal(spec.family, "streamlines");
    assert.equal(spec.data.points, 256);
    assert.equal(spec.condition.kind, "length");
    assert.ok(spec.condition.min < spec.condition.mean && spec.condition.mean < spec.condition.max);
  },
});

Deno.test({
  name:
    "model file: a run from before specs is one line naming deno task convert; converted, it samples the same",
  ...opts,
  fn: async () => {
    const full = await train("old", ["--dataset", `idx:${DATA}`, "--hidden", "16", "--z", "2"]);
    const rw = ["--allow-read", "--allow-env", `--allow-write=${tmp}`];
    const s0 = await run(rw, "src/cli/sample.ts", [full, "--n", "4"]);
    assert.equal(s0.code, 0, s0.err);
    const want = await Deno.readFile(`${full}/samples-4.png`);
    // Make it as an older version wrote it: no spec anywhere.
    for (const f of ["model", "optimizer"]) {
      const path = `${full}/${f}.safetensors`;
      const p = parseSafetensors(await Deno.readFile(path));
      const { spec: _, ...metadata } = p.metadata;
      const tensors = [...p.tensors].map(([name, t]) => ({ name, ...t }));
      await Deno.writeFile(path, encodeSafetensors(tensors, metadata));
    }
    const { spec: _, ...config } = JSON.parse(await Deno.readTextFile(`${full}/config.json`));
    await Deno.writeTextFile(`${full}/config.json`, JSON.stringify(config));
    await Deno.remove(`${full}/samples-4.png`);
    for (const script of ["src/cli/sample.ts", "src/cli/eval.ts"]) {
      const line = oneLine(await run(rw, script, [full]));
      console.log(`  ${script}: ${line}`);
      assert.match(
        line,
        new RegExp(`has no model spec .*convert it with: deno task convert ${full}$`),
      );
    }
    const c = await run(rw, "src/cli/convert.ts", [full]);
    assert.equal(c.code, 0, c.err);
    console.log(`  ${c.out.trim()}`);
    const twice = await run(rw, "src/cli/convert.ts", [full]);
    assert.match(twice.out, /already has a model spec; nothing to do/);
    const s1 = await run(rw, "src/cli/sample.ts", [full, "--n", "4"]);
    assert.equal(s1.code, 0, s1.err);
    assert.deepEqual(await Deno.readFile(`${full}/samples-4.png`), want);
    // Resume, and --config, read the converted config.json (its spec is not a setting).
    const r = await run(rw, "src/cli/train.ts", ["--resume", full, "--epochs", "2"]);
    assert.equal(r.code, 0, r.err);
    const again = `${tmp}/runs/again`;
    const cf = await run(rw, "src/cli/train.ts", [
      "--config",
      `${full}/config.json`,
      "--out",
      again,
    ]);
    assert.equal(cf.code, 0, cf.err);
    assert.equal(
      parseSafetensors(await Deno.readFile(`${again}/model.safetensors`)).metadata.spec,
      parseSafetensors(await Deno.readFile(`${full}/model.safetensors`)).metadata.spec,
    );
    // The converter needs config.json and the dataset: one line when they are not there.
    const only = await onlyModel(full, "only-old");
    const p = parseSafetensors(await Deno.readFile(`${only}/model.safetensors`));
    const { spec: _s, ...metadata } = p.metadata;
    await Deno.writeFile(
      `${only}/model.safetensors`,
      encodeSafetensors([...p.tensors].map(([name, t]) => ({ name, ...t })), metadata),
    );
    assert.match(oneLine(await run(rw, "src/cli/convert.ts", [only])), /no readable config\.json/);
  },
});

globalThis.addEventListener("unload", () => {
  try {
    Deno.removeSync(tmp, { recursive: true });
  } catch { /* already gone */ }
});
