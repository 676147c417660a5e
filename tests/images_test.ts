/**
 * `images:DIR` and `images:FILE.zip`: a folder of 300 generated PNGs and JPEGs (every PNG colour
 * type and bit depth, interlaced and not, colour keys, palettes; baseline and progressive JPEG,
 * grey, 4:4:4 and 4:2:0; odd sizes 5..40), plus a truncated PNG, a text file and an image
 * outside the class folders, made at test time by tests/_image_folder.py with PIL (Debian's
 * python3-pil), which is also the independent decoder the pixels are checked against (the
 * resized pixels against an exact area average computed there with numpy).
 */
import assert from "node:assert/strict";
import { zipSync } from "fflate";
import { DatasetError, loadDataset } from "../src/data/datasets.ts";
import { decodeImage, loadImageDataset, parseImagesSpec, splitHash } from "../src/data/images.ts";
import { decodePng } from "../src/data/png_decode.ts";
import { DEFAULTS } from "../src/train/config.ts";
import { Trainer } from "../src/train/trainer.ts";
import { gpu, gpuTest } from "./_helpers.ts";

const root = await Deno.makeTempDir({ prefix: "webgpu-vae-images-" });
// Loads through loadDataset use the default cache folder: keep it out of the repository's runs/.
Deno.env.set("WEBGPU_VAE_CACHE", `${root}/default-cache`);
const DIR = `${root}/in`, EXP = `${root}/exp`;
const SIZES = ["11x13", "8x8"];
{
  const script = new URL("./_image_folder.py", import.meta.url).pathname;
  const r = await new Deno.Command("/usr/bin/python3", {
    args: [script, DIR, EXP, SIZES.join(",")],
    stderr: "piped",
  }).output();
  if (r.code !== 0) {
    throw new Error(
      `tests/_image_folder.py failed (needs python3-pil, python3-numpy):\n` +
        new TextDecoder().decode(r.stderr),
    );
  }
}
type Kind = "png" | "jpeg-grey" | "jpeg-444" | "jpeg-420" | "jpeg-444-progressive";
const manifest: Record<string, { w: number; h: number; c: number; kind: Kind }> = JSON.parse(
  await Deno.readTextFile(`${EXP}/manifest.json`),
);
const expName = (rel: string) => `${EXP}/${rel.replaceAll("/", "__")}`;

/**
 * JPEG tolerances against PIL (libjpeg-turbo), per kind: [max abs, worst per-file mean abs],
 * in levels of 255. jpeg-js's float IDCT and rounding differ from libjpeg's integer IDCT by a
 * level or so (measured here: grey max 1, 4:4:4 baseline and progressive max 3, mean 0.6); on
 * 4:2:0 files its nearest-neighbour chroma upsampling against libjpeg's interpolating ("fancy")
 * one adds more where the colour changes fast (measured: max 34, worst file mean 7.0; these
 * pictures carry +-8 levels of noise in every channel, far busier chroma than a photo's).
 */
const JPEG_TOL: Record<Exclude<Kind, "png">, [number, number]> = {
  "jpeg-grey": [2, 0.3],
  "jpeg-444": [4, 1],
  "jpeg-444-progressive": [4, 1],
  "jpeg-420": [40, 8],
};

Deno.test("decodeImage: every file's samples match PIL's (PNG exactly, JPEG within tolerance)", async () => {
  const worst: Record<string, { max: number; sum: number; n: number; files: number }> = {};
  for (const [rel, m] of Object.entries(manifest)) {
    const img = decodeImage(await Deno.readFile(`${DIR}/${rel}`));
    assert.deepEqual([img.width, img.height, img.channels], [m.w, m.h, m.c], rel);
    const want = await Deno.readFile(`${expName(rel)}.decoded`);
    assert.equal(img.data.length, want.length, rel);
    let max = 0, sum = 0;
    for (let i = 0; i < want.length; i++) {
      const d = Math.abs(img.data[i] - want[i]);
      max = Math.max(max, d);
      sum += d;
    }
    const w = worst[m.kind] ??= { max: 0, sum: 0, n: 0, files: 0 };
    w.max = Math.max(w.max, max);
    w.sum += sum;
    w.n += want.length;
    w.files++;
    if (m.kind === "png") assert.equal(max, 0, `${rel}: PNG differs from PIL by ${max}`);
    else {
      const [tMax, tMean] = JPEG_TOL[m.kind];
      assert.ok(max <= tMax, `${rel} (${m.kind}): max diff ${max} > ${tMax}`);
      assert.ok(sum / want.length <= tMean, `${rel}: mean diff ${sum / want.length} > ${tMean}`);
    }
  }
  for (const [kind, w] of Object.entries(worst)) {
    console.log(
      `  ${kind}: ${w.files} files, max |diff| ${w.max}, mean |diff| ${(w.sum / w.n).toFixed(3)}`,
    );
  }
  assert.equal(Object.keys(worst).length, 5, "every kind of file was made");
});

