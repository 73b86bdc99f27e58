/**
 * `deno task clean`: deletes chosen conversations (their streams, metadata
 * and index entry). Nothing is deleted without a selection; `--dry-run`
 * shows what would go.
 *
 * @module
 */
import { CONFIG_FLAGS, CONFIG_FLAGS_HELP, configFromFlags, parseFlags } from "./lib/cli/cli.ts";
import { runEntrypoint } from "./lib/cli/entrypoint.ts";
import { setupLogging } from "./lib/base/logger.ts";
import { closeRedis, connectRedis } from "./lib/bus/redis_connection.ts";
import { ConversationStore } from "./lib/bus/conversation_store.ts";
import { parseAge, selectForCleanup } from "./lib/bus/retention.ts";
import { usageError } from "./lib/base/dialogue_error.ts";

/** `deno task clean --help`. */
export const CLEAN_HELP =
  `Usage: deno task clean (--conversation ID... | --older-than AGE | --all) [options]

Deletes conversations from Redis: their four queues, live feed, dead letters
and metadata. Pending and running conversations are kept unless --force.
To expire finished conversations automatically instead, set retention.seconds
in the config (default: keep everything).

Options:
  --conversation ID      delete this conversation (repeatable)
  --older-than AGE       delete those created more than AGE ago: 90s, 30m, 12h, 7d, 2w
  --all                  delete every finished conversation
  --force                also delete pending and running ones
  --dry-run              only list what would be deleted
  -h, --help             show this help

${CONFIG_FLAGS_HELP}`;

if (import.meta.main) {
  await runEntrypoint("clean", async () => {
    const { values } = parseFlags(Deno.args, {
      ...CONFIG_FLAGS,
      conversation: { type: "string", multiple: true },
      "older-than": { type: "string" },
      all: { type: "boolean" },
      force: { type: "boolean" },
      "dry-run": { type: "boolean" },
    }, "deno task clean");
    if (values.help) {
      console.log(CLEAN_HELP);
      return 0;
    }
    const ids = (values.conversation ?? []) as string[];
    const olderThan = values["older-than"] as string | undefined;
    if (ids.length === 0 && !olderThan && !values.all) {
      throw usageError(
        "Nothing selected: pass --conversation ID, --older-than AGE or --all (see 'deno task clean --help')",
      );
    }
    const olderThanMs = olderThan ? parseAge(olderThan) : undefined;
    const config = await configFromFlags(values);
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
  });
}
