/**
 * The analyzer: reads runs back from Redis and reports on one (terminal,
 * JSON, Markdown or HTML), compares several, or exports transcripts as
 * dataset lines.
 *
 * @module
 */
import { defineCommand, type FlagValues, helpText, runCommand } from "./lib/cli/command.ts";
import { CONNECTION_FLAGS } from "./lib/cli/cli.ts";
import { setupLogging } from "./lib/base/logger.ts";
import { closeRedis, connectRedis } from "./lib/bus/redis_connection.ts";
import { ConversationStore } from "./lib/bus/conversation_store.ts";
import { type AnalyzeCommandOptions, runAnalyzeCommand } from "./lib/analysis/analyze_command.ts";
import { EXPORT_FORMATS, type ExportFormat } from "./lib/analysis/transcript_export.ts";
import { parseAge } from "./lib/bus/retention.ts";
import { usageError } from "./lib/base/dialogue_error.ts";
import { checkConversationId } from "./lib/cli/flag_spec.ts";
import { ConversationStatus } from "./lib/model/conversation_meta.ts";
import { Flag } from "./lib/analysis/analysis_flags.ts";

const FLAG_CODES = Flag.shape.code.options;

const FLAGS = {
  json: {
    type: "boolean",
    section: "Report",
    help: "machine-readable (schema_version 1, docs/analysis-schema.md)",
  },
  markdown: { type: "boolean", section: "Report", help: "Markdown tables" },
  html: {
    type: "boolean",
    section: "Report",
    help: "self-contained HTML page with charts and the transcript,\n" +
      "written to <reports.dir>/dialogue-<id>.html (default: reports\n" +
      "in the local store's data folder) unless --out is given",
  },
  out: {
    type: "string",
    value: "FILE",
    section: "Report",
    help: "write to FILE instead of stdout (prints the path)",
  },
  "embed-model": {
    type: "string",
    value: "NAME",
    section: "Report",
    help: "measure topic drift with this Ollama embedding model\n" +
      "(e.g. nomic-embed-text) instead of word overlap",
  },
  "judge-model": {
    type: "string",
    value: "NAME",
    section: "Report",
    help: "score each agent's persona consistency with this model\n" +
      "(model-judged, off by default)",
  },
  input: {
    type: "string",
    value: "FILE",
    section: "Report",
    help: "analyse the transcripts in FILE instead of Redis: our\n" +
      "--export jsonl, ShareGPT or OpenAI-style messages (a JSON\n" +
      "object, an array or JSON Lines); one report each, then the\n" +
      "comparison; figures the file lacks are shown as absent",
  },
  compare: {
    type: "boolean",
    section: "Several runs",
    help: "one table across the given runs (ID1 ID2 … as arguments)",
  },
  all: {
    type: "boolean",
    section: "Several runs",
    help: "one table across the newest runs (see --limit)",
  },
  since: {
    type: "string",
    value: "AGE",
    section: "Several runs",
    help: "with --all: only runs created within AGE (90s, 30m, 24h, 7d)",
  },
  limit: {
    type: "integer",
    min: 1,
    section: "Several runs",
    help: "with --all: at most N runs [100]",
  },
  batch: {
    type: "string",
    value: "BATCH_ID",
    section: "Several runs",
    help: "the runs of a batch (deno task batch) by cell and factor,\n" +
      "with 95% bootstrap intervals; with --export, its dataset",
  },
  export: {
    type: "string",
    value: "FORMAT",
    section: "Datasets",
    help: "the transcript as JSON Lines: jsonl (a line per turn),\n" +
      "sharegpt or openai (a line per run; agent 1 is the\n" +
      "user/human, agent 2 the assistant/gpt)",
  },
  status: {
    type: "string",
    value: "LIST",
    section: "Datasets",
    help: "export only runs with these statuses (comma-separated:\n" +
      "completed, failed, interrupted, running, pending; any)\n" +
      "[with --all: completed]",
  },
  "exclude-flag": {
    type: "string",
    value: "LIST",
    section: "Datasets",
    help: "leave out runs with these flags (comma-separated: loop,\n" +
      "stale, drift, errors, …; none) [with --all: loop]",
  },
} as const;

