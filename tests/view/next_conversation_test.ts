import { strictEqual } from "node:assert/strict";
import { RedisServer } from "../../lib/testing/redis_server.ts";
import { parseConfig } from "../../lib/config/config.ts";
import { closeRedis, connectRedis } from "../../lib/bus/redis_connection.ts";
import { ConversationStore } from "../../lib/bus/conversation_store.ts";
import { ConversationMeta, type ConversationStatus } from "../../lib/model/conversation_meta.ts";
import { chooseConversation } from "../../lib/view/next_conversation.ts";

function meta(id: string, status: ConversationStatus, createdAt: number): ConversationMeta {
  return ConversationMeta.parse({
    id,
    status,
    created_at: createdAt,
    max_turns: 2,
    duration_seconds: 60,
    models: { manager: "tiny", agent1: "tiny", agent2: "tiny" },
    config: {},
  });
}

Deno.test("chooseConversation() follows the newest run while it is running, else waits for the next one", async () => {
  const server = await RedisServer.start();
  const redis = await connectRedis({ ...parseConfig({}).redis, url: server.url }, { name: "test" });
  try {
    const store = new ConversationStore(redis);
    await store.create(meta("old-running", "running", 1000));
    strictEqual(await chooseConversation(redis), "old-running");

    await store.create(meta("done", "completed", 2000));
    const waiting = Promise.withResolvers<string | undefined>();
    const next = chooseConversation(redis, { onWait: waiting.resolve });
    strictEqual(await waiting.promise, "done", "says it waits, naming the newest finished run");
    await store.create(meta("new", "pending", 3000));
    strictEqual(await next, "new");

    const stop = new AbortController();
    await store.create(meta("newest-done", "failed", 4000));
    const aborted = chooseConversation(redis, { signal: stop.signal });
    stop.abort();
    strictEqual(await aborted, undefined);
  } finally {
    await closeRedis(redis);
    await server.stop();
  }
});
