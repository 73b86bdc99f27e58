/**
 * The analyzer: reads a finished run back from Redis and reports generation
 * speed, token use, turn balance, repetition and flags.
 *
 * @module
 */
import { CONFIG_FLAGS, CONFIG_FLAGS_HELP, configFromFlags, parseFlags } from "./lib/cli.ts";
import { runEntrypoint } from "./lib/entrypoint.ts";
import { setupLogging } from "./lib/logger.ts";
import { closeRedis, connectRedis } from "./lib/redis_connection.ts";
import { ConversationStore } from "./lib/conversation_store.ts";
import { analyzeRun } from "./lib/run_analysis.ts";
import { formatAnalysisMarkdown, formatAnalysisText } from "./lib/analysis_report.ts";
import { DialogueError, ErrorCode, usageError } from "./lib/dialogue_error.ts";

/** `deno task analyze --help`. */
export const ANALYZE_HELP = `Usage: deno task analyze [ID] [options]

Reads a run back from Redis (its streams are the log) and reports, per agent
and overall: turns, tokens generated, prompt tokens, tokens/s (mean, p50,
p95), generation time, time to first token, wall time and bus overhead per
turn (wall time minus Ollama's total duration), words per message, balance,
diversity, repetition, loops, the stop reason and the duration.

Arguments:
  ID                     conversation id (default: the newest)

Options:
  --json                 machine-readable output (schema_version 1)
  --markdown             a Markdown report
  -h, --help             show this help

${CONFIG_FLAGS_HELP}`;

if (import.meta.main) {
  await runEntrypoint("analyze", async () => {
    const { values, positionals } = parseFlags(
      Deno.args,
      {
        ...CONFIG_FLAGS,
        json: { type: "boolean" },
        markdown: { type: "boolean" },
      },
      "deno task analyze",
      true,
    );
    if (values.help) {
      console.log(ANALYZE_HELP);
      return 0;
    }
    if (positionals.length > 1) {
      throw usageError(
        `Expected at most one conversation id, got ${positionals.length} (see 'deno task analyze --help')`,
      );
    }
    if (values.json && values.markdown) throw usageError("Choose one of --json and --markdown");
    const config = await configFromFlags(values);
    await setupLogging(config.logging, "analyze");
    const redis = await connectRedis(config.redis, { name: "analyze" });
    try {
      const store = new ConversationStore(redis);
      const id = positionals[0] ?? await store.latest();
      if (!id) {
        throw new DialogueError(
          ErrorCode.NotFound,
          "No conversations in Redis yet: start one with 'deno task chat' (or check --redis-url)",
        );
      }
      const analysis = analyzeRun(await store.transcript(id));
      if (values.json) console.log(JSON.stringify(analysis, null, 2));
      else if (values.markdown) console.log(formatAnalysisMarkdown(analysis));
      else {
        console.log(formatAnalysisText(analysis, {
          color: Deno.stdout.isTerminal() && !Deno.noColor,
        }));
      }
      return 0;
    } finally {
      await closeRedis(redis);
    }
  });
}
