/** OpenAiBackend against the real HTTP double: every failure becomes the DialogueError callers branch on, with a message that says what to do and never the key. */
import { assert, assertEquals, assertMatch, assertRejects } from "../../helpers/assert.ts";
import { DialogueError, ErrorCode } from "../../../lib/base/dialogue_error.ts";
import { OpenAiBackend } from "../../../lib/llm/openai/openai_backend.ts";
import { OpenAiDouble } from "../../../lib/testing/openai/openai_double.ts";
import { ask, withDouble } from "./openai_double_rig.ts";

/** The DialogueError `promise` rejects with. */
async function failure(promise: Promise<unknown>): Promise<DialogueError> {
  const error = await assertRejects(() => promise);
  assert(error instanceof DialogueError, `expected a DialogueError, got ${error}`);
  return error;
}

Deno.test("OpenAiBackend sends the key as a Bearer token and a rejected key is llm_unavailable without the key in the message", async () => {
  await withDouble({ apiKey: "sk-right-0123456789" }, async (double) => {
    const right = new OpenAiBackend({ baseUrl: double.url, apiKey: "sk-right-0123456789" });
    assertEquals((await right.chat(ask())).doneReason, "stop");
    const wrongKey = "sk-wrong-9876543210";
    const wrong = new OpenAiBackend({ baseUrl: double.url, apiKey: wrongKey });
    const error = await failure(wrong.chat(ask()));
    assertEquals(error.code, ErrorCode.LlmUnavailable);
    assertMatch(
      error.message,
      /rejected the API key \(401\): set OPENAI_API_KEY or openai\.api_key/,
    );
    assert(!error.message.includes(wrongKey) && !wrong.description.includes(wrongKey));
    const none = await failure(new OpenAiBackend({ baseUrl: double.url }).ensureModel("tiny"));
    assertMatch(none.message, /\(401\): set OPENAI_API_KEY/);
  });
});

Deno.test("OpenAiBackend scrubs the key from a server message that quotes it", async () => {
  const key = "sk-quoted-secret-42";
  await withDouble({}, async (double, backend) => {
    double.enqueueFault({ kind: "status", status: 401, error: `Key ${key} is revoked` });
    const error = await failure(backend.chat(ask()));
    assert(!error.message.includes(key), error.message);
    assertMatch(error.message, /Key \*\*\* is revoked/);
  }, { apiKey: key });
});

Deno.test("OpenAiBackend.chat() turns a 404 for the model into model_not_found naming the model and /v1/models", async () => {
  await withDouble({}, async (double, backend) => {
    const error = await failure(backend.chat({ ...ask(), model: "llama9" }));
    assertEquals(error.code, ErrorCode.ModelNotFound);
    assertMatch(error.message, /^Model 'llama9' is not available on /);
    assertMatch(error.message, new RegExp(`${double.url}/v1/models`));
    assertMatch(error.message, /pull it on the server/);
  });
});

Deno.test("OpenAiBackend.chat() turns a 429 into llm_transient carrying the Retry-After seconds", async () => {
  await withDouble({}, async (double, backend) => {
    double.enqueueFault({ kind: "status", status: 429, retryAfter: 7 });
    const error = await failure(backend.chat(ask()));
    assertEquals(error.code, ErrorCode.LlmTransient);
    assertMatch(
      error.message,
      /rate limiting requests \(429: Rate limit reached for requests\.\): retry after 7 s$/,
    );
    const date = new Date(Date.now() + 30_000).toUTCString();
    double.enqueueFault({ kind: "status", status: 429, retryAfter: date });
    assertMatch((await failure(backend.chat(ask()))).message, /retry after (29|30|31) s$/);
  });
});

