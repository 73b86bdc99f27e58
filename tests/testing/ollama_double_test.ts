import assert from "node:assert/strict";
import { Ollama } from "ollama";
import { z } from "zod";
import { ConversationContent } from "../../lib/model/dialog_message.ts";
import { Scenario } from "../../lib/model/story.ts";
import { OllamaDouble, type OllamaDoubleOptions } from "../../lib/testing/ollama_double.ts";

const MODEL = "llama3.2";

/** Runs `fn` against a fresh double and always closes it. */
async function withDouble(
  options: OllamaDoubleOptions,
  fn: (double: OllamaDouble, client: Ollama) => Promise<void>,
): Promise<void> {
  const double = await OllamaDouble.start(options);
  try {
    await fn(double, new Ollama({ host: double.url }));
  } finally {
    await double.close();
  }
}

function user(content: string) {
  return [{ role: "user", content }];
}

/** Collects a streamed chat; returns the content chunks and the last object. */
async function streamChat(
  client: Ollama,
  request: Record<string, unknown>,
) {
  const chunks: string[] = [];
  const parts = await client.chat({
    model: MODEL,
    messages: user("hello"),
    ...request,
    stream: true,
  });
  let last: Record<string, unknown> = {};
  for await (const part of parts) {
    if (!part.done) chunks.push(part.message.content);
    last = part as unknown as Record<string, unknown>;
  }
  return { chunks, content: chunks.join(""), last };
}

/** Asserts `promise` rejects and returns the error. */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof Error, `expected an Error, got ${error}`);
    return error;
  }
  assert.fail("expected a rejection");
}

Deno.test("OllamaDouble streams chat word by word and ends with nanosecond metrics within the elapsed time", async () => {
  await withDouble({ tokenDelayMs: 4 }, async (double, client) => {
    const begin = performance.now();
    const { chunks, content, last } = await streamChat(client, {
      messages: user("Tell me about the harbor"),
    });
    const elapsedNs = (performance.now() - begin) * 1e6;
    assert.ok(chunks.length >= 8, `only ${chunks.length} chunks`);
    assert.ok(chunks.slice(1).every((c) => /^( \S+|[^\w\s]{1,3})$/u.test(c)));
    assert.match(content, /^[A-Z].*[.!?]$/u);
    assert.equal(last.done, true);
    assert.equal(last.done_reason, "stop");
    assert.equal(last.model, "llama3.2:latest");
    assert.match(
      String(last.created_at),
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/,
    );
    const metric = (name: string) => Number(last[name]);
    assert.equal(metric("eval_count"), chunks.length);
    assert.ok(metric("prompt_eval_count") > 0);
    assert.ok(metric("total_duration") <= elapsedNs);
    assert.ok(
      metric("eval_duration") >= (chunks.length - 1) * 4e6 * 0.9,
      `eval_duration ${metric("eval_duration")} is shorter than the delays`,
    );
    assert.ok(
      metric("load_duration") + metric("prompt_eval_duration") +
          metric("eval_duration") <= metric("total_duration"),
    );
    assert.equal(double.requests.at(-1)?.path, "/api/chat");
  });
});

Deno.test("OllamaDouble streams NDJSON when stream is absent and one JSON object when stream is false", async () => {
  await withDouble({}, async (double) => {
    const body = { model: MODEL, messages: user("hi") };
    const streamed = await fetch(`${double.url}/api/chat`, {
      method: "POST",
      body: JSON.stringify(body),
    });
    assert.equal(streamed.headers.get("content-type"), "application/x-ndjson");
    const text = await streamed.text();
    assert.ok(text.endsWith("\n"));
    const lines = text.trimEnd().split("\n").map((l) => JSON.parse(l));
    assert.ok(lines.length > 2);
    assert.equal(lines.at(-1).done, true);
    assert.ok(
      lines.slice(0, -1).every((l) => l.done === false && !("done_reason" in l)),
    );

    const whole = await fetch(`${double.url}/api/chat`, {
      method: "POST",
      body: JSON.stringify({ ...body, stream: false }),
    });
    assert.equal(
      whole.headers.get("content-type"),
      "application/json; charset=utf-8",
    );
    const reply = await whole.json();
    assert.equal(reply.done, true);
    assert.equal(
      reply.message.content,
      lines.map((l) => l.message.content).join(""),
    );
  });
});

