/**
 * The dashboard on a real local Redis Cluster (three masters): the live
 * streams of runs in different slots all reach the overview (no one command
 * may span them there, so the reader polls each one in a pipeline split by
 * node), and a conversation's stream follows its tokens.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { RedisCluster } from "../../lib/testing/redis_cluster.ts";
import { parseConfig } from "../../lib/config/config.ts";
import { mergeLayers } from "../../lib/config/config_layer.ts";
import { closeRedis, connectRedis } from "../../lib/bus/redis_connection.ts";
import { ConversationStore } from "../../lib/bus/conversation_store.ts";
import { conversationKeys } from "../../lib/bus/keys.ts";
import { keySlot } from "../../lib/bus/key_slot.ts";
import { queueLive } from "../../lib/bus/live_feed.ts";
import { startWebServer } from "../../lib/web/web_server.ts";
import type { ConversationCard } from "../../lib/web/conversation_card.ts";
import { STORY_SCENARIO } from "./web_rig.ts";
import { SseReader } from "./sse_reader.ts";

Deno.test("on Redis Cluster the dashboard follows the live streams of runs in different slots", async () => {
  const cluster = await RedisCluster.start();
  const layer = { redis: { cluster_nodes: cluster.nodes } };
  const config = parseConfig(layer);
  const redis = await connectRedis(config.redis, { name: "test" });
  const server = await startWebServer({
    config,
    configFor: (extra) => Promise.resolve(parseConfig(mergeLayers(layer, extra))),
    host: "127.0.0.1",
    port: 0,
    hub: { pollMs: 100, batchMs: 250 },
  });
  try {
    const store = new ConversationStore(redis);
    const ids = ["cl-web-a", "cl-web-b", "cl-web-c", "cl-web-d"];
    const slots = new Set(ids.map((id) => keySlot(conversationKeys(id).live)));
    assert(slots.size >= 2, "the runs' live streams sit in different slots");
    const now = Date.now();
    for (const id of ids) {
      await store.create({
        id,
        status: "running",
        created_at: now,
        started_at: now,
        deadline: now + 120_000,
        turns: 0,
        max_turns: 6,
        duration_seconds: 120,
        models: { manager: "tiny", agent1: "tiny", agent2: "tiny" },
        scenario: STORY_SCENARIO,
        config: {},
      });
    }
    const tab = await SseReader.open(`${server.origin}/api/events`);
    await tab.next("the snapshot", (m) => m.event === "snapshot");
    for (const id of ids) {
      const pipe = redis.pipeline();
      queueLive(pipe, id, { type: "turn_start", seq: 1, agent: 1, model: "tiny", at: Date.now() });
      queueLive(pipe, id, { type: "token", seq: 1, agent: 1, text: `hello from ${id}` });
      await pipe.exec();
    }
    // Every run's last words reach the overview, whichever master holds it.
    const seen = new Map<string, string>();
    await tab.next("every run's words", (m) => {
      if (m.event !== "cards" && m.event !== "snapshot") return false;
      for (const card of (JSON.parse(m.data) as { cards: ConversationCard[] }).cards) {
        if (card.last) seen.set(card.id, card.last);
      }
      return ids.every((id) => seen.get(id)?.endsWith(`hello from ${id}`));
    });
    await tab.close();
    const view = await SseReader.open(`${server.origin}/api/conversations/${ids[1]}/events`);
    await view.next("the snapshot", (m) => m.data.includes('"snapshot"'));
    const more = redis.pipeline();
    queueLive(more, ids[1]!, { type: "token", seq: 1, agent: 1, text: " and more" });
    await more.exec();
    const tokens = await view.next("the new token", (m) => m.data.includes(" and more"));
    assertEquals(JSON.parse(tokens.data).type, "tokens");
    await view.close();
  } finally {
    await server.close();
    await closeRedis(redis);
    await cluster.stop();
  }
});
