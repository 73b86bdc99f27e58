/**
 * The stderr sinks make model text inert: the log sink (every format, every
 * place in a record a string can hide) and the entrypoint's one-line
 * DialogueError. No ESC, BEL, C1 or other control character gets through; the
 * readable words do; long text is cut to MAX_STDERR_TEXT.
 */
import type { LogRecord } from "@logtape/logtape";
import { assert, assertEquals, assertStringIncludes } from "../helpers/assert.ts";
import { logFormatter, safeLogLine } from "../../lib/base/logger.ts";
import { MAX_STDERR_TEXT, sanitizeBounded } from "../../lib/base/sanitize.ts";
import { errorLine } from "../../lib/cli/entrypoint.ts";
import { DialogueError, ErrorCode } from "../../lib/base/dialogue_error.ts";

/** What a hostile model puts in its reply: clear screen, title, C1 CSI, OSC 52, bidi, CR. */
const HOSTILE = "\x1b[2J\x1b]0;pwned\x07\x9b31m\x1b]52;c;ZXZpbA==\x07\u202e\r\bVISIBLE-WORDS";

/** Any character that can drive a terminal: C0 but newline and tab, DEL, C1, bidi. */
// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

function record(message: unknown[], properties: Record<string, unknown> = {}): LogRecord {
  return {
    category: ["dialogue", "agent"],
    level: "warning",
    message,
    rawMessage: "",
    timestamp: Date.now(),
    properties,
  };
}

for (const format of ["text", "json", "%(name)s - %(levelname)s - %(message)s"]) {
  Deno.test(`log sink (${format}): model text in a message value, a property or an error is inert and readable`, () => {
    const fmt = logFormatter({ level: "debug", format }, "agent");
    const error = new SyntaxError(`Unexpected token in JSON at position 0 "${HOSTILE}"`);
    for (
      const rec of [
        record(["Model said ", HOSTILE, ""], { reply: HOSTILE }),
        record(["Attempt failed: ", error, ""], { error }),
      ]
    ) {
      const raw = fmt(rec);
      const line = safeLogLine(fmt, rec);
      if (format !== "json") assert(CONTROL.test(raw), "the unsafe line has control characters");
      assert(!CONTROL.test(line), `control character in ${JSON.stringify(line)}`);
      assertStringIncludes(line, "VISIBLE-WORDS");
      assert(line.endsWith("\n"));
    }
  });
}

Deno.test("log sink: a long string value is cut to MAX_STDERR_TEXT with a note", () => {
  const fmt = logFormatter({ level: "debug", format: "text" }, "agent");
  const line = safeLogLine(fmt, record(["Model said ", "z".repeat(50_000), ""]));
  assert(line.length < MAX_STDERR_TEXT + 200, `${line.length} characters`);
  assertStringIncludes(line, `… (${50_000 - MAX_STDERR_TEXT} more characters)`);
});

Deno.test("entrypoint error line: inert, on one line, bounded, still readable", () => {
  const error = new DialogueError(
    ErrorCode.InvalidOutput,
    `agent 1 gave no valid reply: not JSON: ${HOSTILE}\nsecond line ${"q".repeat(10_000)}`,
  );
  const line = errorLine("chat", error);
  assert(!CONTROL.test(line), JSON.stringify(line));
  assert(!line.includes("\n"));
  assert(line.startsWith("chat: agent 1 gave no valid reply: not JSON: "));
  assertStringIncludes(line, "VISIBLE-WORDS second line");
  assert(line.length <= "chat: ".length + MAX_STDERR_TEXT + 40, `${line.length}`);
});

Deno.test("sanitizeBounded never splits a surrogate pair and writes controls as escapes, swallowing nothing", () => {
  assertEquals(sanitizeBounded("ab😀cd", 3), "ab… (4 more characters)");
  assertEquals(sanitizeBounded("ab😀cd", 4), "ab😀… (2 more characters)");
  assertEquals(sanitizeBounded("\x1b[1mok\x1b[0m", 100), "\\u001b[1mok\\u001b[0m");
  // A cut-short OSC (as V8's JSON.parse snippet leaves it) does not hide what follows.
  assertEquals(
    sanitizeBounded("token '\x1b', \"\x1b]0;pw\"... is not valid JSON; set agents.output", 200),
    "token '\\u001b', \"\\u001b]0;pw\"... is not valid JSON; set agents.output",
  );
  assertEquals(
    sanitizeBounded("\u202eA\x9bB\ud800C\r\n\tD", 100),
    "\\u202eA\\u009bB\\ud800C\\u000d\n\tD",
  );
  assertEquals(sanitizeBounded("a\nb\tc", 100, { keepNewlines: false }), "a b c");
});

Deno.test("log sink (json): a line with a C1 character in a value stays valid JSON", () => {
  const fmt = logFormatter({ level: "debug", format: "json" }, "agent");
  const line = safeLogLine(fmt, record(["Model said ", "\x9b2J\x1b[2J ok", ""], { reply: "\x9b" }));
  assert(!CONTROL.test(line));
  const parsed = JSON.parse(line) as { message: string; properties: { reply: string } };
  assertStringIncludes(parsed.message, "ok");
  assertEquals(parsed.properties.reply, "\\u009b");
});

Deno.test("sanitizeBounded bounds the escaped text and never ends inside an escape", () => {
  const out = sanitizeBounded("\x1b".repeat(1000), 100);
  assert(out.startsWith("\\u001b".repeat(16) + "…"), out);
  assertStringIncludes(out, `(${6000 - 96} more characters)`);
});

Deno.test("entrypoint error lines: a usage report keeps one inert line per mistake", () => {
  const error = new DialogueError(
    ErrorCode.Usage,
    `Invalid configuration field a: got "x\x1b[2J"\nInvalid configuration field b: got 5`,
  );
  const text = errorLine("manager", error);
  assertEquals(text.split("\n").length, 2);
  assert(!CONTROL.test(text), JSON.stringify(text));
  assert(text.startsWith("manager: Invalid configuration field a"));
});
