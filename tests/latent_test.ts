import { readback, type Tensor, upload, write, zeros } from "../src/gpu/buffer.ts";
import type { Gpu } from "../src/gpu/device.ts";
import { submit } from "../src/gpu/kernel.ts";
import { klBackward, klForward } from "../src/nn/kl.ts";
import {
  latentBackward,
  latentBackwardKl,
  latentForward,
  latentForwardKl,
  type LatentShape,
} from "../src/nn/latent.ts";
import * as klRef from "../src/reference/kl.ts";
import * as ref from "../src/reference/latent.ts";
import { assertClose, assertGradient, dot, f32, gpuTest, out, Rng, run } from "./_helpers.ts";

const BATCHES = [1, 3, 7];
const ZS = [1, 2, 13, 20];
// Exactly representable in f32, so the GPU and the reference clamp at the same point.
const LO = -6, HI = 2.5;

/** mulogvar [B, 2Z]: mu in [-2, 2]; logvar spread over [LO - 3, HI + 3] plus edge cases. */
function mulogvar(rng: Rng, batch: number, z: number): Float64Array {
  const mu = rng.uniform(batch * z, -2, 2);
  const lv = rng.uniform(batch * z, LO - 3, HI + 3);
  // Huge values (the NaN lesson: exp(1e4) is Inf), exact bounds (inside: gradient flows),
  // and values just beyond them.
  const special = [1e4, -1e4, LO, HI, HI + 0.5, LO - 0.5];
  for (let k = 0; k < lv.length; k += 4) lv[k] = special[(k / 4) % special.length];
  const x = new Float64Array(2 * batch * z);
  for (let b = 0; b < batch; b++) {
    for (let j = 0; j < z; j++) {
      x[b * 2 * z + j] = mu[b * z + j];
      x[b * 2 * z + z + j] = lv[b * z + j];
    }
  }
  return x;
}

function counterTensor(gpu: Gpu, step: number): Tensor {
  return upload(gpu.device, "u32", [1], [step], "counter");
}

Deno.test("latent reference backward matches finite differences", () => {
  const rng = new Rng(11);
  const batch = 3, z = 5;
  const x = rng.uniform(2 * batch * z, -2, 2);
  // logvar inside and beyond the clamp, never within 0.01 of a bound (finite differences
  // there would straddle the kink); beyond it the claimed gradient is 0 and so is the FD.
  const lv = rng.uniform(batch * z, LO - 2, HI + 2);
  for (let b = 0; b < batch; b++) {
    for (let j = 0; j < z; j++) {
      let v = lv[b * z + j];
      if (Math.abs(v - LO) < 0.01 || Math.abs(v - HI) < 0.01) v += 0.02;
      x[b * 2 * z + z + j] = v;
    }
  }
  const eps = ref.normals(5, 0, 1, batch * z);
  const w = rng.uniform(batch * z);
  const grad = ref.latentBackward(w, eps, x, batch, z, LO, HI);
  assertGradient(
    "latent",
    (v) => dot(w, ref.latentForward(v, eps, batch, z, LO, HI)),
    x,
    grad,
  );
});

