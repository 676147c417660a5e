import {
  reconBackward,
  reconForward,
  reconForwardBackward,
  type ReconKind,
  type ReconSmooth,
} from "../src/nn/recon.ts";
import * as ref from "../src/reference/recon.ts";
import { assertClose, assertGradient, f32, gpuTest, out, Rng, run } from "./_helpers.ts";

const BATCHES = [1, 3, 7];
const FEATURES = [13, 130, 785];

/** Targets in [0, 1], a fifth of them exactly 0 or 1 (binarized pixels). */
function targets(rng: Rng, n: number): Float64Array {
  return rng.uniform(n, 0, 1).map((v, i) => (i % 5 === 0 ? Math.round(v) : v));
}

/** Logits mostly in [-6, 6], with a few large ones where a naive BCE would overflow or cancel. */
function logits(rng: Rng, n: number): Float64Array {
  const big = [30, -30, 17, -17, 90, -90];
  return rng.uniform(n, -6, 6).map((v, i) => (i % 11 === 3 ? big[(i / 11 | 0) % big.length] : v));
}

/** Every element within rtol of the reference relative to itself (no rms floor), plus atol. */
function assertEachClose(
  label: string,
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  rtol: number,
  atol = 0,
): void {
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    if (!Number.isFinite(got[i]) || err > rtol * Math.abs(want[i]) + atol) {
      throw new Error(`${label}: element ${i} is ${got[i]}, expected ${want[i]}`);
    }
    // Values under atol (f32 underflow) are held to atol alone, not counted as relative.
    if (Math.abs(want[i]) > atol) worst = Math.max(worst, err / Math.abs(want[i]));
  }
  console.log(`  ${label}: max elementwise rel error ${worst.toExponential(2)} (rtol ${rtol})`);
}

Deno.test("recon reference backwards match finite differences", () => {
  const rng = new Rng(11);
  const features = 13;
  const n = 3 * features;
  // Large |l| included: the stable form must stay differentiable and exact out there.
  const l = rng.uniform(n, -4, 4).map((v, i) => (i % 7 === 2 ? (i % 2 ? 30 : -30) : v));
  const x = targets(rng, n);
  const scale = 0.37;
  const sum = (a: Float64Array) => a.reduce((s, v) => s + v, 0);
  assertGradient(
    "bce",
    (v) => scale * sum(ref.bceForward(v, x, features)),
    l,
    ref.bceBackward(l, x, scale),
    { h: 1e-5 },
  );
  assertGradient(
    "mse",
    (v) => scale * sum(ref.mseForward(v, x, features)),
    l,
    ref.mseBackward(l, x, scale),
    // A quadratic: central differences are exact up to rounding, which a larger h shrinks.
    { h: 1e-4 },
  );
  // The smoothness term of curves: 3 values per point, row boundaries respected.
  const smooth = { weight: 0.7, stride: 3 };
  assertGradient(
    "mse, smooth 0.7, stride 3",
    (v) => scale * sum(ref.mseForward(v, x, features, smooth)),
    l,
    ref.mseBackward(l, x, scale, features, smooth),
    { h: 1e-4 },
  );
});

Deno.test("recon reference smoothness term: (e_f - e_{f-s})^2 within each example only", () => {
  // Two examples of 2 points x 2 values: e = [1, 2, 4, 8 | 16, 32, 64, 128], stride 2.
  const e = Float64Array.from([1, 2, 4, 8, 16, 32, 64, 128]);
  const x = new Float64Array(8).fill(0.5), o = e.map((v, i) => v + x[i]);
  const loss = ref.mseForward(o, x, 4, { weight: 0.5, stride: 2 });
  const want = [
    1 + 4 + 16 + 64 + 0.5 * ((4 - 1) ** 2 + (8 - 2) ** 2),
    16 ** 2 + 32 ** 2 + 64 ** 2 + 128 ** 2 + 0.5 * ((64 - 16) ** 2 + (128 - 32) ** 2),
  ];
  assertEachClose("two examples", loss, want, 1e-15);
  const g = ref.mseBackward(o, x, 1, 4, { weight: 0.5, stride: 2 });
  // 2 (e_f + 0.5 (D^T D e)_f): first point -(e_{f+2} - e_f), second point e_f - e_{f-2}.
  const dtd = [-3, -6, 3, 6, -48, -96, 48, 96];
  assertEachClose("gradient", g, e.map((v, i) => 2 * (v + 0.5 * dtd[i])), 1e-15);
});

