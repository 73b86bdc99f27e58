/**
 * The manager process: writes the scenario (or reads `--story`), starts the
 * conversation, routes every response to the other agent and enforces the
 * turn and time limits.
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
export const MANAGER_HELP = `Usage: deno task manager [options]

Creates a conversation, writes its story and personas with the manager model
(or reads them from --story), then routes every reply to the other agent until
--max-turns or --duration is reached. Start the two agents with
'deno task agent --id 1' and '--id 2' (any host that reaches the same Redis).

Options:
  --conversation ID      use this conversation id (default: a new one)
  --story FILE           story and personas from a JSON file instead of the model
  --resume ID            continue an interrupted conversation, or one whose
                         manager died, from its state in Redis
  -h, --help             show this help

${CONFIG_FLAGS_HELP}`;

if (import.meta.main) {
  await runEntrypoint("manager", async (signal) => {
    const { values } = parseFlags(Deno.args, {
      ...CONFIG_FLAGS,
      conversation: { type: "string" },
      story: { type: "string" },
      resume: { type: "string" },
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
    const config = await configFromFlags(values);
    await setupLogging(config.logging, "manager");
    const scenario = values.story ? await readScenarioFile(values.story as string) : undefined;
    return await runManagerProcess({
      config,
      ...(resume ? { resume } : {}),
      ...(id ? { conversationId: id } : {}),
      ...(scenario ? { scenario } : {}),
      signal,
    });
  });
}
