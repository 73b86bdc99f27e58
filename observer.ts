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
import { chooseConversation } from "./lib/view/next_conversation.ts";

/** `deno task observe`: flags, help and what it does. */
export const OBSERVE_COMMAND = defineCommand({
  name: "observe",
  usage: ["deno task observe [options]"],
  summary: `Shows a conversation live, token by token: story and personas, then every
message with its figures, a status line (turn n of max, time left) and the
stop reason at the end. Attaching mid-run shows what is there, then follows;
a finished run is replayed. Without --conversation it may be started before
a run: it waits for the next one.`,
  flags: {
    conversation: {
      type: "conversation-id",
      help: "which conversation (default: the newest while it runs,\n" +
        "else the next one to start)",
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
      const renderer = new TerminalRenderer();
      const id = values.conversation ?? await chooseConversation(redis, {
        signal,
        onWait: (newest) => renderer.waitingForConversation(newest),
      });
      if (id === undefined) return 0; // Ctrl-C while waiting.
      await watchConversation(redis, id, renderer, {
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
