/**
 * An agent process. Without `--id`: a pool worker serving agent turns of
 * every conversation (either slot) until stopped. With `--id N`: serves one
 * agent slot of one conversation until it ends.
 *
 * @module
 */
import { CONFIG_FLAGS, CONFIG_FLAGS_HELP, configFromFlags, parseFlags } from "./lib/cli/cli.ts";
import { runEntrypoint } from "./lib/cli/entrypoint.ts";
import { usageError } from "./lib/base/dialogue_error.ts";
import { isValidConversationId } from "./lib/bus/keys.ts";
import { setupLogging } from "./lib/base/logger.ts";
import { runAgentPoolProcess, runAgentProcess } from "./lib/agent/agent_process.ts";

/** `deno task agent --help`. */
export const AGENT_HELP = `Usage: deno task agent [--concurrency K] [--models A,B] [--consumer NAME]
       deno task agent --id 1|2 [--conversation ID]

Without --id, a pool worker: serves the agent turns of every conversation
(either slot) whose model it serves, K generations at a time, until stopped.
Several workers share the work. With --id, serves one agent slot of one
conversation and exits when it ends. Either way: asks the model for the
persona's reply (streamed live to observers) and records the response with
its metrics.

Pool options:
  --concurrency K        generations in flight (agents.concurrency) [1]; match
                         the backend's capacity (OLLAMA_NUM_PARALLEL)
  --models A,B           serve only these models (agents.models) [every model
                         a conversation asks for]
  --consumer NAME        stable worker name: a restart under the same name takes
                         its unfinished turns back at once [host-pid-random]

Single-slot options:
  --id 1|2               which agent slot to serve
  --conversation ID      conversation to serve (default: the newest running or
                         pending one, waiting for one to appear)

  -h, --help             show this help

${CONFIG_FLAGS_HELP}`;

const _POOL_FLAGS = ["concurrency", "models", "consumer"] as const;

if (import.meta.main) {
  await runEntrypoint("agent", async (signal) => {
    const { values } = parseFlags(Deno.args, {
      ...CONFIG_FLAGS,
      id: { type: "string" },
      conversation: { type: "string" },
      concurrency: { type: "string" },
      models: { type: "string" },
      consumer: { type: "string" },
    }, "deno task agent");
    if (values.help) {
      console.log(AGENT_HELP);
      return 0;
    }
    const given = values.conversation as string | undefined;
    if (values.id === undefined) {
      if (given !== undefined) {
        throw usageError(
          "Cannot use --conversation without --id: a pool worker (no --id) serves every conversation; add --id 1|2 to serve one slot of one conversation",
        );
      }
      return await _pool(values, signal);
    }
    const misplaced = _POOL_FLAGS.find((flag) => values[flag] !== undefined);
    if (misplaced) {
      throw usageError(
        `Cannot use --${misplaced} with --id: it applies to a pool worker; drop --id to run one`,
      );
    }
    if (values.id !== "1" && values.id !== "2") {
      throw usageError(`Invalid --id ${JSON.stringify(values.id)}: expected 1 or 2`);
    }
    const agent = values.id === "1" ? 1 : 2;
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

async function _pool(
  values: Record<string, unknown>,
  signal: AbortSignal,
): Promise<number> {
  const agents: Record<string, unknown> = {};
  if (values.concurrency !== undefined) {
    const raw = String(values.concurrency);
    const k = /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (!(k >= 1 && k <= 1024)) {
      throw usageError(
        `Invalid --concurrency ${JSON.stringify(raw)}: expected a whole number 1-1024`,
      );
    }
    agents.concurrency = k;
  }
  if (values.models !== undefined) {
    const models = String(values.models).split(",").map((m) => m.trim()).filter(Boolean);
    if (models.length === 0) {
      throw usageError(
        `Invalid --models ${JSON.stringify(values.models)}: expected names like llama3.2,qwen3`,
      );
    }
    agents.models = models;
  }
  const consumer = values.consumer as string | undefined;
  if (consumer !== undefined && !/^[0-9A-Za-z_.:-]{1,128}$/.test(consumer)) {
    throw usageError(
      `Invalid --consumer ${JSON.stringify(consumer)}: use letters, digits, '-', '_', '.' or ':'`,
    );
  }
  const config = await configFromFlags(values, { agents });
  await setupLogging(config.logging, "agent-pool");
  return await runAgentPoolProcess({ config, ...(consumer ? { consumer } : {}), signal });
}