Deno.test("decodePng: damaged files are one-line errors", async () => {
  const good = await Deno.readFile(`${DIR}/birds/img000.png`);
  const cases: [Uint8Array, RegExp][] = [
    [good.subarray(0, good.length >> 1), /truncated/],
    [good.subarray(0, 20), /truncated/],
    [Uint8Array.from(good, (b, i) => (i === 40 ? b ^ 1 : b)), /CRC mismatch/],
    [Uint8Array.from(good, (b, i) => (i === 0 ? 0 : b)), /not a PNG/],
  ];
  for (const [bytes, re] of cases) {
    assert.throws(
      () => decodePng(bytes),
      (e: Error) => re.test(e.message) && !/\n/.test(e.message),
    );
  }
  assert.throws(() => decodeImage(new TextEncoder().encode("hello")), /not a PNG or JPEG/);
  const jpg = await Deno.readFile(`${DIR}/birds/img015.jpg`);
  assert.throws(() => decodeImage(jpg.subarray(0, 200)), /JPEG/);
});

/**
 * Checks every image of `data` against the generator's exact area averaging (by replication,
 * see tests/_image_folder.py) of PIL's decode of the same file.
 */
async function checkResized(
  data: Awaited<ReturnType<typeof loadImageDataset>>,
  size: string,
  fit: string,
  channels: 1 | 3,
) {
  const [H, W] = size.split("x").map(Number);
  const per = H * W * channels;
  let pngMax = 0, jpegMax = 0, checked = 0;
  for (const split of ["train", "test"] as const) {
    const files = data.files![split];
    const images = data[split].images as Uint8Array;
    for (let n = 0; n < files.length; n++) {
      const kind = manifest[files[n]].kind;
      const ref = new Float64Array(
        (await Deno.readFile(`${expName(files[n])}.${size}.${fit}`)).buffer,
      );
      for (let p = 0; p < H * W; p++) {
        const want = channels === 3 ? [ref[3 * p], ref[3 * p + 1], ref[3 * p + 2]] : [
          0.299 * ref[3 * p] + 0.587 * ref[3 * p + 1] + 0.114 * ref[3 * p + 2],
        ];
        for (let c = 0; c < channels; c++) {
          const d = Math.abs(images[n * per + p * channels + c] - want[c]);
          if (kind === "png") pngMax = Math.max(pngMax, d);
          else jpegMax = Math.max(jpegMax, d);
        }
      }
      checked++;
    }
  }
  console.log(
    `  ${size} ${fit} ${channels}ch: ${checked} images; vs exact area averaging of PIL's decode (unrounded): ` +
      `PNG max |diff| ${pngMax.toFixed(3)}, JPEG ${jpegMax.toFixed(3)}`,
  );
  // PNG: rounding alone (the reference is exact area averaging, unrounded).
  assert.ok(pngMax <= 0.5 + 1e-9, `PNG resize differs from PIL's by ${pngMax}`);
  assert.ok(jpegMax <= JPEG_TOL["jpeg-420"][0], `JPEG resize differs from PIL's by ${jpegMax}`);
}

