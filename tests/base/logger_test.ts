/**
 * Log lines in the format `logging.format` asks for: `text`, `json`, or a
 * Python-logging pattern such as the plan's
 * `%(asctime)s - %(name)s - %(levelname)s - %(message)s`.
 */
import type { LogLevel, LogRecord } from "@logtape/logtape";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../helpers/assert.ts";
import { logFormatter } from "../../lib/base/logger.ts";
import { logFormatProblem } from "../../lib/base/log_pattern.ts";
import { LOG_PATTERN_FIELDS } from "../../lib/base/log_pattern.ts";

const PLAN_FORMAT = "%(asctime)s - %(name)s - %(levelname)s - %(message)s";

/** A record as LogTape hands it to a sink. */
function record(level: LogLevel, message: unknown[], extra: Partial<LogRecord> = {}): LogRecord {
  return {
    category: ["dialogue", "agent"],
    level,
    message,
    rawMessage: "",
    timestamp: new Date(2026, 11, 1, 21, 39, 43, 7).getTime(),
    properties: {},
    ...extra,
  };
}

function line(format: string, rec: LogRecord, process = "manager"): string {
  return logFormatter({ level: "debug", format }, process)(rec);
}

Deno.test("the plan's pattern renders Python logging's line: local asctime with milliseconds, dotted name, level name, message", () => {
  assertEquals(
    line(PLAN_FORMAT, record("warning", ["Redis away for ", 3, " s"])),
    "2026-12-01 21:39:43,007 - dialogue.agent - WARNING - Redis away for 3 s\n",
  );
  assertEquals(
    line(PLAN_FORMAT, record("fatal", ["gone"])),
    "2026-12-01 21:39:43,007 - dialogue.agent - CRITICAL - gone\n",
  );
});

Deno.test("a pattern pads, truncates and converts as Python's % formatting does", () => {
  const rec = record("info", ["hello"]);
  assertEquals(
    line("[%(levelname)-8s]|%(levelname)8s|%(levelname).2s %(message)s", rec),
    "[INFO    ]|    INFO|IN hello\n",
  );
  assertEquals(
    line("%(msecs)03d %(levelno)d %(levelno)5.1f 100%% %(message)s", rec),
    "007 20  20.0 100% hello\n",
  );
  assertEquals(
    line("%(created).3f %(message)s", rec),
    `${(rec.timestamp / 1000).toFixed(3)} hello\n`,
  );
  assertEquals(
    line("%(process)d %(processName)s %(message)s", rec, "agent-pool"),
    `${Deno.pid} agent-pool hello\n`,
  );
});

Deno.test("a pattern's message keeps model text from reaching the terminal as escape sequences", () => {
  const out = line("%(message)s", record("info", ["said ", "\x1b[2J\x1b]52;c;eA==\x07"]));
  assert(!out.includes("\x1b"), `escape sequence passed through: ${JSON.stringify(out)}`);
});

Deno.test("the source fields come out as unknown when the record has no location", () => {
  assertEquals(
    line("%(filename)s:%(lineno)d %(message)s", record("info", ["x"])),
    "(unknown file):0 x\n",
  );
  assertEquals(
    line(
      "%(pathname)s %(filename)s %(module)s %(lineno)d %(message)s",
      record("info", ["x"], {
        sourceLocation: { file: "file:///app/lib/agent/turn_server.ts", line: 42, column: 7 },
      }),
    ),
    "/app/lib/agent/turn_server.ts turn_server.ts turn_server 42 x\n",
  );
});

Deno.test("text and json stay the built-in formats", () => {
  assertMatch(
    line("text", record("info", ["hi"])),
    /^\d\d:\d\d:\d\d\.\d{3} \[INF\] dialogue·agent: hi\n$/,
  );
  const json = JSON.parse(line("json", record("error", ["boom"])));
  assertEquals([json.level, json.message, json.logger], ["ERROR", "boom", "dialogue.agent"]);
});

Deno.test("logFormatProblem() accepts text, json, the plan's pattern and every documented field", () => {
  assertEquals(logFormatProblem("text"), undefined);
  assertEquals(logFormatProblem("json"), undefined);
  assertEquals(logFormatProblem(PLAN_FORMAT), undefined);
  const every = Object.keys(LOG_PATTERN_FIELDS).map((f) => `%(${f})s`).join(" ");
  assertEquals(logFormatProblem(every), undefined);
});

Deno.test("logFormatProblem() names each problem of a pattern once, with the known fields", () => {
  const problem = logFormatProblem("%(asctime)s %(colour)s %(funcName)s %(name)d 5% %(message)s")!;
  assertStringIncludes(problem, "unknown field %(colour)s");
  assertStringIncludes(problem, "%(funcName)s is not available");
  assertStringIncludes(problem, "%(name)d: name is text, write %(name)s");
  assertMatch(problem, /a lone % at position 47: write %\(field\)s, or %% for a percent sign/);
  assertStringIncludes(problem, "known fields: %(asctime)s");
  assertEquals(problem.split("known fields").length, 2, "the list is given once");
  assert(!problem.includes("\n"));
});

Deno.test("logFormatProblem() refuses a pattern without %(message)s and a field without its conversion", () => {
  assertStringIncludes(logFormatProblem("yaml")!, 'expected "text", "json" or a pattern');
  assertStringIncludes(logFormatProblem("%(asctime)s")!, "%(message)s");
  assertStringIncludes(logFormatProblem("%(message)")!, "write %(message)s");
  assertStringIncludes(logFormatProblem("%(message)x")!, 'conversion "x"');
});
