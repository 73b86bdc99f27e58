import assert from "node:assert/strict";
import { MODEL, rejection, streamChat, user, withDouble } from "./double_helpers.ts";

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
    assert.match(String(last.created_at), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    const metric = (name: string) => Number(last[name]);
    assert.equal(metric("eval_count"), chunks.length);
    assert.ok(metric("prompt_eval_count") > 0);
    assert.ok(metric("total_duration") <= elapsedNs);
    assert.ok(
      metric("eval_duration") >= (chunks.length - 1) * 4e6 * 0.9,
      `eval_duration ${metric("eval_duration")} is shorter than the delays`,
    );
    assert.ok(
      metric("load_duration") + metric("prompt_eval_duration") + metric("eval_duration") <=
        metric("total_duration"),
    );
    assert.equal(double.requests.at(-1)?.path, "/api/chat");
  });
});

Deno.test("OllamaDouble streams NDJSON when stream is absent and refuses stream false with a 400 that says why", async () => {
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
    assert.ok(lines.slice(0, -1).every((l) => l.done === false && !("done_reason" in l)));

    const whole = await fetch(`${double.url}/api/chat`, {
      method: "POST",
      body: JSON.stringify({ ...body, stream: false }),
    });
    assert.equal(whole.status, 400);
    assert.match((await whole.json()).error, /only as a stream: send "stream": true/);
  });
});

Deno.test("OllamaDouble replies deterministically to a request and differently to the next turn", async () => {
  await withDouble({}, async (_double, client) => {
    const ask = async (content: string, seed?: number) =>
      (await streamChat(client, {
        messages: [{ role: "system", content: "Be brief." }, ...user(content)],
        ...(seed === undefined ? {} : { options: { seed } }),
      })).content;
    assert.equal(await ask("first turn"), await ask("first turn"));
    assert.notEqual(await ask("first turn"), await ask("second turn"));
    assert.notEqual(await ask("first turn", 1), await ask("first turn", 2));
  });
});

Deno.test("OllamaDouble honours num_predict by stopping with done_reason length", async () => {
  await withDouble({ wordsPerReply: 30 }, async (_double, client) => {
    const { chunks, last } = await streamChat(client, { options: { num_predict: 7 } });
    assert.equal(chunks.length, 7);
    assert.equal(last.done_reason, "length");
    assert.equal(last.eval_count, 7);
  });
});

Deno.test("OllamaDouble stops generating when the client aborts a stream", async () => {
  await withDouble({ tokenDelayMs: 20, wordsPerReply: 200 }, async (double, client) => {
    const parts = await client.chat({ model: MODEL, messages: user("x"), stream: true });
    let count = 0;
    const error = await rejection((async () => {
      for await (const _ of parts) {
        if (++count === 2) parts.abort();
      }
    })());
    assert.equal(error.name, "AbortError");
    const begin = performance.now();
    await double.close();
    assert.ok(performance.now() - begin < 500, "close() waited for generation");
  });
});

Deno.test("OllamaDouble splits a multibyte character across network chunks and it still decodes", async () => {
  await withDouble({}, async (double, client) => {
    const text = "Café ☕ naïve 🎉 done";
    double.enqueueFault({ kind: "text", content: text });
    const response = await fetch(`${double.url}/api/chat`, {
      method: "POST",
      body: JSON.stringify({ model: MODEL, messages: user("x") }),
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
    const lines = decoded.trimEnd().split("\n").map((l) => JSON.parse(l));
    assert.equal(lines.map((l) => l.message.content).join(""), text);

    double.enqueueFault({ kind: "text", content: text });
    assert.equal((await streamChat(client, {})).content, text);
  });
});

Deno.test("OllamaDouble with splitUtf8 off sends every multibyte character whole and without the pause", async () => {
  await withDouble({ splitUtf8: false }, async (double) => {
    double.enqueueFault({ kind: "text", content: "Café ☕ naïve 🎉 done" });
    const response = await fetch(`${double.url}/api/chat`, {
      method: "POST",
      body: JSON.stringify({ model: MODEL, messages: user("x") }),
    });
    const strict = new TextDecoder("utf-8", { fatal: true });
    for await (const chunk of response.body!) strict.decode(chunk);
  });
});
