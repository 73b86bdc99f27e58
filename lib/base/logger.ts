/**
 * Logging to stderr through LogTape, at the configured level and format, so
 * stdout stays free for the conversation and machine-readable output.
 *
 * `logging.format` is `text`, `json` (one JSON object a line) or a pattern
 * in Python logging's style (lib/base/log_pattern.ts), e.g. `%(asctime)s -
 * %(name)s - %(levelname)s - %(message)s`.
 *
 * Log properties can hold a model's text or something read back from Redis
 * (a reply quoted in an error, `meta.error`), so the stderr sink makes every
 * line inert before it writes it: each string value has its control
 * characters written as `\uXXXX` escapes and is cut to `MAX_STDERR_TEXT`
 * (lib/base/sanitize.ts), and the whole formatted line is escaped again, so
 * no escape sequence reaches the terminal whatever the format or wherever in
 * the record it hides (an error's message or stack).
 *
 * @module
 */
import {
  configure,
  getJsonLinesFormatter,
  getLogger,
  getTextFormatter,
  type Logger,
  type LogRecord,
  reset,
} from "@logtape/logtape";
import { compileLogPattern } from "./log_pattern.ts";
import { escapeControls, MAX_STDERR_TEXT, sanitizeBounded } from "./sanitize.ts";

const ROOT = "dialogue";

/**
 * The logging settings this module needs (`LoggingSettings` fits): kept
 * here so the bottom layer imports nothing from the configuration above it.
 */
export interface LoggingSettings {
  level: "debug" | "info" | "warning" | "error";
  /** `text`, `json` or a Python-logging-style pattern. */
  format: string;
}

/**
 * The function that turns a log record into its line, for `logging.format`;
 * exported so tests can check a rendering.
 *
 * @throws {TypeError} when the format is not one `logFormatProblem` (log_pattern.ts) accepts.
 */
export function logFormatter(
  logging: LoggingSettings,
  process: string,
): (record: LogRecord) => string {
  return _formatter(logging, process).format;
}

/** Sets up logging for this process; call once, early. */
export async function setupLogging(
  logging: LoggingSettings,
  process: string,
): Promise<void> {
  const { format, usesSource } = _formatter(logging, process);
  await configure({
    reset: true,
    sinks: { stderr: _stderrSink(format) },
    loggers: [
      {
        category: [ROOT],
        lowestLevel: logging.level,
        sinks: ["stderr"],
        // Costs a stack capture per line: only when the pattern shows it.
        ...(usesSource ? { captureSourceLocation: true } : {}),
      },
      {
        category: ["logtape", "meta"],
        lowestLevel: "warning",
        sinks: ["stderr"],
      },
    ],
  });
  getLogger([ROOT]).debug("Logging for {process} at {level}", {
    process,
    level: logging.level,
  });
}

/** Flushes and closes the log sinks; call before exit. */
export async function closeLogging(): Promise<void> {
  await reset();
}

/** A logger for one module, e.g. `log("agent")`. */
export function log(category: string): Logger {
  return getLogger([ROOT, category]);
}

function _formatter(
  logging: LoggingSettings,
  process: string,
): { format: (record: LogRecord) => string; usesSource: boolean } {
  if (logging.format === "json") return { format: getJsonLinesFormatter(), usesSource: false };
  if (logging.format === "text") {
    return { format: getTextFormatter({ timestamp: "time" }), usesSource: false };
  }
  const pattern = compileLogPattern(logging.format);
  const context = { process, since: Date.now() };
  const format = getTextFormatter({
    category: (category) => category.join("."),
    ...(pattern.usesSource ? { sourceLocation: true } : {}),
    format: (values) => pattern.render(values, context),
  });
  return { format, usesSource: pattern.usesSource };
}

/**
 * The line the stderr sink writes for `record` in `format`: string values
 * (message values, properties, an error's message) made inert and bounded,
 * then the whole line made inert. Exported so tests can check it in-process.
 */
export function safeLogLine(format: (record: LogRecord) => string, record: LogRecord): string {
  const bounded: LogRecord = {
    ...record,
    message: record.message.map(_boundValue),
    properties: Object.fromEntries(
      Object.entries(record.properties).map(([key, value]) => [key, _boundValue(value)]),
    ),
  };
  return escapeControls(format(bounded));
}

/** A string, or an error's message and stack, made inert and cut to MAX_STDERR_TEXT. */
function _boundValue(value: unknown): unknown {
  if (typeof value === "string") return sanitizeBounded(value);
  if (!(value instanceof Error)) return value;
  const copy = new Error(sanitizeBounded(value.message, MAX_STDERR_TEXT, { keepNewlines: false }));
  copy.name = value.name;
  const frames = (value.stack ?? "").split("\n").filter((line) => /^\s+at\s/.test(line));
  copy.stack = [`${copy.name}: ${copy.message}`, ...frames].join("\n");
  return copy;
}

/** Synchronous so that no log line is lost when a process exits right after. */
function _stderrSink(format: (record: LogRecord) => string) {
  const encoder = new TextEncoder();
  return (record: LogRecord) => {
    try {
      Deno.stderr.writeSync(encoder.encode(safeLogLine(format, record)));
    } catch {
      // stderr closed (parent gone): nothing useful left to do with the line.
    }
  };
}
