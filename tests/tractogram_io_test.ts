/**
 * Tractogram round trips against independent writers and readers:
 *
 * - in: tests/fixtures/tractograms/ holds a .trk and a .tck written by nibabel, a Float64BE
 *   .tck and TRX files (zipped, deflated, a folder) written by scripts/make_tractogram_fixtures.py
 *   from the format descriptions (not by trx-python, which is not installable here); each
 *   loads with the points nibabel (or the script) says, within 1e-5 mm, and the .trk with
 *   nibabel's affine;
 * - out: .trk, .tck and .trx files this project writes are read by dipy's load_tractogram
 *   (bounding-box check on; the .tck against the .trk as reference) and, for .trx, by a numpy
 *   reader of the TRX spec (scripts/read_tractograms.py, run with a python3 that has dipy),
 *   with the same points and affine;
 * - lengths: arcLength equals dipy's length() of the same streamlines.
 */

import assert from "node:assert/strict";
import {
  arcLength,
  meanPointDistance,
  readStreamlineBundles,
  resample,
  reversed,
} from "../src/data/streamlines.ts";
import { parseTck } from "../src/data/tck.ts";
import { rasToVoxel, type TractogramSpace } from "../src/data/tractogram.ts";
import { loadStreamlineDataset, streamlinesInMm } from "../src/data/streamline_dataset.ts";
import { encodeTractogram, tractogramFormat, writeTractogram } from "../src/data/tractogram_io.ts";
import { parseTrk, trkSpace } from "../src/data/trk.ts";
import { parseTrx } from "../src/data/trx.ts";
import { mulberry32 } from "../src/io/random.ts";

const DIR = new URL("./fixtures/tractograms/", import.meta.url).pathname;
const expected = JSON.parse(await Deno.readTextFile(`${DIR}expected.json`));

function maxDiff(got: ArrayLike<number>[], want: number[][]): number {
  assert.equal(got.length, want.length, "streamline count");
  let worst = 0;
  got.forEach((g, k) => {
    assert.equal(g.length, want[k].length, `streamline ${k} length`);
    for (let i = 0; i < g.length; i++) worst = Math.max(worst, Math.abs(g[i] - want[k][i]));
  });
  return worst;
}

Deno.test("tractogram fixtures: nibabel's .trk and .tck, hand-made Float64BE .tck load within 1e-5 mm", async () => {
  const trk = parseTrk(await Deno.readFile(`${DIR}fixture.trk`), "fixture.trk");
  const d1 = maxDiff(trk.streamlines, expected["fixture.trk"]);
  const a = trk.header.voxelToRas;
  const da = Math.max(...a.map((v, i) => Math.abs(v - expected["fixture.trk.affine"][i])));
  console.log(`fixture.trk: max point difference ${d1.toExponential(2)} mm, affine ${da}`);
  assert.ok(d1 <= 1e-5 && da <= 1e-5);
  const space = trkSpace(trk.header);
  assert.deepEqual(space.dimensions, expected.space.dimensions);
  assert.equal(space.voxelOrder, "LAS");

  const tck = parseTck(await Deno.readFile(`${DIR}fixture.tck`), "fixture.tck");
  const d2 = maxDiff(tck.streamlines, expected["fixture.tck"]);
  const big = parseTck(await Deno.readFile(`${DIR}big64.tck`), "big64.tck");
  const d3 = maxDiff(big.streamlines, expected["big64.tck"]);
  console.log(`fixture.tck ${d2.toExponential(2)} mm, big64.tck ${d3.toExponential(2)} mm`);
  assert.ok(d2 <= 1e-5 && d3 <= 1e-5);
  assert.equal(big.header.datatype, "Float64BE");
  assert.equal(big.header.fields.method, "by hand");
});

