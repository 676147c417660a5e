/**
 * Colour end to end through the CLI: one epoch of a tiny conv VAE on `shapes-rgb` (16x16 RGB),
 * then its report (every picture an RGB PNG; the originals shown are the dataset's pixels;
 * the factor-vs-latent table and the traversals labelled by factor), and `deno task sample`'s
 * RGB grid. Also the `--preset faces64` settings and their precedence.
 */
import assert from "node:assert/strict";
import { loadDataset } from "../src/data/datasets.ts";
import { helpText, parseTrainArgs, PRESETS } from "../src/train/config.ts";
import { gpu } from "./_helpers.ts";
import { assertPng, decodePng } from "./_images.ts";

const dir = await Deno.makeTempDir({ prefix: "webgpu-vae-colour-" });
const DATASET = "shapes-rgb:240:3:16x16"; // 216 train, 24 test
const TINY = [
  ...["--dataset", DATASET, "--model", "conv", "--z", "4", "--batch", "32"],
  ...["--filters", "4,8", "--kernels", "3,3", "--strides", "2,2"],
  ...["--decoder-filters", "8,3", "--decoder-kernels", "3,3", "--decoder-strides", "2,2"],
];

async function cli(script: string, args: string[]) {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-env", `--allow-write=${dir}`, script, ...args],
    env: { NO_COLOR: "1", WEBGPU_VAE_CACHE: `${dir}/cache` },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

/** Pixels of a grid cell (col, row) of 16x16 RGB images with a 1-pixel border. */
function cell(png: { width: number; pixels: Uint8Array }, col: number, row: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < 16; r++) {
    for (let c = 0; c < 16; c++) {
      const at = ((1 + row * 17 + r) * png.width + 1 + col * 17 + c) * 3;
      out.push(png.pixels[at], png.pixels[at + 1], png.pixels[at + 2]);
    }
  }
  return out;
}

Deno.test({
  name: "colour: a shapes-rgb conv run's report and samples are RGB, with the factor table",
  sanitizeResources: false,
  sanitizeOps: false,
  ignore: gpu === null,
  fn: async () => {
    const run = `${dir}/rgb`;
    const t = await cli("src/cli/train.ts", [...TINY, "--epochs", "1", "--out", run]);
    assert.equal(t.code, 0, t.err);
    const files = [...Deno.readDirSync(run)].map((e) => e.name);
    for (const f of ["reconstructions.png", "samples.png", "interpolation.png", "traversals.png"]) {
      assert.ok(files.includes(f), `${f} written`);
      assert.equal(decodePng(await Deno.readFile(`${run}/${f}`)).channels, 3, `${f} is RGB`);
    }
    // The top row of reconstructions.png is the first 8 test images, byte for byte.
    const rec = assertPng("reconstructions", await Deno.readFile(`${run}/reconstructions.png`), {
      width: 8 * 17 + 1,
      height: 2 * 17 + 1,
    });
    const data = await loadDataset(DATASET, {});
    assert.equal(data.features, 16 * 16 * 3);
    const test = data.test.images as Uint8Array;
    let coloured = 0;
    for (let i = 0; i < 8; i++) {
      const shown = cell(rec, i, 0);
      assert.deepEqual(shown, [...test.subarray(i * 768, (i + 1) * 768)], `test image ${i}`);
      for (let p = 0; p < 768; p += 3) if (shown[p] !== shown[p + 1]) coloured++;
    }
    assert.ok(coloured > 100, `only ${coloured} pixels with R != G in the originals`);
    const smp = assertPng("samples", await Deno.readFile(`${run}/samples.png`), {
      width: 8 * 17 + 1,
      height: 4 * 17 + 1,
    });
    assert.equal(smp.channels, 3);
    // The factor table: every factor of shapes-rgb, one column per latent dimension.
    const md = await Deno.readTextFile(`${run}/factors.md`);
    const lines = md.trim().split("\n");
    assert.equal(lines[0], "| factor | z0 | z1 | z2 | z3 |");
    const names = ["shape", "scale", "rotation", "x", "y", "red", "green", "blue"];
    assert.deepEqual(lines.slice(2, 2 + names.length).map((l) => l.split(" ")[1]), names);
    for (const l of lines.slice(2, 2 + names.length)) {
      const v = l.split("|").slice(2, 6).map((c) => Number(c.replace(/\*/g, "")));
      assert.ok(v.every((x) => Number.isFinite(x) && Math.abs(x) <= 1), l);
    }
    assert.match(lines.at(-1)!, /^\| follows \| /);
    const html = await Deno.readTextFile(`${run}/report.html`);
    assert.match(html, /Latent dimensions and the known factors/);
    // Traversals: one labelled row per dimension shown, each label naming a factor or none.
    const trav = decodePng(await Deno.readFile(`${run}/traversals.png`));
    const rows = (trav.height - 1) / 17;
    const labels = [...html.matchAll(/>(z\d+: [a-z]+(?: \(-?\d\.\d\d\))?)</g)].map((m) => m[1]);
    assert.equal(labels.length, rows, `labels ${labels.join(", ")} for ${rows} rows`);
    assert.ok(labels.every((l) => names.includes(l.split(" ")[1]) || / none$/.test(l)), labels[0]);
    console.log(`  traversal rows: ${labels.join("; ")}`);
    // deno task sample: an RGB grid of 10 (4 columns, 3 rows).
    const s = await cli("src/cli/sample.ts", [run, "--n", "10", "--out", `${dir}/g.png`]);
    assert.equal(s.code, 0, s.err);
    const g = assertPng("sample grid", await Deno.readFile(`${dir}/g.png`), {
      width: 4 * 17 + 1,
      height: 3 * 17 + 1,
    });
    assert.equal(g.channels, 3);
  },
});

Deno.test("colour: --preset faces64 fills what flags and the config file leave unset", async () => {
  const a = await parseTrainArgs(["--preset", "faces64", "--dataset", "shapes-rgb"]);
  assert.equal(a.config.model, "conv");
  assert.deepEqual(a.config.filters, [32, 64, 64, 64]);
  assert.deepEqual(a.config.strides, [2, 2, 2, 2]);
  assert.deepEqual(a.config["decoder-filters"], [64, 64, 32, 3]);
  assert.deepEqual(a.config["decoder-strides"], [2, 2, 2, 2]);
  assert.equal(a.config.z, 200);
  assert.equal(a.config.batchnorm, "on");
  const b = await parseTrainArgs(["--preset", "faces64", "--z", "32"]);
  assert.equal(b.config.z, 32, "a flag wins over the preset");
  assert.deepEqual(b.config.filters, PRESETS.faces64.filters);
  assert.match(helpText(), /--preset NAME +settings not given otherwise: faces64 \(faces64:/);
  assert.match(helpText(), /--gpu-data-mb +GPU memory for each data split, MiB.*\(default: 0\)/);
  await assert.rejects(
    () => parseTrainArgs(["--preset", "faces"]),
    /^ConfigError: --preset: 'faces' is not a preset \(use faces64\)$/,
  );
});
