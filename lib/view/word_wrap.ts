/**
 * Word wrapping for text that arrives in pieces (a streamed reply): the
 * wrapper keeps the current column and the word in progress, and writes a
 * word once it has ended, on the current line when it fits, else on a new
 * one. A word longer than a whole line is cut at the width.
 *
 * @module
 */

/**
 * Wraps streamed text at word boundaries to `width` columns.
 *
 * Columns are counted as a terminal shows them, closely enough for prose:
 * wide characters (CJK, emoji) take two, combining marks none. The text is
 * expected to be sanitized already (no escape sequences, no control
 * characters but newline and tab).
 *
 * @example Wrapping a reply that arrives in tokens
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { WordWrapper } from "./word_wrap.ts";
 *
 * const wrap = new WordWrapper(12);
 * let out = "";
 * for (const token of ["The comp", "ass points", " north."]) out += wrap.push(token);
 * out += wrap.flush();
 * strictEqual(out, "The compass\npoints\nnorth.");
 * ```
 */
export class WordWrapper {
  readonly #width: number;
  readonly #indent: string;
  readonly #indentColumns: number;
  #column = 0;
  #spaces = 0;
  #word: string[] = [];
  #wordLength = 0;

  /**
   * Creates a wrapper for lines of at most `width` columns.
   *
   * @throws {RangeError} If `width` is not a whole number of at least 1, or
   * the indent leaves no room on a line.
   */
  constructor(width: number, options: WrapOptions = {}) {
    if (!Number.isInteger(width) || width < 1) {
      throw new RangeError(
        `Cannot wrap text as the width must be a whole number of at least 1: current value is ${width}`,
      );
    }
    this.#width = width;
    this.#indent = options.indent ?? "";
    this.#indentColumns = _columns(this.#indent);
    if (this.#indentColumns >= width) {
      throw new RangeError(
        `Cannot wrap text as the indent leaves no room in ${width} columns: current value is ${
          JSON.stringify(this.#indent)
        }`,
      );
    }
  }

  /** The column the next character would be written at (0 at a line start). */
  get column(): number {
    return this.#column;
  }

  /**
   * Takes the next piece of text; returns what can be written now (every
   * word that has ended). The word in progress is held back until it ends.
   */
  push(text: string): string {
    let out = "";
    for (const char of text) {
      if (char === "\n") {
        out += this.#emitWord() + "\n";
        this.#column = 0;
        this.#spaces = 0;
      } else if (char === " " || char === "\t") {
        out += this.#emitWord();
        this.#spaces++;
      } else {
        this.#word.push(char);
        this.#wordLength += charColumns(char);
      }
    }
    return out;
  }

  /** Ends the text: returns the word in progress (spaces at the end are dropped). */
  flush(): string {
    const out = this.#emitWord();
    this.#spaces = 0;
    return out;
  }

  #emitWord(): string {
    if (this.#wordLength === 0) return "";
    let out = "";
    const fits = this.#column + this.#spaces + this.#wordLength <= this.#width;
    if (fits) {
      // Spaces at a line start are the text's own (indentation): kept.
      out += " ".repeat(this.#spaces);
      this.#column += this.#spaces;
    } else if (this.#column > 0) out += this.#break();
    for (const char of this.#word) {
      const columns = charColumns(char);
      // Longer than a line: cut at the width.
      if (this.#column > this.#indentColumns && this.#column + columns > this.#width) {
        out += this.#break();
      }
      out += char;
      this.#column += columns;
    }
    this.#spaces = 0;
    this.#word = [];
    this.#wordLength = 0;
    return out;
  }

  /** A line break made by wrapping: the hanging indent follows it. */
  #break(): string {
    this.#column = this.#indentColumns;
    return "\n" + this.#indent;
  }
}

/** Options of {@linkcode WordWrapper} and {@linkcode wrapText}. */
export interface WrapOptions {
  /**
   * Written after each line break the wrapping makes (a hanging indent), not
   * after the text's own newlines.
   *
   * @default {""}
   */
  indent?: string;
}

/**
 * `text` word-wrapped at `width` columns, whole.
 *
 * @example A label with a hanging indent
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { wrapText } from "./word_wrap.ts";
 *
 * strictEqual(
 *   wrapText("  Goal: reach the shore by dawn", 16, { indent: "    " }),
 *   "  Goal: reach\n    the shore by\n    dawn",
 * );
 * ```
 */
export function wrapText(text: string, width: number, options: WrapOptions = {}): string {
  const wrapper = new WordWrapper(width, options);
  return wrapper.push(text) + wrapper.flush();
}

function _columns(text: string): number {
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
 * import { charColumns } from "./word_wrap.ts";
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
