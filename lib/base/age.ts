/**
 * Spans of time written with a unit (`90s`, `10m`, `1h`, `7d`, `2w`), as
 * flags such as `analyze --since` and `clean --older-than` and the
 * configuration's durations take them. One parser for all of them.
 *
 * @module
 */
import { usageError } from "./dialogue_error.ts";

/** Seconds per unit. */
const _UNITS = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 } as const;

/**
 * Milliseconds in an age such as `90s`, `30m`, `12h`, `7d` or `2w`, or
 * `undefined` when the text is not one.
 *
 * @example
 * ```ts
 * import { ageMs } from "./age.ts";
 * if (ageMs("10m") !== 600_000) throw new Error();
 * if (ageMs("10") !== undefined) throw new Error();
 * ```
 */
export function ageMs(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$/.exec(text.trim());
  if (!match) return undefined;
  return Number(match[1]) * _UNITS[match[2] as keyof typeof _UNITS] * 1000;
}

/**
 * Parses an age such as `90s`, `30m`, `12h`, `7d` or `2w` into milliseconds.
 *
 * @throws {DialogueError} `usage` naming the flag and the expected form.
 */
export function parseAge(text: string, flag = "--older-than"): number {
  const ms = ageMs(text);
  if (ms === undefined) {
    throw usageError(
      `Invalid ${flag} ${
        JSON.stringify(text)
      }: expected a number and a unit (s, m, h, d, w), e.g. 7d`,
    );
  }
  return ms;
}
