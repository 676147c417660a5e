/**
 * Guards on streamline data: a Bernoulli loss on data outside [0, 1] is refused with its
 * range, and lengths are the full arc length as dipy measures them — checked against dipy's
 * `length()` on real DIPY bundle streamlines resampled to 256 points with decoder-like jitter,
 * where the 32-point coarse length falls short.
 */

import assert from "node:assert/strict";
import { checkReconRange, type Dataset, DatasetError, loadDataset } from "../src/data/datasets.ts";
import { DIPY_BUNDLES } from "../src/data/streamline_dataset.ts";
import {
  arcLength,
  coarseLength,
  readStreamlineBundles,
  resample,
} from "../src/data/streamlines.ts";
import { trkSpace } from "../src/data/trk.ts";
import { parseTrk } from "../src/data/trk.ts";
import { writeTractogram } from "../src/data/tractogram_io.ts";
import { mulberry32 } from "../src/io/random.ts";

Deno.test("guards: --recon bce on streamline coordinates is refused with their range; mse and bytes pass", async () => {
  const phantom = await loadDataset("phantom:40:3");
  assert.throws(() => checkReconRange(phantom, "bce"), (e: unknown) => {
    assert.ok(e instanceof DatasetError);
    assert.match(
      e.message,
      /^--recon bce \(a Bernoulli likelihood\) needs data in \[0, 1\], but phantom:40:3 holds values from -[0-9.]+ to [0-9.]+ \(normalized streamline coordinates\); use --recon mse/,
    );
    assert.ok(!e.message.includes("\n"));
    return true;
  });
  checkReconRange(phantom, "mse");
  // Byte images always fit; float data inside [0, 1] fits, one value outside does not.
  const split = (images: Uint8Array | Float32Array) => ({ images, labels: null, count: 2 });
  const make = (images: Uint8Array | Float32Array): Dataset => ({
    name: "t",
    rows: 1,
    cols: 3,
    features: 3,
    train: split(images),
    test: split(images.slice(0, 3)),
    classes: 0,
  });
  checkReconRange(make(Uint8Array.of(0, 255, 7, 1, 2, 3)), "bce");
  checkReconRange(make(Float32Array.of(0, 1, 0.5, 0.25, 0, 1)), "bce");
  assert.throws(
    () => checkReconRange(make(Float32Array.of(0, 1, 0.5, 0.25, 0, 1.01)), "bce"),
    /values from 0\.00 to 1\.01; use --recon mse/,
  );
});

Deno.test("lengths: arcLength of 256-point streamlines is dipy's length(); the coarse length is short", async () => {
  const bundles = await readStreamlineBundles(DIPY_BUNDLES);
  const next = mulberry32(11);
  // 40 real streamlines resampled to 256 points, with 0.4 mm of jitter per coordinate as a
  // decoder leaves it (clean ones too, where both lengths agree to a fraction of a percent).
  const clean = bundles.flatMap((b) => b.streamlines.slice(0, 5)).slice(0, 20).map((s) =>
    resample(s, 256)
  );
  const noisy = clean.map((s) => s.map((v) => v + (next() - 0.5) * 0.8));
  const lines = [...clean, ...noisy];
  const dir = await Deno.makeTempDir({ prefix: "lengths_" });
  try {
    const path = `${dir}/resampled.trk`;
    // The DIPY bundles' own header is a 1 x 1 x 1 identity grid that dipy's bounding-box
    // check refuses; the dataset's space is a grid that holds them.
    const data = await loadDataset("dipy-bundles");
    const space = data.streamlines!.space!;
    assert.deepEqual(bundles[0].space!.dimensions, [1, 1, 1]);
    assert.ok(space.dimensions.every((d) => d > 50), `covering grid ${space.dimensions}`);
    await writeTractogram(path, lines, space);
    const t = parseTrk(await Deno.readFile(path));
    assert.deepEqual(trkSpace(t.header), space);
    let exe = "";
    for (const candidate of ["/usr/bin/python3", "python3"]) {
      try {
        const ok = await new Deno.Command(candidate, {
          args: ["-c", "import dipy"],
          stderr: "null",
        }).output();
        if (ok.success) {
          exe = candidate;
          break;
        }
      } catch {
        // not at this path
      }
    }
    assert.ok(exe, "no python3 with dipy: install Debian's python3-dipy (this test does not skip)");
    const script = new URL("../scripts/read_tractograms.py", import.meta.url).pathname;
    const r = await new Deno.Command(exe, { args: [script, path] }).output();
    assert.ok(r.success, new TextDecoder().decode(r.stderr));
    const dipy = JSON.parse(new TextDecoder().decode(r.stdout))[path].lengths as number[];
    const ours = t.streamlines.map(arcLength);
    const worst = Math.max(...ours.map((l, k) => Math.abs(l - dipy[k]) / dipy[k]));
    const short = (set: Float32Array[], from: number) =>
      set.map((s, k) => 1 - coarseLength(s) / dipy[from + k]).reduce((a, b) => a + b) / set.length;
    console.log(
      `arcLength vs dipy length(): max relative difference ${
        worst.toExponential(2)
      }; the 32-point ` +
        `length is short by ${(100 * short(clean, 0)).toFixed(2)}% (clean), ` +
        `${(100 * short(noisy, clean.length)).toFixed(1)}% (with jitter)`,
    );
    assert.ok(worst < 1e-5, `arcLength differs from dipy by ${worst}`);
    assert.ok(short(noisy, clean.length) > 0.1, "jitter: the coarse length falls short");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
