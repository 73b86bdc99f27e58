/**
 * The dashboard's endpoints and event streams over real HTTP against a real
 * redis-server: the page and its headers, the access rules, the overview's
 * batched cards, a conversation's token stream and messages, one set of
 * Redis connections for every tab, and the control actions.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../helpers/assert.ts";
import { until } from "../helpers/fault_rig.ts";
import { STORY_SCENARIO, WebRig } from "./web_rig.ts";
import { SseReader } from "./sse_reader.ts";
import { ConversationStore } from "../../lib/bus/conversation_store.ts";
import { conversationKeys } from "../../lib/bus/keys.ts";
import { queueLive } from "../../lib/bus/live_feed.ts";
import { encodeEntry } from "../../lib/bus/stream_entry.ts";
import { DialogMessage } from "../../lib/model/dialog_message.ts";
import type { LiveEvent } from "../../lib/model/live_event.ts";
import { CONTENT_SECURITY_POLICY } from "../../lib/web/security_headers.ts";
import { AGENT_COLORS } from "../../lib/analysis/report/html_report.ts";
import type { ConversationCard } from "../../lib/web/conversation_card.ts";
import type { ConversationEvent } from "../../lib/web/conversation_events.ts";
import { endRun } from "../../lib/manager/run_ending.ts";

const FAST_HUB = { pollMs: 100, batchMs: 250 };

/** A running conversation written straight to Redis (no pools needed). */
async function running(rig: WebRig, id: string, maxTurns = 6): Promise<string> {
  const now = Date.now();
  await new ConversationStore(rig.fault.redis).create({
    id,
    status: "running",
    created_at: now,
    started_at: now,
    deadline: now + 120_000,
    turns: 0,
    max_turns: maxTurns,
    duration_seconds: 120,
    models: { manager: "tiny", agent1: "tiny", agent2: "tiny" },
    scenario: STORY_SCENARIO,
    config: {},
  });
  return id;
}

async function live(rig: WebRig, id: string, ...events: LiveEvent[]): Promise<void> {
  const pipe = rig.fault.redis.pipeline();
  for (const event of events) queueLive(pipe, id, event);
  await pipe.exec();
}

/** Records agent `agent`'s reply for turn `seq` as an agent would, then its turn_end. */
async function reply(rig: WebRig, id: string, seq: number, content: string): Promise<void> {
  const agent = seq % 2 === 1 ? 1 : 2;
  const message = DialogMessage.parse({
    queue_timestamp: Date.now(),
    message_id: `m-${id}-${seq}`,
    role: "assistant",
    content,
    metadata: {
      conversation_id: id,
      sequence_number: seq,
      agent_id: agent,
      model: "tiny",
      tokens_generated: 7,
      generation_time_ms: 120,
      tokens_per_second: 58.3,
      time_to_first_token_ms: 21,
      wall_time_ms: 130,
      llm_ms: 125.5,
      done_reason: "length",
      attempts: 2,
      token_source: "reported",
    },
  });
  const keys = conversationKeys(id);
  const entry = await rig.fault.redis.xadd(keys.responses(agent), "*", ...encodeEntry(message));
  await rig.fault.redis.multi().hset(keys.answered, String(seq), entry!).hset(
    keys.meta,
    "turns",
    String(seq),
  ).exec();
  await live(rig, id, { type: "turn_end", seq, agent, message_id: message.message_id });
}

/** GET / with the given Host header (fetch sets its own), over a raw connection. */
async function rawGet(rig: WebRig, host: string): Promise<string> {
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: Number(new URL(rig.server.origin).port),
  });
  try {
    await conn.write(
      new TextEncoder().encode(`GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`),
    );
    let text = "";
    const buffer = new Uint8Array(4096);
    for (let n; (n = await conn.read(buffer)) !== null;) {
      text += new TextDecoder().decode(buffer.subarray(0, n));
    }
    return text;
  } finally {
    conn.close();
  }
}

function url(rig: WebRig, path: string): string {
  return `${rig.server.origin}${path}`;
}

