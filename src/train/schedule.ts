/**
 * The KL weight as a pure function of the optimizer step, for annealing schedules that fight
 * posterior collapse: constant (beta-VAE), a linear warm-up (Bowman et al. 2016) and the
 * cyclical schedule of Fu et al. 2019, and an up-then-down schedule (the weight rises over
 * the first steps, then falls to a floor: the KL annealing of seed 001). `step` is the
 * 0-based index of the optimizer step about to be taken, so the first step of a run is step 0.
 *
 * The flag is checked twice: when the configuration is read, before the run's length is
 * known (parse it without `totalSteps`: syntax and ranges only), and when training starts,
 * with the run's real number of optimizer steps (then a cyclical schedule with more cycles
 * than steps is refused).
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
  | { kind: "cyclical"; beta: number; cycles: number; ratio: number; totalSteps: number }
  /**
   * Rises linearly from 0 to beta over the first `rise` steps, then falls linearly to
   * `floor * beta` over the next `fall` steps, then holds `floor * beta`.
   */
  | { kind: "updown"; beta: number; rise: number; fall: number; floor: number };

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
    case "updown": {
      if (step < s.rise) return s.beta * (step / s.rise);
      if (step >= s.rise + s.fall) return s.beta * s.floor;
      return s.beta * (1 - (1 - s.floor) * ((step - s.rise) / s.fall));
    }
  }
}

/**
 * Throws unless the schedule's numbers make sense (finite beta >= 0, counts >= 1, ...). A
 * cyclical schedule's step count is checked unless `totalSteps` is NaN (not known yet).
 */
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
    if (!Number.isNaN(s.totalSteps)) {
      if (!(Number.isInteger(s.totalSteps) && s.totalSteps >= s.cycles)) {
        fail(`the run's ${s.totalSteps} steps are fewer than its ${s.cycles} cycles`);
      }
    }
  } else if (s.kind === "updown") {
    if (!(Number.isInteger(s.rise) && s.rise >= 0)) fail("RISE must be an integer >= 0");
    if (!(Number.isInteger(s.fall) && s.fall >= 0)) fail("FALL must be an integer >= 0");
    if (!(s.floor >= 0 && s.floor <= 1)) fail("FLOOR must be in [0, 1] (a fraction of beta)");
  }
}

const SYNTAX = "write constant, linear:START:LENGTH (steps), cyclical:CYCLES:RATIO or " +
  "updown:RISE:FALL:FLOOR (steps, steps, fraction of beta), e.g. linear:0:5000, " +
  "cyclical:4:0.5 or updown:2000:8000:0.1";

/**
 * Parse the `--kl-schedule` flag: `constant`, `linear:START:LENGTH` (steps; the ramp's cap is
 * `beta`), `cyclical:CYCLES:RATIO` (over the run's `totalSteps` optimizer steps) or
 * `updown:RISE:FALL:FLOOR` (steps, steps, a fraction of beta). Errors are one line saying
 * what was wrong and what to write.
 *
 * Leave `totalSteps` out where the run's length is not known yet (when a configuration is
 * read): the flag is then checked for syntax and ranges only, and a cyclical schedule's
 * `totalSteps` is NaN until it is parsed again with the real count. A placeholder count
 * (say 1) would refuse every `cyclical:N:R` with N >= 2.
 */
export function parseKlSchedule(
  text: string,
  { beta, totalSteps = NaN }: { beta: number; totalSteps?: number },
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
  } else if (kind === "updown") {
    arity(3, "RISE, FALL and FLOOR");
    const floor = num(3, "FLOOR", false);
    if (!(floor >= 0 && floor <= 1)) bad(`FLOOR ${floor} is not in [0, 1] (a fraction of beta)`);
    s = { kind, beta, rise: num(1, "RISE", true), fall: num(2, "FALL", true), floor };
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
    case "updown":
      return `updown:${s.rise}:${s.fall}:${s.floor}`;
  }
}
