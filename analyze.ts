/**
 * The analyzer: reads runs back from Redis and reports on one (terminal,
 * JSON, Markdown or HTML), compares several, or exports transcripts as
 * dataset lines.
 *
 * @module
 */
import { CONFIG_FLAGS, CONFIG_FLAGS_HELP, configFromFlags, parseFlags } from "./lib/cli/cli.ts";
import { runEntrypoint } from "./lib/cli/entrypoint.ts";
import { setupLogging } from "./lib/base/logger.ts";
import { closeRedis, connectRedis } from "./lib/bus/redis_connection.ts";
import { ConversationStore } from "./lib/bus/conversation_store.ts";
import { type AnalyzeCommandOptions, runAnalyzeCommand } from "./lib/analysis/analyze_command.ts";
import { EXPORT_FORMATS, type ExportFormat } from "./lib/analysis/transcript_export.ts";
import { parseAge } from "./lib/bus/retention.ts";
import { usageError } from "./lib/base/dialogue_error.ts";

/** `deno task analyze --help`. */
export const ANALYZE_HELP = `Usage: deno task analyze [ID] [--json | --markdown | --html] [options]
       deno task analyze --compare ID1 ID2 … | --all [--since AGE] [--json | --markdown]
       deno task analyze --export jsonl|sharegpt|openai [ID | --all [--since AGE]]

Reads a run back from Redis (its streams are the log) and reports, per agent
and overall: tokens, prompt tokens and their growth per turn, tokens/s,
time to first token, model loads, truncated replies, wall time and bus
overhead; turn-taking balance, question rate and latency; distinct-1/2,
repetition, loops and staleness; VADER sentiment per turn and speaker;
topic drift from the story; the stop reason against the limits; and flags
with the turn they start from.

Arguments:
  ID                     conversation id (default: the newest)

Report:
  --json                 machine-readable (schema_version 1, docs/analysis-schema.md)
  --markdown             Markdown tables
  --html                 self-contained HTML page with charts and the transcript,
                         written to dialogue-<id>.html unless --out is given
  --out FILE             write to FILE instead of stdout (prints the path)
  --embed-model NAME     measure topic drift with this Ollama embedding model
                         (e.g. nomic-embed-text) instead of word overlap
  --judge-model NAME     score each agent's persona consistency with this model
                         (model-judged, off by default)

Several runs:
  --compare ID1 ID2 …    one table across the given runs
  --all                  one table across the newest runs (see --limit)
  --since AGE            with --all: only runs created within AGE (90s, 30m, 24h, 7d)
  --limit N              with --all: at most N runs [100]

Datasets:
  --export FORMAT        the transcript as JSON Lines: jsonl (a line per turn),
                         sharegpt or openai (a line per run; agent 1 is the
                         user/human, agent 2 the assistant/gpt)

  -h, --help             show this help

${CONFIG_FLAGS_HELP}`;

if (import.meta.main) {
  await runEntrypoint("analyze", async (signal) => {
    const { values, positionals } = parseFlags(
      Deno.args,
      {
        ...CONFIG_FLAGS,
        json: { type: "boolean" },
        markdown: { type: "boolean" },
        html: { type: "boolean" },
        out: { type: "string" },
        compare: { type: "boolean" },
        all: { type: "boolean" },
        since: { type: "string" },
        limit: { type: "string" },
        export: { type: "string" },
        "embed-model": { type: "string" },
        "judge-model": { type: "string" },
      },
      "deno task analyze",
      true,
    );
    if (values.help) {
      console.log(ANALYZE_HELP);
      return 0;
    }
    const options = _options(values, positionals);
    const config = await configFromFlags(values);
    await setupLogging(config.logging, "analyze");
    const redis = await connectRedis(config.redis, { name: "analyze" });
    try {
      const output = await runAnalyzeCommand(new ConversationStore(redis), config, {
        ...options,
        // Colour only for a terminal, never into a file.
        color: options.out === undefined && Deno.stdout.isTerminal() && !Deno.noColor,
        signal,
      });
      await Deno.stdout.write(new TextEncoder().encode(output.text));
      return 0;
    } finally {
      await closeRedis(redis);
    }
  });
}

function _options(
  values: Record<string, unknown>,
  ids: string[],
): AnalyzeCommandOptions {
  const formats = (["json", "markdown", "html"] as const).filter((f) => values[f] === true);
  if (formats.length > 1) throw usageError("Choose one of --json, --markdown and --html");
  const text = (name: string) => typeof values[name] === "string" ? values[name] : undefined;
  const exportFormat = text("export");
  if (exportFormat !== undefined && !EXPORT_FORMATS.includes(exportFormat as ExportFormat)) {
    throw usageError(
      `Invalid --export ${JSON.stringify(exportFormat)}: expected one of ${
        EXPORT_FORMATS.join(", ")
      }`,
    );
  }
  const limit = text("limit");
  if (limit !== undefined && !/^[1-9]\d*$/.test(limit)) {
    throw usageError(`Invalid --limit ${JSON.stringify(limit)}: expected a positive whole number`);
  }
  const since = text("since");
  return {
    ids,
    format: formats[0] ?? "text",
    out: text("out"),
    compare: values.compare === true,
    all: values.all === true,
    sinceMs: since === undefined ? undefined : parseAge(since, "--since"),
    ...(limit === undefined ? {} : { limit: Number(limit) }),
    export: exportFormat as ExportFormat | undefined,
    embedModel: text("embed-model"),
    judgeModel: text("judge-model"),
  };
}
