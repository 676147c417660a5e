import { readback, upload, write } from "../src/gpu/buffer.ts";
import { submit } from "../src/gpu/kernel.ts";
import {
  klBackward,
  klForward,
  klPerDim,
  klPriorBackward,
  klPriorForward,
  type KlShape,
} from "../src/nn/kl.ts";
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

/**
 * A free-bits floor lambda halfway between the two neighbouring per-dimension batch-mean KLs
 * farthest apart (so some dimensions sit below it, some above, none near the kink), and which
 * dimensions are on. With one dimension, `above` says which side it is on.
 */
function floorBetween(x: Float64Array, batch: number, z: number, above = true) {
  const mean = [...ref.klPerDim(x, batch, z, LO, HI)].map((v) => v / batch);
  const sorted = [...mean].sort((a, b) => a - b);
  let lambda = sorted[0] * (above ? 0.5 : 2);
  let best = 0;
  for (let k = 1; k < sorted.length; k++) {
    const mid = (sorted[k - 1] + sorted[k]) / 2, gap = (sorted[k] - sorted[k - 1]) / mid;
    if (gap > best) [best, lambda] = [gap, mid];
  }
  const gap = Math.min(...mean.map((m) => Math.abs(m - lambda) / lambda));
  return { lambda, on: mean.map((m) => m >= lambda), gap };
}

Deno.test("kl free bits: reference backward matches finite differences off the kink", () => {
  const rng = new Rng(11);
  const batch = 4, z = 7, scale = 0.6;
  const x = mulogvar(rng, batch, z).map((v, i) => {
    // mu in [-2, 2], logvar inside the clamp and off its bounds: a smooth objective.
    return i % (2 * z) < z ? v : Math.fround(LO + 0.1 + (HI - LO - 0.2) * rng.next());
  });
  const { lambda, on, gap } = floorBetween(x, batch, z);
  if (!(gap > 1e-3)) throw new Error(`test setup: lambda ${lambda} too close to a dimension`);
  const grad = ref.klBackward(x, batch, z, LO, HI, scale, lambda);
  assertGradient(
    "kl free bits",
    (v) => scale * ref.klFreeBits(v, batch, z, LO, HI, lambda),
    x,
    grad,
  );
  // Below the floor a dimension gets no gradient at all; above it, the plain KL gradient.
  const plain = ref.klBackward(x, batch, z, LO, HI, scale);
  for (let b = 0; b < batch; b++) {
    for (let j = 0; j < z; j++) {
      for (const i of [b * 2 * z + j, b * 2 * z + z + j]) {
        if (grad[i] !== (on[j] ? plain[i] : 0)) throw new Error(`free bits gate at ${i}`);
      }
    }
  }
  console.log(`  lambda ${lambda.toFixed(4)}: ${on.filter((o) => o).length}/${z} dims above`);
  // lambda = 0 is the plain KL.
  const sum = (a: Float64Array) => a.reduce((p, q) => p + q, 0);
  const kl0 = ref.klFreeBits(x, batch, z, LO, HI, 0);
  if (Math.abs(kl0 - sum(ref.klForward(x, batch, z, LO, HI))) > 1e-12 * kl0) {
    throw new Error("free bits with lambda 0 is not the KL");
  }
});