Deno.test("OllamaDouble replies deterministically to a request and differently to the next turn", async () => {
  await withDouble({}, async (_double, client) => {
    const ask = async (content: string, seed?: number) =>
      (await client.chat({
        model: MODEL,
        messages: [{ role: "system", content: "Be brief." }, ...user(content)],
        ...(seed === undefined ? {} : { options: { seed } }),
      })).message.content;
    assert.equal(await ask("first turn"), await ask("first turn"));
    assert.notEqual(await ask("first turn"), await ask("second turn"));
    assert.notEqual(await ask("first turn", 1), await ask("first turn", 2));
  });
});

Deno.test("OllamaDouble structured output for ConversationContent validates with the zod schema over 20 prompts", async () => {
  await withDouble({}, async (_double, client) => {
    const format = z.toJSONSchema(ConversationContent);
    for (let i = 0; i < 20; i++) {
      const { chunks, content } = await streamChat(client, {
        messages: user(`prompt number ${i}`),
        format,
      });
      assert.ok(chunks.length > 6, "JSON should arrive in many small pieces");
      assert.ok(
        chunks.some((c) => /^ \p{L}/u.test(c)),
        "pieces inside strings",
      );
      const parsed = ConversationContent.parse(JSON.parse(content));
      assert.ok(parsed.message.split(" ").length >= 5);
    }
  });
});

Deno.test("OllamaDouble structured output for Scenario validates with the zod schema over 20 prompts", async () => {
  await withDouble({}, async (_double, client) => {
    const format = z.toJSONSchema(Scenario);
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const reply = await client.chat({
        model: MODEL,
        messages: user(`write scenario ${i}`),
        format,
      });
      const scenario = Scenario.parse(JSON.parse(reply.message.content));
      assert.equal(scenario.personas.length, 2);
      seen.add(scenario.story.setting);
    }
    assert.ok(seen.size > 10, "settings should vary with the prompt");
  });
});

Deno.test("OllamaDouble answers format json with an object holding a message", async () => {
  await withDouble({}, async (_double, client) => {
    const reply = await client.chat({
      model: MODEL,
      messages: user("x"),
      format: "json",
    });
    const value = JSON.parse(reply.message.content);
    assert.deepEqual(Object.keys(value), ["message"]);
    assert.equal(typeof value.message, "string");
  });
});

Deno.test("OllamaDouble invalid_schema fault returns valid JSON that the schema rejects", async () => {
  await withDouble({}, async (double, client) => {
    double.enqueueFault({ kind: "invalid_schema" });
    const reply = await client.chat({
      model: MODEL,
      messages: user("x"),
      format: z.toJSONSchema(ConversationContent),
    });
    const value = JSON.parse(reply.message.content);
    assert.equal(ConversationContent.safeParse(value).success, false);
  });
});

Deno.test("OllamaDouble reports an unknown model as a ResponseError with status_code 404", async () => {
  await withDouble({}, async (_double, client) => {
    const error = await rejection(
      client.chat({ model: "llama9", messages: user("x") }),
    );
    assert.equal(error.name, "ResponseError");
    assert.equal(
      (error as unknown as { status_code: number }).status_code,
      404,
    );
    assert.equal(error.message, "model 'llama9' not found");
    const streamed = await rejection(
      client.chat({ model: "llama9", messages: user("x"), stream: true }),
    );
    assert.equal(streamed.name, "ResponseError");
  });
});

Deno.test("OllamaDouble status faults answer before any output with their status and error", async () => {
  await withDouble({}, async (double, client) => {
    double.enqueueFault({ kind: "status", status: 503 });
    double.enqueueFault({ kind: "status", status: 404 });
    double.enqueueFault({
      kind: "status",
      status: 500,
      error: "out of memory",
    });
    const busy = await rejection(
      client.chat({ model: MODEL, messages: user("x"), stream: true }),
    ) as Error & { status_code: number };
    assert.equal(busy.name, "ResponseError");
    assert.equal(busy.status_code, 503);
    assert.match(
      busy.message,
      /server busy, please try again\. {2}maximum pending/,
    );
    const missing = await rejection(
      client.chat({ model: MODEL, messages: user("x") }),
    ) as Error & { status_code: number };
    assert.equal(missing.status_code, 404);
    assert.equal(missing.message, "model 'llama3.2' not found");
    const crashed = await rejection(
      client.generate({ model: MODEL, prompt: "x" }),
    ) as Error & { status_code: number };
    assert.equal(crashed.status_code, 500);
    assert.equal(crashed.message, "out of memory");
    assert.equal(
      (await client.chat({ model: MODEL, messages: user("x") })).done,
      true,
    );
  });
});

