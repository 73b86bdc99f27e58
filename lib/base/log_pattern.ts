/**
 * Log line patterns in the style of Python's `logging` (`%(asctime)s -
 * %(name)s - %(levelname)s - %(message)s`), so that a configuration written
 * for Python works as written: which fields exist, what is wrong with a
 * pattern, and rendering a LogTape record with one.
 *
 * Conversions are `s` for every field and `d`, `i`, `f` for the numeric
 * ones, with Python's `-` (left-justify), `0` (zero-pad), width and
 * `.precision`; `%%` is a percent sign.
 *
 * @module
 */
import type { FormattedValues, LogLevel } from "@logtape/logtape";

/**
 * Fields a `logging.format` pattern may name, as `%(field)s` (or `d`/`f` for
 * the numeric ones), with Python logging's meaning.
 */
export const LOG_PATTERN_FIELDS = {
  asctime: "local time, e.g. 2026-12-01 21:39:43,123",
  created: "time in seconds since the epoch (numeric)",
  msecs: "millisecond part of the time (numeric)",
  relativeCreated: "milliseconds since logging was set up (numeric)",
  name: "logger name, e.g. dialogue.agent",
  levelname: "DEBUG, INFO, WARNING, ERROR or CRITICAL",
  levelno: "10, 20, 30, 40 or 50 (numeric)",
  message: "the log message",
  process: "process id (numeric)",
  processName: "which process: chat, manager, agent-1, agent-pool, analyze…",
  pathname: "source file of the logging call (slower: captures a stack per line)",
  filename: "file name part of pathname",
  module: "filename without its extension",
  lineno: "line of the logging call (numeric)",
} as const;

type _Field = keyof typeof LOG_PATTERN_FIELDS;

const _NUMERIC: ReadonlySet<_Field> = new Set<_Field>([
  "created",
  "msecs",
  "relativeCreated",
  "levelno",
  "process",
  "lineno",
]);
const _SOURCE: ReadonlySet<_Field> = new Set<_Field>(["pathname", "filename", "module", "lineno"]);

/** Python logging fields we cannot fill, and why. */
const _UNAVAILABLE: Record<string, string> = {
  funcName: "log records carry no function name",
  thread: "a Deno process logs from one thread",
  threadName: "a Deno process logs from one thread",
  taskName: "there are no asyncio tasks",
  exc_info: "exceptions are part of the message",
  exc_text: "exceptions are part of the message",
  stack_info: "stacks are part of the message",
  args: "arguments are already in the message",
  msg: "use %(message)s",
};

/** A compiled pattern. */
export interface LogPattern {
  /** Whether it shows where a line was logged (LogTape must capture source locations). */
  usesSource: boolean;
  /** The line for one record (without its line ending). */
  render(values: FormattedValues, context: LogPatternContext): string;
}

/**
 * What is wrong with a pattern, on one line (every problem, then the known
 * fields if one was unknown); `undefined` when it can be rendered.
 *
 * @example
 * ```ts
 * import { logPatternProblem } from "./log_pattern.ts";
 * if (logPatternProblem("%(levelname)-8s %(message)s") !== undefined) throw new Error();
 * if (!logPatternProblem("%(colour)s %(message)s")?.includes("%(colour)s")) throw new Error();
 * ```
 */
export function logPatternProblem(pattern: string): string | undefined {
  const { problems } = _compile(pattern);
  if (problems.length === 0) return undefined;
  const known = Object.keys(LOG_PATTERN_FIELDS).map((f) => `%(${f})s`).join(", ");
  const unknownField = problems.some((p) => p.includes(_UNKNOWN_MARK));
  return problems.map((p) => p.replace(_UNKNOWN_MARK, "")).join("; ") +
    (unknownField ? ` (known fields: ${known})` : "");
}

/**
 * Parses a pattern once, so that rendering a line only fills it in.
 *
 * @throws {TypeError} when {@linkcode logPatternProblem} finds a problem.
 */
export function compileLogPattern(pattern: string): LogPattern {
  const compiled = _compile(pattern);
  if (compiled.problems.length > 0) {
    throw new TypeError(`Cannot use the log pattern as ${logPatternProblem(pattern)}`);
  }
  return { usesSource: compiled.usesSource, render: compiled.render };
}

/** Tags the problems after which the known fields are listed. */
const _UNKNOWN_MARK = "\u0000";

/** What a pattern needs besides the record. */
export interface LogPatternContext {
  /** For `%(processName)s`. */
  process: string;
  /** When logging was set up (ms since the epoch), for `%(relativeCreated)d`. */
  since: number;
}

/** One `%(field)…` of a pattern. */
interface _Spec {
  field: _Field;
  left: boolean;
  zero: boolean;
  width: number;
  precision: number | undefined;
  conversion: "s" | "d" | "i" | "f";
}

interface _Pattern extends LogPattern {
  problems: string[];
}

