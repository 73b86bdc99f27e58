/**
 * Limits, end to end: a reply longer than MAX_CONTENT_CHARS is bounded, not a
 * crash; the history an agent sends to its model never exceeds
 * conversation.history_messages / history_chars however long the run; a run
 * longer than conversation.max_turns' or duration_seconds' maximum is refused.
 */
import type { Redis } from "ioredis";
import { assert, assertEquals } from "../helpers/assert.ts";
import { OllamaDouble, type RecordedRequest } from "../../lib/testing/ollama_double.ts";
import { RedisServer } from "../../lib/testing/redis_server.ts";
import { runEntrypoint } from "../helpers/entrypoints.ts";
import { parseConfig } from "../../lib/config/config.ts";
import { closeRedis, connectRedis } from "../../lib/bus/redis_connection.ts";
import { ConversationStore } from "../../lib/bus/conversation_store.ts";
import type { StoredTranscript } from "../../lib/bus/transcript_reader.ts";
import { MAX_CONTENT_CHARS } from "../../lib/model/dialog_message.ts";

const STORY = "tests/fixtures/story.json";

interface Rig {
  double: OllamaDouble;
  server: RedisServer;
  redis: Redis;
  dir: string;
  env: Record<string, string>;
  /** Runs `deno task chat` from the story fixture; returns the stored run. */
  chat(args: string[], config?: unknown): Promise<StoredTranscript>;
  close(): Promise<void>;
}