Deno.test("recon reference bce agrees with the textbook formula and its large-|l| limits", () => {
  // |l| <= 8: -x log(sigmoid(l)) - (1 - x) log(1 - sigmoid(l)) is accurate in float64.
  const rng = new Rng(12);
  const l = rng.uniform(200, -8, 8);
  const x = targets(rng, 200);
  const naive = l.map((v, i) => {
    const s = 1 / (1 + Math.exp(-v));
    return -x[i] * Math.log(s) - (1 - x[i]) * Math.log(1 - s);
  });
  assertEachClose("bce vs textbook", l.map((v, i) => ref.bceElement(v, x[i])), naive, 1e-10);
  // |l| = 30, 50: log1p(e) = e - e^2/2 + ..., e = exp(-|l|), with the logit's cost when wrong.
  for (const a of [30, 50]) {
    const e = Math.exp(-a);
    const tail = e - e * e / 2;
    const cases: [number, number, number][] = [
      [a, 1, tail],
      [-a, 0, tail],
      [a, 0, a + tail],
      [-a, 1, a + tail],
    ];
    const got = cases.map(([v, t]) => ref.bceElement(v, t));
    assertEachClose(`bce limits |l|=${a}`, got, cases.map((c) => c[2]), 1e-14);
    const g = ref.bceBackward(
      Float64Array.from(cases, (c) => c[0]),
      Float64Array.from(cases, (c) => c[1]),
      1,
    );
    const q = e / (1 + e);
    assertEachClose(`bce gradient limits |l|=${a}`, g, [-q, q, 1 - q, -(1 - q)], 1e-14);
  }
  for (const v of [1000, -1000]) {
    if (!Number.isFinite(ref.bceElement(v, 0.5))) throw new Error(`bce(${v}) is not finite`);
  }
});

for (const kind of ["bce", "mse"] as const) {
  gpuTest(`recon ${kind} forward and backward match the reference`, async (gpu) => {
    const rng = new Rng(kind === "bce" ? 21 : 22);
    for (const batch of BATCHES) {
      for (const features of FEATURES) {
        const n = batch * features;
        const l = kind === "bce" ? logits(rng, n) : rng.normal(n);
        const x = targets(rng, n);
        const scale = Math.fround(1.3 / batch);
        const lT = f32(gpu, [batch, features], l), xT = f32(gpu, [batch, features], x);
        const lossT = out(gpu, [batch]), dlT = out(gpu, [batch, features]);
        const s = { batch, features };
        const fwd = await reconForward(gpu, kind, { loss: lossT, logits: lT, x: xT }, s);
        const bwd = await reconBackward(gpu, kind, { dlogits: dlT, logits: lT, x: xT }, {
          ...s,
          scale,
        });
        const [loss, dl] = await run(gpu, [fwd, bwd], lossT, dlT);
        const lossRef = kind === "bce"
          ? ref.bceForward(l, x, features)
          : ref.mseForward(l, x, features);
        const dlRef = kind === "bce" ? ref.bceBackward(l, x, scale) : ref.mseBackward(l, x, scale);
        const tag = `${kind} B=${batch} F=${features}`;
        // Every loss term is non-negative, so each example's sum is held to its own size.
        assertEachClose(`${tag} forward`, loss, lossRef, 1e-5);
        assertClose(`${tag} backward`, dl, dlRef, 1e-5);

        // scale is a uniform the trainer changes without rebuilding the dispatch.
        bwd.update("dims", { scale: 0.25 });
        const [dl2] = await run(gpu, [bwd], dlT);
        const dl2Ref = kind === "bce" ? ref.bceBackward(l, x, 0.25) : ref.mseBackward(l, x, 0.25);
        assertClose(`${tag} backward, scale updated`, dl2, dl2Ref, 1e-5);
        for (const t of [lT, xT, lossT, dlT]) t.destroy();
      }
    }
  });
}