Deno.test("OllamaDouble error_mid_stream fault makes the iterator throw after the chunks before it", async () => {
  await withDouble({}, async (double, client) => {
    double.enqueueFault({
      kind: "error_mid_stream",
      afterChunks: 3,
      error: "runner crashed",
    });
    const received: string[] = [];
    const error = await rejection((async () => {
      const parts = await client.chat({
        model: MODEL,
        messages: user("x"),
        stream: true,
      });
      for await (const part of parts) received.push(part.message.content);
    })());
    assert.equal(error.message, "runner crashed");
    assert.equal(received.length, 3);
  });
});

Deno.test("OllamaDouble cut_connection fault breaks the body mid-stream", async () => {
  await withDouble({}, async (double, client) => {
    double.enqueueFault({ kind: "cut_connection", afterChunks: 2 });
    const received: string[] = [];
    const error = await rejection((async () => {
      const parts = await client.chat({
        model: MODEL,
        messages: user("x"),
        stream: true,
      });
      for await (const part of parts) received.push(part.message.content);
    })());
    assert.equal(error.name, "TypeError");
    assert.match(error.message, /error reading a body from connection/);
    assert.equal(received.length, 2);
  });
});

Deno.test("OllamaDouble no_done fault ends the stream so ollama-js throws Did not receive done", async () => {
  await withDouble({}, async (double, client) => {
    double.enqueueFault({ kind: "no_done", afterChunks: 4 });
    const error = await rejection(streamChat(client, {}));
    assert.match(error.message, /Did not receive done/);
  });
});

Deno.test("OllamaDouble length fault gives done_reason length with JSON that fails to parse", async () => {
  await withDouble({}, async (double, client) => {
    double.enqueueFault({ kind: "length", afterChunks: 5 });
    const { chunks, content, last } = await streamChat(client, {
      format: z.toJSONSchema(ConversationContent),
    });
    assert.equal(chunks.length, 5);
    assert.equal(last.done_reason, "length");
    assert.equal(last.eval_count, 5);
    assert.throws(() => JSON.parse(content), SyntaxError);
  });
});

Deno.test("OllamaDouble honours num_predict by stopping with done_reason length", async () => {
  await withDouble({ wordsPerReply: 30 }, async (_double, client) => {
    const { chunks, last } = await streamChat(client, {
      options: { num_predict: 7 },
    });
    assert.equal(chunks.length, 7);
    assert.equal(last.done_reason, "length");
    const whole = await client.chat({
      model: MODEL,
      messages: user("hello"),
      options: { num_predict: 7 },
    });
    assert.equal(whole.message.content, chunks.join(""));
    assert.equal(whole.done_reason, "length");
  });
});

Deno.test("OllamaDouble hang fault sends nothing until the client aborts", async () => {
  await withDouble({}, async (double) => {
    double.enqueueFault({ kind: "hang" });
    const controller = new AbortController();
    const client = new Ollama({
      host: double.url,
      fetch: (input, init) => fetch(input, { ...init, signal: controller.signal }),
    });
    const pending = client.chat({
      model: MODEL,
      messages: user("x"),
      stream: true,
    });
    while (double.requests.length === 0) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    controller.abort();
    const error = await rejection(pending);
    assert.equal(error.name, "AbortError");
  });
});

Deno.test("OllamaDouble close() answers a hung request that nobody aborted", async () => {
  const double = await OllamaDouble.start();
  double.enqueueFault({ kind: "hang" });
  const pending = fetch(`${double.url}/api/chat`, {
    method: "POST",
    body: JSON.stringify({ model: MODEL, messages: user("x") }),
  });
  while (double.requests.length === 0) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await double.close();
  const response = await pending;
  assert.equal(response.status, 500);
  assert.match((await response.json()).error, /closed while this request hung/);
});

Deno.test("OllamaDouble stops generating when the client aborts a stream", async () => {
  await withDouble(
    { tokenDelayMs: 20, wordsPerReply: 200 },
    async (double, client) => {
      const parts = await client.chat({
        model: MODEL,
        messages: user("x"),
        stream: true,
      });
      let count = 0;
      const error = await rejection((async () => {
        for await (const _ of parts) {
          if (++count === 2) parts.abort();
        }
      })());
      assert.equal(error.name, "AbortError");
      const begin = performance.now();
      await double.close();
      assert.ok(
        performance.now() - begin < 500,
        "close() waited for generation",
      );
    },
  );
});