Deno.test("OpenAiBackend.chat() turns 5xx into llm_transient and 400 into invalid_output, the server's text escaped and bounded", async () => {
  await withDouble({}, async (double, backend) => {
    double.enqueueFault({ kind: "status", status: 500, error: `boom \x1b[2J${"z".repeat(5000)}` });
    const busy = await failure(backend.chat(ask()));
    assertEquals(busy.code, ErrorCode.LlmTransient);
    assertMatch(busy.message, /answered 500 to \/v1\/chat\/completions: boom \\u001b\[2Jzzz/);
    assert(busy.message.length < 600, `bounded, got ${busy.message.length}`);
    double.enqueueFault({ kind: "status", status: 503 });
    assertMatch((await failure(backend.chat(ask()))).message, /answered 503 .*: Loading model$/);
    double.enqueueFault({
      kind: "status",
      status: 400,
      error: "Invalid schema for response_format",
    });
    const refused = await failure(backend.chat(ask()));
    assertEquals(refused.code, ErrorCode.InvalidOutput);
    assertMatch(refused.message, /answered 400 .*: Invalid schema for response_format$/);
  });
});

Deno.test('OpenAiBackend.chat() reads {"error": text} and non-JSON error bodies as the message', async () => {
  await withDouble({}, async (double, backend) => {
    double.enqueueFault({ kind: "status", status: 502, raw: '{"error":"upstream gone"}' });
    assertMatch((await failure(backend.chat(ask()))).message, /answered 502 .*: upstream gone$/);
    double.enqueueFault({
      kind: "status",
      status: 502,
      raw: "<html>\n<h1>Bad Gateway</h1></html>",
    });
    assertMatch(
      (await failure(backend.chat(ask()))).message,
      /: <html> <h1>Bad Gateway<\/h1><\/html>$/,
    );
  });
});

Deno.test("OpenAiBackend.chat() reports a connection cut mid-stream as llm_transient", async () => {
  await withDouble({}, async (double, backend) => {
    double.enqueueFault({ kind: "cut_connection", afterChunks: 3 });
    const pieces: string[] = [];
    const error = await failure(backend.chat(ask(), { onToken: (p) => pieces.push(p) }));
    assertEquals(error.code, ErrorCode.LlmTransient);
    assertMatch(error.message, /cut the stream mid-reply after \d+ characters/);
    assertEquals(pieces.length, 3);
  });
});

Deno.test("OpenAiBackend.chat() treats a stream ending before its finish_reason as cut, and one ending after it as whole", async () => {
  await withDouble({}, async (double, backend) => {
    double.enqueueFault({ kind: "no_done", afterChunks: 2 });
    const error = await failure(backend.chat(ask()));
    assertEquals(error.code, ErrorCode.LlmTransient);
    assertMatch(
      error.message,
      /cut the stream mid-reply after \d+ characters \(it ended without a finish_reason or \[DONE\]\)/,
    );
    double.enqueueFault({ kind: "no_done", afterChunks: 4, finish: true });
    const whole = await backend.chat(ask());
    assertEquals(whole.doneReason, "stop");
    assertEquals(whole.metrics.sources.generatedTokens, "counted", "no usage chunk came");
  });
});

Deno.test("OpenAiBackend.chat() turns an error event inside the stream into llm_transient with its message", async () => {
  await withDouble({}, async (double, backend) => {
    double.enqueueFault({ kind: "error_mid_stream", afterChunks: 2, error: "CUDA out of memory" });
    const error = await failure(backend.chat(ask()));
    assertEquals(error.code, ErrorCode.LlmTransient);
    assertMatch(error.message, /reported an error mid-reply: CUDA out of memory$/);
  });
});

Deno.test("OpenAiBackend.chat() ends with aborted when the caller's signal fires mid-stream", async () => {
  await withDouble({ tokenDelayMs: 20, wordsPerReply: 200 }, async (double, backend) => {
    const controller = new AbortController();
    const error = await failure(
      backend.chat(ask(), { signal: controller.signal, onToken: () => controller.abort() }),
    );
    assertEquals(error.code, ErrorCode.Aborted);
    // The double still answers: the aborted request did not wedge it.
    double.enqueueFault({ kind: "text", content: "Still here." });
    assertEquals((await backend.chat(ask())).content, "Still here.");
  });
});

Deno.test("OpenAiBackend.chat() gives up after request_timeout_ms and names the setting", async () => {
  await withDouble({}, async (double, backend) => {
    double.enqueueFault({ kind: "hang" });
    const error = await failure(backend.chat(ask()));
    assertEquals(error.code, ErrorCode.LlmTransient);
    assertMatch(error.message, /did not finish within 50 ms: raise openai\.request_timeout_ms/);
  }, { requestTimeoutMs: 50 });
});

Deno.test("OpenAiBackend says how to start the server when the connection is refused", async () => {
  const double = await OpenAiDouble.start();
  const url = double.url;
  await double.close();
  const error = await failure(new OpenAiBackend({ baseUrl: `${url}/v1` }).chat(ask()));
  assertEquals(error.code, ErrorCode.LlmUnavailable);
  assertEquals(
    error.message,
    `Cannot reach the OpenAI-compatible server at ${url}/v1 as the connection was refused: start it or set OPENAI_BASE_URL / --openai-base-url`,
  );
});

Deno.test("OpenAiBackend.embed() refuses a reply with the wrong number of vectors or values that are not finite", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      const { input } = await request.json();
      const data = input.length === 1
        ? [{ index: 0, embedding: [1, 0] }, { index: 1, embedding: [0, 1] }]
        : [{ index: 0, embedding: [1, null] }, { index: 1, embedding: [0, 1] }];
      return Response.json({ object: "list", data });
    },
  );
  try {
    const backend = new OpenAiBackend({ baseUrl: `http://127.0.0.1:${server.addr.port}` });
    const count = await failure(backend.embed("e", ["one"]));
    assertEquals(count.code, ErrorCode.InvalidOutput);
    assertMatch(count.message, /with 2 vectors for 1 texts$/);
    const values = await failure(backend.embed("e", ["one", "two"]));
    assertMatch(values.message, /a vector holding something other than finite numbers$/);
  } finally {
    await server.shutdown();
  }
});
