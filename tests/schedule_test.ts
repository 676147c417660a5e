/**
 * KL weight schedules: exact values at the edges of each ramp, the flag parser, cyclical and
 * up-then-down schedules over the step counts of real runs (the phantom and the DIPY bundles
 * at the default batch), and the two-stage check (flag syntax first, step counts later).
 */
import assert from "node:assert/strict";
import {
  formatKlSchedule,
  type KlSchedule,
  klWeight,
  parseKlSchedule,
} from "../src/train/schedule.ts";
import { loadStreamlineDataset } from "../src/data/streamline_dataset.ts";

const at = (s: KlSchedule, steps: number[]) => steps.map((t) => klWeight(s, t));

Deno.test("schedule: constant is beta at every step", () => {
  assert.deepEqual(at({ kind: "constant", beta: 0.7 }, [0, 1, 999_999]), [0.7, 0.7, 0.7]);
  assert.deepEqual(at({ kind: "constant", beta: 0 }, [0, 5]), [0, 0]);
});

Deno.test("schedule: linear warm-up is 0 before start, a straight ramp, then the cap", () => {
  const s: KlSchedule = { kind: "linear", beta: 2, start: 10, length: 4 };
  assert.deepEqual(
    at(s, [0, 9, 10, 11, 12, 13, 14, 15, 10_000]),
    [0, 0, 0, 0.5, 1, 1.5, 2, 2, 2],
  );
  // No ramp: beta from step `start` on.
  assert.deepEqual(at({ kind: "linear", beta: 1, start: 3, length: 0 }, [2, 3, 4]), [0, 1, 1]);
  assert.deepEqual(at({ kind: "linear", beta: 1, start: 0, length: 1 }, [0, 1]), [0, 1]);
});

Deno.test("schedule: cyclical restarts from 0 each cycle and holds beta after the ramp", () => {
  // 20 steps, 4 cycles of 5, ramp over the first 0.4 of each: tau = (t mod 5) / 5.
  const s: KlSchedule = { kind: "cyclical", beta: 1, cycles: 4, ratio: 0.4, totalSteps: 20 };
  const one = [0, 0.5, 1, 1, 1];
  assert.deepEqual(at(s, [...Array(20).keys()]), [...one, ...one, ...one, ...one]);
  assert.equal(klWeight(s, 20), 1, "past the run: the cap");
  assert.equal(klWeight(s, 1000), 1);
  // A period that is not a whole number of steps (Fu et al.: mod ceil(T/M), divided by T/M).
  const r: KlSchedule = { kind: "cyclical", beta: 3, cycles: 3, ratio: 0.5, totalSteps: 10 };
  const period = 10 / 3;
  const want = [0, 1, 2, 3, 0, 1, 2, 3, 0, 1].map((k) => 3 * Math.min(1, k / period / 0.5));
  assert.deepEqual(at(r, [...Array(10).keys()]), want);
  assert.equal(klWeight(r, 3), 3, "the last step of cycle 1 is at the cap");
  // ratio 1: a ramp over the whole cycle, never reaching the cap inside it.
  const saw: KlSchedule = { kind: "cyclical", beta: 1, cycles: 2, ratio: 1, totalSteps: 8 };
  assert.deepEqual(at(saw, [0, 1, 2, 3, 4, 7]), [0, 0.25, 0.5, 0.75, 0, 0.75]);
  assert.throws(() => klWeight(saw, -1), /step must be an integer >= 0/);
  assert.throws(() => klWeight(saw, 1.5), /step must be an integer >= 0/);
});

Deno.test("schedule: the flag parser reads each kind and explains what to write", () => {
  const o = { beta: 0.5, totalSteps: 1000 };
  assert.deepEqual(parseKlSchedule("constant", o), { kind: "constant", beta: 0.5 });
  assert.deepEqual(parseKlSchedule("linear:100:2000", o), {
    kind: "linear",
    beta: 0.5,
    start: 100,
    length: 2000,
  });
  assert.deepEqual(parseKlSchedule("cyclical:4:0.5", o), {
    kind: "cyclical",
    beta: 0.5,
    cycles: 4,
    ratio: 0.5,
    totalSteps: 1000,
  });
  for (const text of ["constant", "linear:0:5000", "cyclical:4:0.5", "cyclical:1:1"]) {
    assert.equal(formatKlSchedule(parseKlSchedule(text, o)), text);
  }
  const cases: [string, RegExp][] = [
    ["", /unknown kind ""/],
    ["cosine", /unknown kind "cosine"/],
    ["linear", /linear takes START and LENGTH, got 0 value/],
    ["linear:5", /linear takes START and LENGTH, got 1 value/],
    ["linear:-5:10", /START "-5" is not an integer >= 0/],
    ["linear:5:1.5", /LENGTH "1.5" is not an integer >= 0/],
    ["constant:1", /constant takes no values/],
    ["cyclical:0:0.5", /CYCLES must be >= 1/],
    ["cyclical:4:0", /RATIO 0 is not in \(0, 1\]/],
    ["cyclical:4:1.5", /RATIO 1.5 is not in \(0, 1\]/],
    ["cyclical:4:x", /RATIO "x" is not a number/],
    ["cyclical:4000:0.5", /fewer than its 4000 cycles/],
  ];
  for (const [text, re] of cases) {
    assert.throws(() => parseKlSchedule(text, o), re, text);
    try {
      parseKlSchedule(text, o);
    } catch (e) {
      const m = (e as Error).message;
      assert.ok(!m.includes("\n"), `one line: ${m}`);
      if (!/fewer than/.test(m)) assert.match(m, /write constant, linear:START:LENGTH/);
    }
  }
  assert.throws(() => parseKlSchedule("constant", { beta: -1, totalSteps: 10 }), /beta must be/);
});

