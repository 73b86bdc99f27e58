/**
 * Extracts one string field of a JSON object while the object is still
 * streaming in, so the live view can show the words of `message` as the
 * model produces them instead of raw JSON.
 *
 * @module
 */

// Where the scanner is in the top-level object.
const _BEFORE = 0; // before the opening brace
const _KEY_OR_END = 1; // after `{`
const _KEY = 2; // after `,`
const _KEY_STRING = 3; // inside a top-level key
const _COLON = 4;
const _VALUE = 5;
const _SCALAR = 6; // number, true, false, null (not validated)
const _SKIP_STRING = 7; // a string value of another field
const _NESTED = 8; // an object or array value, skipped whole
const _AFTER_VALUE = 9;
const _FIELD = 10; // inside the wanted string value
const _DONE = 11; // the wanted value closed
const _STOPPED = 12; // field absent, not a string, or invalid JSON

/**
 * Decodes, chunk by chunk, the string value of one top-level key of a JSON
 * object. An incremental state machine: each character is looked at once
 * (O(total length)), the text is never re-parsed, and memory stays bounded
 * (a key longer than the field name is not kept).
 *
 * Chunks may split the text anywhere: inside keys, escapes (`\n`,
 * `\u00e9`), or surrogate pairs, raw or escaped. A high surrogate is held
 * back until its pair arrives, so no chunk of output ends in half a
 * character. Keys of nested objects are ignored. For any prefix of valid
 * JSON, the concatenated output is a prefix of what `JSON.parse` gives for
 * the field; once the value closes it is exactly that.
 *
 * Invalid input never throws: decoding simply stops at the first error. If
 * the key occurs twice the first occurrence wins (output cannot be taken
 * back), where `JSON.parse` would keep the last. If the field's value is not
 * a string, nothing is emitted.
 *
 * @example Showing only the message while structured output streams in
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { JsonFieldStream } from "./json_field_stream.ts";
 *
 * const field = new JsonFieldStream("message");
 * let shown = "";
 * for (const chunk of ['{"mess', 'age": "Caf\\u00', 'e9 \\"ok\\""', ', "x": 1}']) {
 *   shown += field.push(chunk);
 * }
 * strictEqual(shown, 'Café "ok"');
 * strictEqual(field.done, true);
 * ```
 */
export class JsonFieldStream {
  /** The key whose string value is extracted. */
  readonly field: string;
  #mode = _BEFORE;
  #out = ""; // output of the current push
  #key = ""; // decoded key so far, dropped once longer than the field
  #keyTooLong = false;
  #matched = false; // the key just read is the field
  #escape = 0; // 0: none, 1: after a backslash, 2: reading \u hex digits
  #hex = 0;
  #hexDigits = 0;
  #high = ""; // a high surrogate waiting for its pair
  #depth = 0; // nesting of a skipped object or array value
  #inString = false; // inside a string of a skipped value
  #escaped = false; // after a backslash in a skipped string

  /** Creates a decoder for the top-level key `field` (e.g. `"message"`). */
  constructor(field: string) {
    this.field = field;
  }

  /** True once the field's string value has closed; later input is ignored. */
  get done(): boolean {
    return this.#mode === _DONE;
  }

