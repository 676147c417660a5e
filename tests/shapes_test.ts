/**
 * The procedural `shapes` dataset: deterministic from its seed (and a smaller N is a prefix of
 * a larger one), factors in their ranges, and rendered shapes checked against geometry worked
 * out independently: each image's total intensity against the analytic area (2 r^2,
 * pi r^2 / 2, 3 sqrt(3) r^2 / 4), its intensity centroid against the centre the factors
 * place it at, and an ellipse's principal axis (from second moments) against its rotation.
 */
import assert from "node:assert/strict";
import { DatasetError, loadDataset } from "../src/data/datasets.ts";
import { parseTrainArgs } from "../src/train/config.ts";
import { mulberry32 } from "../src/io/random.ts";
import {
  drawShapeFactors,
  hueColour,
  loadShapesDataset,
  parseShapesSpec,
  shapeArea,
  shapeGeometry,
} from "../src/data/shapes.ts";

Deno.test("shapes: the same spec gives the same bytes; another seed does not; N is a prefix", () => {
  const a = loadShapesDataset("shapes-rgb:300:7:21x33");
  const b = loadShapesDataset("shapes-rgb:300:7:21x33");
  assert.deepEqual(a.train.images, b.train.images);
  assert.deepEqual(a.test.images, b.test.images);
  assert.deepEqual(a.factors, b.factors);
  const c = loadShapesDataset("shapes-rgb:300:8:21x33");
  assert.notDeepEqual(a.train.images, c.train.images);
  const small = loadShapesDataset("shapes-rgb:100:7:21x33");
  const n = small.train.count;
  assert.deepEqual(small.train.images, a.train.images.subarray(0, n * a.features));
  assert.deepEqual(small.factors!.train, a.factors!.train.subarray(0, n * 8));
  assert.equal(a.train.count + a.test.count, 300);
  assert.equal(a.test.count, 30);
  assert.equal(a.features, 21 * 33 * 3);
  assert.deepEqual(a.classNames, ["square", "ellipse", "triangle"]);
});

Deno.test("shapes: factors lie in their documented ranges and are the labels", () => {
  for (const spec of ["shapes:2000:3:16x16", "shapes-rgb:2000:3:16x16"]) {
    const d = loadShapesDataset(spec);
    const f = d.factors!;
    const F = f.names.length;
    assert.deepEqual(
      f.names,
      spec.startsWith("shapes-rgb")
        ? ["shape", "scale", "rotation", "x", "y", "red", "green", "blue"]
        : ["shape", "scale", "rotation", "x", "y"],
    );
    assert.deepEqual(f.kinds.slice(0, 2), ["categorical", "continuous"]);
    const ranges: [number, number][] = [
      [0, 2],
      [0.5, 1],
      [0, 2 * Math.PI],
      [0, 1],
      [0, 1],
      [0, 1],
      [0, 1],
      [0, 1],
    ];
    const seen = new Set<number>();
    for (const [split, table] of [["train", f.train], ["test", f.test]] as const) {
      const labels = d[split].labels!;
      assert.equal(table.length, d[split].count * F);
      for (let i = 0; i < d[split].count; i++) {
        for (let k = 0; k < F; k++) {
          const v = table[i * F + k], [lo, hi] = ranges[k];
          assert.ok(v >= lo && v <= hi, `${spec} ${f.names[k]} = ${v}`);
        }
        assert.ok(Number.isInteger(table[i * F]));
        assert.equal(labels[i], table[i * F]);
        seen.add(table[i * F]);
      }
    }
    assert.deepEqual([...seen].sort(), [0, 1, 2]);
    // Uniform draws: each continuous factor's mean is near its range's middle.
    for (let k = 1; k < F; k++) {
      let s = 0;
      for (let i = 0; i < d.train.count; i++) s += f.train[i * F + k];
      const mid = (ranges[k][0] + ranges[k][1]) / 2, half = (ranges[k][1] - ranges[k][0]) / 2;
      assert.ok(Math.abs(s / d.train.count - mid) < 0.05 * half * 2, `${f.names[k]} mean`);
    }
  }
});

