/**
 * Makes untrusted text (LLM output, anything read back from Redis) inert
 * before it reaches a terminal. A model can be talked into emitting escape
 * sequences that clear the screen, move the cursor to overwrite earlier
 * lines, set the window title, write the clipboard (OSC 52) or hide a link
 * target (OSC 8); bidi controls can reorder what a reader sees. Everything
 * that could do so is removed; ordinary text, emoji and accents pass through
 * unchanged.
 *
 * What is removed:
 * - 7-bit escape sequences: CSI (`ESC [` params final), OSC / DCS / SOS / PM /
 *   APC strings (up to BEL, ST, CAN or SUB), and every other `ESC` sequence;
 * - 8-bit C1 controls U+0080–U+009F, with the parameters or string that the
 *   8-bit CSI, OSC, DCS, SOS, PM and APC introduce;
 * - C0 controls except `\n` and `\t`, so `\r` and backspace cannot be used to
 *   overwrite text on screen, and DEL;
 * - bidi embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069).
 *
 * Lone surrogates become U+FFFD. A tab is kept: it only advances the cursor
 * and cannot erase or hide anything. With `keepNewlines: false` both `\n` and
 * `\t` become a space, for one-line contexts.
 *
 * A sequence longer than 64 code units without its terminator is abandoned:
 * what was consumed of it is dropped and scanning resumes with the next
 * character as ordinary text. The leftover is then visible but inert (it can
 * no longer contain an `ESC`), which is better than hiding the rest of a turn
 * behind a stray `ESC ]`. The bound also keeps replays and live views alike.
 *
 * @module
 */

/** Options for {@linkcode sanitizeText} and {@linkcode StreamSanitizer}. */
export interface SanitizeOptions {
  /**
   * Keep `\n` and `\t`; when false both become a space (for headers, status
   * lines and other one-line contexts).
   *
   * @default {true}
   */
  keepNewlines?: boolean;
}

/** Longest escape sequence, in code units, followed before giving up on it. */
const _MAX_SEQUENCE = 64;

// Scanner states.
const _TEXT = 0;
const _ESC = 1; // after ESC
const _ESC_INTERMEDIATE = 2; // ESC then bytes 0x20-0x2F, waiting for a final
const _CSI = 3; // after ESC [ or U+009B
const _STRING = 4; // OSC, DCS, SOS, PM, APC body

/** Final bytes of `ESC ]`, `ESC P`, `ESC X`, `ESC ^`, `ESC _`. */
const _STRING_INTRODUCERS = [0x5d, 0x50, 0x58, 0x5e, 0x5f];

/**
 * Removes terminal control and escape sequences from untrusted text as it
 * streams in, chunk by chunk. A sequence split across chunks is removed as a
 * whole: the scanner keeps its state between calls. It holds back at most one
 * code unit of text (a high surrogate waiting for its pair) and never buffers
 * a sequence's content, so memory stays constant whatever the input.
 *
 * Use one instance per stream (per turn); call {@linkcode flush} at the end.
 *
 * @example Removing a sequence split across tokens
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { StreamSanitizer } from "./sanitize.ts";
 *
 * const s = new StreamSanitizer();
 * const shown = s.push("Hello \x1b[2") + s.push("Jworld") + s.flush();
 * strictEqual(shown, "Hello world");
 * ```
 */
export class StreamSanitizer {
  #keepNewlines: boolean;
  #state = _TEXT;
  #length = 0; // code units consumed by the current sequence
  #high = ""; // a high surrogate waiting for the next chunk

  /** Creates a scanner; see {@linkcode SanitizeOptions}. */
  constructor(opts: SanitizeOptions = {}) {
    this.#keepNewlines = opts.keepNewlines ?? true;
  }

  /** Returns the safe text of `chunk`, keeping state for the next chunk. */
  push(chunk: string): string {
    let out = "";
    let run = 0; // start of the current run of plain text
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (this.#state === _TEXT && this.#high === "" && _isPlain(c)) continue;
      out += chunk.slice(run, i) + this.#special(c, chunk[i]!);
      run = i + 1;
    }
    return out + chunk.slice(run);
  }

  /**
   * Ends the stream: drops an unfinished sequence and turns a held lone high
   * surrogate into U+FFFD. The instance can then be reused.
   */
  flush(): string {
    const out = this.#high === "" ? "" : "\uFFFD";
    this.#high = "";
    this.#state = _TEXT;
    return out;
  }

  #special(c: number, ch: string): string {
    if (this.#state !== _TEXT && this.#sequence(c)) return "";
    if (this.#high !== "") {
      const high = this.#high;
      this.#high = "";
      if (c >= 0xdc00 && c <= 0xdfff) return high + ch;
      return "\uFFFD" + this.#special(c, ch);
    }
    if (c >= 0xd800 && c <= 0xdbff) {
      this.#high = ch;
      return "";
    }
    if (c === 0x0a) return this.#keepNewlines ? "\n" : " ";
    if (c === 0x09) return this.#keepNewlines ? "\t" : " ";
    if (c === 0x1b) this.#enter(_ESC);
    else if (c === 0x9b) this.#enter(_CSI);
    else if (c === 0x90 || c === 0x98 || (c >= 0x9d && c <= 0x9f)) {
      this.#enter(_STRING);
    } else if (_isPlain(c)) return ch; // reached when a sequence was cut short
    else if (c >= 0xdc00 && c <= 0xdfff) return "\uFFFD";
    return "";
  }