Deno.test("GET / serves the page with a strict CSP, the token for control actions and our own assets", async () => {
  const rig = await WebRig.start({ token: "tok-1" });
  try {
    const res = await fetch(url(rig, "/"));
    const html = await res.text();
    assertEquals(res.status, 200);
    assertEquals(res.headers.get("content-security-policy"), CONTENT_SECURITY_POLICY);
    assertMatch(CONTENT_SECURITY_POLICY, /default-src 'none'.*script-src 'self'/);
    assert(!CONTENT_SECURITY_POLICY.includes("unsafe"), "no unsafe-inline or unsafe-eval");
    assertEquals(res.headers.get("x-frame-options"), "DENY");
    assertEquals(res.headers.get("cache-control"), "no-store");
    assertStringIncludes(html, '<meta name="dialogue-token" content="tok-1">');
    assertStringIncludes(html, '<script type="module" src="/assets/app.js"></script>');
    assert(!/<script>|style=|https?:\/\/(?!127)/.test(html), "no inline script, style or CDN");
    const js = await fetch(url(rig, "/assets/app.js"));
    assertEquals(js.headers.get("content-type"), "text/javascript; charset=utf-8");
    assert((await js.text()).length > 20_000, "the bundle (preact, htm, uPlot, the page)");
    const css = await (await fetch(url(rig, "/assets/app.css"))).text();
    for (const colour of Object.values(AGENT_COLORS)) {
      assertStringIncludes(css, colour, "speakers coloured as in the HTML report");
    }
    assertStringIncludes(css, ".uplot", "uPlot's stylesheet is bundled");
    const missing = await fetch(url(rig, "/nothing"));
    await missing.body?.cancel();
    assertEquals(missing.status, 404);
    assertEquals(missing.headers.get("content-security-policy"), CONTENT_SECURITY_POLICY);
  } finally {
    await rig.close();
  }
});

Deno.test("bound off loopback, a request without the token gets 401; ?token= sets a cookie and leaves the URL; the cookie passes", async () => {
  const rig = await WebRig.start({ host: "0.0.0.0", token: "secret-token" });
  try {
    assert(!rig.server.loopback);
    assertEquals(rig.server.url, `${rig.server.origin}/?token=secret-token`);
    const port = new URL(rig.server.origin).port;
    const base = `http://127.0.0.1:${port}`;
    for (const path of ["/", "/assets/app.js", "/api/conversations", "/api/events"]) {
      const res = await fetch(`${base}${path}`);
      assertEquals(res.status, 401, path);
      assertStringIncludes(await res.text(), "access token");
      assertEquals(res.headers.get("content-security-policy"), CONTENT_SECURITY_POLICY);
    }
    const wrong = await fetch(`${base}/?token=secret-tokem`);
    await wrong.body?.cancel();
    assertEquals(wrong.status, 401);
    const entry = await fetch(`${base}/?token=secret-token`, { redirect: "manual" });
    await entry.body?.cancel();
    assertEquals(entry.status, 303);
    assertEquals(entry.headers.get("location"), "/");
    const cookie = entry.headers.get("set-cookie") ?? "";
    assertMatch(cookie, /^dialogue_token=secret-token; Path=\/; HttpOnly; SameSite=Strict/);
    const page = await fetch(`${base}/`, { headers: { cookie: cookie.split(";")[0]! } });
    assertEquals(page.status, 200);
    assertStringIncludes(await page.text(), "/assets/app.js");
    // A cookie is not enough for a control action: the header is.
    const control = await fetch(`${base}/api/runs`, {
      method: "POST",
      headers: { cookie: cookie.split(";")[0]!, "content-type": "application/json" },
      body: "{}",
    });
    assertEquals(control.status, 401);
    assertStringIncludes(await control.text(), "X-Dialogue-Token");
  } finally {
    await rig.close();
  }
});

