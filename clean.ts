/**
 * `deno task clean`: deletes chosen conversations (their streams, metadata
 * and index entry). Nothing is deleted without a selection; `--dry-run`
 * shows what would go.
 *
 * @module
 */
import { defineCommand, helpText, runCommand } from "./lib/cli/command.ts";
import { CONNECTION_FLAGS } from "./lib/cli/cli.ts";
import { setupLogging } from "./lib/base/logger.ts";
import { closeRedis, connectRedis } from "./lib/bus/redis_connection.ts";
import { ConversationStore } from "./lib/bus/conversation_store.ts";
import { parseAge, selectForCleanup } from "./lib/bus/retention.ts";
import { usageError } from "./lib/base/dialogue_error.ts";

/** `deno task clean`: flags, help and what it does. */
export const CLEAN_COMMAND = defineCommand({
  name: "clean",
  usage: ["deno task clean (--conversation ID... | --older-than AGE | --all) [options]"],
  summary: `Deletes conversations from Redis: their four queues, live feed, dead letters
and metadata. Pending and running conversations are kept unless --force.
To expire finished conversations automatically instead, set retention.seconds
in the config (default: keep everything).`,
  flags: {
    conversation: {
      type: "conversation-id",
      multiple: true,
      help: "delete this conversation (repeatable)",
    },
    "older-than": {
      type: "string",
      value: "AGE",
      help: "delete those created more than AGE ago: 90s, 30m, 12h, 7d, 2w",
    },
    all: { type: "boolean", help: "delete every finished conversation" },
    force: { type: "boolean", help: "also delete pending and running ones" },
    "dry-run": { type: "boolean", help: "only list what would be deleted" },
  },
  // Only reads and deletes keys: the model, generation and limit flags mean nothing here.
  configFlags: CONNECTION_FLAGS,
  async run({ values, loadConfig }) {
    const ids = values.conversation ?? [];
    const olderThan = values["older-than"];
    if (ids.length === 0 && !olderThan && !values.all) {
      throw usageError(
        "Nothing selected: pass --conversation ID, --older-than AGE or --all (see 'deno task clean --help')",
      );
    }
    const olderThanMs = olderThan ? parseAge(olderThan) : undefined;
    const config = await loadConfig();
    await setupLogging(config.logging, "clean");
    const redis = await connectRedis(config.redis, { name: "clean" });
    try {
      const store = new ConversationStore(redis);
      const metas = await store.list(100_000);
      const chosen = selectForCleanup(metas, {
        ids,
        all: values.all === true,
        force: values.force === true,
        ...(olderThanMs !== undefined ? { olderThanMs } : {}),
      });
      const missing = ids.filter((id) => !metas.some((m) => m.id === id));
      for (const id of missing) console.error(`clean: no conversation ${id}; skipped`);
      const verb = values["dry-run"] ? "would delete" : "deleted";
      for (const meta of chosen) {
        if (!values["dry-run"]) await store.delete(meta.id);
        console.log(`${verb} ${meta.id} (${meta.status}, ${meta.turns} turns)`);
      }
      const kept = metas.filter((m) => ids.includes(m.id) && !chosen.includes(m));
      for (const meta of kept) {
        console.error(`clean: kept ${meta.id} as it is ${meta.status}: pass --force to delete it`);
      }
      console.log(`${chosen.length} conversation(s) ${verb}.`);
      return 0;
    } finally {
      await closeRedis(redis);
    }
  },
});

/** `deno task clean --help`. */
export const CLEAN_HELP = helpText(CLEAN_COMMAND);

if (import.meta.main) await runCommand(CLEAN_COMMAND);
