import { concatBackward, concatForward, type ConcatShape } from "../src/nn/concat.ts";
import * as ref from "../src/reference/concat.ts";
import { assertClose, assertGradient, dot, f32, gpuTest, out, Rng, run } from "./_helpers.ts";

// Dense inputs (P = 1: 784 pixels + 10 one-hot) and NHWC maps (P = H W) with odd sizes.
const SHAPES: ConcatShape[] = [
  { batch: 1, positions: 1, features: 13, conditions: 1 },
  { batch: 3, positions: 1, features: 785, conditions: 10 },
  { batch: 7, positions: 5 * 3, features: 3, conditions: 2 },
  { batch: 2, positions: 257, features: 1, conditions: 1 },
];

Deno.test("concat reference backward matches finite differences", () => {
  const rng = new Rng(4);
  const s = SHAPES[2];
  const c = rng.uniform(s.batch * s.conditions);
  const w = rng.uniform(s.batch * s.positions * (s.features + s.conditions));
  const a = rng.uniform(s.batch * s.positions * s.features);
  const loss = (v: Float64Array) => dot(w, ref.concatForward(v, c, s));
  assertGradient("concat", loss, a, ref.concatBackward(w, s));
});

gpuTest("concat forward and backward match the reference", async (gpu) => {
  const rng = new Rng(11);
  for (const s of SHAPES) {
    const rows = s.batch * s.positions, W = s.features + s.conditions;
    const a = rng.uniform(rows * s.features), c = rng.uniform(s.batch * s.conditions);
    const dy = rng.uniform(rows * W);
    const aT = f32(gpu, [rows * s.features], a), cT = f32(gpu, [s.batch * s.conditions], c);
    const dyT = f32(gpu, [rows * W], dy);
    const yT = out(gpu, [rows * W]), daT = out(gpu, [rows * s.features]);
    const fwd = await concatForward(gpu, { y: yT, a: aT, c: cT }, s);
    const bwd = await concatBackward(gpu, { da: daT, dy: dyT }, s);
    const [y, da] = await run(gpu, [fwd, bwd], yT, daT);
    const name = `${s.batch}x${s.positions}x(${s.features}+${s.conditions})`;
    // A copy: exact.
    assertClose(`concat forward ${name}`, y, ref.concatForward(a, c, s), 0);
    assertClose(`concat backward ${name}`, da, ref.concatBackward(dy, s), 0);
    for (const t of [aT, cT, dyT, yT, daT]) t.destroy();
  }
});

gpuTest("concat rejects mismatched sizes with the binding's name", async (gpu) => {
  const s = SHAPES[1];
  const a = out(gpu, [3 * 785]), c = out(gpu, [3 * 9]), y = out(gpu, [3 * 795]);
  let msg = "";
  try {
    await concatForward(gpu, { y, a, c }, s);
  } catch (e) {
    msg = (e as Error).message;
  }
  if (!/concat_forward.*\bc\b/.test(msg)) throw new Error(`unexpected error: ${msg}`);
  for (const t of [a, c, y]) t.destroy();
});
