/** OpenAiBackend against the real HTTP double: streaming, figures and their sources, structured output, models, embeddings. */
import { assert, assertEquals, assertMatch } from "../../helpers/assert.ts";
import { estimateTokens } from "../../../lib/llm/llm_backend.ts";
import {
  CONTENT_MARGIN_CHARS,
  OpenAiBackend,
  openAiBackendFor,
} from "../../../lib/llm/openai/openai_backend.ts";
import { MAX_CONTENT_CHARS } from "../../../lib/model/dialog_message.ts";
import { SPLIT_UTF8_TEXT } from "../../../lib/testing/openai/openai_fault.ts";
import { OpenAiDouble } from "../../../lib/testing/openai/openai_double.ts";
import { ask, chatBodies, MODEL, withDouble } from "./openai_double_rig.ts";

Deno.test("OpenAiBackend.chat() streams the pieces in order and sends the neutral fields under their OpenAI names", async () => {
  await withDouble({ wordsPerReply: 30 }, async (double, backend) => {
    const pieces: string[] = [];
    const result = await backend.chat(
      ask("hello", { maxTokens: 200, temperature: 0.4, seed: 7, contextTokens: 4096 }),
      { onToken: (piece) => pieces.push(piece) },
    );
    // The double's whole (non-streamed) answer to the same request is the reference.
    const whole = await fetch(`${double.url}/v1/chat/completions`, {
      method: "POST",
      body: JSON.stringify({ ...chatBodies(double)[0], stream: false }),
    }).then((r) => r.json());
    assertEquals(result.content, whole.choices[0].message.content);
    assert(pieces.length > 10, `streamed in pieces, got ${pieces.length}`);
    assertEquals(pieces.join(""), result.content);
    assertEquals(result.doneReason, "stop");
    assertEquals(chatBodies(double)[0], {
      model: MODEL,
      messages: [{ role: "user", content: "hello" }],
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 200,
      temperature: 0.4,
      seed: 7,
    });
    const headers = double.requests[0]!.headers;
    assertEquals(headers.authorization, undefined, "no Authorization without a key");
    assertEquals(headers.accept, "text/event-stream");
  });
});

Deno.test("OpenAiBackend.chat() takes token counts from the usage chunk and times the stream itself", async () => {
  await withDouble({}, async (_double, backend) => {
    let pieces = 0;
    const result = await backend.chat(ask(), { onToken: () => pieces++ });
    const { metrics } = result;
    assertEquals(metrics.sources, {
      promptTokens: "reported",
      generatedTokens: "reported",
      timings: "timed",
    });
    assertEquals(metrics.generatedTokens, pieces, "the double counts one token per piece");
    assert(metrics.promptTokens > 0);
    assert(metrics.generationMs >= 0 && metrics.promptMs > 0);
    assert(result.timeToFirstTokenMs > 0 && result.timeToFirstTokenMs <= result.wallMs);
    assert(metrics.totalMs <= result.wallMs + 1);
  });
});

Deno.test("OpenAiBackend.chat() takes the last usage when a server (vLLM) sends a running count in every chunk", async () => {
  await withDouble({ usage: "every" }, async (_double, backend) => {
    let pieces = 0;
    const result = await backend.chat(ask(), { onToken: () => pieces++ });
    assertEquals(result.metrics.generatedTokens, pieces);
    assertEquals(result.metrics.sources.generatedTokens, "reported");
  });
});

Deno.test("OpenAiBackend.chat() counts generated tokens with the server's /tokenize when no usage came, every time", async () => {
  await withDouble({ usage: "none" }, async (double, backend) => {
    for (let turn = 0; turn < 2; turn++) {
      let pieces = 0;
      const result = await backend.chat(ask(`turn ${turn}`), { onToken: () => pieces++ });
      assertEquals(result.metrics.sources.generatedTokens, "counted");
      assertEquals(result.metrics.generatedTokens, pieces);
      assert(pieces !== estimateTokens(result.content), "a count, not chars / 4");
      assertEquals(result.metrics.sources.promptTokens, "estimated");
      assertEquals(result.metrics.promptTokens, estimateTokens(`turn ${turn}`));
    }
    const tokenize = double.requests.filter((r) => r.path === "/tokenize");
    assertEquals(tokenize.length, 2);
    assertEquals((tokenize[0]!.body as { model: string }).model, MODEL);
  });
});