gpuTest(
  "recon mse with a smoothness term (curves) matches the reference, fused and not",
  async (gpu) => {
    const rng = new Rng(25);
    for (const batch of BATCHES) {
      for (const [features, stride] of [[13, 3], [130, 1], [771, 3]]) {
        const n = batch * features;
        const l = rng.normal(n), x = targets(rng, n);
        const scale = Math.fround(1.3 / batch), smooth = Math.fround(2.7);
        const lT = f32(gpu, [batch, features], l), xT = f32(gpu, [batch, features], x);
        const lossT = out(gpu, [batch]), dlT = out(gpu, [batch, features]);
        const loss1 = out(gpu, [batch]), dl1 = out(gpu, [batch, features]);
        const s = { batch, features, scale, smooth: { weight: smooth, stride } };
        const [loss, dl] = await run(
          gpu,
          [
            await reconForwardBackward(
              gpu,
              "mse",
              { loss: lossT, dlogits: dlT, logits: lT, x: xT },
              s,
            ),
          ],
          lossT,
          dlT,
        );
        const [lossU, dlU] = await run(
          gpu,
          [
            await reconForward(gpu, "mse", { loss: loss1, logits: lT, x: xT }, s),
            await reconBackward(gpu, "mse", { dlogits: dl1, logits: lT, x: xT }, s),
          ],
          loss1,
          dl1,
        );
        const tag = `mse smooth 2.7 stride ${stride} B=${batch} F=${features}`;
        assertEachClose(`${tag} loss`, loss, ref.mseForward(l, x, features, s.smooth), 1e-5);
        assertClose(`${tag} dlogits`, dl, ref.mseBackward(l, x, scale, features, s.smooth), 1e-5);
        // Against the plain loss: the term is there (every example's loss grew).
        const plain = ref.mseForward(l, x, features);
        for (let b = 0; b < batch; b++) {
          if (!(loss[b] > plain[b] * 1.5)) {
            throw new Error(
              `${tag}: loss ${loss[b]} vs ${plain[b]}`,
            );
          }
        }
        assertClose(`${tag} loss vs unfused`, loss, lossU, 0);
        assertClose(`${tag} dlogits vs unfused`, dl, dlU, 0);
        for (const t of [lT, xT, lossT, dlT, loss1, dl1]) t.destroy();
      }
    }
  },
);

gpuTest("recon bce keeps every digit at large |l|", async (gpu) => {
  // One feature per example, so each loss is one element and is checked on its own scale:
  // l = 30 with x = 1 has loss 9.4e-14, which any cancellation would destroy.
  const ls = [30, -30, 20, -20, 15, -15, 5, -5, 0.001, -0.001, 0];
  const xs = [1, 0, 0.5, 0.25];
  const l = Float64Array.from(ls.flatMap((v) => xs.map(() => v)));
  const x = Float64Array.from(ls.flatMap(() => xs));
  const batch = l.length;
  const lT = f32(gpu, [batch, 1], l), xT = f32(gpu, [batch, 1], x);
  const lossT = out(gpu, [batch]), dlT = out(gpu, [batch, 1]);
  const s = { batch, features: 1 };
  const fwd = await reconForward(gpu, "bce", { loss: lossT, logits: lT, x: xT }, s);
  const bwd = await reconBackward(gpu, "bce", { dlogits: dlT, logits: lT, x: xT }, {
    ...s,
    scale: 1,
  });
  const [loss, dl] = await run(gpu, [fwd, bwd], lossT, dlT);
  assertEachClose("bce forward, one element each", loss, ref.bceForward(l, x, 1), 1e-5);
  // sigmoid(l) - x: where |l| is large, sigmoid is within rounding of 0 or 1 and the stable
  // form must still give q to full relative accuracy; near l = 0 both terms are about 0.5 and
  // f32 rounding of sigmoid (3e-8) is the floor, hence the rms-scaled comparison there.
  const dlRef = ref.bceBackward(l, x, 1);
  const large = [...l.keys()].filter((i) => Math.abs(l[i]) >= 5);
  assertEachClose(
    "bce backward, |l| >= 5, one element each",
    large.map((i) => dl[i]),
    large.map((i) => dlRef[i]),
    1e-5,
  );
  assertClose("bce backward, all", dl, dlRef, 1e-6);

  // Far out (exp(-|l|) underflows f32) the values must stay finite and right to f32 rounding.
  const far = Float64Array.from([100, -100, 1000, -1000, 3e38, -3e38]);
  const fx = Float64Array.from([1, 0, 0.5, 0.5, 0, 1]);
  const fT = f32(gpu, [6, 1], far), fxT = f32(gpu, [6, 1], fx);
  const fl = out(gpu, [6]), fdl = out(gpu, [6, 1]);
  const s6 = { batch: 6, features: 1 };
  const ff = await reconForward(gpu, "bce", { loss: fl, logits: fT, x: fxT }, s6);
  const fb = await reconBackward(gpu, "bce", { dlogits: fdl, logits: fT, x: fxT }, {
    ...s6,
    scale: 1,
  });
  const [floss, fgrad] = await run(gpu, [ff, fb], fl, fdl);
  assertEachClose("bce forward, |l| >= 100", floss, ref.bceForward(far, fx, 1), 1e-6, 1e-30);
  assertEachClose("bce backward, |l| >= 100", fgrad, ref.bceBackward(far, fx, 1), 1e-6, 1e-30);
  for (const t of [lT, xT, lossT, dlT, fT, fxT, fl, fdl]) t.destroy();
});

