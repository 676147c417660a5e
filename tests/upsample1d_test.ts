import {
  upsample1dBackward,
  upsample1dForward,
  type Upsample1dShape,
} from "../src/nn/upsample1d.ts";
import * as ref from "../src/reference/upsample1d.ts";
import { assertClose, assertGradient, dot, f32, gpuTest, out, Rng, run } from "./_helpers.ts";

// Odd sizes, a one-sample row (both outputs copy it) and the streamline decoder's shapes.
const SHAPES: Upsample1dShape[] = [
  { rows: 1, width: 1, channels: 1 },
  { rows: 3, width: 13, channels: 5 },
  { rows: 7, width: 2, channels: 3 },
  { rows: 5, width: 64, channels: 32 },
  { rows: 2, width: 129, channels: 3 },
];

Deno.test("upsample1d reference: weights 3/4 and 1/4, ends clamped, a constant stays constant", () => {
  const s = { rows: 1, width: 3, channels: 1 };
  const y = ref.upsample1dForward(new Float64Array([1, 2, 4]), s);
  assertClose("upsample1d of [1, 2, 4]", y, [1, 1.25, 1.75, 2.5, 3.5, 4], 1e-15);
  const k = ref.upsample1dForward(new Float64Array(2 * 7 * 3).fill(0.3), {
    ...s,
    rows: 2,
    width: 7,
    channels: 3,
  });
  assertClose("upsample1d of a constant", k, new Float64Array(2 * 14 * 3).fill(0.3), 1e-15);
});

Deno.test("upsample1d reference backward matches finite differences", () => {
  const rng = new Rng(3);
  for (const s of [SHAPES[1], SHAPES[2]]) {
    const n = s.rows * s.width * s.channels;
    const w = rng.uniform(2 * n), x = rng.uniform(n);
    const loss = (v: Float64Array) => dot(w, ref.upsample1dForward(v, s));
    assertGradient(
      `upsample1d ${s.rows}x${s.width}x${s.channels}`,
      loss,
      x,
      ref.upsample1dBackward(w, s),
    );
  }
});

gpuTest("upsample1d forward and backward match the reference", async (gpu) => {
  const rng = new Rng(17);
  for (const s of SHAPES) {
    const n = s.rows * s.width * s.channels;
    const x = rng.uniform(n), dy = rng.uniform(2 * n);
    const xT = f32(gpu, [n], x), dyT = f32(gpu, [2 * n], dy);
    const yT = out(gpu, [2 * n]), dxT = out(gpu, [n]);
    const fwd = await upsample1dForward(gpu, { y: yT, x: xT }, s);
    const bwd = await upsample1dBackward(gpu, { dx: dxT, dy: dyT }, s);
    const [y, dx] = await run(gpu, [fwd, bwd], yT, dxT);
    const name = `${s.rows}x${s.width}x${s.channels}`;
    // Two or four products of f32 values: a few ulps.
    assertClose(`upsample1d forward ${name}`, y, ref.upsample1dForward(x, s), 1e-6);
    assertClose(`upsample1d backward ${name}`, dx, ref.upsample1dBackward(dy, s), 1e-6);
    for (const t of [xT, dyT, yT, dxT]) t.destroy();
  }
});

gpuTest("upsample1d rejects a wrongly sized output with the binding's name", async (gpu) => {
  const s = SHAPES[1];
  const x = out(gpu, [s.rows * s.width * s.channels]),
    y = out(gpu, [s.rows * s.width * s.channels]);
  let msg = "";
  try {
    await upsample1dForward(gpu, { y, x }, s);
  } catch (e) {
    msg = (e as Error).message;
  }
  if (!/upsample_forward.*\by\b/.test(msg)) throw new Error(`unexpected error: ${msg}`);
  for (const t of [x, y]) t.destroy();
});