Deno.test("tractogram fixtures: TRX float16/32/64, uint32/64 offsets, sentinel or not, zip and folder", async () => {
  for (const name of ["f32_u64.trx", "f16_u32_nosentinel.trx", "f64_u32.trx"]) {
    const t = parseTrx(await Deno.readFile(`${DIR}${name}`), name);
    const d = maxDiff(t.streamlines, expected[name]);
    const da = Math.max(
      ...t.space.voxelToRas.map((v, i) => Math.abs(v - expected.space.voxelToRas[i])),
    );
    console.log(
      `${name}: ${t.header.positions}/${t.header.offsets}, sentinel ${t.header.sentinel}, max difference ${
        d.toExponential(2)
      } mm`,
    );
    assert.ok(d <= 1e-5 && da <= 1e-9, `${name}: ${d} ${da}`);
    assert.deepEqual(t.space.dimensions, expected.space.dimensions);
    t.space.voxelSize.forEach((v, i) =>
      assert.ok(Math.abs(v - expected.space.voxelSize[i]) < 1e-9)
    );
  }
  const rich = parseTrx(await Deno.readFile(`${DIR}f32_u64.trx`), "f32_u64.trx");
  assert.deepEqual(rich.header.dpv, ["dpv/color.3.uint8", "dpv/fa.float16"]);
  assert.deepEqual(rich.header.dps, ["dps/algo.uint8", "dps/weights.2.float64"]);
  assert.deepEqual(rich.header.dpg, ["dpg/CC/mean_fa.float32"]);
  assert.deepEqual(rich.header.ignored, ["dps/algo.json"]);
  assert.deepEqual(
    Object.fromEntries(Object.entries(rich.groups).map(([k, v]) => [k, Array.from(v)])),
    expected["f32_u64.trx.groups"],
  );
  // As bundles: one per (disjoint) group, the rest "ungrouped".
  const bundles = await readStreamlineBundles(`${DIR}f32_u64.trx`);
  assert.deepEqual(bundles.map((b) => [b.name, b.streamlines.length]), [["AF_L", 3], ["CC", 2], [
    "ungrouped",
    2,
  ]]);
  assert.deepEqual(bundles[1].streamlines[1], rich.streamlines[6]);
  // A TRX folder.
  const folder = await readStreamlineBundles(`${DIR}folder.trx`);
  assert.equal(folder.length, 1);
  assert.ok(maxDiff(folder[0].streamlines, expected["folder.trx"]) <= 1e-5);
  // The fixtures folder itself: every file, by path.
  const all = await readStreamlineBundles(DIR);
  assert.deepEqual(all.map((b) => b.name), [
    "big64",
    "f16_u32_nosentinel",
    "f32_u64/AF_L",
    "f32_u64/CC",
    "f32_u64",
    "f64_u32",
    "fixture",
    "fixture (2)",
    "folder",
  ]);
  assert.equal(all[0].space, null);
  assert.deepEqual(all[7].space?.dimensions, expected.space.dimensions);
});

/** A python3 that has dipy (Debian's python3-dipy), or an error saying how to get one. */
async function python(): Promise<string> {
  for (const exe of ["/usr/bin/python3", "python3"]) {
    try {
      const r = await new Deno.Command(exe, {
        args: ["-c", "import dipy, nibabel"],
        stdout: "null",
        stderr: "null",
      }).output();
      if (r.success) return exe;
    } catch {
      // not installed at this path
    }
  }
  throw new Error(
    "no python3 with dipy and nibabel: install Debian's python3-dipy (.ci/run does); " +
      "these round trips need an independent reader and do not skip",
  );
}

async function readWithDipy(paths: string[]): Promise<Record<string, Record<string, unknown>>> {
  const script = new URL("../scripts/read_tractograms.py", import.meta.url).pathname;
  const r = await new Deno.Command(await python(), { args: [script, ...paths] }).output();
  const err = new TextDecoder().decode(r.stderr);
  assert.ok(r.success, `read_tractograms.py failed: ${err}`);
  return JSON.parse(new TextDecoder().decode(r.stdout));
}