gpuTest("latent forward and backward match the reference", async (gpu) => {
  const rng = new Rng(2024);
  const seed = 0x9e3779b9, stream = 3, step = 12345;
  let zeroChecked = 0;
  for (const batch of BATCHES) {
    for (const z of ZS) {
      const n = batch * z;
      const s: LatentShape = { batch, z, logvarMin: LO, logvarMax: HI, seed, stream };
      const x = mulogvar(rng, batch, z);
      const dz = rng.uniform(n);
      const xT = f32(gpu, [batch, 2 * z], x), dzT = f32(gpu, [batch, z], dz);
      const cT = counterTensor(gpu, step);
      const zT = out(gpu, [batch, z]), epsT = out(gpu, [batch, z]);
      const dxT = out(gpu, [batch, 2 * z]);
      const fwd = await latentForward(gpu, { z: zT, eps: epsT, mulogvar: xT, counter: cT }, s);
      const bwd = await latentBackward(
        gpu,
        { dmulogvar: dxT, dz: dzT, eps: epsT, mulogvar: xT },
        s,
      );
      const [zz, eps, dx] = await run(gpu, [fwd, bwd], zT, epsT, dxT);
      const epsRef = ref.normals(seed, stream, step, n);
      const tag = `B=${batch} Z=${z}`;
      assertClose(`eps ${tag}`, eps, epsRef, 1e-5);
      assertClose(`z ${tag}`, zz, ref.latentForward(x, epsRef, batch, z, LO, HI), 1e-5);
      assertClose(
        `dmulogvar ${tag}`,
        dx,
        ref.latentBackward(dz, epsRef, x, batch, z, LO, HI),
        1e-5,
      );
      for (let b = 0; b < batch; b++) {
        for (let j = 0; j < z; j++) {
          const lv = x[b * 2 * z + z + j];
          if (lv < LO || lv > HI) {
            if (!Object.is(dx[b * 2 * z + z + j], 0)) {
              throw new Error(
                `${tag}: dlogvar[${b}, ${j}] = ${dx[b * 2 * z + z + j]} at ` +
                  `logvar ${lv}, outside the clamp; expected exactly 0`,
              );
            }
            zeroChecked++;
          }
          // The clamped value, not exp(0.5 * 1e4) = Inf, scales eps.
          const want = x[b * 2 * z + j] + Math.exp(0.5 * Math.min(Math.max(lv, LO), HI)) *
              eps[b * z + j];
          if (!(Math.abs(zz[b * z + j] - want) <= 1e-5 * Math.max(1, Math.abs(want)))) {
            throw new Error(
              `${tag}: z[${b}, ${j}] = ${zz[b * z + j]} at logvar ${lv}, want ${want}`,
            );
          }
        }
      }
      for (const t of [xT, dzT, cT, zT, epsT, dxT]) t.destroy();
    }
  }
  if (zeroChecked < 20) throw new Error(`only ${zeroChecked} clamped elements were checked`);
  console.log(`  dlogvar exactly 0 at all ${zeroChecked} clamped elements`);
});

gpuTest(
  "latent noise is reproducible from (seed, stream, step) and changes with each",
  async (gpu) => {
    const batch = 7, z = 13, n = batch * z;
    const xT = zeros(gpu.device, [batch, 2 * z]);
    const cT = counterTensor(gpu, 41);
    const draw = async (seed: number, stream: number): Promise<Float32Array> => {
      const zT = out(gpu, [batch, z]), epsT = out(gpu, [batch, z]);
      const s = { batch, z, logvarMin: LO, logvarMax: HI, seed, stream };
      const d = await latentForward(gpu, { z: zT, eps: epsT, mulogvar: xT, counter: cT }, s);
      submit(gpu.device, [d]);
      const eps = await readback(gpu.device, epsT);
      zT.destroy();
      epsT.destroy();
      return eps;
    };
    const same = (a: Float32Array, b: Float32Array) => a.filter((v, i) => v === b[i]).length;
    const a = await draw(7, 0);
    const again = await draw(7, 0);
    if (same(a, again) !== n) throw new Error("same seed and step gave different eps");
    const others: [string, Float32Array][] = [
      ["seed 8", await draw(8, 0)],
      ["seed 7 + 2^31", await draw(7 + 2 ** 31, 0)],
      ["stream 1", await draw(7, 1)],
    ];
    write(gpu.device, cT, [42]);
    others.push(["step 42", await draw(7, 0)]);
    for (const [what, b] of others) {
      const k = same(a, b);
      console.log(`  ${what}: ${k} of ${n} eps equal to seed 7, stream 0, step 41`);
      if (k > 1) throw new Error(`${what} repeats ${k} of ${n} values of the original draw`);
    }
    xT.destroy();
    cT.destroy();
  },
);