Deno.test("images: resized pixels, labels, split and the one warning", async () => {
  const warnings: string[] = [];
  const data = await loadImageDataset(`images:${DIR}:11x13:rgb`, {
    cacheDir: null,
    warn: (m) => warnings.push(m),
  });
  assert.equal(data.rows, 11);
  assert.equal(data.cols, 13);
  assert.equal(data.features, 11 * 13 * 3);
  assert.equal(data.train.count + data.test.count, 300);
  // about 10% held out, by path hash
  assert.ok(data.test.count >= 15 && data.test.count <= 45, `test split ${data.test.count}`);
  for (const f of data.files!.test) assert.equal(splitHash(f) % 10, 0);
  for (const f of data.files!.train) assert.notEqual(splitHash(f) % 10, 0);
  assert.deepEqual(data.classNames, ["birds", "cats", "dogs"]);
  assert.equal(data.classes, 3);
  data.files!.train.forEach((f, i) =>
    assert.equal(data.classNames![data.train.labels![i]], f.split("/")[0])
  );
  assert.equal(warnings.length, 1, "one warning");
  assert.match(warnings[0], /skipped 3 of 303 files/);
  assert.match(warnings[0], /dogs\/broken\.png \(truncated/);
  assert.match(warnings[0], /birds\/notes\.txt \(not a PNG or JPEG\)/);
  assert.match(warnings[0], /loose\.png \(not in a class folder\)/);
  assert.ok(!warnings[0].includes("\n"));
  console.log(`  warning: ${warnings[0].slice(0, 160)}...`);
  await checkResized(data, "11x13", "stretch", 3);

  const grey = await loadImageDataset(`images:${DIR}:8x8:crop:grey`, {
    cacheDir: null,
    warn: () => {},
  });
  assert.equal(grey.features, 64);
  await checkResized(grey, "8x8", "crop", 1);
  // The default colour: RGB, since some files are in colour.
  const auto = await loadImageDataset(`images:${DIR}:8x8`, { cacheDir: null, warn: () => {} });
  assert.equal(auto.features, 8 * 8 * 3);

  await assert.rejects(
    loadImageDataset(`images:${DIR}:8x8:strict`, { cacheDir: null }),
    (e: Error) => e instanceof DatasetError && /dogs\/broken\.png/.test(e.message),
  );
});

Deno.test("images: a grey-only folder is 1 channel and unlabelled; spec options and errors", async () => {
  const dir = await Deno.makeTempDir({ dir: root });
  for (const [rel, m] of Object.entries(manifest)) {
    if (m.kind === "jpeg-grey" || (m.kind === "png" && m.c === 1)) {
      await Deno.copyFile(`${DIR}/${rel}`, `${dir}/${rel.replace("/", "_")}`);
    }
  }
  // a symlink back up the tree is walked once, not forever
  await Deno.symlink(dir, `${dir}/loop`);
  const warnings: string[] = [];
  const data = await loadImageDataset(`images:${dir}:9x7`, {
    cacheDir: null,
    warn: (m) => warnings.push(m),
  });
  assert.equal(data.features, 9 * 7);
  assert.equal(data.classes, 0);
  assert.equal(data.train.labels, null);
  assert.deepEqual(warnings, []);
  // Through loadDataset, with the size from the options.
  const viaSpec = await loadDataset(`images:${dir}:3x3`, { imageSize: [9, 7] });
  assert.deepEqual(viaSpec.test.images, data.test.images);
  assert.deepEqual(parseImagesSpec("images:/a:b/c:4x5:crop:gray:strict"), {
    path: "/a:b/c",
    settings: { height: 4, width: 5, fit: "crop", colour: "grey", strict: true },
  });
  // the later of two sizes wins (--image-size appends one)
  assert.deepEqual(
    [
      parseImagesSpec("images:/d:16x16:grey:8x9").settings.height,
      parseImagesSpec("images:/d:16x16:grey:8x9").settings.width,
    ],
    [8, 9],
  );
  await assert.rejects(loadDataset(`images:${dir}:0x5`), /bad image size "0x5"/);
  await assert.rejects(loadDataset(`images:${root}/nowhere`), /no such folder or zip file/);
});

Deno.test("images: the cache is read back on a second load, and a changed file makes a new entry", async () => {
  const cacheDir = `${root}/cache`;
  const opts = { cacheDir, warn: () => {} };
  const spec = `images:${DIR}:6x5`;
  const first = await loadImageDataset(spec, opts);
  const entries = () => [...Deno.readDirSync(cacheDir)].map((e) => e.name).sort();
  assert.equal(entries().length, 2);
  const u8 = entries().find((n) => n.endsWith(".u8"))!;
  // Flip a byte of the cached bytes: a second load that shows it read the cache.
  const bytes = await Deno.readFile(`${cacheDir}/${u8}`);
  bytes[0] ^= 0xff;
  await Deno.writeFile(`${cacheDir}/${u8}`, bytes);
  const second = await loadImageDataset(spec, opts);
  assert.equal(second.train.images[0], first.train.images[0] ^ 0xff);
  assert.deepEqual(second.files, first.files);
  assert.deepEqual(second.train.labels, first.train.labels);
  // Touching a file changes the key: decoded afresh, a second entry.
  const t = new Date(Date.now() + 5000);
  await Deno.utime(`${DIR}/cats/img001.png`, t, t);
  const third = await loadImageDataset(spec, opts);
  assert.equal(third.train.images[0], first.train.images[0]);
  assert.equal(entries().length, 4);
  // A cache that cannot be written is a warning; the data still loads.
  const warnings: string[] = [];
  const uncached = await loadImageDataset(spec, {
    cacheDir: `${DIR}/loose.png/cache`,
    warn: (m) => warnings.push(m),
  });
  assert.deepEqual(uncached.train.images, third.train.images);
  assert.equal(warnings.length, 2);
  assert.match(warnings[0], /decoded images not cached/);
  assert.match(warnings[1], /skipped 3 of 303/);
});

Deno.test("images: a zip of the folder (wrapped in one top folder) gives the same dataset", async () => {
  const files: Record<string, Uint8Array> = {};
  async function add(dir: string, rel: string) {
    for await (const e of Deno.readDir(dir)) {
      if (e.isDirectory) await add(`${dir}/${e.name}`, `${rel}${e.name}/`);
      else files[`faces/${rel}${e.name}`] = await Deno.readFile(`${dir}/${e.name}`);
    }
  }
  await add(DIR, "");
  await Deno.writeFile(`${root}/faces.zip`, zipSync(files));
  const warnings: string[] = [];
  const zip = await loadImageDataset(`images:${root}/faces.zip:7x9`, {
    cacheDir: null,
    warn: (m) => warnings.push(m),
  });
  const dir = await loadImageDataset(`images:${DIR}:7x9`, { cacheDir: null, warn: () => {} });
  assert.deepEqual(zip.train.images, dir.train.images);
  assert.deepEqual(zip.test.images, dir.test.images);
  assert.deepEqual(zip.train.labels, dir.train.labels);
  assert.deepEqual(zip.classNames, dir.classNames);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /faces\/dogs\/broken\.png/);
});

