import { activationBackward, activationForward } from "../src/nn/activation.ts";
import * as ref from "../src/reference/activation.ts";
import { assertClose, assertGradient, dot, f32, gpuTest, out, Rng, run } from "./_helpers.ts";

const SIZES = [1, 13, 130, 785, 3 * 785];

Deno.test("activation reference backwards match finite differences", () => {
  const rng = new Rng(1);
  const x = rng.awayFromZero(37);
  const w = rng.uniform(37);
  for (const alpha of [0, 0.2]) {
    const g = ref.leakyReluBackward(w, x, alpha);
    assertGradient(`leaky_relu(${alpha})`, (v) => dot(w, ref.leakyReluForward(v, alpha)), x, g);
  }
  const y = ref.sigmoidForward(x);
  assertGradient("sigmoid", (v) => dot(w, ref.sigmoidForward(v)), x, ref.sigmoidBackward(w, y));
});

for (const kind of ["relu", "leaky_relu", "sigmoid"] as const) {
  gpuTest(`activation ${kind} forward and backward match the reference`, async (gpu) => {
    const rng = new Rng(kind.length);
    const alpha = kind === "relu" ? 0 : 0.2;
    for (const n of SIZES) {
      const x = rng.uniform(n, -6, 6);
      const dy = rng.uniform(n);
      const xT = f32(gpu, [n], x), dyT = f32(gpu, [n], dy);
      const yT = out(gpu, [n]), dxT = out(gpu, [n]);
      const fwd = await activationForward(gpu, kind, { y: yT, x: xT }, alpha);
      const bwd = await activationBackward(gpu, kind, { dx: dxT, dy: dyT, x: xT, y: yT }, alpha);
      const [y, dx] = await run(gpu, [fwd, bwd], yT, dxT);
      const yRef = kind === "sigmoid" ? ref.sigmoidForward(x) : ref.leakyReluForward(x, alpha);
      // Backward from the GPU's own y (what training does), rounded as the GPU sees it.
      const dxRef = kind === "sigmoid"
        ? ref.sigmoidBackward(dy, y)
        : ref.leakyReluBackward(dy, x, alpha);
      assertClose(`${kind} forward n=${n}`, y, yRef, 1e-6);
      assertClose(`${kind} backward n=${n}`, dx, dxRef, 1e-6);
      for (const t of [xT, dyT, yT, dxT]) t.destroy();
    }
  });
}