/** Random-walk streamlines of odd point counts around `centre`, in RAS+ mm. */
function walks(seed: number, counts: number[], centre: number[]): Float32Array[] {
  const next = mulberry32(seed);
  return counts.map((n) => {
    const s = new Float32Array(3 * n);
    const p = centre.map((c) => c + (next() - 0.5) * 20);
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < 3; c++) {
        p[c] += (next() - 0.5) * 3;
        s[3 * i + c] = p[c];
      }
    }
    return s;
  });
}

Deno.test("tractogram writers: .trk, .tck and .trx load in dipy with the same points and affine", async () => {
  const space: TractogramSpace = {
    voxelToRas: expected.space.voxelToRas,
    voxelSize: expected.space.voxelSize,
    dimensions: expected.space.dimensions,
    voxelOrder: "LAS",
  };
  // Points near the grid's centre: in RAS+ mm, the centre is affine * (dims - 1) / 2.
  const a = space.voxelToRas, h = space.dimensions.map((d) => (d - 1) / 2);
  const centre = [0, 1, 2].map((i) =>
    a[4 * i] * h[0] + a[4 * i + 1] * h[1] + a[4 * i + 2] * h[2] + a[4 * i + 3]
  );
  const lines = walks(7, [13, 2, 31, 5, 57], centre);
  const dir = await Deno.makeTempDir({ prefix: "tractograms_" });
  try {
    const paths = ["out.trk", "out.tck", "out.trx"].map((n) => `${dir}/${n}`);
    for (const p of paths) await writeTractogram(p, lines, space, { generator: "webgpu-vae test" });
    const got = await readWithDipy(paths);
    for (const p of paths) {
      const g = got[p];
      const d = maxDiff(g.streamlines as number[][], lines.map((s) => Array.from(s)));
      const affine = g.affine as number[];
      console.log(
        `${tractogramFormat(p)} read by dipy/numpy: max point difference ${d.toExponential(2)} mm`,
      );
      // .trk stores voxmm in float32: a float32 rounding of coordinates near 100 mm.
      assert.ok(d <= 2e-5, `${p}: ${d}`);
      if (p.endsWith(".trk")) {
        // What our reader reads from the same bytes agrees with dipy to 1e-5 mm.
        const ours = parseTrk(await Deno.readFile(p), p).streamlines;
        // Both round float32 voxmm through the affine to float32 RAS (coordinates up to
        // ~110 mm, where a float32 step is 7.6e-6 mm): they may differ by two steps.
        const dd = maxDiff(ours, g.streamlines as number[][]);
        const mine = maxDiff(ours, lines.map((s) => Array.from(s)));
        console.log(
          `  same .trk: our reader vs dipy ${dd.toExponential(2)} mm; ours vs the points ` +
            `written ${mine.toExponential(2)} mm`,
        );
        assert.ok(dd <= 2e-5 && mine <= d);
        assert.deepEqual(g.voxelOrder, "LAS");
        assert.deepEqual(g.dimensions, space.dimensions);
      }
      if (p.endsWith(".tck")) continue; // its space is the reference .trk's
      affine.forEach((v, i) => assert.ok(Math.abs(v - a[i]) < 1e-5, `${p} affine ${i}: ${v}`));
    }
    // The .trk's lengths as dipy measures them are arcLength's.
    const lengths = got[paths[0]].lengths as number[];
    const ours = parseTrk(await Deno.readFile(paths[0])).streamlines.map(arcLength);
    const dl = Math.max(...ours.map((l, k) => Math.abs(l - lengths[k])));
    console.log(
      `lengths ${lengths.map((l) => l.toFixed(2)).join(" ")} mm; max difference ${
        dl.toExponential(2)
      }`,
    );
    assert.ok(dl <= 1e-4);
    // A .tck source (no space) written as .trk gets a covering grid that dipy accepts.
    const bytes = encodeTractogram("trk", lines, null);
    await Deno.writeFile(`${dir}/covering.trk`, bytes);
    const cov = await readWithDipy([`${dir}/covering.trk`]);
    assert.ok(
      maxDiff(
        cov[`${dir}/covering.trk`].streamlines as number[][],
        lines.map((s) => Array.from(s)),
      ) <= 2e-5,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tractogram writers: a path without .trk/.tck/.trx is refused with one line", async () => {
  await assert.rejects(
    () => writeTractogram("/tmp/x.vtk", [Float32Array.of(0, 0, 0)], null),
    /must end in \.trk, \.tck or \.trx/,
  );
  assert.equal(tractogramFormat("a/B.TRX"), "trx");
  assert.equal(tractogramFormat("a/b.zip"), null);
});

Deno.test("streamline datasets: streamlines:FILE takes .trk, .tck, .trx and folders; the space is kept", async () => {
  const trk = await loadStreamlineDataset(`streamlines:${DIR}fixture.trk`, 32);
  const tck = await loadStreamlineDataset(`streamlines:${DIR}fixture.tck`, 32);
  const trx = await loadStreamlineDataset(`streamlines:${DIR}f32_u64.trx`, 32);
  const folder = await loadStreamlineDataset(`streamlines:${DIR}`, 32);
  // 7 streamlines, 1 of them a single point (skipped): 6 examples.
  for (const d of [trk, tck, trx]) assert.equal(d.train.count + d.test.count, 6);
  assert.deepEqual(
    trk.streamlines!.space,
    trkSpace(parseTrk(await Deno.readFile(`${DIR}fixture.trk`)).header),
  );
  assert.deepEqual(trx.streamlines!.space!.dimensions, expected.space.dimensions);
  assert.deepEqual(trx.streamlines!.bundles, ["AF_L", "CC", "ungrouped"]);
  assert.equal(folder.streamlines!.bundles.length, 9);
  // A .tck records no space: a 1 mm grid holding every point, as dipy's box check wants.
  const s = tck.streamlines!.space!;
  assert.deepEqual(s.voxelSize, [1, 1, 1]);
  for (const line of parseTck(await Deno.readFile(`${DIR}fixture.tck`)).streamlines) {
    const v = rasToVoxel(s, line);
    v.forEach((x, i) => assert.ok(x >= 0 && x <= s.dimensions[i % 3] - 1, `voxel ${x}`));
  }
  await assert.rejects(
    () => loadStreamlineDataset(`streamlines:${DIR}nothing-here.tck`),
    /nothing-here\.tck: file not found/,
  );
});

Deno.test("streamline datasets: streamlinesInMm maps rows back to mm; written in the space, they load as the input", async () => {
  const data = await loadStreamlineDataset(`streamlines:${DIR}fixture.trk`, 64);
  const lines = streamlinesInMm(data.test.images as Float32Array, data);
  assert.equal(lines.length, data.test.count);
  // Each held-out row is a fixture streamline resampled to 64 points (either way round).
  const originals = parseTrk(await Deno.readFile(`${DIR}fixture.trk`)).streamlines
    .filter((s) => s.length >= 6).map((s) => resample(s, 64));
  for (const s of lines) {
    const d = Math.min(
      ...originals.flatMap((o) => [meanPointDistance(s, o), meanPointDistance(reversed(s), o)]),
    );
    assert.ok(d < 1e-4, `${d} mm from every resampled fixture streamline`);
  }
  const dir = await Deno.makeTempDir({ prefix: "mm_" });
  try {
    await writeTractogram(`${dir}/out.trx`, lines, data.streamlines!.space!);
    const back = parseTrx(await Deno.readFile(`${dir}/out.trx`));
    assert.deepEqual(back.streamlines, lines);
    assert.deepEqual(
      back.space.voxelToRas,
      data.streamlines!.space!.voxelToRas.map((v) => Math.fround(v) === v ? v : v),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  assert.throws(() => streamlinesInMm(new Float32Array(5), data), /are not rows of 192/);
});