async function rig(): Promise<Rig> {
  const double = await OllamaDouble.start();
  const server = await RedisServer.start();
  const redis = await connectRedis(parseConfig({ redis: { url: server.url } }).redis, {
    name: "limits",
  });
  const dir = await Deno.makeTempDir({ prefix: "dialogue_limits_" });
  const env = { REDIS_URL: server.url, OLLAMA_HOST: double.url, DIALOGUE_MODEL: "tiny" };
  return {
    double,
    server,
    redis,
    dir,
    env,
    async chat(args, config) {
      const extra: string[] = [];
      if (config !== undefined) {
        await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(config));
        extra.push("--config", `${dir}/config.json`);
      }
      const run = await runEntrypoint(
        "main.ts",
        ["--story", STORY, "--duration", "60", "--no-analysis", ...extra, ...args],
        { env, timeoutMs: 60_000 },
      );
      assertEquals(run.code, 0, `exit ${run.code}\n${run.stderr}\n${run.stdout.slice(-2000)}`);
      const store = new ConversationStore(redis);
      return await store.transcript((await store.latest())!);
    },
    async close() {
      await closeRedis(redis);
      await server.stop();
      await double.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

interface ChatBody {
  messages: { role: string; content: string }[];
}

/** The /api/chat requests the double received, oldest first. */
function chatRequests(double: OllamaDouble): ChatBody[] {
  return double.requests
    .filter((r: RecordedRequest) => r.path === "/api/chat")
    .map((r) => r.body as ChatBody);
}

Deno.test("a text reply longer than MAX_CONTENT_CHARS is stored cut to the limit and the run goes on", async () => {
  const t = await rig();
  try {
    t.double.enqueueFault({ kind: "text", content: "x".repeat(40_000) });
    const { meta, responses, requests } = await t.chat(["--output", "text", "--max-turns", "2"]);
    assertEquals(meta.status, "completed", meta.error);
    assertEquals(responses.length, 2);
    assertEquals(responses[0]!.content.length, MAX_CONTENT_CHARS);
    for (const message of [...responses, ...requests]) {
      assert(message.content.length <= MAX_CONTENT_CHARS, `${message.content.length} chars`);
    }
    // The next agent got the long reply within its history budget (24,000 by default).
    const second = chatRequests(t.double)[1]!;
    const history = second.messages.filter((m) => m.role !== "system")
      .reduce((n, m) => n + (m.content.match(/x{100,}/)?.[0].length ?? 0), 0);
    assert(history > 0 && history <= 24_000, `${history} chars of the long reply sent on`);
  } finally {
    await t.close();
  }
});

Deno.test("a structured reply whose message is over MAX_CONTENT_CHARS is retried, never stored", async () => {
  const t = await rig();
  try {
    const huge = JSON.stringify({
      message: "y".repeat(40_000),
      sentiment: "neutral",
      references: [],
    });
    t.double.enqueueFault({ kind: "text", content: huge });
    const { meta, responses } = await t.chat(["--output", "json", "--max-turns", "2"]);
    assertEquals(meta.status, "completed", meta.error);
    assertEquals(responses.length, 2);
    for (const message of responses) {
      assert(message.content.length <= MAX_CONTENT_CHARS, `${message.content.length} chars`);
      assert(!message.content.includes("yyyy"), "the oversized reply was not stored");
    }
    assertEquals(chatRequests(t.double).length, 3, "one retry for the oversized reply");
  } finally {
    await t.close();
  }
});

Deno.test("the history sent to the model stays within history_messages and history_chars over a long run", async () => {
  const t = await rig();
  const maxMessages = 4;
  const maxChars = 500;
  const turns = 12;
  try {
    // Short replies first (the message count binds), then long ones (the character budget binds).
    const replies = Array.from({ length: turns }, (_, i) => {
      const tag = `T${i + 1}-`;
      return i < 6 ? `${tag}short.` : `${tag}long ${"y".repeat(290)}.`;
    });
    for (const content of replies) t.double.enqueueFault({ kind: "text", content });
    const { meta, responses } = await t.chat(
      ["--output", "text", "--max-turns", String(turns)],
      { conversation: { history_messages: maxMessages, history_chars: maxChars } },
    );
    assertEquals(meta.status, "completed", meta.error);
    assertEquals(responses.map((r) => r.content), replies);

    const requests = chatRequests(t.double);
    assertEquals(requests.length, turns);
    let countBound = 0;
    let charBound = 0;
    requests.forEach((body, i) => {
      const turn = i + 1;
      const sent = body.messages.filter((m) => m.role !== "system").map((m) => m.content)
        .join("\n");
      // Which earlier replies went out with this request.
      const kept = replies.map((_, j) => j + 1).filter((j) => sent.includes(`T${j}-`));
      const chars = kept.reduce((n, j) => n + replies[j - 1]!.length, 0);
      const label = `turn ${turn} sent turns [${kept}] (${chars} chars)`;
      assert(kept.every((j) => j < turn), label);
      assert(kept.length <= maxMessages, `${label}: more than ${maxMessages} messages`);
      assert(chars <= maxChars, `${label}: more than ${maxChars} chars`);
      assert(body.messages.length <= maxMessages + 2, `${label}: ${body.messages.length} messages`);
      // The newest turns are the ones kept, without gaps.
      const newest = Array.from({ length: kept.length }, (_, k) => turn - kept.length + k);
      assertEquals(kept, newest, label);
      if (turn > 1) assert(kept.length > 0, `${label}: the previous turn is always sent`);
      if (kept.length === maxMessages) countBound++;
      if (turn - 1 > kept.length && kept.length < maxMessages) charBound++;
    });
    assert(countBound > 0, "the message bound was reached");
    assert(charBound > 0, "the character bound was reached");
  } finally {
    await t.close();
  }
});

Deno.test("a run longer than max_turns' or duration_seconds' maximum is refused naming the field and the limit", async () => {
  // The limits themselves are accepted.
  const limits = parseConfig({ conversation: { max_turns: 100_000, duration_seconds: 604_800 } });
  assertEquals(limits.conversation.max_turns, 100_000);

  const server = await RedisServer.start();
  const dir = await Deno.makeTempDir({ prefix: "dialogue_limits_" });
  try {
    const file = `${dir}/long.json`;
    await Deno.writeTextFile(file, JSON.stringify({ conversation: { duration_seconds: 604_801 } }));
    const env = { REDIS_URL: server.url, OLLAMA_HOST: "http://127.0.0.1:9" };
    const cases: {
      script: string;
      args: string[];
      env?: Record<string, string>;
      field: RegExp;
      limit: RegExp;
    }[] = [
      {
        script: "main.ts",
        args: ["--max-turns", "100001"],
        field: /conversation\.max_turns/,
        limit: /(<=|at most|up to|maximum)\s*100[,_ ]?000\b/,
      },
      {
        script: "manager.ts",
        args: ["--story", STORY],
        env: { DIALOGUE_MAX_TURNS: "1000000" },
        field: /conversation\.max_turns/,
        limit: /(<=|at most|up to|maximum)\s*100[,_ ]?000\b/,
      },
      {
        script: "main.ts",
        args: ["--duration", "1000000"],
        field: /conversation\.duration_seconds/,
        limit: /(<=|at most|up to|maximum)\s*604[,_ ]?800\b|7 days/,
      },
      {
        script: "manager.ts",
        args: ["--story", STORY, "--config", file],
        field: /conversation\.duration_seconds/,
        limit: /(<=|at most|up to|maximum)\s*604[,_ ]?800\b|7 days/,
      },
    ];
    const runs = await Promise.all(
      cases.map((c) => runEntrypoint(c.script, c.args, { env: { ...env, ...c.env } })),
    );
    runs.forEach((run, i) => {
      const c = cases[i]!;
      const label = `${c.script} ${c.args.join(" ")}`;
      assertEquals(run.code, 2, `${label}: ${run.stderr}`);
      const lines = run.stderr.split("\n").filter((line) => line.trim() !== "");
      assertEquals(lines.length, 1, `${label}: ${run.stderr}`);
      assert(c.field.test(lines[0]!), `${label} should name the field: ${lines[0]}`);
      assert(c.limit.test(lines[0]!), `${label} should give the limit: ${lines[0]}`);
    });
    const redis = await connectRedis(parseConfig({ redis: { url: server.url } }).redis, {
      name: "limits",
    });
    try {
      assertEquals(await redis.dbsize(), 0, "nothing was written to Redis");
    } finally {
      await closeRedis(redis);
    }
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