/** Pearson correlation of a[i] and b[i + lag] over the overlapping range. */
function correlation(a: ArrayLike<number>, b: ArrayLike<number>, lag: number): number {
  const m = a.length - lag;
  let sa = 0, sb = 0;
  for (let i = 0; i < m; i++) {
    sa += a[i];
    sb += b[i + lag];
  }
  const ma = sa / m, mb = sb / m;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < m; i++) {
    const u = a[i] - ma, v = b[i + lag] - mb;
    sab += u * v;
    saa += u * u;
    sbb += v * v;
  }
  return sab / Math.sqrt(saa * sbb);
}

gpuTest("latent noise: 10^6 draws are standard normal and uncorrelated", async (gpu) => {
  const batch = 50_000, z = 20, n = batch * z;
  const seed = 123456789, stream = 0, step = 1000;
  const s = { batch, z, logvarMin: LO, logvarMax: HI, seed, stream };
  const xT = zeros(gpu.device, [batch, 2 * z]);
  const cT = counterTensor(gpu, step);
  const zT = out(gpu, [batch, z]), epsT = out(gpu, [batch, z]);
  const fwd = await latentForward(gpu, { z: zT, eps: epsT, mulogvar: xT, counter: cT }, s);
  const [eps] = await run(gpu, [fwd], epsT);
  write(gpu.device, cT, [step + 1]);
  const [next] = await run(gpu, [fwd], epsT);

  // The full million against the float64 generator: every integer must match for this to hold.
  assertClose(`eps n=${n} step ${step}`, eps, ref.normals(seed, stream, step, n), 1e-5);
  assertClose(`eps n=${n} step ${step + 1}`, next, ref.normals(seed, stream, step + 1, n), 1e-5);

  let m1 = 0, m2 = 0, m4 = 0;
  for (let i = 0; i < n; i++) m1 += eps[i];
  m1 /= n;
  for (let i = 0; i < n; i++) {
    const d = eps[i] - m1;
    m2 += d * d;
    m4 += eps[i] ** 4;
  }
  m2 /= n - 1;
  m4 /= n;
  // Standard errors for n i.i.d. N(0, 1): mean 1/sqrt(n), variance sqrt(2/n), E[x^4]
  // sqrt((105 - 9)/n), a correlation coefficient 1/sqrt(n). Each check allows 4 of them.
  const checks: [string, number, number][] = [
    ["mean", m1, 1 / Math.sqrt(n)],
    ["variance - 1", m2 - 1, Math.sqrt(2 / n)],
    ["E[x^4] - 3", m4 - 3, Math.sqrt(96 / n)],
    ["lag-1 correlation", correlation(eps, eps, 1), 1 / Math.sqrt(n)],
    [`lag-${z} correlation`, correlation(eps, eps, z), 1 / Math.sqrt(n)],
    ["step s vs s+1 correlation", correlation(eps, next, 0), 1 / Math.sqrt(n)],
  ];
  for (const [what, v, se] of checks) {
    console.log(
      `  ${what}: ${v.toExponential(2)} (${(v / se).toFixed(2)} SE, SE ${se.toExponential(2)})`,
    );
    if (!(Math.abs(v) < 4 * se)) {
      throw new Error(`${what} = ${v} is over 4 standard errors (${se})`);
    }
  }
  for (const t of [xT, cT, zT, epsT]) t.destroy();
});

gpuTest("latent rejects bad shapes and keys", async (gpu) => {
  const xT = zeros(gpu.device, [3, 4]), cT = counterTensor(gpu, 0);
  const zT = out(gpu, [3, 2]), epsT = out(gpu, [3, 2]);
  const s = { batch: 3, z: 2, logvarMin: LO, logvarMax: HI, seed: 1 };
  const expectError = async (what: string, p: Promise<unknown>, match: string) => {
    try {
      await p;
    } catch (e) {
      if ((e as Error).message.includes(match)) return;
      throw new Error(`${what}: wrong error: ${(e as Error).message}`);
    }
    throw new Error(`${what}: no error`);
  };
  await expectError(
    "short mulogvar",
    latentForward(gpu, { z: zT, eps: epsT, mulogvar: zT, counter: cT }, s),
    "mulogvar",
  );
  await expectError(
    "negative seed",
    latentForward(gpu, { z: zT, eps: epsT, mulogvar: xT, counter: cT }, { ...s, seed: -1 }),
    "seed",
  );
  await expectError(
    "inverted bounds",
    latentForward(gpu, { z: zT, eps: epsT, mulogvar: xT, counter: cT }, {
      ...s,
      logvarMin: 1,
      logvarMax: -1,
    }),
    "bounds",
  );
  for (const t of [xT, cT, zT, epsT]) t.destroy();
});

