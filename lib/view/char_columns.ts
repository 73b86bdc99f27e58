/**
 * How many terminal columns text takes: combining marks and zero-width
 * characters take none, East Asian wide characters and emoji take two. Used
 * by the word wrapper and the tables, so both line up the same text alike.
 *
 * @module
 */

/**
 * Columns of a whole string.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { textColumns } from "./char_columns.ts";
 * strictEqual(textColumns("a字"), 3);
 * ```
 */
export function textColumns(text: string): number {
  let columns = 0;
  for (const char of text) columns += charColumns(char);
  return columns;
}

/**
 * How many columns a terminal gives one code point: 0 for combining marks,
 * zero-width characters and variation selectors, 2 for East Asian wide
 * characters and emoji, else 1.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { charColumns } from "./char_columns.ts";
 *
 * strictEqual(charColumns("a"), 1);
 * strictEqual(charColumns("字"), 2);
 * strictEqual(charColumns("\u0301"), 0);
 * ```
 */
export function charColumns(char: string): number {
  const code = char.codePointAt(0) ?? 0;
  if (_inRanges(code, _ZERO_WIDTH)) return 0;
  return _inRanges(code, _WIDE) ? 2 : 1;
}

const _ZERO_WIDTH: readonly [number, number][] = [
  [0x0300, 0x036f],
  [0x0483, 0x0489],
  [0x0591, 0x05bd],
  [0x0610, 0x061a],
  [0x064b, 0x065f],
  [0x200b, 0x200f],
  [0x20d0, 0x20ff],
  [0xfe00, 0xfe0f],
  [0xfe20, 0xfe2f],
  [0xe0100, 0xe01ef],
];

const _WIDE: readonly [number, number][] = [
  [0x1100, 0x115f],
  [0x231a, 0x231b],
  [0x2329, 0x232a],
  [0x23e9, 0x23ec],
  [0x25fd, 0x25fe],
  [0x2614, 0x2615],
  [0x2648, 0x2653],
  [0x26a1, 0x26a1],
  [0x26bd, 0x26be],
  [0x26c4, 0x26c5],
  [0x26d4, 0x26d4],
  [0x26ea, 0x26ea],
  [0x26f2, 0x26f5],
  [0x26fa, 0x26fd],
  [0x2705, 0x2705],
  [0x270a, 0x270b],
  [0x2728, 0x2728],
  [0x274c, 0x274c],
  [0x2753, 0x2755],
  [0x2757, 0x2757],
  [0x2795, 0x2797],
  [0x27b0, 0x27b0],
  [0x27bf, 0x27bf],
  [0x2b1b, 0x2b1c],
  [0x2b50, 0x2b50],
  [0x2b55, 0x2b55],
  [0x2e80, 0x303e],
  [0x3041, 0x33ff],
  [0x3400, 0x4dbf],
  [0x4e00, 0x9fff],
  [0xa000, 0xa4cf],
  [0xa960, 0xa97f],
  [0xac00, 0xd7a3],
  [0xf900, 0xfaff],
  [0xfe10, 0xfe19],
  [0xfe30, 0xfe6f],
  [0xff00, 0xff60],
  [0xffe0, 0xffe6],
  [0x1f004, 0x1f004],
  [0x1f0cf, 0x1f0cf],
  [0x1f18e, 0x1f18e],
  [0x1f191, 0x1f19a],
  [0x1f200, 0x1f251],
  [0x1f300, 0x1f64f],
  [0x1f680, 0x1f6ff],
  [0x1f7e0, 0x1f7eb],
  [0x1f90c, 0x1f9ff],
  [0x1fa70, 0x1faff],
  [0x20000, 0x3fffd],
];

function _inRanges(code: number, ranges: readonly [number, number][]): boolean {
  if (code < 0x0300) return false;
  for (const [from, to] of ranges) {
    if (code < from) return false;
    if (code <= to) return true;
  }
  return false;
}
