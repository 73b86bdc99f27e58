import assert from "node:assert/strict";
import { Ollama } from "ollama";
import { z } from "zod";
import { ConversationContent } from "../../../lib/model/dialog_message.ts";
import { OllamaDouble } from "../../../lib/testing/ollama_double.ts";
import { MODEL, rejection, streamChat, user, withDouble } from "./double_helpers.ts";

Deno.test("OllamaDouble reports an unknown model as a ResponseError with status_code 404 before iteration", async () => {
  await withDouble({}, async (_double, client) => {
    const error = await rejection(
      client.chat({ model: "llama9", messages: user("x"), stream: true }),
    ) as Error & { status_code: number };
    assert.equal(error.name, "ResponseError");
    assert.equal(error.status_code, 404);
    assert.equal(error.message, "model 'llama9' not found");
  });
});

Deno.test("OllamaDouble status faults answer before any output with their status and error", async () => {
  await withDouble({}, async (double, client) => {
    double.enqueueFault({ kind: "status", status: 503 });
    double.enqueueFault({ kind: "status", status: 404 });
    double.enqueueFault({ kind: "status", status: 500, error: "out of memory" });
    const chat = () => client.chat({ model: MODEL, messages: user("x"), stream: true });
    const busy = await rejection(chat()) as Error & { status_code: number };
    assert.equal(busy.name, "ResponseError");
    assert.equal(busy.status_code, 503);
    assert.match(busy.message, /server busy, please try again\. {2}maximum pending/);
    const missing = await rejection(chat()) as Error & { status_code: number };
    assert.equal(missing.status_code, 404);
    assert.equal(missing.message, "model 'llama3.2' not found");
    const crashed = await rejection(chat()) as Error & { status_code: number };
    assert.equal(crashed.status_code, 500);
    assert.equal(crashed.message, "out of memory");
    assert.equal((await streamChat(client, {})).last.done, true);
  });
});

Deno.test("OllamaDouble error_mid_stream fault makes the iterator throw after the chunks before it", async () => {
  await withDouble({}, async (double, client) => {
    double.enqueueFault({ kind: "error_mid_stream", afterChunks: 3, error: "runner crashed" });
    const received: string[] = [];
    const error = await rejection((async () => {
      const parts = await client.chat({ model: MODEL, messages: user("x"), stream: true });
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
      const parts = await client.chat({ model: MODEL, messages: user("x"), stream: true });
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

Deno.test("OllamaDouble invalid_schema fault returns valid JSON that the schema rejects", async () => {
  await withDouble({}, async (double, client) => {
    double.enqueueFault({ kind: "invalid_schema" });
    const { content } = await streamChat(client, { format: z.toJSONSchema(ConversationContent) });
    assert.equal(ConversationContent.safeParse(JSON.parse(content)).success, false);
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
    const pending = client.chat({ model: MODEL, messages: user("x"), stream: true });
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