  #enter(state: number): void {
    this.#state = state;
    this.#length = 1;
  }

  /** Feeds `c` to the current sequence; false when `c` is not part of it. */
  #sequence(c: number): boolean {
    if (++this.#length > _MAX_SEQUENCE) {
      this.#state = _TEXT;
      return false;
    }
    switch (this.#state) {
      case _ESC:
        this.#state = _TEXT;
        if (c === 0x5b) this.#state = _CSI; // [
        else if (_STRING_INTRODUCERS.includes(c)) this.#state = _STRING;
        else if (c >= 0x20 && c <= 0x2f) this.#state = _ESC_INTERMEDIATE;
        else return c >= 0x30 && c <= 0x7e; // two-character sequence
        return true;
      case _ESC_INTERMEDIATE:
        if (c >= 0x20 && c <= 0x2f) return true;
        this.#state = _TEXT;
        return c >= 0x30 && c <= 0x7e;
      case _CSI:
        if (c >= 0x20 && c <= 0x3f) return true;
        this.#state = _TEXT;
        return c >= 0x40 && c <= 0x7e;
      default: // _STRING: BEL, ST, CAN and SUB end it; ESC \ is an ESC sequence
        if (c === 0x07 || c === 0x9c || c === 0x18 || c === 0x1a) {
          this.#state = _TEXT;
        } else if (c === 0x1b) this.#enter(_ESC);
        return true;
    }
  }
}

/**
 * Returns `text` with every terminal control and escape sequence removed (see
 * the module documentation for the exact rules). Same result as one
 * {@linkcode StreamSanitizer} fed the whole text, so a replay shows what the
 * live view showed.
 *
 * @example Making hostile text inert
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { sanitizeText } from "./sanitize.ts";
 *
 * strictEqual(sanitizeText("\x1b]0;pwned\x07Hi\x1b[2J ✓"), "Hi ✓");
 * strictEqual(sanitizeText("a\nb", { keepNewlines: false }), "a b");
 * ```
 */
export function sanitizeText(text: string, opts?: SanitizeOptions): string {
  const scanner = new StreamSanitizer(opts);
  return scanner.push(text) + scanner.flush();
}

/** True for a code unit that is shown as is in the text state. */
function _isPlain(c: number): boolean {
  if (c >= 0x20 && c < 0x7f) return true;
  if (c < 0xa0) return false; // C0, DEL, C1
  if (c >= 0x202a && c <= 0x202e) return false;
  if (c >= 0x2066 && c <= 0x2069) return false;
  return c < 0xd800 || c > 0xdfff;
}

/**
 * Longest untrusted text, in code units, that one line on stderr shows (a log
 * property, an error message): a model's reply quoted in an error is cut here
 * so it cannot flood the terminal.
 */
export const MAX_STDERR_TEXT = 2000;

const _UNSAFE =
  // deno-lint-ignore no-control-regex
  /[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * Makes untrusted text inert for a diagnostic line on stderr by writing every
 * character {@linkcode sanitizeText} would remove as its `\uXXXX` escape
 * instead (`\n` and `\t` are kept, or become a space with `keepNewlines:
 * false`). Nothing is swallowed, so an error quoting a cut-short sequence
 * (V8's JSON.parse snippet ends mid-`ESC ]`) stays whole and shows what the
 * model sent; a JSON log line stays valid JSON.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { escapeControls } from "./sanitize.ts";
 *
 * strictEqual(escapeControls("\x1b]0;pw"), "\\u001b]0;pw");
 * ```
 */
export function escapeControls(text: string, opts: SanitizeOptions = {}): string {
  const keep = opts.keepNewlines ?? true;
  return text.replace(_UNSAFE, (ch) => {
    if (ch === "\n" || ch === "\t") return keep ? ch : " ";
    return `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`;
  });
}

/**
 * {@linkcode escapeControls} of `text` cut to `maxLength` code units (a
 * surrogate pair or an escape is never split), with a note of how much was left out. For
 * text that reaches stderr outside the renderer: log lines and the one-line
 * error an entrypoint prints.
 *
 * @example Cutting a long, hostile error message
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { sanitizeBounded } from "./sanitize.ts";
 *
 * strictEqual(sanitizeBounded("\x1b[2Jabcdef", 11), "\\u001b[2Jab… (4 more characters)");
 * ```
 */
export function sanitizeBounded(
  text: string,
  maxLength: number = MAX_STDERR_TEXT,
  opts?: SanitizeOptions,
): string {
  const safe = escapeControls(text, opts);
  if (safe.length <= maxLength) return safe;
  let cut = maxLength;
  const last = safe.charCodeAt(cut - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut--;
  // Never end inside a `\uXXXX` escape.
  const escape = safe.lastIndexOf("\\u", cut - 1);
  if (escape !== -1 && escape > cut - 6 && /^\\u[0-9a-f]{4}/.test(safe.slice(escape))) cut = escape;
  return `${safe.slice(0, cut)}… (${safe.length - cut} more characters)`;
}
