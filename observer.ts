/**
 * The observer process: shows a conversation live in a second terminal
 * (`deno task observe`), replays a finished one, or lists them.
 *
 * @module
 */
import { defineCommand, helpText, runCommand } from "./lib/cli/command.ts";
import { CONNECTION_FLAGS } from "./lib/cli/cli.ts";
import { setupLogging } from "./lib/base/logger.ts";
import { closeRedis, connectRedis } from "./lib/bus/redis_connection.ts";
import { ConversationStore } from "./lib/bus/conversation_store.ts";
import { watchConversation } from "./lib/view/conversation_view.ts";
import { formatConversationList } from "./lib/view/conversation_list.ts";
import { TerminalRenderer } from "./lib/view/terminal_renderer.ts";
import { DialogueError, ErrorCode } from "./lib/base/dialogue_error.ts";

/** `deno task observe`: flags, help and what it does. */
export const OBSERVE_COMMAND = defineCommand({
  name: "observe",
  usage: ["deno task observe [options]"],
  summary: `Shows a conversation live, token by token: story and personas, then every
message with its figures, a status line (turn n of max, time left) and the
stop reason at the end. Attaching mid-run shows what is there, then follows;
a finished run is replayed.`,
  flags: {
    conversation: {
      type: "conversation-id",
      help: "which conversation (default: the newest)",
    },
    list: {
      type: "boolean",
      help: "list conversations with status, turns, age and queue\n" +
        "depths (length/pending of each request/response stream)",
    },
    limit: { type: "integer", min: 1, help: "how many --list shows [20]" },
  },
  // Only reads Redis: the model, generation and limit flags mean nothing here.
  configFlags: CONNECTION_FLAGS,
  async run({ values, signal, loadConfig }) {
    const config = await loadConfig();
    await setupLogging(config.logging, "observer");
    const redis = await connectRedis(config.redis, { name: "observer" });
    try {
      const store = new ConversationStore(redis);
      if (values.list) {
        const metas = await store.list(values.limit ?? 20);
        const rows = await Promise.all(
          metas.map(async (meta) => ({ meta, queues: await store.queueStats(meta.id) })),
        );
        console.log(formatConversationList(rows));
        return 0;
      }
      const id = values.conversation ?? await store.latest();
      if (!id) {
        throw new DialogueError(
          ErrorCode.NotFound,
          "No conversations in Redis yet: start one with 'deno task chat' (or check --redis-url)",
        );
      }
      await watchConversation(redis, id, new TerminalRenderer(), {
        signal,
        redisConfig: config.redis,
      });
      return 0;
    } finally {
      await closeRedis(redis);
    }
  },
});

/** `deno task observe --help`. */
export const OBSERVER_HELP = helpText(OBSERVE_COMMAND);

if (import.meta.main) await runCommand(OBSERVE_COMMAND);