Deno.test("OpenAiBackend.chat() estimates when there is neither usage nor /tokenize, asking /tokenize only once", async () => {
  await withDouble({ usage: "none", tokenize: false }, async (double, backend) => {
    for (let turn = 0; turn < 3; turn++) {
      const result = await backend.chat(ask());
      assertEquals(result.metrics.sources.generatedTokens, "estimated");
      assertEquals(result.metrics.generatedTokens, estimateTokens(result.content));
      assert(result.metrics.generatedTokens > 0, "never a silent zero");
    }
    assertEquals(double.requests.filter((r) => r.path === "/tokenize").length, 1);
  });
});

Deno.test("OpenAiBackend.chat() takes llama.cpp's timings as reported, and its counts when no usage came", async () => {
  await withDouble({ timings: true, usage: "none", tokenDelayMs: 1 }, async (_double, backend) => {
    let pieces = 0;
    const { metrics } = await backend.chat(ask(), { onToken: () => pieces++ });
    assertEquals(metrics.sources, {
      promptTokens: "reported",
      generatedTokens: "reported",
      timings: "reported",
    });
    assertEquals(metrics.generatedTokens, pieces, "predicted_n");
    assert(metrics.generationMs > 0);
    assertEquals(metrics.totalMs, metrics.promptMs + metrics.generationMs);
  });
});

Deno.test("OpenAiBackend.chat() sends a schema as a strict json_schema response_format and gets JSON that fits", async () => {
  const schema = {
    type: "object",
    properties: { message: { type: "string" }, mood: { enum: ["calm", "tense"] } },
    required: ["message", "mood"],
    additionalProperties: false,
  };
  await withDouble({}, async (double, backend) => {
    const result = await backend.chat(ask("hi", { schema }));
    assertEquals(chatBodies(double)[0]!.response_format, {
      type: "json_schema",
      json_schema: { name: "reply", schema, strict: true },
    });
    const reply = JSON.parse(result.content);
    assert(typeof reply.message === "string" && ["calm", "tense"].includes(reply.mood));
  });
});

Deno.test("OpenAiBackend.chat() returns a reply cut at the length limit with its truncated JSON and doneReason length", async () => {
  await withDouble({}, async (double, backend) => {
    double.enqueueFault({ kind: "length", afterChunks: 5 });
    const schema = { type: "object", properties: { message: { type: "string" } } };
    const result = await backend.chat(ask("hi", { schema }));
    assertEquals(result.doneReason, "length");
    assert(result.content.startsWith("{"));
    let parsed = true;
    try {
      JSON.parse(result.content);
    } catch {
      parsed = false;
    }
    assert(!parsed, "the JSON is cut");
  });
});

Deno.test("OpenAiBackend.chat() keeps a finish_reason it does not know, escaped and bounded", async () => {
  await withDouble({}, async (double, backend) => {
    double.enqueueFault({ kind: "text", content: "Hm.", finishReason: "content_filter" });
    assertEquals((await backend.chat(ask())).doneReason, "content_filter");
    double.enqueueFault({
      kind: "text",
      content: "Hm.",
      finishReason: `\x1b[2J${"x".repeat(500)}`,
    });
    const odd = (await backend.chat(ask())).doneReason;
    assert(odd.length <= 40 && odd.startsWith("\\u001b[2J"), odd);
  });
});

Deno.test("OpenAiBackend.chat() decodes multibyte characters split across network writes", async () => {
  await withDouble({}, async (double, backend) => {
    double.enqueueFault({ kind: "split_utf8" });
    const result = await backend.chat(ask());
    assertEquals(result.content, SPLIT_UTF8_TEXT);
  });
});

