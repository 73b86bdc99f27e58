import { assert, assertEquals, assertRejects } from "../helpers/assert.ts";
import { chooseHost, HostPool, isBusyHost } from "../../lib/llm/host_pool.ts";
import { DialogueError, ErrorCode } from "../../lib/base/dialogue_error.ts";
import { emptyMetrics, type LlmBackend } from "../../lib/llm/llm_backend.ts";
import { BackendSet } from "../../lib/llm/backend_factory.ts";
import { parseConfig } from "../../lib/config/config.ts";
import { envLayer } from "../../lib/config/config_layer.ts";

const free = (inFlight: number, concurrency: number, backoffUntil = 0) => ({
  inFlight,
  concurrency,
  backoffUntil,
});

Deno.test("chooseHost() takes the least-loaded host with a free slot, skipping backed-off ones", () => {
  assertEquals(chooseHost([free(1, 2), free(1, 4)], 0), 1);
  assertEquals(chooseHost([free(0, 1), free(0, 4)], 0), 0, "a tie goes to the first");
  assertEquals(chooseHost([free(1, 1), free(2, 2)], 0), undefined, "all full");
  assertEquals(chooseHost([free(0, 1, 5000), free(3, 4)], 1000), 1, "backed off until 5000");
  assertEquals(chooseHost([free(0, 1, 5000), free(4, 4)], 6000), 0, "the backoff has passed");
});

Deno.test("isBusyHost() is true for 503, 429 and refused connections only", () => {
  const t = (message: string, retryAfterMs?: number) =>
    new DialogueError(ErrorCode.LlmTransient, message, retryAfterMs ? { retryAfterMs } : {});
  assert(isBusyHost(t("Ollama at x answered 503: server busy")));
  assert(isBusyHost(t("rate limited", 2000)));
  assert(isBusyHost(new DialogueError(ErrorCode.LlmUnavailable, "refused")));
  assert(!isBusyHost(t("Ollama at x answered 500: runner died")));
  assert(!isBusyHost(new DialogueError(ErrorCode.ModelNotFound, "answered 503 once")));
  assert(!isBusyHost(new Error("503")));
});

/** A backend that answers after `gate` resolves, or fails as told. */
function fake(name: string, plan: { busy?: number; failAfterToken?: boolean } = {}) {
  const calls: number[] = [];
  let busy = plan.busy ?? 0;
  let release: () => void = () => {};
  let gate = Promise.resolve();
  const backend: LlmBackend & { calls: number[]; hold(): void; open(): void } = {
    kind: "ollama",
    description: name,
    calls,
    hold() {
      gate = new Promise((r) => release = r);
    },
    open() {
      release();
    },
    async chat(_request, options) {
      calls.push(Date.now());
      if (busy-- > 0) {
        throw new DialogueError(ErrorCode.LlmTransient, `${name} answered 503: busy`);
      }
      if (plan.failAfterToken) {
        options?.onToken?.("half");
        throw new DialogueError(ErrorCode.LlmTransient, `${name} answered 503: busy`);
      }
      await gate;
      options?.onToken?.(name);
      return {
        content: name,
        doneReason: "stop",
        metrics: emptyMetrics(),
        timeToFirstTokenMs: 0,
        wallMs: 0,
      };
    },
    async ensureModel() {},
    embed() {
      return Promise.resolve([[1]]);
    },
    async close() {},
  };
  return backend;
}

Deno.test("HostPool spreads calls by free capacity and queues when every slot is taken", async () => {
  const a = fake("a");
  const b = fake("b");
  a.hold();
  b.hold();
  const pool = new HostPool(
    [{ url: "http://a", concurrency: 1 }, { url: "http://b", concurrency: 2 }],
    (url) => url === "http://a" ? a : b,
  );
  const replies = [1, 2, 3, 4].map(() => pool.chat({ model: "m", messages: [] }));
  await new Promise((r) => setTimeout(r, 0));
  assertEquals(pool.load(), { "http://a": 1, "http://b": 2 }, "the fourth waits");
  a.open();
  b.open();
  const contents = (await Promise.all(replies)).map((r) => r.content);
  assertEquals(
    contents.filter((c) => c === "a").length + contents.filter((c) => c === "b").length,
    4,
  );
  assertEquals(pool.load(), { "http://a": 0, "http://b": 0 });
});

Deno.test("HostPool moves a call off a host answering 503 and backs that host off", async () => {
  let now = 1_000;
  const a = fake("a", { busy: 100 });
  const b = fake("b");
  const pool = new HostPool(
    [{ url: "http://a", concurrency: 4 }, { url: "http://b", concurrency: 1 }],
    (url) => url === "http://a" ? a : b,
    { now: () => now, backoffBaseMs: 10_000 },
  );
  const tokens: string[] = [];
  for (let i = 0; i < 3; i++) {
    const reply = await pool.chat({ model: "m", messages: [] }, { onToken: (t) => tokens.push(t) });
    assertEquals(reply.content, "b");
  }
  assertEquals(a.calls.length, 1, "tried once, then left alone during its backoff");
  assertEquals(tokens, ["b", "b", "b"]);
  now += 60_000;
  await pool.chat({ model: "m", messages: [] });
  assertEquals(a.calls.length, 2, "tried again once the backoff passed");
});

Deno.test("HostPool throws a failure after streamed tokens (no token twice) and after maxBusy", async () => {
  const cut = new HostPool([{ url: "http://a", concurrency: 1 }, {
    url: "http://b",
    concurrency: 1,
  }], (url) => url === "http://a" ? fake("a", { failAfterToken: true }) : fake("b"));
  await assertRejects(() => cut.chat({ model: "m", messages: [] }));
  const busy = new HostPool([{ url: "http://a", concurrency: 1 }], () => fake("a", { busy: 100 }), {
    maxBusy: 3,
    backoffBaseMs: 1,
    backoffMaxMs: 1,
  });
  await assertRejects(() => busy.chat({ model: "m", messages: [] }));
  const stop = new AbortController();
  stop.abort();
  await assertRejects(() => busy.chat({ model: "m", messages: [] }, { signal: stop.signal }));
});

Deno.test("OLLAMA_HOSTS makes the default Ollama host a pool; an agent's own host stays one", async () => {
  const layer = envLayer((n) =>
    n === "OLLAMA_HOSTS" ? "http://g1:11434=2, http://g2:11434" : undefined
  );
  const config = parseConfig(layer);
  assertEquals(config.ollama.hosts, [
    { url: "http://g1:11434", concurrency: 2 },
    { url: "http://g2:11434", concurrency: 1 },
  ]);
  const set = new BackendSet(config);
  assert(set.forRole("agent1", "ollama") instanceof HostPool);
  assert(!(set.get("ollama", "http://other:11434") instanceof HostPool));
  await set.close();
});