Deno.test("OllamaDouble splits a multibyte character across network chunks and it still decodes", async () => {
  await withDouble({}, async (double, client) => {
    const text = "Café ☕ naïve 🎉 done";
    /** Posts a chat with the text fault; the body as received, chunk by chunk. */
    const receive = async (stream: boolean) => {
      double.enqueueFault({ kind: "text", content: text });
      const response = await fetch(`${double.url}/api/chat`, {
        method: "POST",
        body: JSON.stringify({ model: MODEL, messages: user("x"), stream }),
      });
      const strict = new TextDecoder("utf-8", { fatal: true });
      const decoder = new TextDecoder();
      let brokenAlone = 0;
      let decoded = "";
      for await (const chunk of response.body!) {
        decoded += decoder.decode(chunk, { stream: true });
        try {
          strict.decode(chunk);
        } catch {
          brokenAlone++;
        }
      }
      assert.ok(brokenAlone > 0, "no network chunk ended inside a character");
      return decoded;
    };
    const lines = (await receive(true)).trimEnd().split("\n").map((l) => JSON.parse(l));
    assert.equal(lines.map((l) => l.message.content).join(""), text);
    assert.equal(JSON.parse(await receive(false)).message.content, text);

    double.enqueueFault({ kind: "text", content: text });
    assert.equal((await streamChat(client, {})).content, text);
  });
});

Deno.test("OllamaDouble text fault streams hostile content exactly, in small chunks", async () => {
  await withDouble({}, async (double, client) => {
    const hostile = "\x1b[31mred\x1b[0m\r\n\x07 \u202e reversed \x1b]0;title\x07 end";
    double.enqueueFault({ kind: "text", content: hostile });
    const { chunks, content } = await streamChat(client, {});
    assert.equal(content, hostile);
    assert.ok(chunks.length > 5 && chunks.every((c) => c.length <= 10));
  });
});

Deno.test("OllamaDouble slow fault delays only the next request", async () => {
  await withDouble({}, async (double, client) => {
    double.enqueueFault({ kind: "slow", tokenDelayMs: 15 });
    let begin = performance.now();
    const slow = await streamChat(client, {});
    const slowMs = performance.now() - begin;
    assert.ok(slowMs >= slow.chunks.length * 15 * 0.9);
    begin = performance.now();
    await streamChat(client, {});
    assert.ok(performance.now() - begin < slowMs / 2);
  });
});

Deno.test("OllamaDouble generate streams response chunks and answers an empty prompt with done_reason load", async () => {
  await withDouble({}, async (_double, client) => {
    const parts = await client.generate({
      model: MODEL,
      prompt: "Once",
      stream: true,
    });
    const pieces: string[] = [];
    let final: Record<string, unknown> = {};
    for await (const part of parts) {
      if (!part.done) pieces.push(part.response ?? "");
      final = part as unknown as Record<string, unknown>;
    }
    assert.ok(pieces.length > 3);
    assert.equal(final.done_reason, "stop");
    assert.equal(final.eval_count, pieces.length);
    const load = await client.generate({ model: MODEL, prompt: "" });
    assert.equal(load.done_reason, "load");
  });
});

Deno.test("OllamaDouble answers empty messages with done_reason load and marks the model running", async () => {
  await withDouble({}, async (_double, client) => {
    const reply = await client.chat({ model: MODEL, messages: [] });
    assert.deepEqual(reply.message, { role: "assistant", content: "" });
    assert.equal(reply.done, true);
    assert.equal(reply.done_reason, "load");
    assert.equal(reply.eval_count, undefined, "zero metrics are omitted");
    const running = await client.ps();
    assert.deepEqual(running.models.map((m) => m.name), ["llama3.2:latest"]);
    const unloaded = await client.chat({
      model: MODEL,
      messages: [],
      keep_alive: 0,
    });
    assert.equal(unloaded.done_reason, "unload");
    assert.equal((await client.ps()).models.length, 0);
  });
});

Deno.test("OllamaDouble rejects a missing model and malformed JSON with 400 and Go-like errors", async () => {
  await withDouble({}, async (double) => {
    const post = async (body: string) => {
      const response = await fetch(`${double.url}/api/chat`, {
        method: "POST",
        body,
      });
      return { status: response.status, error: (await response.json()).error };
    };
    assert.deepEqual(await post(JSON.stringify({ messages: [] })), {
      status: 400,
      error: "model is required",
    });
    const broken = await post("{not json");
    assert.equal(broken.status, 400);
    assert.match(broken.error, /^invalid character 'n'/);
    const wrongType = await post(
      JSON.stringify({ model: MODEL, messages: "hi" }),
    );
    assert.equal(wrongType.status, 400);
    assert.match(
      wrongType.error,
      /^json: cannot unmarshal string into Go struct field ChatRequest\.messages/,
    );
    assert.deepEqual(double.requests.map((r) => r.body === null), [
      false,
      true,
      false,
    ]);
  });
});