Deno.test("on loopback, control actions without the token (or with a wrong one) are refused and change nothing; a foreign Host is refused", async () => {
  const rig = await WebRig.start({ token: "tok-2", hub: FAST_HUB });
  try {
    const id = await running(rig, "web-refuse-1");
    const actions = [
      "/api/runs",
      `/api/conversations/${id}/interrupt`,
      `/api/conversations/${id}/resume`,
    ];
    for (const path of actions) {
      for (const headers of [{}, { "x-dialogue-token": "tok-3" }] as Record<string, string>[]) {
        const res = await fetch(url(rig, path), {
          method: "POST",
          headers: { "content-type": "application/json", ...headers },
          body: JSON.stringify({ story: JSON.stringify(STORY_SCENARIO) }),
        });
        assertEquals(res.status, 401, `${path} ${JSON.stringify(headers)}`);
        await res.body?.cancel();
      }
    }
    assertEquals((await rig.fault.store.require(id)).status, "running");
    assertEquals(await rig.fault.store.ids(), [id], "no run was created");
    // A name that resolves to 127.0.0.1 (DNS rebinding) is not ours.
    assertMatch(await rawGet(rig, "evil.example"), /^HTTP\/1\.1 403/);
    assertMatch(
      await rawGet(rig, `localhost:${new URL(rig.server.origin).port}`),
      /^HTTP\/1\.1 200/,
    );
  } finally {
    await rig.close();
  }
});

Deno.test("the overview stream sends every card, then batches: a card streaming 150 token events is sent a few times a second with its last words", async () => {
  const rig = await WebRig.start({ hub: FAST_HUB });
  try {
    await rig.createRun(4); // pending: no pool serves it
    await until("the hub to see the run", async () => {
      const res = await (await fetch(url(rig, "/api/conversations"))).json();
      return res.cards.length === 1 ? true : undefined;
    });
    const tab = await SseReader.open(url(rig, "/api/events"));
    const snapshot = await tab.next("the snapshot", (m) => m.event === "snapshot");
    const first = JSON.parse(snapshot.data) as { cards: ConversationCard[]; workers: unknown };
    assertEquals(first.cards.map((c) => c.status), ["pending"]);
    assertEquals(first.workers, { managers: 0, agents: 0, redis: "up" });
    const id = await running(rig, "web-batch-1");
    await tab.next("the new card", (m) => m.event === "cards" && m.data.includes(id));
    const from = tab.messages.length;
    const started = performance.now();
    await live(rig, id, { type: "turn_start", seq: 1, agent: 1, model: "tiny", at: Date.now() });
    for (let i = 0; i < 150; i++) {
      await live(rig, id, { type: "token", seq: 1, agent: 1, text: ` w${i}` });
      await new Promise((r) => setTimeout(r, 7));
    }
    const spent = performance.now() - started;
    const last = await tab.next(
      "the last words",
      (m) => m.event === "cards" && m.data.includes("w149"),
      { from },
    );
    const batches = tab.messages.slice(from, tab.messages.indexOf(last) + 1)
      .filter((m) => m.event === "cards" && m.data.includes(id)).length;
    // 150 events over ~1.5 s: at most one batch per 250 ms (and one at each end).
    assert(batches <= Math.ceil(spent / 250) + 2, `${batches} batches in ${Math.round(spent)} ms`);
    assert(batches >= 2, `updates come while it streams: ${batches}`);
    const card = (JSON.parse(last.data) as { cards: ConversationCard[] }).cards
      .find((c) => c.id === id)!;
    assert(card.last.endsWith("w148 w149"), card.last);
    assertEquals(card.speaking, { seq: 1, agent: 1 });
    assertEquals(card.personas, ["Mara", "Ilya"]);
    await tab.close();
  } finally {
    await rig.close();
  }
});

