/**
 * `deno task chat`: one command for a whole run — Redis and Ollama checks,
 * the manager and both agents as child processes, the live view, and the
 * analysis at the end.
 *
 * @module
 */
import { CONFIG_FLAGS, CONFIG_FLAGS_HELP, configFromFlags, parseFlags } from "./lib/cli/cli.ts";
import { runEntrypoint } from "./lib/cli/entrypoint.ts";
import { setupLogging } from "./lib/base/logger.ts";
import { runChat } from "./lib/cli/chat_session.ts";
import { usageError } from "./lib/base/dialogue_error.ts";
import { isValidConversationId } from "./lib/bus/keys.ts";
import { readScenarioFile } from "./lib/manager/scenario_writer.ts";

/** `deno task chat --help`. */
export const CHAT_HELP = `Usage: deno task chat [options]

Runs one conversation between two LLM personas and shows it live:
  1. checks Redis (starts a private redis-server when none is configured or
     running) and Ollama (the models must be pulled, or pass --pull);
  2. starts the manager, which writes a story and two personas, and both agents;
  3. streams every message token by token with its figures;
  4. prints the analysis. Exit code: 0 completed, 1 failed, 130 interrupted.
Watch from another terminal with 'deno task observe'; read the run back later
with 'deno task analyze'.

Options:
  --pairs N              run N conversations at once, each with its own scenario,
                         through one manager and --workers agent processes [1]
  --workers N            agent pool processes to start [1]
  --concurrency K        generations each agent process keeps in flight
                         (agents.concurrency; match OLLAMA_NUM_PARALLEL) [1]
  --story FILE           story and personas from a JSON file instead of the model
  --resume ID            continue an interrupted conversation (Ctrl-C, crash)
  --pull                 download missing models (with a progress bar)
  --no-analysis          do not print the analysis at the end
  -h, --help             show this help

${CONFIG_FLAGS_HELP}`;

if (import.meta.main) {
  await runEntrypoint("chat", async (signal) => {
    const { values } = parseFlags(Deno.args, {
      ...CONFIG_FLAGS,
      story: { type: "string" },
      resume: { type: "string" },
      pull: { type: "boolean" },
      "no-analysis": { type: "boolean" },
      pairs: { type: "string" },
      workers: { type: "string" },
      concurrency: { type: "string" },
    }, "deno task chat");
    if (values.help) {
      console.log(CHAT_HELP);
      return 0;
    }
    const resume = values.resume as string | undefined;
    if (resume !== undefined && !isValidConversationId(resume)) {
      throw usageError(
        `Invalid --resume ${
          JSON.stringify(resume)
        }: a conversation id has letters, digits, '-', '_' or '.' (list them with 'deno task observe --list')`,
      );
    }
    const pairs = _count(values.pairs, "--pairs", 10_000) ?? 1;
    const workers = _count(values.workers, "--workers", 64) ?? 1;
    const concurrency = _count(values.concurrency, "--concurrency", 1024);
    if (resume && pairs > 1) {
      throw usageError("--resume continues one conversation: drop --pairs");
    }
    if (resume && values.story) {
      throw usageError("--resume continues a run with its own story: drop --story");
    }
    // Checked here so a bad file is one clear line, not an error in a child.
    if (values.story) await readScenarioFile(values.story as string);
    let config = await configFromFlags(values);
    if (concurrency) config = { ...config, agents: { ...config.agents, concurrency } };
    await setupLogging(config.logging, "chat");
    return await runChat({
      config,
      ...(values.story ? { storyFile: values.story as string } : {}),
      ...(resume ? { resume } : {}),
      pairs,
      workers,
      pull: values.pull === true,
      analysis: values["no-analysis"] !== true,
      signal,
    });
  });
}

/** A positive whole number flag, or undefined when absent. */
function _count(value: unknown, flag: string, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw usageError(
      `Invalid ${flag} ${JSON.stringify(value)}: expected a whole number from 1 to ${max}`,
    );
  }
  return n;
}