/** `deno task analyze`: flags, help and what it does. */
export const ANALYZE_COMMAND = defineCommand({
  name: "analyze",
  usage: [
    "deno task analyze [ID] [--json | --markdown | --html] [options]",
    "deno task analyze --compare ID1 ID2 … | --all [--since AGE] [--json | --markdown]",
    "deno task analyze --export jsonl|sharegpt|openai [ID | --all [--since AGE]]",
    "deno task analyze --input FILE [--json | --markdown | --html] [--embed-model NAME]",
    "deno task analyze --batch BATCH_ID [--json | --markdown | --html] [--export FORMAT]",
  ],
  summary: `Reads a run back from Redis (its streams are the log) and reports, per agent
and overall: tokens, prompt tokens and their growth per turn, tokens/s,
time to first token, model loads, truncated replies, wall time and bus
overhead; turn-taking balance, question rate and latency; distinct-1/2,
repetition, loops and staleness; VADER sentiment per turn and speaker;
topic drift from the story; the stop reason against the limits; and flags
with the turn they start from.`,
  positionals: {
    name: "ID",
    help: "conversation id (default: the newest; several with --compare)",
    conversationIds: true,
  },
  flags: FLAGS,
  // Reads Redis; the backend flags and --num-ctx serve --embed-model and --judge-model.
  configFlags: [
    ...CONNECTION_FLAGS,
    "ollama-host",
    "backend",
    "openai-base-url",
    "model-file",
    "num-ctx",
  ],
  async run({ values, positionals, signal, loadConfig }) {
    const options = _options(values, positionals);
    const config = await loadConfig({}, { redis: values.input === undefined });
    await setupLogging(config.logging, "analyze");
    if (values.input !== undefined) {
      // A file: no Redis at all.
      const { runInputCommand } = await import("./lib/analysis/input_command.ts");
      const output = await runInputCommand(values.input, config, {
        ...options,
        color: options.out === undefined && Deno.stdout.isTerminal() && !Deno.noColor,
        signal,
      });
      await Deno.stdout.write(new TextEncoder().encode(output.text));
      return 0;
    }
    const redis = await connectRedis(config.redis, { name: "analyze" });
    try {
      const output = await runAnalyzeCommand(new ConversationStore(redis), config, {
        ...options,
        // Colour only for a terminal, never into a file.
        color: options.out === undefined && Deno.stdout.isTerminal() && !Deno.noColor,
        redis,
        signal,
      });
      await Deno.stdout.write(new TextEncoder().encode(output.text));
      if (output.notice) console.error(`analyze: ${output.notice}`);
      return 0;
    } finally {
      await closeRedis(redis);
    }
  },
});

/** `deno task analyze --help`. */
export const ANALYZE_HELP = helpText(ANALYZE_COMMAND);

if (import.meta.main) await runCommand(ANALYZE_COMMAND);

function _options(values: FlagValues<typeof FLAGS>, ids: string[]): AnalyzeCommandOptions {
  const formats = (["json", "markdown", "html"] as const).filter((f) => values[f] === true);
  if (formats.length > 1) throw usageError("Choose one of --json, --markdown and --html");
  const exportFormat = values.export;
  if (exportFormat !== undefined && !EXPORT_FORMATS.includes(exportFormat as ExportFormat)) {
    throw usageError(
      `Invalid --export ${JSON.stringify(exportFormat)}: expected one of ${
        EXPORT_FORMATS.join(", ")
      }`,
    );
  }
  return {
    ids,
    format: formats[0] ?? "text",
    out: values.out,
    compare: values.compare === true,
    all: values.all === true,
    sinceMs: values.since === undefined ? undefined : parseAge(values.since, "--since"),
    ...(values.limit === undefined ? {} : { limit: values.limit }),
    export: exportFormat as ExportFormat | undefined,
    batch: values.batch === undefined ? undefined : checkConversationId(values.batch, "batch id"),
    statuses: _list(values.status, "--status", ConversationStatus.options, "any"),
    excludeFlags: _list(values["exclude-flag"], "--exclude-flag", FLAG_CODES, "none"),
    embedModel: values["embed-model"],
    judgeModel: values["judge-model"],
  };
}

/** A comma-separated flag value checked against `known`; `every` stands for all of them (`any`) or none (`none`). */
function _list<T extends string>(
  value: string | undefined,
  flag: string,
  known: readonly T[],
  every: "any" | "none",
): T[] | undefined {
  if (value === undefined) return undefined;
  const items = value.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (items.length === 1 && items[0] === every) return every === "any" ? [...known] : [];
  const unknown = items.filter((s) => !known.includes(s as T));
  if (items.length === 0 || unknown.length > 0) {
    throw usageError(
      `Invalid ${flag} ${JSON.stringify(value)}: expected a comma-separated list of ${
        known.join(", ")
      }, or ${every}`,
    );
  }
  return items as T[];
}