Deno.test("a conversation's stream sends its snapshot, tokens in order with escapes removed, each message with its figures, and the analysis at the end", async () => {
  const rig = await WebRig.start({ hub: FAST_HUB });
  try {
    const id = await running(rig, "web-conv-1", 2);
    await live(
      rig,
      id,
      { type: "turn_start", seq: 1, agent: 1, model: "tiny", at: Date.now() },
      { type: "token", seq: 1, agent: 1, text: "Hel" },
    );
    const tab = await SseReader.open(url(rig, `/api/conversations/${id}/events`));
    const events = () => tab.parsed("event") as ConversationEvent[];
    await tab.next("the snapshot", (m) => m.data.includes('"snapshot"'));
    const snap = events()[0] as Extract<ConversationEvent, { type: "snapshot" }>;
    assertEquals(snap.snapshot.inflight.map((f) => f.text), ["Hel"], "what was said before");
    assertEquals(snap.snapshot.scenario?.personas[1]?.name, "Ilya");
    // An escape sequence split over two token events is still removed whole.
    await live(
      rig,
      id,
      { type: "token", seq: 1, agent: 1, text: "lo \x1b[3" },
      { type: "token", seq: 1, agent: 1, text: "1mworld <b>" },
    );
    await reply(rig, id, 1, "Hello \x1b[31mworld <b>");
    const message = await tab.next("the message", (m) => m.data.includes('"type":"message"'));
    const tokens = events().flatMap((e) => e.type === "tokens" ? [e.text] : []);
    assertEquals(tokens.join(""), "lo world <b>");
    const m = JSON.parse(message.data) as Extract<ConversationEvent, { type: "message" }>;
    assertEquals(m.message.content, "Hello world <b>");
    assertEquals(m.message.token_source, "reported");
    const f = m.message.figures;
    assertEquals([f?.tokens, f?.tokens_per_second, f?.ttft_ms, f?.generation_ms], [
      7,
      58.3,
      21,
      120,
    ]);
    assertEquals([f?.bus_overhead_ms, f?.done_reason, f?.attempts], [4.5, "length", 2]);
    // Someone views the run: its per-turn rows (the charts) follow.
    const rows = await tab.next("the rows", (e) => e.data.includes('"type":"rows"'));
    const r = JSON.parse(rows.data) as Extract<ConversationEvent, { type: "rows" }>;
    assertEquals(r.rows.map((row) => [row.seq, row.tokens]), [[1, 7]]);
    await live(rig, id, { type: "turn_start", seq: 2, agent: 2, model: "tiny", at: Date.now() });
    await reply(rig, id, 2, "Bye.");
    await endRun(rig.fault.redis, id, { status: "completed", reason: "max_turns" });
    const analysis = await tab.next("the analysis", (m) => m.data.includes('"type":"analysis"'));
    const a = (JSON.parse(analysis.data) as Extract<ConversationEvent, { type: "analysis" }>)
      .analysis;
    assertEquals([a.conversation.status, a.conversation.turns], ["completed", 2]);
    const card = events().filter((e) => e.type === "card").at(-1) as Extract<
      ConversationEvent,
      { type: "card" }
    >;
    assertEquals(card.card.status, "completed");
    assert(card.card.flags.includes("truncated") && card.card.flags.includes("errors"));
    await tab.close();
    // A finished run opens with everything at once, then the report and exports.
    const again = await SseReader.open(url(rig, `/api/conversations/${id}/events`));
    const replay = JSON.parse((await again.next("the snapshot", () => true)).data);
    assertEquals(replay.snapshot.messages.length, 2);
    assertEquals(replay.snapshot.analysis.conversation.status, "completed");
    await again.close();
    const report = await fetch(url(rig, `/api/conversations/${id}/report.html`));
    assertStringIncludes(await report.text(), "Hello world &lt;b&gt;");
    assertStringIncludes(report.headers.get("content-security-policy") ?? "", "default-src 'none'");
    const jsonl = await (await fetch(url(rig, `/api/conversations/${id}/export/jsonl`))).text();
    assertEquals(jsonl.trim().split("\n").length, 2);
    const unknown = await fetch(url(rig, "/api/conversations/nope/events"));
    assertEquals(unknown.status, 404);
    await unknown.body?.cancel();
  } finally {
    await rig.close();
  }
});

Deno.test("ten open tabs share the server's three Redis connections", async () => {
  const rig = await WebRig.start({ hub: FAST_HUB });
  try {
    const id = await running(rig, "web-tabs-1");
    const tabs = await Promise.all([
      ...Array.from({ length: 5 }, () => SseReader.open(url(rig, "/api/events"))),
      ...Array.from(
        { length: 5 },
        () => SseReader.open(url(rig, `/api/conversations/${id}/events`)),
      ),
    ]);
    for (const tab of tabs) await tab.next("its snapshot", () => true);
    await live(rig, id, { type: "token", seq: 1, agent: 1, text: "shared" });
    for (const tab of tabs.slice(5)) await tab.next("the token", (m) => m.data.includes("shared"));
    assertEquals(rig.server.streams(), 10);
    const clients = String(await rig.fault.redis.client("LIST")).split("\n")
      .filter((line) => / name=dialogue-web/.test(line));
    assertEquals(clients.length, 3, clients.join("\n"));
    await Promise.all(tabs.map((t) => t.close()));
    await until(
      "the streams to close",
      () => Promise.resolve(rig.server.streams() === 0 || undefined),
    );
  } finally {
    await rig.close();
  }
});