/** Parses a Python-logging pattern once; rendering then only fills it in. */
function _compile(pattern: string): _Pattern {
  const parts: (string | _Spec)[] = [];
  const problems: string[] = [];
  let literal = "";
  let i = 0;
  while (i < pattern.length) {
    const at = pattern.indexOf("%", i);
    if (at < 0) {
      literal += pattern.slice(i);
      break;
    }
    literal += pattern.slice(i, at);
    if (pattern[at + 1] === "%") {
      literal += "%";
      i = at + 2;
      continue;
    }
    const spec = /^%\(([^)]*)\)([-0]*)(\d*)(?:\.(\d+))?([a-zA-Z]?)/.exec(pattern.slice(at));
    if (!spec) {
      problems.push(`a lone % at position ${at + 1}: write %(field)s, or %% for a percent sign`);
      i = at + 1;
      continue;
    }
    i = at + spec[0].length;
    const [, name = "", flags = "", width = "", precision, conversion = ""] = spec;
    const problem = _specProblem(name, conversion);
    if (problem) {
      problems.push(problem);
      continue;
    }
    if (literal) parts.push(literal);
    literal = "";
    parts.push({
      field: name as _Field,
      left: flags.includes("-"),
      zero: flags.includes("0"),
      width: width ? Number(width) : 0,
      precision: precision === undefined ? undefined : Number(precision),
      conversion: conversion as _Spec["conversion"],
    });
  }
  if (literal) parts.push(literal);
  const specs = parts.filter((p): p is _Spec => typeof p !== "string");
  if (problems.length === 0 && !specs.some((s) => s.field === "message")) {
    problems.push(
      `expected "text", "json" or a pattern that includes %(message)s, e.g. "%(asctime)s - %(name)s - %(levelname)s - %(message)s"`,
    );
  }
  return {
    problems,
    usesSource: specs.some((s) => _SOURCE.has(s.field)),
    render: (values, context) =>
      parts.map((p) => typeof p === "string" ? p : _renderSpec(p, values, context)).join(""),
  };
}

function _specProblem(name: string, conversion: string): string | undefined {
  const shown = `%(${name})${conversion}`;
  if (!(name in LOG_PATTERN_FIELDS)) {
    const why = _UNAVAILABLE[name];
    return why
      ? `${shown} is not available as ${why}${_UNKNOWN_MARK}`
      : `unknown field ${shown}${_UNKNOWN_MARK}`;
  }
  if (!["s", "d", "i", "f"].includes(conversion)) {
    return conversion
      ? `${shown}: conversion "${conversion}" is not supported, use s, d, i or f`
      : `%(${name}) needs a conversion: write %(${name})s`;
  }
  if (conversion !== "s" && !_NUMERIC.has(name as _Field)) {
    return `${shown}: ${name} is text, write %(${name})s`;
  }
  return undefined;
}

function _renderSpec(spec: _Spec, values: FormattedValues, context: LogPatternContext): string {
  const value = _fieldValue(spec.field, values, context);
  let text: string;
  if (spec.conversion === "s") {
    text = String(value);
    if (spec.precision !== undefined) text = text.slice(0, spec.precision);
  } else if (spec.conversion === "f") {
    text = Number(value).toFixed(spec.precision ?? 6);
  } else {
    text = String(Math.trunc(Number(value)));
  }
  if (text.length >= spec.width) return text;
  if (spec.left) return text.padEnd(spec.width);
  return spec.zero && spec.conversion !== "s"
    ? text.padStart(spec.width, "0")
    : text.padStart(spec.width);
}

const _LEVEL_NAMES: Record<LogLevel, [string, number]> = {
  trace: ["TRACE", 5],
  debug: ["DEBUG", 10],
  info: ["INFO", 20],
  warning: ["WARNING", 30],
  error: ["ERROR", 40],
  fatal: ["CRITICAL", 50],
};

function _fieldValue(
  field: _Field,
  values: FormattedValues,
  context: LogPatternContext,
): string | number {
  const record = values.record;
  const file = record.sourceLocation?.file;
  const pathname = file === undefined
    ? "(unknown file)"
    : file.startsWith("file://")
    ? decodeURIComponent(new URL(file).pathname)
    : file;
  const filename = pathname.slice(pathname.lastIndexOf("/") + 1);
  switch (field) {
    case "asctime":
      return _asctime(record.timestamp);
    case "created":
      return record.timestamp / 1000;
    case "msecs":
      return record.timestamp % 1000;
    case "relativeCreated":
      return record.timestamp - context.since;
    case "name":
      return values.category;
    case "levelname":
      return _LEVEL_NAMES[record.level][0];
    case "levelno":
      return _LEVEL_NAMES[record.level][1];
    case "message":
      return values.message;
    case "process":
      return Deno.pid;
    case "processName":
      return context.process;
    case "pathname":
      return pathname;
    case "filename":
      return filename;
    case "module":
      return filename.replace(/\.[^.]*$/, "");
    case "lineno":
      return record.sourceLocation?.line ?? 0;
  }
}

/** Python's default `asctime`: local time, `2026-12-01 21:39:43,123`. */
function _asctime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${
    p(d.getMinutes())
  }:${p(d.getSeconds())},${p(d.getMilliseconds(), 3)}`;
}

/**
 * What is wrong with a `logging.format` value, on one line; `undefined`
 * when it is `text`, `json` or a pattern we can render.
 */
export function logFormatProblem(format: string): string | undefined {
  return format === "text" || format === "json" ? undefined : logPatternProblem(format);
}
