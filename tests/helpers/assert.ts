/**
 * Assertions for tests, on top of `node:assert/strict` (JSR's @std/assert
 * is not reachable from our machines).
 *
 * @module
 */
import * as nodeAssert from "node:assert/strict";

/** Asserts that `value` is truthy. */
export function assert(value: unknown, message?: string): asserts value {
  nodeAssert.ok(value, message);
}

/** Asserts deep strict equality. */
export function assertEquals<T>(actual: unknown, expected: T, message?: string): void {
  nodeAssert.deepStrictEqual(actual, expected, message);
}

/** Asserts that `text` contains `part`. */
export function assertStringIncludes(text: string, part: string, message?: string): void {
  nodeAssert.ok(
    text.includes(part),
    message ?? `expected text to include ${JSON.stringify(part)}; got:\n${text.slice(0, 2000)}`,
  );
}

/** Asserts that `text` matches `pattern`. */
export function assertMatch(text: string, pattern: RegExp, message?: string): void {
  nodeAssert.match(text, pattern, message);
}

/** Asserts that `fn` rejects with an error for which `check` holds; returns it. */
export async function assertRejects<E = Error>(
  fn: () => Promise<unknown>,
  check?: (error: E) => boolean,
): Promise<E> {
  try {
    await fn();
  } catch (error) {
    if (check) nodeAssert.ok(check(error as E), `unexpected error: ${String(error)}`);
    return error as E;
  }
  throw new nodeAssert.AssertionError({ message: "expected a rejection" });
}
