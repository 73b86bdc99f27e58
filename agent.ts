/**
 * An agent process: serves one agent slot (1 or 2) of a conversation until
 * it ends. Several processes may serve the same slot (on several hosts).
 *
 * @module
 */
import { CONFIG_FLAGS, CONFIG_FLAGS_HELP, configFromFlags, parseFlags } from "./lib/cli/cli.ts";
import { runEntrypoint } from "./lib/cli/entrypoint.ts";
import { usageError } from "./lib/base/dialogue_error.ts";
import { isValidConversationId } from "./lib/bus/keys.ts";
import { setupLogging } from "./lib/base/logger.ts";
import { runAgentProcess } from "./lib/agent/agent_process.ts";

/** `deno task agent --help`. */
export const AGENT_HELP = `Usage: deno task agent --id 1|2 [options]

Serves one agent slot of a conversation: reads its request stream, asks its
model for the persona's reply (streamed live to observers) and writes the
response with its metrics. Exits when the conversation ends.

Options:
  --id 1|2               which agent slot to serve (required)
  --conversation ID      conversation to serve (default: the newest running or
                         pending one, waiting for one to appear)
  -h, --help             show this help

${CONFIG_FLAGS_HELP}`;

if (import.meta.main) {
  await runEntrypoint("agent", async (signal) => {
    const { values } = parseFlags(Deno.args, {
      ...CONFIG_FLAGS,
      id: { type: "string" },
      conversation: { type: "string" },
    }, "deno task agent");
    if (values.help) {
      console.log(AGENT_HELP);
      return 0;
    }
    if (values.id !== "1" && values.id !== "2") {
      throw usageError(
        `Invalid --id ${
          values.id === undefined ? "(missing)" : JSON.stringify(values.id)
        }: expected 1 or 2`,
      );
    }
    const agent = values.id === "1" ? 1 : 2;
    const given = values.conversation as string | undefined;
    if (given !== undefined && !isValidConversationId(given)) {
      throw usageError(
        `Invalid --conversation ${JSON.stringify(given)}: use letters, digits, '-', '_' or '.'`,
      );
    }
    const config = await configFromFlags(values);
    await setupLogging(config.logging, `agent-${agent}`);
    return await runAgentProcess({
      config,
      agent,
      ...(given ? { conversationId: given } : {}),
      signal,
    });
  });
}
