/** The OpenAI-compatible double over plain fetch: the wire shapes a real server sends. */
import { assert, assertEquals, assertMatch } from "../../helpers/assert.ts";
import { FAKE_OPENAI_HELP, parseFakeOpenAiFlags } from "../../../lib/testing/openai/fake_openai.ts";
import {
  OpenAiDouble,
  type OpenAiDoubleOptions,
} from "../../../lib/testing/openai/openai_double.ts";

async function withDouble(
  options: OpenAiDoubleOptions,
  fn: (double: OpenAiDouble) => Promise<void>,
): Promise<void> {
  const double = await OpenAiDouble.start(options);
  try {
    await fn(double);
  } finally {
    await double.close();
  }
}

/** The data of every event of a streamed completion, JSON parsed except `[DONE]`. */
async function streamed(double: OpenAiDouble, body: Record<string, unknown>) {
  const response = await fetch(`${double.url}/v1/chat/completions`, {
    method: "POST",
    body: JSON.stringify({ model: "tiny", messages: [{ role: "user", content: "hi" }], ...body }),
  });
  assertEquals(response.headers.get("content-type"), "text/event-stream; charset=utf-8");
  const text = await response.text();
  return text.split("\n\n").filter((e) => e !== "").map((event) => {
    assert(event.startsWith("data: "), event);
    const data = event.slice(6);
    return data === "[DONE]" ? data : JSON.parse(data);
  });
}

Deno.test("OpenAiDouble streams a role chunk, content chunks with usage null, the finish chunk, the usage chunk and [DONE]", async () => {
  await withDouble({}, async (double) => {
    const events = await streamed(double, {
      stream: true,
      stream_options: { include_usage: true },
    });
    assertEquals(events.at(-1), "[DONE]");
    const [first, ...rest] = events.slice(0, -1);
    assertEquals(first.choices[0].delta, { role: "assistant", content: "" });
    const usageChunk = rest.at(-1);
    assertEquals(usageChunk.choices, []);
    const finish = rest.at(-2);
    assertEquals(finish.choices[0].finish_reason, "stop");
    const content = rest.slice(0, -2);
    assert(content.every((c: { usage: unknown }) => c.usage === null));
    assertEquals(usageChunk.usage.completion_tokens, content.length);
    assertEquals(
      usageChunk.usage.total_tokens,
      usageChunk.usage.prompt_tokens + content.length,
    );
  });
});

Deno.test("OpenAiDouble sends no usage field without include_usage, and llama.cpp timings when asked", async () => {
  await withDouble({ timings: true }, async (double) => {
    const events = await streamed(double, { stream: true });
    assert(events.every((e) => e === "[DONE]" || !("usage" in e)));
    const finish = events.at(-2);
    assertEquals(finish.choices[0].finish_reason, "stop");
    assertEquals(finish.timings.predicted_n, events.length - 3);
  });
});

Deno.test("OpenAiDouble answers stream false with a whole chat.completion and cuts at max_tokens", async () => {
  await withDouble({}, async (double) => {
    const response = await fetch(`${double.url}/v1/chat/completions`, {
      method: "POST",
      body: JSON.stringify({ model: "tiny", messages: [], max_tokens: 3 }),
    });
    const body = await response.json();
    assertEquals(body.object, "chat.completion");
    assertEquals(body.choices[0].finish_reason, "length");
    assertEquals(body.usage.completion_tokens, 3);
  });
});

Deno.test("OpenAiDouble checks the Bearer key on every path but /health, and serves /tokenize unless told not to", async () => {
  await withDouble({ apiKey: "sk-double-key-1234" }, async (double) => {
    assertEquals((await (await fetch(`${double.url}/health`)).json()).status, "ok");
    const none = await fetch(`${double.url}/v1/models`);
    assertEquals(none.status, 401);
    assertMatch((await none.json()).error.message, /^You didn't provide an API key/);
    const wrong = await fetch(`${double.url}/v1/models`, {
      headers: { authorization: "Bearer sk-wrong-key-5678" },
    });
    assertEquals((await wrong.json()).error, {
      message: "Incorrect API key provided: sk-***5678.",
      type: "invalid_request_error",
      param: null,
      code: "invalid_api_key",
    });
    const tokens = await fetch(`${double.url}/tokenize`, {
      method: "POST",
      headers: { authorization: "Bearer sk-double-key-1234" },
      body: JSON.stringify({ content: "Hello there, friend" }),
    });
    assertEquals((await tokens.json()).tokens.length, 4);
    assertEquals(double.requests.at(-1)!.headers.authorization, "Bearer <redacted>");
  });
  await withDouble({ tokenize: false }, async (double) => {
    const missing = await fetch(`${double.url}/tokenize`, { method: "POST", body: "{}" });
    assertEquals(missing.status, 404);
    assertEquals((await missing.json()).error.message, "Invalid URL (POST /tokenize)");
  });
});

Deno.test("parseFakeOpenAiFlags() reads the documented flags and refuses others", () => {
  assertEquals(parseFakeOpenAiFlags([]), {
    port: 8000,
    delay: 0,
    words: 12,
    timings: false,
    usage: true,
  });
  assertEquals(
    parseFakeOpenAiFlags([
      "--port=8081",
      "--delay",
      "5",
      "--timings",
      "--no-usage",
      "--api-key",
      "k",
    ]),
    { port: 8081, delay: 5, words: 12, timings: true, usage: false, apiKey: "k" },
  );
  let message = "";
  try {
    parseFakeOpenAiFlags(["--words", "many"]);
  } catch (error) {
    message = (error as Error).message;
  }
  assertEquals(message, "Cannot use --words as it is not a whole number: current value is many");
  assert(FAKE_OPENAI_HELP.includes("--no-usage"));
});
