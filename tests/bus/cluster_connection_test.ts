/**
 * The cluster side of lib/bus against a real local Redis Cluster: slots,
 * pipelines split by node, the store's writes, the blocking connection.
 */
import { assert, assertEquals, assertRejects } from "../helpers/assert.ts";
import { Cluster } from "ioredis";
import { RedisCluster } from "../../lib/testing/redis_cluster.ts";
import { parseConfig } from "../../lib/config/config.ts";
import { envLayer } from "../../lib/config/config_layer.ts";
import {
  closeRedis,
  connectRedis,
  createRedis,
  duplicateRedis,
  isCluster,
} from "../../lib/bus/redis_connection.ts";
import { keySlot } from "../../lib/bus/key_slot.ts";
import { nodeRuns } from "../../lib/bus/cluster_pipeline.ts";
import { conversationIndexKey, conversationKeys, dispatchKeys } from "../../lib/bus/keys.ts";
import { ConversationStore } from "../../lib/bus/conversation_store.ts";
import { scanKeys } from "../../lib/bus/key_scan.ts";
import { runScript } from "../../lib/bus/scripts.ts";
import { ConversationMeta } from "../../lib/model/conversation_meta.ts";
import { redactConfig } from "../../lib/config/redaction.ts";

Deno.test("nodeRuns() cuts a pipeline where the node changes; keyless commands join the run", () => {
  assertEquals(nodeRuns(["a", "a", undefined, "b", "a"], [1, 2, 3, 4, 5]), [[1, 2, 3], [4], [5]]);
  assertEquals(nodeRuns([undefined, "b", "b"], [1, 2, 3]), [[1, 2, 3]]);
  assertEquals(nodeRuns([], []), []);
});

Deno.test("REDIS_CLUSTER_NODES sets redis.cluster_nodes; a malformed node is refused", () => {
  const layer = envLayer((n) =>
    n === "REDIS_CLUSTER_NODES" ? "10.0.0.1:7000, 10.0.0.2:7001" : undefined
  );
  assertEquals(parseConfig(layer).redis.cluster_nodes, ["10.0.0.1:7000", "10.0.0.2:7001"]);
  let refused = false;
  try {
    parseConfig({ redis: { cluster_nodes: ["no-port"] } });
  } catch {
    refused = true;
  }
  assert(refused, "host without port refused");
});

