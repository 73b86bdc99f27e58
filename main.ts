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
    if (resume && values.story) {
      throw usageError("--resume continues a run with its own story: drop --story");
    }
    // Checked here so a bad file is one clear line, not an error in a child.
    if (values.story) await readScenarioFile(values.story as string);
    const config = await configFromFlags(values);
    await setupLogging(config.logging, "chat");
    return await runChat({
      config,
      ...(values.story ? { storyFile: values.story as string } : {}),
      ...(resume ? { resume } : {}),
      pull: values.pull === true,
      analysis: values["no-analysis"] !== true,
      signal,
    });
  });
}
