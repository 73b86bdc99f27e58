/** The batch record in Redis: its keys, and what it keeps. */
import { assertEquals, assertMatch, assertRejects } from "../helpers/assert.ts";
import { batchKeys, BatchStore, newBatchId } from "../../lib/batch/batch_store.ts";
import { readBatchState } from "../../lib/batch/batch_runs.ts";
import { parseBatchFile, resolveBatchFile } from "../../lib/batch/batch_file.ts";
import { RedisServer } from "../../lib/testing/redis_server.ts";
import { closeRedis, connectRedis } from "../../lib/bus/redis_connection.ts";
import { parseConfig } from "../../lib/config/config.ts";
import { DialogueError } from "../../lib/base/dialogue_error.ts";

Deno.test("batchKeys() puts a batch's keys under their own hash tag, apart from any conversation", () => {
  const keys = batchKeys("b1");
  assertEquals(keys, { meta: "dialogue:{batch:b1}:meta", runs: "dialogue:{batch:b1}:runs" });
  assertMatch(newBatchId(new Date("2026-12-02T01:15:30Z")), /^b20261202-011530-[0-9a-f]{6}$/);
});

Deno.test("BatchStore keeps the spec and the run → conversation map; readBatchState joins the statuses", async () => {
  const server = await RedisServer.start();
  const redis = await connectRedis(parseConfig({ redis: { url: server.url } }).redis, {
    name: "test",
  });
  try {
    const store = new BatchStore(redis);
    const spec = await resolveBatchFile(parseBatchFile({ models: ["a"], topics: ["x", "y"] }));
    await store.create({ id: "b1", created_at: 5, spec });
    assertEquals((await store.require("b1")).spec, spec);
    await store.setRun("b1", "c2/s-/r1", "conv-2");
    await redis.hset("dialogue:{conv-2}:meta", "status", "interrupted");
    await store.setRun("b1", "c1/s-/r1", "conv-1"); // recorded, never created
    const { runs } = await readBatchState(redis, "b1");
    assertEquals(runs.map((r) => [r.run.key, r.id, r.status]), [
      ["c1/s-/r1", "conv-1", undefined],
      ["c2/s-/r1", "conv-2", "interrupted"],
    ]);
    const missing = await assertRejects(
      () => store.require("nope"),
      (e: Error) => e instanceof DialogueError && e.code === "not_found",
    );
    assertMatch(missing.message, /Cannot find batch nope/);
  } finally {
    await closeRedis(redis);
    await server.stop();
  }
});