Deno.test("schedule: up-then-down rises to beta, falls to floor * beta, then holds", () => {
  const s: KlSchedule = { kind: "updown", beta: 2, rise: 4, fall: 5, floor: 0.25 };
  // Rise: 2 * t / 4; fall: 2 * (1 - 0.75 * (t - 4) / 5); then 0.5.
  const want = [0, 0.5, 1, 1.5, 2, 1.7, 1.4, 1.1, 0.8, 0.5, 0.5, 0.5];
  at(s, [...Array(12).keys()]).forEach((w, t) =>
    assert.ok(Math.abs(w - want[t]) < 1e-12, `${t}: ${w}`)
  );
  assert.equal(klWeight(s, 1_000_000), 0.5);
  // No rise: beta from step 0; no fall: the floor right after the rise.
  assert.deepEqual(at({ kind: "updown", beta: 1, rise: 0, fall: 2, floor: 0 }, [0, 1, 2, 3]), [
    1,
    0.5,
    0,
    0,
  ]);
  assert.deepEqual(at({ kind: "updown", beta: 1, rise: 2, fall: 0, floor: 0.1 }, [0, 1, 2, 3]), [
    0,
    0.5,
    0.1,
    0.1,
  ]);
  const o = { beta: 0.5 };
  assert.deepEqual(parseKlSchedule("updown:2000:8000:0.1", o), {
    kind: "updown",
    beta: 0.5,
    rise: 2000,
    fall: 8000,
    floor: 0.1,
  });
  assert.equal(formatKlSchedule(parseKlSchedule("updown:3:7:0", o)), "updown:3:7:0");
  const bad: [string, RegExp][] = [
    ["updown:1:2", /updown takes RISE, FALL and FLOOR, got 2 value/],
    ["updown:1:2:1.5", /FLOOR 1.5 is not in \[0, 1\]/],
    ["updown:-1:2:0", /RISE "-1" is not an integer >= 0/],
    ["updown:1:x:0", /FALL "x" is not an integer >= 0/],
  ];
  for (const [text, re] of bad) assert.throws(() => parseKlSchedule(text, o), re);
});

Deno.test("schedule: cyclical:N:R with N >= 2 is checked for syntax first, for steps with the real count", async () => {
  // Why `cyclical:2:R` used to be refused whatever the run: the configuration checked the
  // flag with a placeholder run of 1 step, and 1 step is fewer than 2 cycles.
  assert.throws(
    () => parseKlSchedule("cyclical:2:0.5", { beta: 1, totalSteps: 1 }),
    /1 steps are fewer than its 2 cycles/,
  );
  // Without a step count (the run's length is not known when the flag is read): accepted.
  for (const text of ["cyclical:2:0.5", "cyclical:4:0.5", "cyclical:50:1"]) {
    const s = parseKlSchedule(text, { beta: 1 });
    assert.equal(s.kind, "cyclical");
    assert.ok(Number.isNaN((s as { totalSteps: number }).totalSteps));
  }
  assert.throws(() => parseKlSchedule("cyclical:0:0.5", { beta: 1 }), /CYCLES must be >= 1/);

  // Real runs: the step counts the trainer uses (epochs x ceil(train / batch)) for the
  // phantom and the DIPY bundles at the default batch of 128.
  const batch = 128;
  for (const [spec, epochs] of [["phantom", 10], ["dipy-bundles", 7]] as const) {
    const data = await loadStreamlineDataset(spec, 16);
    const perEpoch = Math.ceil(data.train.count / Math.min(batch, data.train.count));
    const totalSteps = epochs * perEpoch;
    for (const cycles of [2, 3, 4]) {
      const s = parseKlSchedule(`cyclical:${cycles}:0.5`, { beta: 0.8, totalSteps });
      const w = [...Array(totalSteps).keys()].map((t) => klWeight(s, t));
      // Each cycle starts at 0 and reaches the cap 0.8; exactly `cycles` starts.
      const starts = w.flatMap((x, t) => (x === 0 ? [t] : []));
      const period = Math.ceil(totalSteps / cycles);
      assert.deepEqual(
        starts,
        [...Array(cycles).keys()].map((c) => c * period).filter((t) => t < totalSteps),
      );
      assert.equal(Math.max(...w), 0.8);
      assert.equal(w[totalSteps - 1], 0.8, `${spec} ${cycles}: the run ends at the cap`);
      // Within each cycle the weight never falls.
      for (let t = 1; t < totalSteps; t++) if (!starts.includes(t)) assert.ok(w[t] >= w[t - 1]);
      console.log(
        `${spec}: ${data.train.count} train, ${totalSteps} steps, ${cycles} cycles of ${period}`,
      );
    }
    // An up-then-down schedule over the same run: rises over 2 epochs, falls over 3.
    const u = parseKlSchedule(`updown:${2 * perEpoch}:${3 * perEpoch}:0.2`, {
      beta: 1,
      totalSteps,
    });
    const peak = 2 * perEpoch, end = 5 * perEpoch;
    assert.equal(klWeight(u, peak), 1);
    assert.ok(Math.abs(klWeight(u, end) - 0.2) < 1e-12);
    assert.ok(klWeight(u, peak - 1) < 1 && klWeight(u, peak + 1) < 1);
    assert.ok(Math.abs(klWeight(u, totalSteps - 1) - 0.2) < 1e-12);
  }
  // More cycles than the run has steps is refused once the count is known.
  assert.throws(
    () => parseKlSchedule("cyclical:100:0.5", { beta: 1, totalSteps: 43 }),
    /43 steps are fewer than its 100 cycles/,
  );
});
