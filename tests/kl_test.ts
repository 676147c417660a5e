import { readback, write } from "../src/gpu/buffer.ts";
import { submit } from "../src/gpu/kernel.ts";
import { klBackward, klForward, type KlShape } from "../src/nn/kl.ts";
import * as ref from "../src/reference/kl.ts";
import { assertClose, assertGradient, f32, gpuTest, out, Rng, run } from "./_helpers.ts";

const BATCHES = [1, 3, 7];
const ZS = [1, 2, 13, 20];
// Exactly representable in f32, so the GPU and the reference clamp at the same point.
const LO = -6, HI = 2.5;

/** mulogvar [B, 2Z]: mu in [-2, 2]; logvar over [LO - 3, HI + 3] plus edge cases. */
function mulogvar(rng: Rng, batch: number, z: number): Float64Array {
  const mu = rng.uniform(batch * z, -2, 2);
  const lv = rng.uniform(batch * z, LO - 3, HI + 3);
  const special = [1e4, -1e4, LO, HI, HI + 0.5, LO - 0.5, 0, 1e-3];
  for (let k = 0; k < lv.length; k += 3) lv[k] = special[(k / 3) % special.length];
  const x = new Float64Array(2 * batch * z);
  for (let b = 0; b < batch; b++) {
    for (let j = 0; j < z; j++) {
      x[b * 2 * z + j] = mu[b * z + j];
      x[b * 2 * z + z + j] = lv[b * z + j];
    }
  }
  return x;
}

Deno.test("kl reference backward matches finite differences", () => {
  const rng = new Rng(5);
  const batch = 3, z = 6, scale = 0.37;
  const x = rng.uniform(2 * batch * z, -2, 2);
  // logvar inside and beyond the clamp, never within 0.01 of a bound.
  const lv = rng.uniform(batch * z, LO - 2, HI + 2);
  for (let b = 0; b < batch; b++) {
    for (let j = 0; j < z; j++) {
      let v = lv[b * z + j];
      if (Math.abs(v - LO) < 0.01 || Math.abs(v - HI) < 0.01) v += 0.02;
      x[b * 2 * z + z + j] = v;
    }
  }
  const grad = ref.klBackward(x, batch, z, LO, HI, scale);
  assertGradient(
    "kl",
    (v) => scale * ref.klForward(v, batch, z, LO, HI).reduce((a, b) => a + b, 0),
    x,
    grad,
  );
  // The closed form against its textbook expression.
  const kl = ref.klForward(x, batch, z, LO, HI);
  for (let b = 0; b < batch; b++) {
    let s = 0;
    for (let j = 0; j < z; j++) {
      const mu = x[b * 2 * z + j];
      const lv = Math.min(Math.max(x[b * 2 * z + z + j], LO), HI);
      s += 1 + lv - mu * mu - Math.exp(lv);
    }
    if (Math.abs(kl[b] - -0.5 * s) > 1e-12 * Math.abs(kl[b])) {
      throw new Error(`kl[${b}] = ${kl[b]}, textbook ${-0.5 * s}`);
    }
  }
});

gpuTest("kl forward and accumulating backward match the reference", async (gpu) => {
  const rng = new Rng(77);
  let zeroChecked = 0;
  for (const batch of BATCHES) {
    for (const z of ZS) {
      const n = batch * z;
      const s: KlShape = { batch, z, logvarMin: LO, logvarMax: HI };
      const scale = 1.5 / batch;
      const x = mulogvar(rng, batch, z);
      const prefill = rng.uniform(2 * n);
      const xT = f32(gpu, [batch, 2 * z], x), dxT = f32(gpu, [batch, 2 * z], prefill);
      const klT = out(gpu, [batch]);
      const fwd = await klForward(gpu, { kl: klT, mulogvar: xT }, s);
      const bwd = await klBackward(gpu, { dmulogvar: dxT, mulogvar: xT }, { ...s, scale });
      const [kl, dx] = await run(gpu, [fwd, bwd], klT, dxT);
      const tag = `B=${batch} Z=${z}`;
      assertClose(`kl ${tag}`, kl, ref.klForward(x, batch, z, LO, HI), 1e-5);
      const g = ref.klBackward(x, batch, z, LO, HI, scale);
      assertClose(`dmulogvar ${tag}`, dx, prefill.map((p, i) => p + g[i]), 1e-5);
      for (let b = 0; b < batch; b++) {
        for (let j = 0; j < z; j++) {
          const l = b * 2 * z + z + j;
          if (x[l] < LO || x[l] > HI) {
            if (dx[l] !== prefill[l]) {
              throw new Error(
                `${tag}: dlogvar[${b}, ${j}] moved from ${prefill[l]} to ${dx[l]} ` +
                  `at logvar ${x[l]}, outside the clamp; expected +0`,
              );
            }
            zeroChecked++;
          }
        }
      }

      // A new scale through dispatch.update (as the trainer does for beta annealing).
      write(gpu.device, dxT, prefill);
      bwd.update("dims", { scale: 2 * scale });
      submit(gpu.device, [bwd]);
      const dx2 = Float64Array.from(await readback(gpu.device, dxT));
      assertClose(`dmulogvar ${tag} scale x2`, dx2, prefill.map((p, i) => p + 2 * g[i]), 1e-5);
      for (const t of [xT, dxT, klT]) t.destroy();
    }
  }
  if (zeroChecked < 20) throw new Error(`only ${zeroChecked} clamped elements were checked`);
  console.log(`  dlogvar gradient exactly 0 at all ${zeroChecked} clamped elements`);
});

gpuTest("kl keeps relative accuracy near zero (mu ~ 0, logvar ~ 0)", async (gpu) => {
  // A freshly initialised or collapsed latent has KL ~ 0; 1 + lv - exp(lv) computed directly
  // in f32 would cancel to noise there.
  const rng = new Rng(3);
  const batch = 7, z = 20, n = batch * z;
  const x = rng.uniform(2 * n, -3e-3, 3e-3);
  const xT = f32(gpu, [batch, 2 * z], x), dxT = f32(gpu, [batch, 2 * z], new Float64Array(2 * n));
  const klT = out(gpu, [batch]);
  const s = { batch, z, logvarMin: LO, logvarMax: HI };
  const fwd = await klForward(gpu, { kl: klT, mulogvar: xT }, s);
  const bwd = await klBackward(gpu, { dmulogvar: dxT, mulogvar: xT }, { ...s, scale: 1 });
  const [kl, dx] = await run(gpu, [fwd, bwd], klT, dxT);
  assertClose("kl near 0", kl, ref.klForward(x, batch, z, LO, HI), 1e-5);
  // Compare each element to its own size (no rms floor): dlogvar ~ lv / 2 must be accurate
  // relative to itself.
  const g = ref.klBackward(x, batch, z, LO, HI, 1);
  let worst = 0;
  for (let i = 0; i < 2 * n; i++) {
    worst = Math.max(worst, Math.abs(dx[i] - g[i]) / Math.abs(g[i]));
  }
  console.log(`  dmulogvar near 0: max elementwise rel error ${worst.toExponential(2)}`);
  if (!(worst < 1e-5)) throw new Error(`dmulogvar near 0: rel error ${worst} > 1e-5`);
  for (const t of [xT, dxT, klT]) t.destroy();
});
