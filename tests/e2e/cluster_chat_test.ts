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
import { keySlot } from "../../lib/bus/key_slot.ts";
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
    // 24 runs: the chance that a master gets none of them is 3 · (2/3)^24 ≈ 0.02 %.
    const run = await runEntrypoint(
      "main.ts",
      [
        "--pairs",
        "24",
        "--max-turns",
        "3",
        "--story",
        "tests/fixtures/story.json",
        "--no-analysis",
      ],
      { env: t.env, timeoutMs: 90_000 },
    );
    assertEquals(run.code, 0, run.stderr);
    const ids = (await t.store.list(50)).map((m) => m.id);
    assertEquals(ids.length, 24);
    await assertEveryTurnOnce(t.store, ids, 3);
    // Each master holds some of the runs: counted slot by slot on the node that serves it.
    const ranges = await t.redis.call("CLUSTER", "SLOTS") as [number, number, [string, number]][];
    for (const [from, to, [host, port]] of ranges) {
      const node = t.cluster.servers.find((s) => s.port === port)!;
      const mine = ids.filter((id) => {
        const slot = keySlot(conversationKeys(id).meta);
        return slot >= from && slot <= to;
      });
      assert(mine.length > 0, `master ${host}:${port} holds no run`);
      let counted = 0;
      for (const slot of new Set(mine.map((id) => keySlot(conversationKeys(id).meta)))) {
        counted += Number(await _cli(node.port, "cluster", "countkeysinslot", String(slot)));
      }
      assert(counted >= mine.length * 5, `${counted} keys for ${mine.length} runs on ${port}`);
    }
    for (const { node, keys } of await t.cluster.keysPerNode()) assert(keys > 0, node);
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

Deno.test("observe --list, observe (a replay), analyze and clean work on a cluster", async () => {
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
    // A finished run is replayed from its streams, then the observer exits.
    const replay = await runEntrypoint("observer.ts", ["--conversation", ids[0]!], { env: t.env });
    assertEquals(replay.code, 0, replay.stderr);
    const { responses } = await t.store.transcript(ids[0]!);
    for (const r of responses) {
      assertStringIncludes(replay.stdout.replace(/\s+/g, " "), r.content.replace(/\s+/g, " "));
    }
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

/** `redis-cli -p PORT ARGS…` on one node (CLUSTER COUNTKEYSINSLOT answers only for its own slots). */
async function _cli(port: number, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("redis-cli", { args: ["-p", String(port), ...args] }).output();
  return new TextDecoder().decode(out.stdout).trim();
}
