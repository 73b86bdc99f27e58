/** SequenceSlots: K generations at once, the rest wait in order or give up. */
import { assertEquals, assertRejects } from "../../helpers/assert.ts";
import { SequenceSlots } from "../../../lib/llm/embedded/sequence_slots.ts";

Deno.test("SequenceSlots grants K at once and the next in order as slots are released", async () => {
  const slots = new SequenceSlots(2);
  const a = await slots.acquire();
  await slots.acquire();
  const order: string[] = [];
  const c = slots.acquire().then((r) => (order.push("c"), r));
  const d = slots.acquire().then((r) => (order.push("d"), r));
  assertEquals([slots.free, slots.waiting], [0, 2]);
  a();
  a(); // twice releases once
  (await c)();
  (await d)();
  assertEquals(order, ["c", "d"]);
  assertEquals(slots.free, 1);
});

Deno.test("SequenceSlots.acquire() gives up with the signal's reason and leaves the queue", async () => {
  const slots = new SequenceSlots(1);
  const held = await slots.acquire();
  const controller = new AbortController();
  const waiting = slots.acquire(controller.signal);
  controller.abort(new Error("gave up"));
  await assertRejects(() => waiting, (e: Error) => e.message === "gave up");
  assertEquals(slots.waiting, 0);
  held();
  assertEquals(slots.free, 1, "the slot went back, not to the one that gave up");
  await assertRejects(() => slots.acquire(AbortSignal.abort(new Error("already"))));
});
