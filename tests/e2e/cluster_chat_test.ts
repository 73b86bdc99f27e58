/**
 * End to end on a real local Redis Cluster (three masters): the entrypoints
 * as processes with REDIS_CLUSTER_NODES, against the Ollama double.
 */
import { assert, assertEquals, assertStringIncludes } from "../helpers/assert.ts";
import { OllamaDouble } from "../../lib/testing/ollama_double.ts";
import { RedisCluster } from "../../lib/testing/redis_cluster.ts";
import { collect, runEntrypoint, spawnEntrypoint } from "../helpers/entrypoints.ts";
import { parseConfig } from "../../lib/config/config.ts";
import { closeRedis, connectRedis } from "../../lib/bus/redis_connection.ts";
import { ConversationStore } from "../../lib/bus/conversation_store.ts";
import { conversationKeys } from "../../lib/bus/keys.ts";
import { scanKeys } from "../../lib/bus/key_scan.ts";
import { RunAnalysis } from "../../lib/analysis/run_analysis.ts";
import type { Redis } from "ioredis";

interface Rig {
  double: OllamaDouble;
  cluster: RedisCluster;
  redis: Redis;
  env: Record<string, string>;
  store: ConversationStore;
  close(): Promise<void>;
}

async function rig(options: { tokenDelayMs?: number } = {}): Promise<Rig> {
  const double = await OllamaDouble.start(options);
  const cluster = await RedisCluster.start();
  const redis = await connectRedis(
    parseConfig({ redis: { cluster_nodes: cluster.nodes } }).redis,
    { name: "test" },
  );
  return {
    double,
    cluster,
    redis,
    env: {
      REDIS_CLUSTER_NODES: cluster.nodes.join(","),
      OLLAMA_HOST: double.url,
      DIALOGUE_MODEL: "tiny",
    },
    store: new ConversationStore(redis),
    async close() {
      await closeRedis(redis);
      await cluster.stop();
      await double.close();
    },
  };
}

/** Every conversation completed with turns 1..turns, each recorded once, and nothing pending. */
async function assertEveryTurnOnce(store: ConversationStore, ids: string[], turns: number) {
  for (const id of ids) {
    const { meta, responses, requests } = await store.transcript(id);
    assertEquals(meta.status, "completed", `${id}: ${meta.error ?? ""}`);
    assertEquals(meta.turns, turns, id);
    const seqs = Array.from({ length: turns }, (_, i) => i + 1);
    assertEquals(responses.map((r) => r.metadata.sequence_number), seqs, `${id} responses`);
    assertEquals(requests.map((r) => r.metadata.sequence_number), seqs, `${id} requests`);
    for (const stat of await store.queueStats(id)) assertEquals(stat.pending, 0, stat.stream);
  }
}

Deno.test("chat --pairs on a 3-master cluster completes, its keys spread over every master", async () => {
  const t = await rig();
  try {
    const run = await runEntrypoint(
      "main.ts",
      [
        "--pairs",
        "6",
        "--max-turns",
        "4",
        "--story",
        "tests/fixtures/story.json",
        "--no-analysis",
      ],
      { env: t.env, timeoutMs: 90_000 },
    );
    assertEquals(run.code, 0, run.stderr);
    const ids = (await t.store.list(50)).map((m) => m.id);
    assertEquals(ids.length, 6);
    await assertEveryTurnOnce(t.store, ids, 4);
    const perNode = await t.cluster.keysPerNode();
    for (const { node, keys } of perNode) assert(keys > 0, `master ${node} holds no key`);
    // One conversation's keys sit in one slot: its tag.
    const slots = new Set(
      await Promise.all(
        conversationKeys(ids[0]!).all().map((k) => t.redis.call("CLUSTER", "KEYSLOT", k)),
      ),
    );
    assertEquals(slots.size, 1);
  } finally {
    await t.close();
  }
});

Deno.test("observe --list, analyze and clean work on a cluster", async () => {
  const t = await rig();
  try {
    const run = await runEntrypoint(
      "main.ts",
      ["--pairs", "3", "--max-turns", "2", "--story", "tests/fixtures/story.json", "--no-analysis"],
      { env: t.env, timeoutMs: 90_000 },
    );
    assertEquals(run.code, 0, run.stderr);
    const ids = (await t.store.list(50)).map((m) => m.id);
    assertEquals(ids.length, 3);
    const list = await runEntrypoint("observer.ts", ["--list"], { env: t.env });
    assertEquals(list.code, 0, list.stderr);
    for (const id of ids) assertStringIncludes(list.stdout, id);
    const analyze = await runEntrypoint("analyze.ts", [ids[0]!, "--json"], { env: t.env });
    assertEquals(analyze.code, 0, analyze.stderr);
    assertEquals(RunAnalysis.parse(JSON.parse(analyze.stdout)).conversation.id, ids[0]);
    const clean = await runEntrypoint("clean.ts", ["--all"], { env: t.env });
    assertEquals(clean.code, 0, clean.stderr);
    assertEquals((await t.store.list(50)).length, 0);
    // Scanning every master: no key of any deleted conversation is left anywhere.
    for (const id of ids) assertEquals(await scanKeys(t.redis, `dialogue:{${id}}:*`), [], id);
    assert((await scanKeys(t.redis, "dialogue:*")).length > 0, "the scan reaches the nodes");
  } finally {
    await t.close();
  }
});

Deno.test("a master killed and restarted mid-run (AOF on) loses no turn and duplicates none", async () => {
  const t = await rig({ tokenDelayMs: 10 });
  try {
    const chat = await spawnEntrypoint(
      "main.ts",
      ["--pairs", "4", "--max-turns", "8", "--story", "tests/fixtures/story.json", "--no-analysis"],
      { env: t.env },
    );
    const out = collect(chat.stdout);
    const err = collect(chat.stderr);
    // Restart a master once every run has recorded a turn or more.
    while (true) {
      const metas = await t.store.list(50);
      if (metas.length === 4 && metas.every((m) => m.turns >= 1)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const before = (await t.store.list(50)).map((m) => m.turns);
    await t.cluster.restartMaster(1);
    const after = (await t.store.list(50)).map((m) => m.status);
    // A run that lost a write would wait forever: bound it, so the test fails instead.
    const stuck = setTimeout(() => chat.kill("SIGKILL"), 90_000);
    const status = await chat.status;
    clearTimeout(stuck);
    await Promise.all([out.done, err.done]);
    assertEquals(status.code, 0, err.text());
    const metas = await t.store.list(50);
    assert(before.every((turns) => turns < 8), "the restart came before the end of the runs");
    assert(after.includes("running"), "runs were still going once the master was back");
    await assertEveryTurnOnce(t.store, metas.map((m) => m.id), 8);
  } finally {
    await t.close();
  }
});