Deno.test("OllamaDouble pull streams progress, then success, and adds the model", async () => {
  await withDouble({}, async (_double, client) => {
    const progress = await client.pull({ model: "qwen3:0.6b", stream: true });
    const statuses: string[] = [];
    let sawBytes = false;
    for await (const step of progress) {
      statuses.push(step.status);
      if (step.total > 0 && step.completed === step.total) sawBytes = true;
    }
    assert.equal(statuses[0], "pulling manifest");
    assert.equal(statuses.at(-1), "success");
    assert.ok(sawBytes);
    const names = (await client.list()).models.map((m) => m.name);
    assert.ok(names.includes("qwen3:0.6b"));
    const reply = await client.chat({
      model: "qwen3:0.6b",
      messages: user("x"),
    });
    assert.equal(reply.done, true);
  });
});

Deno.test("OllamaDouble pull of a nonexistent model fails inside the stream", async () => {
  await withDouble({}, async (_double, client) => {
    const progress = await client.pull({
      model: "nonexistent-model",
      stream: true,
    });
    const error = await rejection((async () => {
      for await (const _ of progress) { /* drain */ }
    })());
    assert.equal(error.message, "pull model manifest: file does not exist");
    const whole = await rejection(client.pull({ model: "nonexistent-model" }));
    assert.equal(whole.name, "ResponseError");
  });
});

Deno.test("OllamaDouble show reports a 4096 context length and 404 for unknown models", async () => {
  await withDouble({}, async (double, client) => {
    const info = await client.show({ model: MODEL });
    // ollama-js types model_info as a Map; on the wire it is a plain object.
    const modelInfo = info.model_info as unknown as Record<string, unknown>;
    assert.equal(modelInfo["llama.context_length"], 4096);
    const byName = await fetch(`${double.url}/api/show`, {
      method: "POST",
      body: JSON.stringify({ name: "tiny" }),
    });
    assert.equal((await byName.json()).details.parameter_size, "135M");
    const error = await rejection(client.show({ model: "nope" })) as Error & {
      status_code: number;
    };
    assert.equal(error.status_code, 404);
  });
});

Deno.test("OllamaDouble serves root, version and tags like Ollama", async () => {
  await withDouble({ models: ["a", "b:7b"] }, async (double, client) => {
    const root = await fetch(double.url);
    assert.equal(await root.text(), "Ollama is running");
    assert.equal((await client.version()).version, "0.13.0");
    const tags = await client.list();
    assert.deepEqual(tags.models.map((m) => m.name), ["a:latest", "b:7b"]);
    assert.match(tags.models[0]!.digest, /^[0-9a-f]{64}$/);
  });
});

Deno.test("OllamaDouble embed returns deterministic normalised 32-dimension vectors", async () => {
  await withDouble({}, async (_double, client) => {
    const first = await client.embed({
      model: MODEL,
      input: ["the harbor", "a storm"],
    });
    const again = await client.embed({
      model: MODEL,
      input: ["the harbor", "a storm"],
    });
    assert.equal(first.embeddings.length, 2);
    assert.equal(first.embeddings[0]!.length, 32);
    assert.deepEqual(first.embeddings, again.embeddings);
    assert.notDeepEqual(first.embeddings[0], first.embeddings[1]);
    assert.ok(Math.abs(Math.hypot(...first.embeddings[0]!) - 1) < 1e-9);
  });
});

Deno.test("OllamaDouble structured output honours bounds, lengths, enums, unions and $ref", async () => {
  const Point = z.object({ x: z.int().min(-3).max(3), y: z.number().gt(0).lt(1) });
  const Shape = z.object({
    title: z.string().min(30).max(40),
    code: z.string().length(1),
    kind: z.enum(["circle", "square"]),
    tag: z.literal("v1"),
    visible: z.boolean(),
    id: z.union([z.number(), z.string()]),
    note: z.string().nullable(),
    extra: z.string().optional(),
    when: z.iso.datetime(),
    contact: z.email(),
    corners: z.array(z.string().min(1)).min(3).max(5),
    origin: Point,
    path: z.array(Point).max(4),
  });
  const withRefs = {
    ...z.toJSONSchema(Shape),
    $defs: { point: z.toJSONSchema(Point) },
    properties: {
      ...(z.toJSONSchema(Shape).properties as Record<string, unknown>),
      origin: { $ref: "#/$defs/point" },
    },
  };
  await withDouble({}, async (_double, client) => {
    for (let i = 0; i < 20; i++) {
      for (const format of [z.toJSONSchema(Shape), withRefs]) {
        const reply = await client.chat({ model: MODEL, messages: user(`shape ${i}`), format });
        Shape.parse(JSON.parse(reply.message.content));
      }
    }
  });
});