Deno.test("shapes: intensity matches the analytic area, centroid and ellipse axis", () => {
  for (const [spec, H, W] of [["shapes-rgb:400:11", 64, 64], ["shapes:400:12:37x45", 37, 45]]) {
    const d = loadShapesDataset(spec as string);
    const C = d.features / (H as number * (W as number));
    const F = d.factors!.names.length;
    const facts = drawShapeFactors(400, spec === "shapes:400:12:37x45" ? 12 : 11, C === 3);
    let worstArea = 0, worstCentre = 0, worstAxis = 0;
    for (let i = 0; i < d.train.count; i++) {
      const f = facts[i];
      assert.equal(d.factors!.train[i * F + 1], Math.fround(f.scale));
      const { cx, cy, r } = shapeGeometry(f, H as number, W as number);
      let m0 = 0, mx = 0, my = 0, mxx = 0, myy = 0, mxy = 0;
      for (let y = 0; y < (H as number); y++) {
        for (let x = 0; x < (W as number); x++) {
          const at = i * d.features + (y * (W as number) + x) * C;
          // coverage back from the brightest channel's byte and the colour it was scaled by
          const c = f.colour.indexOf(Math.max(...f.colour));
          const v = d.train.images[at + c] / (255 * f.colour[c]);
          m0 += v;
          mx += v * (x + 0.5);
          my += v * (y + 0.5);
          mxx += v * (x + 0.5) ** 2;
          myy += v * (y + 0.5) ** 2;
          mxy += v * (x + 0.5) * (y + 0.5);
        }
      }
      const area = shapeArea(f.shape, r);
      const rel = Math.abs(m0 - area) / area;
      worstArea = Math.max(worstArea, rel);
      const ex = mx / m0, ey = my / m0;
      worstCentre = Math.max(worstCentre, Math.hypot(ex - cx, ey - cy) / r);
      if (f.shape === 1) {
        // principal axis of the second central moments; image y is down, rotation is CCW
        const sxx = mxx / m0 - ex * ex, syy = myy / m0 - ey * ey, sxy = mxy / m0 - ex * ey;
        const axis = 0.5 * Math.atan2(-2 * sxy, sxx - syy);
        let diff = Math.abs(axis - f.rotation) % Math.PI;
        diff = Math.min(diff, Math.PI - diff);
        worstAxis = Math.max(worstAxis, diff);
      }
    }
    console.log(
      `  ${spec}: worst |area - analytic| / analytic ${worstArea.toFixed(4)}, centroid off by ` +
        `${worstCentre.toFixed(4)} r, ellipse axis off by ${worstAxis.toFixed(4)} rad`,
    );
    // 4 x 4 samples per pixel and u8 rounding; the smallest shapes (r ~ 3.7 px) err most.
    assert.ok(worstArea < 0.06, `area off by ${worstArea}`);
    assert.ok(worstCentre < 0.05, `centroid off by ${worstCentre} r`);
    assert.ok(worstAxis < 0.1, `ellipse axis off by ${worstAxis} rad`);
  }
});

Deno.test("shapes: specs through loadDataset, and bad ones as one-line errors", async () => {
  assert.deepEqual(parseShapesSpec("shapes"), {
    count: 10000,
    seed: 1,
    height: 64,
    width: 64,
    channels: 1,
  });
  assert.deepEqual(parseShapesSpec("shapes-rgb:50:9:20x24"), {
    count: 50,
    seed: 9,
    height: 20,
    width: 24,
    channels: 3,
  });
  const d = await loadDataset("shapes:50:9", { imageSize: [20, 24] });
  assert.equal(d.rows, 20);
  assert.equal(d.cols, 24);
  assert.equal(d.features, 480);
  for (
    const bad of ["shapes:1", "shapes:ten", "shapes:5:1:2", "shapes:5:1:4x4", "shapes:5:1:9xq"]
  ) {
    assert.throws(() => parseShapesSpec(bad), DatasetError, bad);
  }
  await assert.rejects(loadDataset("shapes:5:1:7x7"), /outside 8\.\.4096/);
});

Deno.test("--image-size is folded into an images: or shapes spec; the last size wins", async () => {
  const a = await parseTrainArgs(["--dataset", "shapes-rgb:50:9:16x16", "--image-size", "20x24"]);
  assert.equal(a.config.dataset, "shapes-rgb:50:9:16x16:20x24");
  assert.deepEqual(parseShapesSpec(a.config.dataset), {
    count: 50,
    seed: 9,
    height: 20,
    width: 24,
    channels: 3,
  });
  await assert.rejects(parseTrainArgs(["--image-size", "8x8"]), /for images: and shapes/);
  await assert.rejects(parseTrainArgs(["--dataset", "shapes", "--image-size", "8"]), /not HxW/);
});

Deno.test("shapes: hueColour is HSV at full saturation and value, by the sector formula", () => {
  // The textbook form (Smith 1978): sector i = floor(6h), fraction f = 6h - i, then
  // (1, f, 0), (1 - f, 1, 0), (0, 1, f), (0, 1 - f, 1), (f, 0, 1), (1, 0, 1 - f).
  const sector = (h: number): number[] => {
    const i = Math.floor(6 * h), f = 6 * h - i;
    return [[1, f, 0], [1 - f, 1, 0], [0, 1, f], [0, 1 - f, 1], [f, 0, 1], [1, 0, 1 - f]][i];
  };
  const next = mulberry32(77);
  const hues = [0, 1 / 6, 1 / 3, 0.5, 2 / 3, 5 / 6, 0.999999];
  for (let i = 0; i < 500; i++) hues.push(next());
  for (const h of hues) {
    const got = hueColour(h), want = sector(h);
    for (let c = 0; c < 3; c++) assert.ok(Math.abs(got[c] - want[c]) < 1e-12, `h ${h}: ${got}`);
  }
  // Every shapes-rgb colour has one channel at 1 and one at 0.
  const d = loadShapesDataset("shapes-rgb:300:5:12x12");
  const F = d.factors!.names.length;
  for (let i = 0; i < d.train.count; i++) {
    const rgb = Array.from(d.factors!.train.subarray(i * F + 5, i * F + 8));
    assert.equal(Math.max(...rgb), 1);
    assert.equal(Math.min(...rgb), 0);
  }
});
