/**
 * The observer process: shows a conversation live in a second terminal
 * (`deno task observe`), replays a finished one, or lists them.
 *
 * @module
 */
import { CONFIG_FLAGS, CONFIG_FLAGS_HELP, configFromFlags, parseFlags } from "./lib/cli/cli.ts";
import { runEntrypoint } from "./lib/cli/entrypoint.ts";
import { setupLogging } from "./lib/base/logger.ts";
import { closeRedis, connectRedis } from "./lib/bus/redis_connection.ts";
import { ConversationStore } from "./lib/bus/conversation_store.ts";
import { watchConversation } from "./lib/view/conversation_view.ts";
import { formatConversationList } from "./lib/view/conversation_list.ts";
import { TerminalRenderer } from "./lib/view/terminal_renderer.ts";
import { DialogueError, ErrorCode } from "./lib/base/dialogue_error.ts";

/** `deno task observe --help`. */
export const OBSERVER_HELP = `Usage: deno task observe [options]

Shows a conversation live, token by token: story and personas, then every
message with its figures, a status line (turn n of max, time left) and the
stop reason at the end. Attaching mid-run shows what is there, then follows;
a finished run is replayed.

Options:
  --conversation ID      which conversation (default: the newest)
  --list                 list conversations with status, turns, age and queue
                         depths (length/pending of each request/response stream)
  --limit N              how many --list shows [20]
  -h, --help             show this help

${CONFIG_FLAGS_HELP}`;

if (import.meta.main) {
  await runEntrypoint("observe", async (signal) => {
    const { values } = parseFlags(Deno.args, {
      ...CONFIG_FLAGS,
      conversation: { type: "string" },
      list: { type: "boolean" },
      limit: { type: "string" },
    }, "deno task observe");
    if (values.help) {
      console.log(OBSERVER_HELP);
      return 0;
    }
    const limit = Number(values.limit ?? 20);
    if (!Number.isInteger(limit) || limit < 1) {
      throw new DialogueError(
        ErrorCode.Usage,
        `Invalid --limit ${JSON.stringify(values.limit)}: expected a whole number ≥ 1`,
      );
    }
    const config = await configFromFlags(values);
    await setupLogging(config.logging, "observer");
    const redis = await connectRedis(config.redis, { name: "observer" });
    try {
      const store = new ConversationStore(redis);
      if (values.list) {
        const metas = await store.list(limit);
        const rows = await Promise.all(
          metas.map(async (meta) => ({ meta, queues: await store.queueStats(meta.id) })),
        );
        console.log(formatConversationList(rows));
        return 0;
      }
      const id = (values.conversation as string | undefined) ?? await store.latest();
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
  });
}