Deno.test({
  name:
    "train CLI: a tiny model trains 1 epoch on the image folder; the warning names the bad file",
  ignore: gpu === null,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const out = `${root}/run`;
    const r = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-env",
        `--allow-write=${root}`,
        new URL("../src/cli/train.ts", import.meta.url).pathname,
        "--dataset",
        `images:${DIR}:grey`,
        "--image-size",
        "12x10",
        "--hidden",
        "16",
        "--z",
        "3",
        "--batch",
        "64",
        "--epochs",
        "1",
        "--out",
        out,
      ],
      env: { NO_COLOR: "1", WEBGPU_VAE_CACHE: `${root}/cli-cache` },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(r.stderr);
    assert.equal(r.code, 0, err);
    const warns = err.split("\n").filter((l) => l.startsWith("warning:"));
    assert.equal(warns.length, 1, err);
    assert.match(warns[0], /dogs\/broken\.png/);
    const lines = (await Deno.readTextFile(`${out}/metrics.jsonl`)).trim().split("\n");
    assert.equal(lines.length, 1);
    const rec = JSON.parse(lines[0]);
    console.log(`  1 epoch on 12x10 grey images: ${lines[0].slice(0, 200)}`);
    const cfg = JSON.parse(await Deno.readTextFile(`${out}/config.json`));
    assert.equal(cfg.dataset, `images:${DIR}:grey:12x10`);
    assert.ok([...Deno.readDirSync(`${root}/cli-cache`)].length === 2, "the CLI wrote the cache");
    assert.ok(JSON.stringify(rec).length > 0);
  },
});

gpuTest(
  "Trainer: 3 epochs of a tiny mlp on the folder in colour lower the test loss",
  async (g) => {
    const data = await loadImageDataset(`images:${DIR}:10x9:rgb`, {
      cacheDir: null,
      warn: () => {},
    });
    assert.equal(data.features, 10 * 9 * 3);
    const config = { ...DEFAULTS, hidden: [24], z: 3, batch: 64, epochs: 3, seed: 4 };
    const trainer = await Trainer.create(g, config, data);
    const before = await trainer.evaluate();
    const elbos: number[] = [];
    await trainer.train({ onEpoch: (r) => void elbos.push(r.test.elbo) });
    console.log(
      `  10x9x3, mlp 24, z 3: test -ELBO ${before.elbo.toFixed(1)} before, ` +
        `${elbos.map((e) => e.toFixed(1)).join(", ")} after each epoch`,
    );
    assert.equal(elbos.length, 3);
    assert.ok(elbos.every(Number.isFinite));
    assert.ok(elbos[2] < before.elbo, "training lowered the test loss");
  },
);
