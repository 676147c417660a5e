/** KL weight schedules: exact values at the edges of each ramp, and the flag parser. */
import assert from "node:assert/strict";
import {
  formatKlSchedule,
  type KlSchedule,
  klWeight,
  parseKlSchedule,
} from "../src/train/schedule.ts";

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
