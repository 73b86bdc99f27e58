import { assertEquals } from "../helpers/assert.ts";
import { UpdateBatcher } from "../../lib/web/update_batcher.ts";

Deno.test("UpdateBatcher hands over each dirty key once per interval however often it is marked", async () => {
  const flushed: string[][] = [];
  let done!: () => void;
  const first = new Promise<void>((r) => done = r);
  const batcher = new UpdateBatcher<string>((keys) => {
    flushed.push(keys);
    done();
  }, { intervalMs: 30 });
  for (let i = 0; i < 100; i++) batcher.mark(i % 2 ? "a" : "b");
  assertEquals(flushed, [], "nothing before the interval");
  await first;
  assertEquals(flushed, [["b", "a"]]);
  batcher.mark("c");
  batcher.flushNow();
  assertEquals(flushed.at(-1), ["c"]);
  batcher.flushNow();
  assertEquals(flushed.length, 2, "nothing marked, nothing flushed");
  batcher.mark("d");
  batcher.close();
});
