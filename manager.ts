/**
 * The manager process. With `--pool`: serves the manager side of every
 * conversation (scenario, routing, limits, deadlines) until stopped.
 * Otherwise: creates one conversation (or resumes one with `--resume`) and
 * serves until it ends.
 *
 * @module
 */
import { defineCommand, helpText, runCommand } from "./lib/cli/command.ts";
import { ALL_CONFIG_FLAGS } from "./lib/cli/cli.ts";
import { usageError } from "./lib/base/dialogue_error.ts";
import { setupLogging } from "./lib/base/logger.ts";
import { runManagerProcess } from "./lib/manager/manager_process.ts";
import { readScenarioFile } from "./lib/manager/scenario_writer.ts";

/** `deno task manager`: flags, help and what it does. */
export const MANAGER_COMMAND = defineCommand({
  name: "manager",
  usage: [
    "deno task manager [--conversation ID] [--story FILE] [options]",
    "deno task manager --resume ID [options]",
    "deno task manager --pool [--consumer NAME] [options]",
  ],
  summary: `Creates a conversation, writes its story and personas with the manager model
(or reads them from --story), then routes every reply to the other agent until
--max-turns or --duration is reached, and exits with the run's status. Start
agents with 'deno task agent' (a pool worker) or 'deno task agent --id 1' and
'--id 2' (any host that reaches the same Redis). While it runs, it also serves
the manager side of any other conversation, like a pool.`,
  flags: {
    conversation: {
      type: "conversation-id",
      help: "use this conversation id (default: a new one)",
    },
    story: {
      type: "string",
      value: "FILE",
      help: "story and personas from a JSON file instead of the model",
    },
    resume: {
      type: "conversation-id",
      help: "continue an interrupted conversation, or one whose\n" +
        "manager died, from its state in Redis",
    },
    pool: {
      type: "boolean",
      help: "serve every conversation until SIGINT/SIGTERM (tickets\n" +
        "in hand are released for other managers)",
    },
    consumer: {
      type: "consumer",
      help: "stable manager name: a restart under the same name takes\n" +
        "its unfinished tickets back at once [host-pid-random]",
    },
  },
  configFlags: ALL_CONFIG_FLAGS,
  async run({ values, signal, loadConfig }) {
    const { resume, story, pool, consumer } = values;
    if (resume && story) {
      throw usageError("--resume continues a run with its own story: drop --story");
    }
    const given = (["conversation", "story", "resume"] as const).find((f) => values[f]);
    if (pool && given) {
      throw usageError(
        `Cannot use --${given} with --pool: a pool serves every conversation; drop --pool to run one`,
      );
    }
    const id = values.conversation ?? resume;
    const config = await loadConfig();
    await setupLogging(config.logging, "manager");
    const scenario = story ? await readScenarioFile(story) : undefined;
    return await runManagerProcess({
      config,
      pool: pool === true,
      consumer,
      ...(resume ? { resume } : {}),
      ...(id ? { conversationId: id } : {}),
      ...(scenario ? { scenario } : {}),
      signal,
    });
  },
});

/** `deno task manager --help`. */
export const MANAGER_HELP = helpText(MANAGER_COMMAND);

if (import.meta.main) await runCommand(MANAGER_COMMAND);
