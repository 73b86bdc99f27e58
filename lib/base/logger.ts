/**
 * Logging to stderr through LogTape, at the configured level and format, so
 * stdout stays free for the conversation and machine-readable output.
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
import type { Config } from "../config/config.ts";

const ROOT = "dialogue";

/** Sets up logging for this process; call once, early. */
export async function setupLogging(
  logging: Config["logging"],
  process: string,
): Promise<void> {
  const formatter = logging.format === "json"
    ? getJsonLinesFormatter()
    : getTextFormatter({ timestamp: "time" });
  await configure({
    reset: true,
    sinks: { stderr: _stderrSink(formatter) },
    loggers: [
      { category: [ROOT], lowestLevel: logging.level, sinks: ["stderr"] },
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

/** Synchronous so that no log line is lost when a process exits right after. */
function _stderrSink(format: (record: LogRecord) => string) {
  const encoder = new TextEncoder();
  return (record: LogRecord) => {
    try {
      Deno.stderr.writeSync(encoder.encode(format(record)));
    } catch {
      // stderr closed (parent gone): nothing useful left to do with the line.
    }
  };
}
