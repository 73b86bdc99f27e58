/**
 * `deno task chat`: one command for a whole run — Redis and Ollama checks,
 * the manager and agent pools as child processes, the live view, and the
 * analysis at the end.
 *
 * @module
 */
import { defineCommand, helpText, runCommand } from "./lib/cli/command.ts";
import { ALL_CONFIG_FLAGS } from "./lib/cli/cli.ts";
import { setupLogging } from "./lib/base/logger.ts";
import { runChat } from "./lib/cli/chat_session.ts";
import { usageError } from "./lib/base/dialogue_error.ts";
import { readScenarioFile } from "./lib/manager/scenario_writer.ts";

/** `deno task chat`: flags, help and what it does. */
export const CHAT_COMMAND = defineCommand({
  name: "chat",
  usage: ["deno task chat [options]"],
  summary: `Runs one conversation between two LLM personas (or --pairs N at once) and
shows it live:
  1. checks Redis (the local store when none is configured or running; see
     'deno task redis') and Ollama (the models must be pulled, or pass --pull);
  2. starts one manager pool, which writes each story and two personas, and
     --workers agent pools; a child that dies is started again and the runs
     go on from Redis;
  3. streams every message token by token with its figures (with --pairs, one
     line per conversation: turn n/max, tok/s, the last words);
  4. prints the analysis (with --pairs, a comparison of the runs).
Exit code: 0 all completed, 1 failed, 130 interrupted (resume with --resume).
Watch from another terminal with 'deno task observe'; read the run back later
with 'deno task analyze'.`,
  flags: {
    pairs: {
      type: "integer",
      max: 10_000,
      help: "run N conversations at once, each with its own scenario,\n" +
        "through one manager and --workers agent processes [1]",
    },
    workers: { type: "integer", max: 64, help: "agent pool processes to start [1]" },
    concurrency: {
      type: "integer",
      value: "K",
      max: 1024,
      config: ["agents.concurrency"],
      help: "generations each agent process keeps in flight\n" +
        "(agents.concurrency; match OLLAMA_NUM_PARALLEL) [1]",
    },
    story: {
      type: "string",
      value: "FILE",
      help: "story and personas from a JSON file instead of the model",
    },
    resume: {
      type: "conversation-id",
      help: "continue an interrupted conversation (Ctrl-C, crash)",
    },
    pull: { type: "boolean", help: "download missing models (with a progress bar)" },
    "no-analysis": { type: "boolean", help: "do not print the analysis at the end" },
  },
  configFlags: ALL_CONFIG_FLAGS,
  async run({ values, signal, loadConfig }) {
    const pairs = values.pairs ?? 1;
    if (values.resume && pairs > 1) {
      throw usageError("--resume continues one conversation: drop --pairs");
    }
    if (values.resume && values.story) {
      throw usageError("--resume continues a run with its own story: drop --story");
    }
    // Checked here so a bad file is one clear line, not an error in a child.
    if (values.story) await readScenarioFile(values.story);
    const config = await loadConfig(); // --concurrency is in it (agents.concurrency)
    await setupLogging(config.logging, "chat");
    return await runChat({
      config,
      ...(values.story ? { storyFile: values.story } : {}),
      ...(values.resume ? { resume: values.resume } : {}),
      pairs,
      workers: values.workers ?? 1,
      pull: values.pull === true,
      analysis: values["no-analysis"] !== true,
      signal,
    });
  },
});

/** `deno task chat --help`. */
export const CHAT_HELP = helpText(CHAT_COMMAND);

if (import.meta.main) await runCommand(CHAT_COMMAND);