gpuTest("kl free-bits backward matches the reference; lambda 0+ is bit-identical", async (gpu) => {
  const rng = new Rng(91);
  let gatedOff = 0, gatedOn = 0;
  for (const batch of [...BATCHES, 130]) {
    for (const z of ZS) {
      const n = batch * z;
      const s: KlShape = { batch, z, logvarMin: LO, logvarMax: HI };
      const scale = 1.5 / batch;
      const x = mulogvar(rng, batch, z);
      const { lambda, on, gap } = floorBetween(x, batch, z, batch % 2 === 1);
      if (!(gap > 1e-4)) continue; // f32 and f64 could disagree about the gate
      const prefill = rng.uniform(2 * n);
      const xT = f32(gpu, [batch, 2 * z], x), dxT = f32(gpu, [batch, 2 * z], prefill);
      const fb = await klBackward(gpu, { dmulogvar: dxT, mulogvar: xT }, {
        ...s,
        scale,
        freeBits: lambda,
      });
      const [dx] = await run(gpu, [fb], dxT);
      const tag = `B=${batch} Z=${z} lambda=${lambda.toPrecision(3)}`;
      const g = ref.klBackward(x, batch, z, LO, HI, scale, lambda);
      assertClose(`dmulogvar free bits ${tag}`, dx, prefill.map((p, i) => p + g[i]), 1e-5);
      for (let j = 0; j < z; j++) {
        if (on[j]) {
          gatedOn++;
          continue;
        }
        gatedOff++;
        for (let b = 0; b < batch; b++) {
          for (const i of [b * 2 * z + j, b * 2 * z + z + j]) {
            if (dx[i] !== Math.fround(prefill[i])) {
              throw new Error(`${tag}: dim ${j} is below the floor but element ${i} moved`);
            }
          }
        }
      }

      // A tiny floor takes the free-bits path with every dimension above it: the same bits as
      // the plain backward.
      write(gpu.device, dxT, prefill);
      fb.update("dims", { free_bits: 1e-30 });
      const [viaFree] = await run(gpu, [fb], dxT);
      write(gpu.device, dxT, prefill);
      const plain = await klBackward(gpu, { dmulogvar: dxT, mulogvar: xT }, { ...s, scale });
      const [viaPlain] = await run(gpu, [plain], dxT);
      for (let i = 0; i < 2 * n; i++) {
        if (!Object.is(viaFree[i], viaPlain[i])) {
          throw new Error(`${tag}: element ${i}: free bits ${viaFree[i]} != plain ${viaPlain[i]}`);
        }
      }
      // A floor above every dimension: nothing is added.
      write(gpu.device, dxT, prefill);
      fb.update("dims", { free_bits: 1e6 });
      const [none] = await run(gpu, [fb], dxT);
      assertClose(`free bits 1e6 ${tag}`, none, prefill.map(Math.fround), 0);
      for (const t of [xT, dxT]) t.destroy();
    }
  }
  if (gatedOff < 10 || gatedOn < 10) {
    throw new Error(`gate exercised too little: ${gatedOff} off, ${gatedOn} on`);
  }
  console.log(`  free bits: ${gatedOff} dims gated off, ${gatedOn} on; lambda 1e-30 bit-identical`);
});

gpuTest("kl per-dimension sums accumulate over batches, into a view too", async (gpu) => {
  const rng = new Rng(123);
  for (const batch of [1, 7, 130]) {
    for (const z of [1, 13, 20]) {
      const s: KlShape = { batch, z, logvarMin: LO, logvarMax: HI };
      const x1 = mulogvar(rng, batch, z), x2 = mulogvar(rng, batch, z);
      const x1T = f32(gpu, [batch, 2 * z], x1), x2T = f32(gpu, [batch, 2 * z], x2);
      // acc lives at element 64 (256 bytes) of a metrics-like buffer.
      const pre = rng.uniform(64 + z);
      const buf = upload(gpu.device, "f32", [64 + z], pre, "metrics");
      const acc = { tensor: buf, offset: 64, length: z };
      const d1 = await klPerDim(gpu, { acc, mulogvar: x1T }, s);
      const d2 = await klPerDim(gpu, { acc, mulogvar: x2T }, s);
      const [got] = await run(gpu, [d1, d2], buf);
      const r1 = ref.klPerDim(x1, batch, z, LO, HI), r2 = ref.klPerDim(x2, batch, z, LO, HI);
      const want = pre.map((p, i) => i < 64 ? p : p + r1[i - 64] + r2[i - 64]);
      assertClose(`kl per dim B=${batch} Z=${z}`, got.subarray(64), want.subarray(64), 1e-5);
      for (let i = 0; i < 64; i++) {
        if (got[i] !== pre[i]) throw new Error(`element ${i} outside the view moved`);
      }
      // The per-dimension sums add up to the per-example KL summed over the batch.
      const perExample = ref.klForward(x1, batch, z, LO, HI).reduce((a, b) => a + b, 0);
      const perDim = r1.reduce((a, b) => a + b, 0);
      if (Math.abs(perExample - perDim) > 1e-12 * Math.max(1, perExample)) {
        throw new Error(`per-dim KL sums to ${perDim}, per-example to ${perExample}`);
      }
      for (const t of [x1T, x2T, buf]) t.destroy();
    }
  }
});

/** A learned prior [B, 2Z] beside `x`: mean in [-2, 2], logvar over the clamp and past it. */
function priorRows(rng: Rng, batch: number, z: number): Float64Array {
  const p = mulogvar(rng, batch, z);
  // Shift the special values so posterior and prior are not clamped at the same places.
  for (let i = 0; i < p.length; i += 7) p[i] = -p[i];
  return p;
}

