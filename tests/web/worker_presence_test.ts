import { assert, assertEquals } from "../helpers/assert.ts";
import { workerPresence, workersMissing } from "../../lib/web/worker_presence.ts";

Deno.test("workerPresence() counts live managers and agents by name and age", () => {
  const now = 100_000;
  const beats = {
    "manager-host-1-ab": String(now - 100),
    "tag-manager": String(now - 4_000),
    "agent-pool-host-2-cd": String(now - 500),
    "tag-agent-1": String(now - 6_000), // dead
    "observer-x": String(now),
  };
  assertEquals(workerPresence(beats, now, 5_000), { managers: 2, agents: 1 });
  assertEquals(workerPresence({}, now, 5_000), { managers: 0, agents: 0 });
});

Deno.test("workersMissing() says which pool is missing and how to start it", () => {
  assertEquals(workersMissing({ managers: 1, agents: 2 }), undefined);
  const none = workersMissing({ managers: 0, agents: 0 })!;
  assert(none.startsWith("No worker is up"), none);
  assert(none.includes("deno task manager --pool") && none.includes("deno task agent"), none);
  const agents = workersMissing({ managers: 1, agents: 0 })!;
  assert(!agents.includes("manager --pool"), agents);
});