gpuTest("latent fused with the KL matches the references and the separate passes", async (gpu) => {
  const rng = new Rng(2025);
  const seed = 0x85ebca6b, stream = 1, step = 777;
  // 37 rows: three workgroups of latent_forward_kl's 16, the last one ragged.
  for (const batch of [...BATCHES, 37]) {
    for (const z of ZS) {
      const n = batch * z;
      const s: LatentShape = { batch, z, logvarMin: LO, logvarMax: HI, seed, stream };
      const scale = Math.fround(0.7 / batch);
      const x = mulogvar(rng, batch, z);
      const dz = rng.uniform(n);
      const xT = f32(gpu, [batch, 2 * z], x), dzT = f32(gpu, [batch, z], dz);
      const cT = counterTensor(gpu, step);
      const zT = out(gpu, [batch, z]), epsT = out(gpu, [batch, z]), klT = out(gpu, [batch]);
      const dxT = out(gpu, [batch, 2 * z]);
      const z0 = out(gpu, [batch, z]), eps0 = out(gpu, [batch, z]), kl0 = out(gpu, [batch]);
      const dx0 = out(gpu, [batch, 2 * z]);
      const fused = [
        await latentForwardKl(gpu, { z: zT, eps: epsT, kl: klT, mulogvar: xT, counter: cT }, s),
        await latentBackwardKl(gpu, { dmulogvar: dxT, dz: dzT, eps: epsT, mulogvar: xT }, {
          ...s,
          scale,
        }),
      ];
      const separate = [
        await latentForward(gpu, { z: z0, eps: eps0, mulogvar: xT, counter: cT }, s),
        await klForward(gpu, { kl: kl0, mulogvar: xT }, s),
        await latentBackward(gpu, { dmulogvar: dx0, dz: dzT, eps: eps0, mulogvar: xT }, s),
        await klBackward(gpu, { dmulogvar: dx0, mulogvar: xT }, { ...s, scale }),
      ];
      const [zz, eps, kl, dx] = await run(gpu, fused, zT, epsT, klT, dxT);
      const [zU, epsU, klU, dxU] = await run(gpu, separate, z0, eps0, kl0, dx0);
      const epsRef = ref.normals(seed, stream, step, n);
      const dxRef = ref.latentBackward(dz, epsRef, x, batch, z, LO, HI);
      const dklRef = klRef.klBackward(x, batch, z, LO, HI, scale);
      const tag = `fused B=${batch} Z=${z}`;
      assertClose(`eps ${tag}`, eps, epsRef, 1e-5);
      assertClose(`z ${tag}`, zz, ref.latentForward(x, epsRef, batch, z, LO, HI), 1e-5);
      assertClose(`kl ${tag}`, kl, klRef.klForward(x, batch, z, LO, HI), 1e-5);
      assertClose(`dmulogvar ${tag}`, dx, dxRef.map((v, i) => v + dklRef[i]), 1e-5);
      // The same f32 expressions as the separate passes, added in the same order.
      assertClose(`z ${tag} vs separate`, zz, zU, 0);
      assertClose(`eps ${tag} vs separate`, eps, epsU, 0);
      assertClose(`kl ${tag} vs separate`, kl, klU, 0);
      assertClose(`dmulogvar ${tag} vs separate`, dx, dxU, 0);
      // scale is a uniform a KL schedule changes without rebuilding the dispatch.
      fused[1].update("dims", { scale: 0.125 });
      const [dx2] = await run(gpu, [fused[1]], dxT);
      const dkl2 = klRef.klBackward(x, batch, z, LO, HI, 0.125);
      assertClose(`dmulogvar ${tag} scale updated`, dx2, dxRef.map((v, i) => v + dkl2[i]), 1e-5);
      for (const t of [xT, dzT, cT, zT, epsT, klT, dxT, z0, eps0, kl0, dx0]) t.destroy();
    }
  }
});