gpuTest("recon rejects shapes that do not fit", async (gpu) => {
  const a = f32(gpu, [2, 5], new Float64Array(10)), loss = out(gpu, [3]);
  let caught = "";
  try {
    await reconForward(gpu, "bce", { loss, logits: a, x: a }, { batch: 2, features: 5 });
  } catch (e) {
    caught = (e as Error).message;
  }
  if (!caught.includes("'loss'")) throw new Error(`expected a shape error, got '${caught}'`);
  for (const kind of ["gauss" as ReconKind]) {
    let bad = "";
    try {
      await reconForward(gpu, kind, { loss, logits: a, x: a }, { batch: 2, features: 5 });
    } catch (e) {
      bad = (e as Error).message;
    }
    if (!bad.includes("unknown loss kind")) throw new Error(`expected a kind error, got '${bad}'`);
  }
  const smoothErrors: [ReconKind, ReconSmooth, string][] = [
    ["bce", { weight: 1, stride: 1 }, "smooth is for mse only"],
    ["mse", { weight: 1, stride: 5 }, "stride must be an integer in [1, 5)"],
    ["mse", { weight: -1, stride: 3 }, "smooth must be finite and >= 0"],
  ];
  for (const [kind, smooth, message] of smoothErrors) {
    let bad = "";
    try {
      // The smoothness term is checked before the tensors (loss has 3 values, not 2).
      await reconForward(gpu, kind, { loss, logits: a, x: a }, { batch: 2, features: 5, smooth });
    } catch (e) {
      bad = (e as Error).message;
    }
    if (!bad.includes(message)) throw new Error(`expected '${message}', got '${bad}'`);
  }
  a.destroy();
  loss.destroy();
});

for (const kind of ["bce", "mse"] as const) {
  gpuTest(
    `recon ${kind} forward+backward in one pass matches the reference and both passes`,
    async (gpu) => {
      const rng = new Rng(kind === "bce" ? 23 : 24);
      for (const batch of BATCHES) {
        for (const features of FEATURES) {
          const n = batch * features;
          const l = kind === "bce" ? logits(rng, n) : rng.normal(n);
          const x = targets(rng, n);
          const scale = Math.fround(1.3 / batch);
          const lT = f32(gpu, [batch, features], l), xT = f32(gpu, [batch, features], x);
          const lossT = out(gpu, [batch]), dlT = out(gpu, [batch, features]);
          const loss0 = out(gpu, [batch]), dl0 = out(gpu, [batch, features]);
          const s = { batch, features, scale };
          const both = await reconForwardBackward(gpu, kind, {
            loss: lossT,
            dlogits: dlT,
            logits: lT,
            x: xT,
          }, s);
          const [loss, dl] = await run(gpu, [both], lossT, dlT);
          const [lossU, dlU] = await run(
            gpu,
            [
              await reconForward(gpu, kind, { loss: loss0, logits: lT, x: xT }, s),
              await reconBackward(gpu, kind, { dlogits: dl0, logits: lT, x: xT }, s),
            ],
            loss0,
            dl0,
          );
          const lossRef = kind === "bce"
            ? ref.bceForward(l, x, features)
            : ref.mseForward(l, x, features);
          const dlRef = kind === "bce"
            ? ref.bceBackward(l, x, scale)
            : ref.mseBackward(l, x, scale);
          const tag = `${kind} fused B=${batch} F=${features}`;
          assertEachClose(`${tag} loss`, loss, lossRef, 1e-5);
          assertClose(`${tag} dlogits`, dl, dlRef, 1e-5);
          // Same expressions and the same summation order as the two separate passes.
          assertClose(`${tag} loss vs unfused`, loss, lossU, 0);
          assertClose(`${tag} dlogits vs unfused`, dl, dlU, 0);
          both.update("dims", { scale: 0.25 });
          const [, dl2] = await run(gpu, [both], lossT, dlT);
          const dl2Ref = kind === "bce" ? ref.bceBackward(l, x, 0.25) : ref.mseBackward(l, x, 0.25);
          assertClose(`${tag} dlogits, scale updated`, dl2, dl2Ref, 1e-5);
          for (const t of [lT, xT, lossT, dlT, loss0, dl0]) t.destroy();
        }
      }
    },
  );
}
