/** Slots: K generations at once, the rest wait in order or give up. */
import { assertEquals, assertRejects } from "../helpers/assert.ts";
import { Slots } from "../../lib/base/slots.ts";

Deno.test("Slots grants K at once and the next in order as slots are released", async () => {
  const slots = new Slots(2);
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

Deno.test("Slots.acquire() gives up with the signal's reason and leaves the queue", async () => {
  const slots = new Slots(1);
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

Deno.test("Slots.run() holds at most `size` tasks at once and releases a slot when a task throws", async () => {
  const slots = new Slots(2);
  let running = 0;
  let most = 0;
  const task = async (fail: boolean) => {
    running++;
    most = Math.max(most, running);
    await Promise.resolve();
    running--;
    if (fail) throw new Error("boom");
  };
  const results = await Promise.allSettled(
    [false, true, false, true, false].map((fail) => slots.run(() => task(fail))),
  );
  assertEquals(most, 2);
  assertEquals(results.filter((r) => r.status === "rejected").length, 2);
  assertEquals(slots.free, 2, "every slot back, the failed tasks' too");
});
