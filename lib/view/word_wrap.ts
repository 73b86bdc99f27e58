/**
 * Word wrapping for text that arrives in pieces (a streamed reply): the
 * wrapper keeps the current column and the word in progress, writes each
 * piece at once, and starts a new line before a word that would pass the
 * width. A word longer than a whole line is cut at the width.
 *
 * @module
 */
import { charColumns, textColumns } from "./char_columns.ts";

/**
 * Wraps streamed text at word boundaries to `width` columns.
 *
 * A piece's words are placed whole; the word in progress at the end of a
 * piece is written at once (a reader sees every token as it comes) when it
 * fits on the line so far. Should it then grow past the edge, it moves to
 * the next line: with `erase` (a terminal) the part already written is
 * rubbed out with backspaces; without it (a pipe or a file, where nothing
 * can be taken back) the word finishes on its line, which then runs a few
 * columns long, rather than being cut.
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
 * const wrap = new WordWrapper(13);
 * let out = "";
 * for (const token of ["The", " compass", " points", " north."]) out += wrap.push(token);
 * out += wrap.flush();
 * strictEqual(out, "The compass\npoints north.");
 * ```
 */
export class WordWrapper {
  readonly #width: number;
  readonly #indent: string;
  readonly #indentColumns: number;
  readonly #erase: boolean;
  /** Where the cursor is. */
  #column = 0;
  /** Spaces before the word in progress, not written yet. */
  #spaces = 0;
  /** The word in progress, every character of it. */
  #word: string[] = [];
  /** How many of {@linkcode #word}'s characters are written already. */
  #written = 0;
  /** The column the word in progress starts at, once some of it is written. */
  #wordStart = 0;

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
    this.#indentColumns = textColumns(this.#indent);
    this.#erase = options.erase ?? false;
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
   * Takes the next piece of text; returns what to write now: its ended words
   * placed, and the word in progress as far as it fits on the line.
   */
  push(text: string): string {
    let out = "";
    for (const char of text) {
      if (char === "\n") {
        out += this.#endWord() + "\n";
        this.#column = 0;
        this.#spaces = 0;
      } else if (char === " " || char === "\t") {
        out += this.#endWord();
        this.#spaces++;
      } else this.#word.push(char);
    }
    return out + this.#writeEarly();
  }

  /** Ends the text: returns the rest of the word in progress (spaces at the end are dropped). */
  flush(): string {
    const out = this.#endWord();
    this.#spaces = 0;
    return out;
  }

  /** The word in progress has ended: the rest of it, where it belongs. */
  #endWord(): string {
    if (this.#word.length === 0) return "";
    const out = this.#written === 0 ? this.#place(this.#word) : this.#continue(this.#width);
    this.#word = [];
    this.#written = 0;
    return out;
  }

  /**
   * Writes the word in progress as far as it is known, when it fits where
   * it is (short of the last column with `erase`, so that a backspace never
   * meets a terminal's pending wrap).
   */
  #writeEarly(): string {
    if (this.#word.length === this.#written) return "";
    const limit = this.#erase ? this.#width - 1 : this.#width;
    if (this.#written > 0) return this.#continue(limit);
    const at = this.#column + this.#spaces;
    const columns = textColumns(this.#word.join(""));
    if (at + columns <= limit) return this.#place(this.#word);
    // The last column (with `erase`): not sure yet; held until the word ends.
    if (at + columns <= this.#width) return "";
    // Certainly not on this line: the next one, at once.
    return this.#place(this.#word);
  }

  /**
   * Writes the rest of a word already begun: where it started when it fits
   * up to `limit` (or it started a line, or cannot be taken back), else it
   * moves down whole. Holds it when it fits only up to the width.
   */
  #continue(limit: number): string {
    const end = this.#wordStart + textColumns(this.#word.join(""));
    const atLineStart = this.#wordStart <= this.#indentColumns;
    if (end <= limit || atLineStart || !this.#erase) {
      const out = this.#emit(this.#word.slice(this.#written));
      this.#written = this.#word.length;
      return out;
    }
    if (end <= this.#width) return "";
    // Rub out what was written of it; then it starts the next line.
    const shown = textColumns(this.#word.slice(0, this.#written).join(""));
    this.#column = this.#wordStart;
    this.#spaces = 0;
    return "\b".repeat(shown) + " ".repeat(shown) + this.#place(this.#word);
  }

  /**
   * Places a whole word and writes it: on this line when it fits (after its
   * spaces), else at the start of the next; cut at the width when longer
   * than a line.
   */
  #place(word: string[]): string {
    let out = "";
    const columns = textColumns(word.join(""));
    if (this.#column + this.#spaces + columns <= this.#width) {
      // Spaces at a line start are the text's own (indentation): kept.
      out += " ".repeat(this.#spaces);
      this.#column += this.#spaces;
    } else if (this.#column > this.#indentColumns) out += this.#break();
    this.#spaces = 0;
    this.#wordStart = this.#column;
    this.#written = word.length;
    return out + this.#emit(word);
  }

  /**
   * Writes `chars` of the word in progress from the cursor. A word that
   * started a line and is longer than one is cut at the width; one that
   * started mid-line runs past it only when it could not be taken back.
   */
  #emit(chars: string[]): string {
    let out = "";
    for (const char of chars) {
      const columns = charColumns(char);
      const past = this.#column > this.#indentColumns && this.#column + columns > this.#width;
      if (past && this.#wordStart <= this.#indentColumns) out += this.#break();
      out += char;
      this.#column += columns;
    }
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
   * Whether what was written may be taken back with backspaces (a
   * terminal): a word in progress that outgrows its line then moves to the
   * next one whole, instead of finishing on its line.
   *
   * @default {false}
   */
  erase?: boolean;
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
