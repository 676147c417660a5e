/**
 * The KL weight as a pure function of the optimizer step, for annealing schedules that fight
 * posterior collapse: constant (beta-VAE), a linear warm-up (Bowman et al. 2016) and the
 * cyclical schedule of Fu et al. 2019. `step` is the 0-based index of the optimizer step
 * about to be taken, so the first step of a run is step 0.
 */

/** How the KL weight moves over training; `beta` is the weight's cap in every kind. */
export type KlSchedule =
  | { kind: "constant"; beta: number }
  /** 0 for steps < start, then rises linearly to beta over `length` steps, then stays. */
  | { kind: "linear"; beta: number; start: number; length: number }
  /**
   * The run's `totalSteps` split into `cycles` equal cycles; in each the weight rises
   * linearly from 0 to beta over the first `ratio` of the cycle, then holds beta.
   */
  | { kind: "cyclical"; beta: number; cycles: number; ratio: number; totalSteps: number };

/**
 * The KL weight at optimizer step `step` (0-based).
 *
 * - constant: beta.
 * - linear: beta * clamp((step - start) / length, 0, 1): 0 up to and including step start,
 *   beta from step start + length on; with length 0, beta from step start on.
 * - cyclical (Fu et al. 2019, eq. 7 with their 1-based t = step + 1): period P = totalSteps /
 *   cycles, tau = (step mod ceil(P)) / P, weight = beta * min(1, tau / ratio). Steps past
 *   totalSteps hold beta (the schedule is over; the last cycle ends at its cap).
 */
export function klWeight(s: KlSchedule, step: number): number {
  if (!Number.isInteger(step) || step < 0) {
    throw new Error(`klWeight: step must be an integer >= 0, is ${step}`);
  }
  switch (s.kind) {
    case "constant":
      return s.beta;
    case "linear": {
      if (step < s.start) return 0;
      if (step >= s.start + s.length) return s.beta;
      return s.beta * ((step - s.start) / s.length);
    }
    case "cyclical": {
      if (step >= s.totalSteps) return s.beta;
      const period = s.totalSteps / s.cycles;
      const tau = (step % Math.ceil(period)) / period;
      return tau >= s.ratio ? s.beta : s.beta * (tau / s.ratio);
    }
  }
}

/** Throws unless the schedule's numbers make sense (finite beta >= 0, counts >= 1, ...). */
export function checkKlSchedule(s: KlSchedule): void {
  const fail = (what: string) => {
    throw new Error(`KL schedule ${formatKlSchedule(s)}: ${what}`);
  };
  if (!(Number.isFinite(s.beta) && s.beta >= 0)) fail(`beta must be a number >= 0, is ${s.beta}`);
  if (s.kind === "linear") {
    if (!(Number.isInteger(s.start) && s.start >= 0)) fail("START must be an integer >= 0");
    if (!(Number.isInteger(s.length) && s.length >= 0)) fail("LENGTH must be an integer >= 0");
  } else if (s.kind === "cyclical") {
    if (!(Number.isInteger(s.cycles) && s.cycles >= 1)) fail("CYCLES must be an integer >= 1");
    if (!(s.ratio > 0 && s.ratio <= 1)) fail("RATIO must be in (0, 1]");
    if (!(Number.isInteger(s.totalSteps) && s.totalSteps >= s.cycles)) {
      fail(`the run's ${s.totalSteps} steps are fewer than its ${s.cycles} cycles`);
    }
  }
}

const SYNTAX = "write constant, linear:START:LENGTH (steps) or cyclical:CYCLES:RATIO, " +
  "e.g. linear:0:5000 or cyclical:4:0.5";

/**
 * Parse the `--kl-schedule` flag: `constant`, `linear:START:LENGTH` (steps; the ramp's cap is
 * `beta`) or `cyclical:CYCLES:RATIO` (over the run's `totalSteps` optimizer steps). Errors
 * are one line saying what was wrong and what to write.
 */
export function parseKlSchedule(
  text: string,
  { beta, totalSteps }: { beta: number; totalSteps: number },
): KlSchedule {
  const parts = text.trim().split(":");
  const kind = parts[0];
  const bad = (what: string): never => {
    throw new Error(`--kl-schedule ${JSON.stringify(text)}: ${what}; ${SYNTAX}`);
  };
  const num = (i: number, name: string, integer: boolean): number => {
    const t = parts[i];
    const v = integer ? (/^\d+$/.test(t) ? Number(t) : NaN) : (t === "" ? NaN : Number(t));
    if (!Number.isFinite(v)) {
      bad(`${name} ${JSON.stringify(t)} is not ${integer ? "an integer >= 0" : "a number"}`);
    }
    return v;
  };
  const arity = (n: number, names: string) => {
    if (parts.length !== n + 1) bad(`${kind} takes ${names}, got ${parts.length - 1} value(s)`);
  };
  let s: KlSchedule;
  if (kind === "constant") {
    arity(0, "no values");
    s = { kind, beta };
  } else if (kind === "linear") {
    arity(2, "START and LENGTH");
    s = { kind, beta, start: num(1, "START", true), length: num(2, "LENGTH", true) };
  } else if (kind === "cyclical") {
    arity(2, "CYCLES and RATIO");
    const cycles = num(1, "CYCLES", true), ratio = num(2, "RATIO", false);
    if (cycles < 1) bad("CYCLES must be >= 1");
    if (!(ratio > 0 && ratio <= 1)) bad(`RATIO ${ratio} is not in (0, 1]`);
    s = { kind, beta, cycles, ratio, totalSteps };
  } else {
    return bad(`unknown kind ${JSON.stringify(kind)}`);
  }
  checkKlSchedule(s);
  return s;
}

/** The flag text that {@linkcode parseKlSchedule} reads back into `s` (beta aside). */
export function formatKlSchedule(s: KlSchedule): string {
  switch (s.kind) {
    case "constant":
      return "constant";
    case "linear":
      return `linear:${s.start}:${s.length}`;
    case "cyclical":
      return `cyclical:${s.cycles}:${s.ratio}`;
  }
}