Deno.test("control actions with the token: start says when no worker is up, then starts a run once pools beat; interrupt and resume change its status", async () => {
  const rig = await WebRig.start({ token: "tok-4", hub: FAST_HUB });
  try {
    const post = async (path: string, body: unknown = {}) => {
      const res = await fetch(url(rig, path), {
        method: "POST",
        headers: { "content-type": "application/json", "x-dialogue-token": "tok-4" },
        body: JSON.stringify(body),
      });
      return { status: res.status, json: await res.json() as Record<string, string> };
    };
    const form = { story: JSON.stringify(STORY_SCENARIO), max_turns: 3, agent2_model: "other" };
    const none = await post("/api/runs", form);
    assertEquals(none.status, 409);
    assertStringIncludes(none.json.error!, "No worker is up");
    assertEquals(await rig.fault.store.ids(), []);
    const bad = await post("/api/runs", { story: "{not json" });
    assertEquals(bad.status, 400);
    const now = String(Date.now() + 60_000);
    await rig.fault.redis.hset("dialogue:heartbeats", "t-manager", now, "t-agent-1", now);
    await until("the pools to be seen", async () => {
      const w = await (await fetch(url(rig, "/api/workers"))).json();
      return w.managers === 1 && w.agents === 1 ? true : undefined;
    });
    const badStory = await post("/api/runs", { story: JSON.stringify({ story: {} }) });
    assertEquals(badStory.status, 400);
    assertStringIncludes(badStory.json.error!, "Cannot use the story");
    const started = await post("/api/runs", form);
    assertEquals(started.status, 201, JSON.stringify(started.json));
    const meta = await rig.fault.store.require(started.json.id!);
    assertEquals([meta.status, meta.max_turns, meta.models.agent2], ["pending", 3, "other"]);
    assertEquals(meta.scenario?.personas[0]?.name, "Mara");
    const id = await running(rig, "web-control-1");
    assertEquals((await post(`/api/conversations/${id}/interrupt`)).status, 200);
    assertEquals((await rig.fault.store.require(id)).status, "interrupted");
    assertEquals((await post(`/api/conversations/${id}/resume`)).status, 200);
    assertEquals((await rig.fault.store.require(id)).status, "running");
    await endRun(rig.fault.redis, id, { status: "completed", reason: "max_turns" });
    const again = await post(`/api/conversations/${id}/resume`);
    assertEquals(again.status, 409);
    assertStringIncludes(again.json.error!, "Cannot resume conversation");
    assertEquals((await post("/api/conversations/nope/interrupt")).status, 404);
  } finally {
    await rig.close();
  }
});

Deno.test("while Redis is away the overview says so; once it is back both streams go on where they were", async () => {
  const rig = await WebRig.start({ hub: FAST_HUB, aof: true });
  try {
    const id = await running(rig, "web-outage-1");
    await live(rig, id, { type: "token", seq: 1, agent: 1, text: "before " });
    const view = await SseReader.open(url(rig, `/api/conversations/${id}/events`));
    const overview = await SseReader.open(url(rig, "/api/events"));
    await view.next("the snapshot", (m) => m.data.includes("before"));
    await rig.fault.redisServer.kill();
    await overview.next(
      "Redis reported away",
      (m) => m.event === "workers" && m.data.includes('"redis":"down"'),
    );
    await rig.fault.redisServer.restart();
    await overview.next(
      "Redis reported back",
      (m) => m.event === "workers" && m.data.includes('"redis":"up"'),
    );
    await until("Redis back", async () => (await rig.fault.redis.ping()) === "PONG" || undefined);
    await live(rig, id, { type: "token", seq: 1, agent: 1, text: "after" });
    await view.next("the token after the restart", (m) => m.data.includes('"text":"after"'));
    await overview.next("the card after the restart", (m) => m.data.includes("before after"));
    await Promise.all([view.close(), overview.close()]);
  } finally {
    await rig.close();
  }
});
