/**
 * End to end: `deno task chat` with two Ollama hosts (OLLAMA_HOSTS), one of
 * them answering every generation with 503.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { OllamaDouble } from "../../lib/testing/ollama_double.ts";
import { RedisServer } from "../../lib/testing/redis_server.ts";
import { runEntrypoint } from "../helpers/entrypoints.ts";
import { parseConfig } from "../../lib/config/config.ts";
import { closeRedis, connectRedis } from "../../lib/bus/redis_connection.ts";
import { ConversationStore } from "../../lib/bus/conversation_store.ts";

Deno.test("with two Ollama hosts, one answering 503, every turn is served by the other and none is lost", async () => {
  const busy = await OllamaDouble.start();
  const good = await OllamaDouble.start();
  const redisServer = await RedisServer.start();
  const redis = await connectRedis(parseConfig({ redis: { url: redisServer.url } }).redis, {
    name: "test",
  });
  try {
    for (let i = 0; i < 1000; i++) busy.enqueueFault({ kind: "status", status: 503 });
    const run = await runEntrypoint(
      "main.ts",
      ["--pairs", "3", "--max-turns", "4", "--story", "tests/fixtures/story.json", "--no-analysis"],
      {
        env: {
          REDIS_URL: redisServer.url,
          OLLAMA_HOSTS: `${busy.url}=2,${good.url}=2`,
          DIALOGUE_BACKEND: "ollama",
          DIALOGUE_MODEL: "tiny",
        },
        timeoutMs: 90_000,
      },
    );
    assertEquals(run.code, 0, run.stderr);
    const store = new ConversationStore(redis);
    const metas = await store.list(10);
    assertEquals(metas.length, 3);
    let turns = 0;
    for (const meta of metas) {
      const { responses } = await store.transcript(meta.id);
      assertEquals(meta.status, "completed", meta.error);
      assertEquals(responses.map((r) => r.metadata.sequence_number), [1, 2, 3, 4]);
      for (const r of responses) assertEquals(r.metadata.attempts ?? 1, 1, "moved, not retried");
      turns += responses.length;
    }
    const chats = (d: OllamaDouble) => d.requests.filter((r) => r.path === "/api/chat").length;
    assert(chats(busy) >= 1, "the busy host was tried");
    assert(chats(good) >= turns, `the good host served all ${turns} turns (${chats(good)} calls)`);
  } finally {
    await closeRedis(redis);
    await redisServer.stop();
    await busy.close();
    await good.close();
  }
});
