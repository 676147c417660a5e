/**
 * The guards around the numbers training computes: a non-finite value anywhere in a record
 * stops the run (NonFiniteError, firstNonFinite), and a loss two orders of magnitude above its
 * lowest is reported as divergence (DivergenceWatch).
 */

/** Raised when the loss turns NaN or Inf; names where. */
export class NonFiniteError extends Error {
  /**
   * Make the error.
   * @param message where it happened and what was kept
   */
  constructor(message: string) {
    super(message);
    this.name = "NonFiniteError";
  }
}

/**
 * The first number in `value` (walked through arrays and plain objects) that is NaN or
 * infinite, as `path = value` (`diagnostics.klPerDim[2] = Infinity`); null when all are finite.
 */
export function firstNonFinite(value: unknown, path = ""): string | null {
  if (typeof value === "number") return Number.isFinite(value) ? null : `${path} = ${value}`;
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    const a = value as unknown as ArrayLike<number | bigint>;
    for (let i = 0; i < a.length; i++) {
      const bad = firstNonFinite(a[i], `${path}[${i}]`);
      if (bad) return bad;
    }
    return null;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const bad = firstNonFinite(value[i], `${path}[${i}]`);
      if (bad) return bad;
    }
    return null;
  }
  if (typeof value === "object" && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      const bad = firstNonFinite(v, path ? `${path}.${k}` : k);
      if (bad) return bad;
    }
  }
  return null;
}

/**
 * Watches the training loss for divergence: a mean loss `factor` times (two orders of
 * magnitude by default) above the lowest seen so far in the run.
 */
export class DivergenceWatch {
  /** The lowest loss seen, and where. */
  lowest: { loss: number; where: string } | null = null;
  /** How many times above the lowest counts as divergence. */
  readonly factor: number;

  /** @param factor how many times above the lowest loss counts as divergence */
  constructor(factor = 100) {
    this.factor = factor;
  }

  /**
   * Record `loss` seen at `where` ("epoch 2, step 3"); returns a one-line description when it
   * is `factor` times above the lowest (and both are positive), else null.
   */
  see(loss: number, where: string): string | null {
    if (!Number.isFinite(loss)) return null; // the non-finite guard's business
    if (this.lowest === null || loss < this.lowest.loss) {
      this.lowest = { loss, where };
      return null;
    }
    if (this.lowest.loss > 0 && loss > this.factor * this.lowest.loss) {
      return `the loss is diverging: ${loss.toPrecision(3)} at ${where}, ` +
        `${(loss / this.lowest.loss).toPrecision(2)} times its lowest ` +
        `(${this.lowest.loss.toPrecision(3)} at ${this.lowest.where})`;
    }
    return null;
  }
}