gpuTest(
  "latent epsStd scales eps (plain and fused); backward reads the scaled draw",
  async (gpu) => {
    const rng = new Rng(2026);
    const seed = 0x27d4eb2f, stream = 2, step = 99;
    for (const [batch, z] of [[3, 13], [37, 5]]) {
      for (const epsStd of [0.37, 0, 2.5]) {
        const n = batch * z;
        const s: LatentShape = { batch, z, logvarMin: LO, logvarMax: HI, seed, stream, epsStd };
        const x = mulogvar(rng, batch, z);
        const dz = rng.uniform(n);
        const xT = f32(gpu, [batch, 2 * z], x), dzT = f32(gpu, [batch, z], dz);
        const cT = counterTensor(gpu, step);
        const zT = out(gpu, [batch, z]),
          epsT = out(gpu, [batch, z]),
          dxT = out(gpu, [batch, 2 * z]);
        const z1 = out(gpu, [batch, z]), eps1 = out(gpu, [batch, z]), klT = out(gpu, [batch]);
        const passes = [
          await latentForward(gpu, { z: zT, eps: epsT, mulogvar: xT, counter: cT }, s),
          await latentBackward(gpu, { dmulogvar: dxT, dz: dzT, eps: epsT, mulogvar: xT }, s),
        ];
        const fused = [
          await latentForwardKl(gpu, { z: z1, eps: eps1, kl: klT, mulogvar: xT, counter: cT }, s),
        ];
        const [zz, eps, dx] = await run(gpu, passes, zT, epsT, dxT);
        const [zF, epsF] = await run(gpu, fused, z1, eps1);
        const epsRef = ref.normals(seed, stream, step, n, epsStd);
        const tag = `B=${batch} Z=${z} epsStd=${epsStd}`;
        assertClose(`eps ${tag}`, eps, epsRef, 1e-5);
        assertClose(`z ${tag}`, zz, ref.latentForward(x, epsRef, batch, z, LO, HI), 1e-5);
        assertClose(
          `dmulogvar ${tag}`,
          dx,
          ref.latentBackward(dz, epsRef, x, batch, z, LO, HI),
          1e-5,
        );
        assertClose(`z fused ${tag} vs separate`, zF, zz, 0);
        assertClose(`eps fused ${tag} vs separate`, epsF, eps, 0);
        for (const t of [xT, dzT, cT, zT, epsT, dxT, z1, eps1, klT]) t.destroy();
      }
    }
    // 1 is the default, bit for bit; a negative or non-finite std is refused.
    const batch = 7, z = 3, xT = f32(gpu, [batch, 2 * z], mulogvar(rng, batch, z));
    const cT = counterTensor(gpu, 5);
    const draws: Float64Array[] = [];
    for (const extra of [{}, { epsStd: 1 }]) {
      const zT = out(gpu, [batch, z]), epsT = out(gpu, [batch, z]);
      const s = { batch, z, logvarMin: LO, logvarMax: HI, seed, stream, ...extra };
      const d = await latentForward(gpu, { z: zT, eps: epsT, mulogvar: xT, counter: cT }, s);
      draws.push(...await run(gpu, [d], zT, epsT));
    }
    assertClose("z epsStd 1 vs default", draws[2], draws[0], 0);
    assertClose("eps epsStd 1 vs default", draws[3], draws[1], 0);
    for (const epsStd of [-0.5, NaN, Infinity]) {
      let message = "";
      try {
        const zT = out(gpu, [batch, z]);
        await latentForward(gpu, { z: zT, eps: zT, mulogvar: xT, counter: cT }, {
          batch,
          z,
          logvarMin: LO,
          logvarMax: HI,
          seed,
          epsStd,
        });
      } catch (e) {
        message = (e as Error).message;
      }
      if (!/epsStd = .* is not >= 0/.test(message)) throw new Error(`epsStd ${epsStd}: ${message}`);
    }
  },
);