Deno.test("kl with a learned prior: reference matches finite differences and N(0, I)", () => {
  const rng = new Rng(23);
  const batch = 3, z = 5, scale = 0.41;
  // Inside the clamp and off its bounds, so the objective is smooth where it is probed.
  const inside = () => Math.fround(LO + 0.1 + (HI - LO - 0.2) * rng.next());
  const x = rng.uniform(2 * batch * z, -2, 2), p = rng.uniform(2 * batch * z, -2, 2);
  for (let b = 0; b < batch; b++) {
    for (let j = 0; j < z; j++) {
      (x[b * 2 * z + z + j] = inside()), (p[b * 2 * z + z + j] = inside());
    }
  }
  const g = ref.klPriorBackward(x, p, batch, z, LO, HI, scale);
  const total = (q: Float64Array, pr: Float64Array) =>
    scale * ref.klPriorForward(q, pr, batch, z, LO, HI).reduce((a, b) => a + b, 0);
  assertGradient("kl prior d/dq", (v) => total(v, p), x, g.dmulogvar);
  assertGradient("kl prior d/dprior", (v) => total(x, v), p, g.dprior);
  // N(0, I) as the learned prior is the standard KL, and q = p gives 0.
  const zero = new Float64Array(2 * batch * z);
  assertClose(
    "prior 0",
    ref.klPriorForward(x, zero, batch, z, LO, HI),
    ref.klForward(x, batch, z, LO, HI),
    1e-12,
  );
  const self = ref.klPriorForward(x, x, batch, z, LO, HI);
  if (self.some((v) => Math.abs(v) > 1e-12)) throw new Error(`KL(q || q) = ${self}`);
});

gpuTest("kl with a learned prior: GPU forward and backward match the reference", async (gpu) => {
  const rng = new Rng(29);
  let clamped = 0;
  for (const batch of BATCHES) {
    for (const z of ZS) {
      const n = batch * z;
      const s: KlShape = { batch, z, logvarMin: LO, logvarMax: HI };
      const scale = 1.3 / batch;
      const x = mulogvar(rng, batch, z), p = priorRows(rng, batch, z);
      const prefill = rng.uniform(2 * n);
      const xT = f32(gpu, [batch, 2 * z], x), pT = f32(gpu, [batch, 2 * z], p);
      const dxT = f32(gpu, [batch, 2 * z], prefill), dpT = out(gpu, [batch, 2 * z]);
      const klT = out(gpu, [batch]);
      const fwd = await klPriorForward(gpu, { kl: klT, mulogvar: xT, prior: pT }, s);
      const bwd = await klPriorBackward(
        gpu,
        { dmulogvar: dxT, dprior: dpT, mulogvar: xT, prior: pT },
        { ...s, scale },
      );
      const [kl, dx, dp] = await run(gpu, [fwd, bwd], klT, dxT, dpT);
      const tag = `B=${batch} Z=${z}`;
      assertClose(`kl prior ${tag}`, kl, ref.klPriorForward(x, p, batch, z, LO, HI), 1e-5);
      const g = ref.klPriorBackward(x, p, batch, z, LO, HI, scale);
      assertClose(`dmulogvar ${tag}`, dx, prefill.map((v, i) => v + g.dmulogvar[i]), 1e-5);
      assertClose(`dprior ${tag}`, dp, g.dprior, 1e-5);
      for (let i = 0; i < 2 * n; i++) {
        if (i % (2 * z) < z) continue;
        if ((p[i] < LO || p[i] > HI) && dp[i] !== 0) {
          throw new Error(`${tag}: dpv[${i}] = ${dp[i]}`);
        }
        if ((x[i] < LO || x[i] > HI) && dx[i] !== prefill[i]) throw new Error(`${tag}: dlv[${i}]`);
        if (p[i] < LO || p[i] > HI || x[i] < LO || x[i] > HI) clamped++;
      }
      write(gpu.device, dxT, prefill);
      bwd.update("dims", { scale: 2 * scale });
      submit(gpu.device, [bwd]);
      const dp2 = Float64Array.from(await readback(gpu.device, dpT));
      assertClose(`dprior ${tag} scale x2`, dp2, g.dprior.map((v) => 2 * v), 1e-5);
      for (const t of [xT, pT, dxT, dpT, klT]) t.destroy();
    }
  }
  if (clamped < 20) throw new Error(`only ${clamped} clamped logvars were checked`);
  console.log(`  gradient exactly 0 at all ${clamped} clamped logvars`);
});
