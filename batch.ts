/**
 * `deno task batch FILE`: an experiment — every combination of the models,
 * backends, topics or stories, prompt variants, temperatures, seeds and
 * repeats a batch file lists — run through the pools, then compared with
 * confidence intervals.
 *
 * @module
 */
import { defineCommand, helpText, runCommand } from "./lib/cli/command.ts";
import { ALL_CONFIG_FLAGS } from "./lib/cli/cli.ts";
import { checkConversationId } from "./lib/cli/flag_spec.ts";
import { setupLogging } from "./lib/base/logger.ts";
import { usageError } from "./lib/base/dialogue_error.ts";
import { readBatchFile } from "./lib/batch/batch_file.ts";
import { runBatch } from "./lib/batch/batch_runner.ts";

/** `deno task batch`: flags, help and what it does. */
export const BATCH_COMMAND = defineCommand({
  name: "batch",
  usage: ["deno task batch FILE [options]", "deno task batch --resume BATCH_ID [options]"],
  summary: `Runs an experiment: the batch file (JSON or JSONC) lists agent models
("models" for both agents, or "agent1_models"/"agent2_models" as pairs),
"backends", "topics" or "story_files", "prompts" variants, "temperatures",
"seeds" and "repeats", and the limits of each run ("max_turns", "duration",
"max_parallel"). Every combination is a cell; every cell runs once per seed
and repeat, through one manager pool and --workers agent pools, at most
max_parallel at once. Prints 'batch <ID>' first, then the progress (done,
running, failed, ETA) on stderr, and at the end a comparison by cell and by
factor with 95% bootstrap intervals ('deno task analyze --batch ID' shows it
again). Ctrl-C interrupts the runs in flight; --resume runs only what is
missing. Exit code: 0 all completed, 1 some failed, 130 interrupted.`,
  positionals: { name: "FILE", help: "the batch file (JSON or JSONC, at most 1 MiB)" },
  flags: {
    resume: {
      type: "string",
      value: "BATCH_ID",
      help: "continue a batch: runs what has not ended (interrupted\n" +
        "runs resume, missing ones start); no FILE",
    },
    "max-parallel": {
      type: "integer",
      min: 1,
      max: 10_000,
      help: "runs in flight at once [the file's max_parallel, else 4]",
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
    pull: { type: "boolean", help: "download missing models (with a progress bar)" },
    "no-analysis": { type: "boolean", help: "do not print the comparison at the end" },
  },
  configFlags: ALL_CONFIG_FLAGS,
  async run({ values, positionals, signal, loadConfig }) {
    const resume = values.resume;
    if (resume !== undefined) checkConversationId(resume, "batch id");
    if (resume !== undefined && positionals.length > 0) {
      throw usageError("--resume continues a batch with its own file: drop FILE");
    }
    if (resume === undefined && positionals.length !== 1) {
      throw usageError(
        `Expected one batch file, got ${positionals.length} (see 'deno task batch --help')`,
      );
    }
    // Read and checked before anything else: a bad file is one line per problem, nothing written.
    const spec = resume === undefined ? await readBatchFile(positionals[0]!) : undefined;
    const config = await loadConfig();
    await setupLogging(config.logging, "batch");
    return await runBatch({
      config,
      ...(spec ? { spec } : {}),
      ...(resume !== undefined ? { resume } : {}),
      ...(values["max-parallel"] !== undefined ? { maxParallel: values["max-parallel"] } : {}),
      workers: values.workers ?? 1,
      pull: values.pull === true,
      analysis: values["no-analysis"] !== true,
      signal,
    });
  },
});

/** `deno task batch --help`. */
export const BATCH_HELP = helpText(BATCH_COMMAND);

if (import.meta.main) await runCommand(BATCH_COMMAND);
