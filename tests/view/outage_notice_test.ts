import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { OutageGuard } from "../../lib/bus/redis_outage.ts";
import { parseConfig } from "../../lib/config/config.ts";
import { OutageNotice } from "../../lib/view/outage_notice.ts";

function recorder() {
  const said: string[] = [];
  return {
    said,
    renderer: {
      redisWaiting: (limit: number) => said.push(`waiting (up to ${limit} s)`),
      redisBack: () => said.push("back"),
    },
  };
}

Deno.test("OutageNotice says once per outage that Redis is waited for, then that it is back", () => {
  const { said, renderer } = recorder();
  const notice = new OutageNotice(renderer, 60);
  notice.up();
  notice.down();
  notice.down();
  notice.up();
  notice.up();
  notice.down();
  notice.up();
  deepStrictEqual(said, ["waiting (up to 60 s)", "back", "waiting (up to 60 s)", "back"]);
});

Deno.test("OutageGuard calls onWait for a step failing as Redis went away, then the step is retried", async () => {
  const { said, renderer } = recorder();
  const notice = new OutageNotice(renderer, 5);
  const waits: number[] = [];
  const guard = new OutageGuard(parseConfig({ redis: { max_unavailable_seconds: 5 } }).redis, [], {
    onWait: ({ attempt }) => {
      waits.push(attempt);
      notice.down();
    },
  });
  let calls = 0;
  const result = await guard.run(() => {
    calls++;
    if (calls <= 2) return Promise.reject(new Error("Connection is closed."));
    notice.up();
    return Promise.resolve("read");
  });
  strictEqual(result, "read");
  deepStrictEqual(waits, [1, 2]);
  deepStrictEqual(said, ["waiting (up to 5 s)", "back"]);
});
