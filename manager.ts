/**
 * The manager process. With `--pool`: serves the manager side of every
 * conversation (scenario, routing, limits, deadlines) until stopped.
 * Otherwise: creates one conversation (or resumes one with `--resume`) and
 * serves until it ends.
 *
 * @module
 */
import { CONFIG_FLAGS, CONFIG_FLAGS_HELP, configFromFlags, parseFlags } from "./lib/cli/cli.ts";
import { runEntrypoint } from "./lib/cli/entrypoint.ts";
import { usageError } from "./lib/base/dialogue_error.ts";
import { setupLogging } from "./lib/base/logger.ts";
import { runManagerProcess } from "./lib/manager/manager_process.ts";
import { isValidConversationId } from "./lib/bus/keys.ts";
import { readScenarioFile } from "./lib/manager/scenario_writer.ts";

/** `deno task manager --help`. */
export const MANAGER_HELP = `Usage: deno task manager [--conversation ID] [--story FILE] [options]
       deno task manager --resume ID [options]
       deno task manager --pool [--consumer NAME] [options]

Creates a conversation, writes its story and personas with the manager model
(or reads them from --story), then routes every reply to the other agent until
--max-turns or --duration is reached, and exits with the run's status. Start
agents with 'deno task agent' (a pool worker) or 'deno task agent --id 1' and
'--id 2' (any host that reaches the same Redis). While it runs, it also serves
the manager side of any other conversation, like a pool.

Options:
  --conversation ID      use this conversation id (default: a new one)
  --story FILE           story and personas from a JSON file instead of the model
  --resume ID            continue an interrupted conversation, or one whose
                         manager died, from its state in Redis
  --pool                 serve every conversation until SIGINT/SIGTERM (tickets
                         in hand are released for other managers)
  --consumer NAME        stable manager name: a restart under the same name takes
                         its unfinished tickets back at once [host-pid-random]
  -h, --help             show this help

${CONFIG_FLAGS_HELP}`;

if (import.meta.main) {
  await runEntrypoint("manager", async (signal) => {
    const { values } = parseFlags(Deno.args, {
      ...CONFIG_FLAGS,
      conversation: { type: "string" },
      story: { type: "string" },
      resume: { type: "string" },
      pool: { type: "boolean" },
      consumer: { type: "string" },
    }, "deno task manager");
    if (values.help) {
      console.log(MANAGER_HELP);
      return 0;
    }
    const resume = values.resume as string | undefined;
    const id = (values.conversation as string | undefined) ?? resume;
    if (id !== undefined && !isValidConversationId(id)) {
      throw usageError(
        `Invalid conversation id ${
          JSON.stringify(id)
        }: use letters, digits, '-', '_' or '.' (at most 128)`,
      );
    }
    if (resume && values.story) {
      throw usageError("--resume continues a run with its own story: drop --story");
    }
    const pool = values.pool === true;
    const given = ["conversation", "story", "resume"].find((flag) => values[flag] !== undefined);
    if (pool && given) {
      throw usageError(
        `Cannot use --${given} with --pool: a pool serves every conversation; drop --pool to run one`,
      );
    }
    const consumer = values.consumer as string | undefined;
    if (consumer !== undefined && !/^[0-9A-Za-z_.:-]{1,100}$/.test(consumer)) {
      throw usageError(
        `Invalid --consumer ${
          JSON.stringify(consumer)
        }: use letters, digits, '-', '_', '.' or ':' (at most 100)`,
      );
    }
    const config = await configFromFlags(values);
    await setupLogging(config.logging, "manager");
    const scenario = values.story ? await readScenarioFile(values.story as string) : undefined;
    return await runManagerProcess({
      config,
      pool,
      consumer,
      ...(resume ? { resume } : {}),
      ...(id ? { conversationId: id } : {}),
      ...(scenario ? { scenario } : {}),
      signal,
    });
  });
}
