/**
 * An agent process. Without `--id`: a pool worker serving agent turns of
 * every conversation (either slot) until stopped. With `--id N`: serves one
 * agent slot of one conversation until it ends.
 *
 * @module
 */
import { defineCommand, helpText, runCommand } from "./lib/cli/command.ts";
import type { ConfigFlagName } from "./lib/cli/cli.ts";
import { usageError } from "./lib/base/dialogue_error.ts";
import { setupLogging } from "./lib/base/logger.ts";
import { runAgentPoolProcess, runAgentProcess } from "./lib/agent/agent_process.ts";

/**
 * The configuration flags an agent takes: where Redis and its backends are,
 * and how it generates. Models, limits and each slot's backend come with each
 * conversation; the backend flags serve runs recorded without one and
 * `--id` mode.
 */
const AGENT_CONFIG_FLAGS: readonly ConfigFlagName[] = [
  "config",
  "redis-url",
  "ollama-host",
  "backend",
  "agent1-backend",
  "agent2-backend",
  "openai-base-url",
  "model-file",
  "output",
  "temperature",
  "num-ctx",
  "seed",
  "log-level",
  "log-format",
];

/** `deno task agent`: flags, help and what it does. */
export const AGENT_COMMAND = defineCommand({
  name: "agent",
  usage: [
    "deno task agent [--concurrency K] [--models A,B] [--consumer NAME] [options]",
    "deno task agent --id 1|2 [--conversation ID] [options]",
  ],
  summary: `Without --id, a pool worker: serves the agent turns of every conversation
(either slot) whose model it serves, K generations at a time, until stopped.
Several workers, on one host or many, share the work. With --id, serves one
agent slot of one conversation and exits when it ends. Either way it asks the
model for the persona's reply (streamed live to observers) and records the
response with its metrics.`,
  flags: {
    concurrency: {
      type: "integer",
      min: 1,
      max: 1024,
      value: "K",
      config: ["agents.concurrency"],
      section: "Pool worker",
      help: "generations in flight (agents.concurrency) [1]; match the\n" +
        "backend's capacity (Ollama: OLLAMA_NUM_PARALLEL)",
    },
    models: {
      type: "list",
      config: ["agents.models"],
      section: "Pool worker",
      help: "serve only these models (agents.models) [every model a\nconversation asks for]",
    },
    consumer: {
      type: "consumer",
      section: "Pool worker",
      help: "stable worker name: a restart under the same name takes its\n" +
        "unfinished turns back at once [agent-pool-HOST-PID-RANDOM]",
    },
    id: {
      type: "string",
      choices: ["1", "2"],
      section: "One slot",
      help: "serve this agent slot of one conversation",
    },
    conversation: {
      type: "conversation-id",
      section: "One slot",
      help: "conversation to serve with --id (default: the newest running\n" +
        "or pending one, waiting for one to appear)",
    },
  },
  configFlags: AGENT_CONFIG_FLAGS,
  async run({ values, signal, loadConfig }) {
    if (values.id === undefined) {
      if (values.conversation !== undefined) {
        throw usageError(
          "Cannot use --conversation without --id: a pool worker (no --id) serves every conversation; add --id 1|2 to serve one slot of one conversation",
        );
      }
      const config = await loadConfig();
      await setupLogging(config.logging, "agent-pool");
      return await runAgentPoolProcess({
        config,
        ...(values.consumer ? { consumer: values.consumer } : {}),
        signal,
      });
    }
    const misplaced = (["concurrency", "models", "consumer"] as const).find((flag) =>
      values[flag] !== undefined
    );
    if (misplaced) {
      throw usageError(
        `Cannot use --${misplaced} with --id: it applies to a pool worker; drop --id to run one`,
      );
    }
    const agent = values.id === "1" ? 1 : 2;
    const config = await loadConfig();
    await setupLogging(config.logging, `agent-${agent}`);
    return await runAgentProcess({
      config,
      agent,
      ...(values.conversation ? { conversationId: values.conversation } : {}),
      signal,
    });
  },
});

/** `deno task agent --help`. */
export const AGENT_HELP = helpText(AGENT_COMMAND);

if (import.meta.main) await runCommand(AGENT_COMMAND);