Deno.test("on a 3-master cluster: slots, split pipelines, scripts, the store and blocking reads", async (t) => {
  const cluster = await RedisCluster.start();
  const config = parseConfig({ redis: { cluster_nodes: cluster.nodes } }).redis;
  const redis = await connectRedis(config, { name: "test" });
  const blocking = createRedis(config, { name: "test-blocking", blocking: true });
  const raw = new Cluster(
    cluster.nodes.map((n) => ({ host: "127.0.0.1", port: Number(n.split(":")[1]) })),
  );
  try {
    assert(isCluster(redis as never), "a Cluster connection");
    await t.step(
      "keySlot() agrees with CLUSTER KEYSLOT; one conversation is one slot",
      async () => {
        const keys = [
          ...conversationKeys("c1").all(),
          conversationIndexKey(),
          dispatchKeys.work("tiny", 0),
          dispatchKeys.inbox(3),
          dispatchKeys.deadlines,
        ];
        for (const key of keys) {
          assertEquals(keySlot(key), await redis.call("CLUSTER", "KEYSLOT", key), key);
        }
        assertEquals(new Set(conversationKeys("c1").all().map(keySlot)).size, 1);
        const inboxes = new Set(
          [0, 1, 2, 3, 4, 5, 6, 7].map((p) => keySlot(dispatchKeys.inbox(p))),
        );
        assertEquals(inboxes.size, 8, "each partition has a slot of its own");
      },
    );
    await t.step(
      "ioredis alone refuses a pipeline over several nodes; ours splits it in order",
      async () => {
        // Keys whose slots sit on different masters.
        const byNode = new Map<string, string>();
        for (let i = 0; byNode.size < 3 && i < 1000; i++) {
          const key = `dialogue:{k${i}}:meta`;
          const node = await _nodeOf(redis, key);
          if (!byNode.has(node)) byNode.set(node, key);
        }
        const [a, b, c] = [...byNode.values()] as [string, string, string];
        await assertRejects(() => raw.pipeline().set(a, "1").set(b, "2").exec());
        const replies = await redis.pipeline()
          .hset(a, "f", "1")
          .hset(b, "f", "2")
          .publish(dispatchKeys.events, "x")
          .hget(a, "f")
          .hset(c, "f", "3")
          .hget(b, "f")
          .exec();
        assertEquals(replies, [[null, 1], [null, 1], [null, 0], [null, "1"], [null, 1], [
          null,
          "2",
        ]]);
        const reads = await redis.pipeline().hget(c, "f").hget(a, "f").hget("nope", "f").exec();
        assertEquals(reads, [[null, "3"], [null, "1"], [null, null]]);
      },
    );
    await t.step("scripts run on the conversation's node", async () => {
      const keys = conversationKeys("s1");
      const [id, added] = await runScript<[string, number]>(redis, "add_once", [
        keys.routed,
        keys.requests(1),
      ], ["1", "data", "x"]);
      assertEquals(added, 1);
      assertEquals(await redis.hget(keys.routed, "1"), id);
    });
    await t.step("the store creates, lists and deletes without a cross-slot command", async () => {
      const store = new ConversationStore(redis);
      const now = Date.now();
      for (const id of ["r1", "r2", "r3", "r4"]) {
        await store.create(ConversationMeta.parse({
          id,
          status: "pending",
          created_at: now,
          max_turns: 2,
          duration_seconds: 60,
          models: { manager: "m", agent1: "a", agent2: "b" },
          config: redactConfig(parseConfig({})),
        }));
      }
      assertEquals((await store.list(10)).map((m) => m.id).sort(), ["r1", "r2", "r3", "r4"]);
      await store.delete("r2");
      assertEquals((await store.list(10)).map((m) => m.id).sort(), ["r1", "r3", "r4"]);
      assertEquals(await scanKeys(redis, "dialogue:{r2}:*"), []);
      assertEquals((await scanKeys(redis, "dialogue:{r*}:meta")).length, 3);
    });
    await t.step("a blocking read waits on the stream's node; a duplicate subscribes", async () => {
      const stream = dispatchKeys.work("tiny", 1);
      await redis.xgroup("CREATE", stream, "g", "$", "MKSTREAM");
      const read = blocking.xreadgroup(
        "GROUP",
        "g",
        "c",
        "COUNT",
        1,
        "BLOCK",
        5000,
        "STREAMS",
        stream,
        ">",
      );
      const sub = duplicateRedis(redis, "test-sub");
      const got = new Promise<string>((resolve) => sub.on("message", (_c, m) => resolve(m)));
      await sub.subscribe(dispatchKeys.events);
      await redis.xadd(stream, "*", "t", "1");
      await redis.publish(dispatchKeys.events, "hello");
      const reply = await read as [string, [string, string[]][]][];
      assertEquals(reply[0]![1][0]![1], ["t", "1"]);
      assertEquals(await got, "hello");
      await closeRedis(sub);
    });
  } finally {
    raw.disconnect();
    await closeRedis(blocking, redis);
    await cluster.stop();
  }
});

async function _nodeOf(redis: import("ioredis").Redis, key: string): Promise<string> {
  const slot = keySlot(key);
  const shards = await redis.call("CLUSTER", "SLOTS") as [number, number, [string, number]][];
  const shard = shards.find(([from, to]) => slot >= from && slot <= to)!;
  return `${shard[2][0]}:${shard[2][1]}`;
}

Deno.test("a cluster with a password: the right one connects, none fails naming the cluster", async () => {
  const cluster = await RedisCluster.start({
    args: ["--requirepass", "s3cret", "--masterauth", "s3cret"],
  });
  try {
    const good = await connectRedis(
      parseConfig({ redis: { cluster_nodes: cluster.nodes, password: "s3cret" } }).redis,
      { name: "test" },
    );
    await good.set("{p}:k", "v");
    assertEquals(await good.get("{p}:k"), "v");
    await closeRedis(good);
    const error = await assertRejects(() =>
      connectRedis(
        parseConfig({ redis: { cluster_nodes: cluster.nodes, max_unavailable_seconds: 2 } }).redis,
        { name: "test" },
      )
    );
    assert(/cluster at 127\.0\.0\.1:\d+/.test(String(error)), String(error));
  } finally {
    await cluster.stop();
  }
});

Deno.test("redis.db other than 0 with cluster_nodes is refused with what to do", () => {
  let message = "";
  try {
    createRedis(parseConfig({ redis: { cluster_nodes: ["127.0.0.1:7000"], db: 2 } }).redis, {
      name: "test",
    });
  } catch (error) {
    message = String(error);
  }
  assert(message.includes("only database 0"), message);
});