Deno.test("OpenAiBackend.chat() stops reading a runaway reply past MAX_CONTENT_CHARS plus a margin and returns it cut at the length limit", async () => {
  await withDouble({}, async (double, backend) => {
    const huge = "word ".repeat(20_000); // 100 KB, a word per chunk: never buffered whole
    double.enqueueFault({ kind: "text", content: huge });
    let streamed = 0;
    const result = await backend.chat(ask(), { onToken: (piece) => streamed += piece.length });
    const bound = MAX_CONTENT_CHARS + CONTENT_MARGIN_CHARS;
    assertEquals(result.content.length, bound);
    assertEquals(streamed, bound, "onToken saw only what was kept");
    assertEquals(result.doneReason, "length");
    assert(result.content === huge.slice(0, bound));
    assertEquals(result.metrics.sources.generatedTokens, "counted");
    const next = await backend.chat(ask("again"));
    assertEquals(next.doneReason, "stop", "the cut request did not wedge the double");
  });
});

Deno.test("OpenAiBackend accepts the base URL with or without /v1 and a trailing slash, and shows no credentials", async () => {
  const double = await OpenAiDouble.start();
  try {
    const port = new URL(double.url).port;
    for (const base of [double.url, `${double.url}/`, `${double.url}/v1/`]) {
      const backend = new OpenAiBackend({ baseUrl: base });
      assertEquals(backend.description, `OpenAI-compatible server at ${double.url}/v1`);
      await backend.chat(ask());
    }
    assertEquals(double.requests.map((r) => r.path), Array(3).fill("/v1/chat/completions"));
    const secret = new OpenAiBackend({ baseUrl: `http://me:pw@127.0.0.1:${port}/v1` });
    assertEquals(
      secret.description,
      `OpenAI-compatible server at http://me:***@127.0.0.1:${port}/v1`,
    );
    let refused = "";
    try {
      new OpenAiBackend({ baseUrl: "127.0.0.1:8000" });
    } catch (error) {
      refused = (error as Error).message;
    }
    assertMatch(refused, /^Cannot use '127\.0\.0\.1:8000' as the OpenAI base URL/);
  } finally {
    await double.close();
  }
});

Deno.test("openAiBackendFor() builds the backend from the openai settings, key and headers included", async () => {
  await withDouble({ apiKey: "sk-config-key" }, async (double) => {
    const backend = openAiBackendFor({
      base_url: `${double.url}/v1`,
      api_key: "sk-config-key",
      request_timeout_ms: 5_000,
      headers: { "x-team": "dialogue" },
    });
    assertEquals(backend.kind, "openai");
    assert(!backend.description.includes("sk-config-key"));
    await backend.chat(ask());
    const headers = double.requests[0]!.headers;
    assertEquals(headers.authorization, "Bearer <redacted>");
    assertEquals(headers["x-team"], "dialogue");
  });
});

Deno.test("OpenAiBackend.ensureModel() passes for a listed id and names up to five others for a missing one", async () => {
  const models = ["m1", "m2", "m3", "m4", "m5", "m6", "m7"];
  await withDouble({ models }, async (double, backend) => {
    await backend.ensureModel("m6");
    let message = "";
    try {
      await backend.ensureModel("llama9", { pull: true });
    } catch (error) {
      assertEquals((error as { code?: string }).code, "model_not_found");
      message = (error as Error).message;
    }
    assertMatch(message, /^Model 'llama9' is not served by OpenAI-compatible server at /);
    assertMatch(message, /'m1', 'm2', 'm3', 'm4', 'm5' and 2 more/);
    assertMatch(message, /pull it on the server/);
    assertEquals(
      double.requests.map((r) => `${r.method} ${r.path}`),
      Array(2).fill("GET /v1/models"),
    );
  });
});

Deno.test("OpenAiBackend.embed() returns one vector per text in input order, whatever order the server answers in", async () => {
  await withDouble({ reverseEmbeddings: true }, async (double, backend) => {
    const texts = ["the harbor at night", "a lantern", "bread and butter"];
    const vectors = await backend.embed(MODEL, texts);
    assertEquals(double.requests[0]!.body, {
      model: MODEL,
      input: texts,
      encoding_format: "float",
    });
    // One text at a time cannot be reordered: the reference for each position.
    for (const [i, text] of texts.entries()) {
      assertEquals(vectors[i], (await backend.embed(MODEL, [text]))[0], `vector ${i}`);
    }
    assert(JSON.stringify(vectors[0]) !== JSON.stringify(vectors[2]));
    const sent = double.requests.length;
    assertEquals(await backend.embed(MODEL, []), []);
    assertEquals(double.requests.length, sent, "nothing to embed, nothing sent");
  });
});