  /** Feeds the next piece of JSON text; returns newly decoded field text. */
  push(chunk: string): string {
    this.#out = "";
    for (let i = 0; i < chunk.length && this.#mode < _DONE; i++) {
      const c = chunk.charCodeAt(i);
      const mode = this.#mode;
      if (mode === _FIELD || mode === _KEY_STRING) {
        i = this.#string(chunk, i);
      } else if (mode === _SKIP_STRING) {
        if (this.#escaped) this.#escaped = false;
        else if (c === 0x5c) this.#escaped = true;
        else if (c === 0x22) this.#mode = _AFTER_VALUE;
      } else if (mode === _NESTED) {
        this.#nested(c);
      } else if (mode === _SCALAR) {
        if (c === 0x2c) this.#mode = _KEY;
        else if (c === 0x7d) this.#mode = _STOPPED;
        else if (_isSpace(c)) this.#mode = _AFTER_VALUE;
      } else if (!_isSpace(c)) {
        this.#structure(c);
      }
    }
    return this.#out;
  }

  /** Handles a significant character between tokens. */
  #structure(c: number): void {
    const mode = this.#mode;
    let next = _STOPPED;
    if (mode === _BEFORE) {
      if (c === 0x7b) next = _KEY_OR_END;
    } else if (mode === _KEY_OR_END || mode === _KEY) {
      if (c === 0x22) next = _KEY_STRING;
    } else if (mode === _COLON) {
      if (c === 0x3a) next = _VALUE;
    } else if (mode === _AFTER_VALUE) {
      if (c === 0x2c) next = _KEY;
    } else if (mode === _VALUE) {
      if (c === 0x22) next = this.#matched ? _FIELD : _SKIP_STRING;
      else if (this.#matched) next = _STOPPED;
      else if (c === 0x7b || c === 0x5b) {
        next = _NESTED;
        this.#depth = 1;
        this.#inString = false;
      } else if (c !== 0x7d && c !== 0x5d && c !== 0x2c && c !== 0x3a) {
        next = _SCALAR;
      }
    }
    this.#mode = next;
  }

  /** Skips one character of an object or array value. */
  #nested(c: number): void {
    if (this.#inString) {
      if (this.#escaped) this.#escaped = false;
      else if (c === 0x5c) this.#escaped = true;
      else if (c === 0x22) this.#inString = false;
    } else if (c === 0x22) {
      this.#inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      this.#depth++;
    } else if ((c === 0x7d || c === 0x5d) && --this.#depth === 0) {
      this.#mode = _AFTER_VALUE;
    }
  }

  /** Decodes string content at `i`; returns the last index consumed. */
  #string(chunk: string, i: number): number {
    const c = chunk.charCodeAt(i);
    if (this.#escape === 1) {
      this.#escape = 0;
      if (c === 0x75) {
        this.#escape = 2;
        this.#hex = 0;
        this.#hexDigits = 0;
      } else {
        const decoded = _simpleEscape(c);
        if (decoded === undefined) this.#mode = _STOPPED;
        else this.#text(decoded);
      }
      return i;
    }
    if (this.#escape === 2) {
      const digit = _hexDigit(c);
      if (digit < 0) {
        this.#mode = _STOPPED;
      } else {
        this.#hex = this.#hex * 16 + digit;
        if (++this.#hexDigits === 4) {
          this.#escape = 0;
          this.#text(String.fromCharCode(this.#hex));
        }
      }
      return i;
    }
    if (c === 0x22) this.#closeString();
    else if (c === 0x5c) this.#escape = 1;
    else if (c < 0x20) this.#mode = _STOPPED; // raw control: invalid JSON
    else {
      let end = i + 1;
      while (end < chunk.length) {
        const d = chunk.charCodeAt(end);
        if (d === 0x22 || d === 0x5c || d < 0x20) break;
        end++;
      }
      this.#text(chunk.slice(i, end));
      return end - 1;
    }
    return i;
  }

  /** Appends decoded string content to the key or to the output. */
  #text(s: string): void {
    if (this.#mode === _KEY_STRING) {
      if (this.#keyTooLong) return;
      this.#key += s;
      if (this.#key.length > this.field.length) {
        this.#keyTooLong = true;
        this.#key = "";
      }
      return;
    }
    let text = this.#high + s;
    this.#high = "";
    const last = text.charCodeAt(text.length - 1);
    if (last >= 0xd800 && last <= 0xdbff) {
      this.#high = text.slice(-1);
      text = text.slice(0, -1);
    }
    this.#out += text;
  }

  #closeString(): void {
    if (this.#mode === _FIELD) {
      this.#out += this.#high;
      this.#high = "";
      this.#mode = _DONE;
      return;
    }
    this.#matched = !this.#keyTooLong && this.#key === this.field;
    this.#key = "";
    this.#keyTooLong = false;
    this.#mode = _COLON;
  }
}

function _isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function _hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/** The character a one-letter JSON escape stands for, if valid. */
function _simpleEscape(c: number): string | undefined {
  switch (c) {
    case 0x22:
      return '"';
    case 0x5c:
      return "\\";
    case 0x2f:
      return "/";
    case 0x62:
      return "\b";
    case 0x66:
      return "\f";
    case 0x6e:
      return "\n";
    case 0x72:
      return "\r";
    case 0x74:
      return "\t";
  }
  return undefined;
}
