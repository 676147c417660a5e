/**
 * The part of `node:assert/strict` the kernel tests use, for the browser kernel suite: the
 * page's import map points `node:assert/strict` here. Same semantics as Node's strict mode
 * where the tests can tell: `equal` and `deepEqual` compare primitives with `Object.is`
 * (NaN equals NaN, -0 differs from 0), typed arrays, arrays, Sets, Maps and plain objects
 * element by element; a RegExp given to `throws` / `rejects` is matched against
 * `String(error)`, a class is an `instanceof` check.
 */

/** Raised by a failed assertion. */
export class AssertionError extends Error {
  /** @param message what was expected */
  constructor(message: string) {
    super(message);
    this.name = "AssertionError";
  }
}

function show(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number" && Object.is(v, -0)) return "-0";
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}[${String(v)}]`;
  if (v instanceof Set) return `Set(${show([...v])})`;
  if (v instanceof Map) return `Map(${show([...v])})`;
  try {
    const s = JSON.stringify(
      v,
      (_, x) => (typeof x === "number" && !Number.isFinite(x) ? `${x}` : x),
    );
    return s === undefined ? String(v) : s;
  } catch {
    return String(v);
  }
}

function fail(message: string | undefined, fallback: string): never {
  throw new AssertionError(message ?? fallback);
}

function deepEq(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (a instanceof Set && b instanceof Set) {
    if (a.size !== b.size) return false;
    for (const x of a) {
      if (!b.has(x) && ![...b].some((y) => deepEq(x, y))) return false;
    }
    return true;
  }
  if (a instanceof Map && b instanceof Map) {
    if (a.size !== b.size) return false;
    for (const [k, v] of a) if (!b.has(k) || !deepEq(v, b.get(k))) return false;
    return true;
  }
  if (ArrayBuffer.isView(a) && ArrayBuffer.isView(b)) {
    const x = a as unknown as ArrayLike<unknown>;
    const y = b as unknown as ArrayLike<unknown>;
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return false;
    return true;
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!Object.hasOwn(b, k)) return false;
    if (!deepEq((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}

/** What `throws` / `rejects` may check an error against. */
type Expected = RegExp | (new (...args: never[]) => unknown) | ((e: unknown) => boolean);

function check(error: unknown, expected: Expected | undefined, message?: string): void {
  if (expected === undefined) return;
  if (expected instanceof RegExp) {
    if (!expected.test(String(error))) {
      fail(message, `the error ${show(String(error))} does not match ${expected}`);
    }
    return;
  }
  if (expected.prototype !== undefined && error instanceof (expected as new () => unknown)) return;
  if (expected.prototype === undefined && (expected as (e: unknown) => boolean)(error) === true) {
    return;
  }
  fail(message, `the error ${show(String(error))} is not the one expected`);
}

/** The strict assertions the kernel tests call. */
const assert = {
  AssertionError,
  /** `value` is truthy. */
  ok(value: unknown, message?: string): void {
    if (!value) fail(message, `expected a truthy value, got ${show(value)}`);
  },
  /** `Object.is(actual, expected)`. */
  equal(actual: unknown, expected: unknown, message?: string): void {
    if (!Object.is(actual, expected)) fail(message, `${show(actual)} !== ${show(expected)}`);
  },
  /** `!Object.is(actual, expected)`. */
  notEqual(actual: unknown, expected: unknown, message?: string): void {
    if (Object.is(actual, expected)) fail(message, `expected anything but ${show(expected)}`);
  },
  /** Structural equality, primitives by `Object.is`. */
  deepEqual(actual: unknown, expected: unknown, message?: string): void {
    if (!deepEq(actual, expected)) {
      fail(
        message,
        `not deeply equal:\n  actual:   ${show(actual)}\n  expected: ${show(expected)}`,
      );
    }
  },
  /** `regexp` matches `text`. */
  match(text: string, regexp: RegExp, message?: string): void {
    if (typeof text !== "string" || !regexp.test(text)) {
      fail(message, `${show(text)} does not match ${regexp}`);
    }
  },
  /** `fn()` throws an error that passes `expected`. */
  throws(fn: () => unknown, expected?: Expected, message?: string): void {
    try {
      fn();
    } catch (e) {
      check(e, expected, message);
      return;
    }
    fail(message, "missing expected exception");
  },
  /** `fn()` (or the promise) rejects with an error that passes `expected`. */
  async rejects(
    fn: (() => Promise<unknown>) | Promise<unknown>,
    expected?: Expected,
    message?: string,
  ): Promise<void> {
    try {
      await (typeof fn === "function" ? fn() : fn);
    } catch (e) {
      check(e, expected, message);
      return;
    }
    fail(message, "missing expected rejection");
  },
};

export default assert;
