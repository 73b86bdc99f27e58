/** OllamaBackend against the real HTTP double: what a reply may cost in memory. */
import { assert, assertEquals } from "../../helpers/assert.ts";
import { OllamaDouble } from "../../../lib/testing/ollama_double.ts";
import { CONTENT_MARGIN_CHARS, OllamaBackend } from "../../../lib/llm/ollama/ollama_backend.ts";
import { MAX_CONTENT_CHARS } from "../../../lib/model/dialog_message.ts";

Deno.test("OllamaBackend.chat() stops reading a runaway reply past MAX_CONTENT_CHARS plus a margin and returns it cut at the length limit", async () => {
  const double = await OllamaDouble.start({ splitUtf8: false });
  try {
    // 100 KB of words, streamed a word per chunk: never buffered whole.
    const huge = "word ".repeat(20_000);
    double.enqueueFault({ kind: "text", content: huge });
    const backend = new OllamaBackend({ host: double.url });
    let streamed = 0;
    const result = await backend.chat(
      { model: "tiny", messages: [{ role: "user", content: "talk" }] },
      { onToken: (piece) => streamed += piece.length },
    );
    const bound = MAX_CONTENT_CHARS + CONTENT_MARGIN_CHARS;
    assertEquals(result.content.length, bound);
    assertEquals(streamed, bound, "onToken saw only what was kept");
    assertEquals(result.doneReason, "length", "treated as a reply cut at the length limit");
    assert(result.content === huge.slice(0, bound));
    // The double still answers: the cut request did not wedge it.
    const next = await backend.chat({ model: "tiny", messages: [{ role: "user", content: "hi" }] });
    assertEquals(next.doneReason, "stop");
  } finally {
    await double.close();
  }
});

Deno.test("OllamaBackend.chat() reports Ollama's counts as `reported` and its nanoseconds as milliseconds", async () => {
  const double = await OllamaDouble.start({ splitUtf8: false });
  try {
    const backend = new OllamaBackend({ host: double.url });
    const result = await backend.chat({
      model: "tiny",
      messages: [{ role: "user", content: "hi" }],
    });
    const m = result.metrics;
    assert(m.generatedTokens > 0 && m.promptTokens > 0, JSON.stringify(m));
    assertEquals(m.sources, {
      promptTokens: "reported",
      generatedTokens: "reported",
      timings: "reported",
    });
    // The double's durations are the real time it took: far below the wall time in ms, never ns.
    assert(m.totalMs > 0 && m.totalMs <= result.wallMs + 1, `${m.totalMs} ms of ${result.wallMs}`);
    assertEquals(backend.kind, "ollama");
  } finally {
    await double.close();
  }
});

Deno.test("OllamaBackend.chat() estimates, and labels so, the counts of a reply it cut (Ollama never reported them)", async () => {
  const double = await OllamaDouble.start({ splitUtf8: false });
  try {
    double.enqueueFault({ kind: "text", content: "word ".repeat(20_000) });
    const backend = new OllamaBackend({ host: double.url, maxContentChars: 400 });
    const result = await backend.chat({
      model: "tiny",
      messages: [{ role: "user", content: "talk" }],
    });
    assertEquals(result.doneReason, "length");
    assertEquals(result.metrics.sources.generatedTokens, "estimated");
    assertEquals(result.metrics.generatedTokens, 100, "400 characters, ~4 a token");
  } finally {
    await double.close();
  }
});

Deno.test("OllamaBackend.embed() returns one vector per text through /api/embed", async () => {
  const double = await OllamaDouble.start();
  try {
    const backend = new OllamaBackend({ host: double.url });
    const vectors = await backend.embed("tiny", ["a storm", "a lamp", "a ship"]);
    assertEquals(vectors.length, 3);
    assert(vectors.every((v) => v.length > 0 && v.every(Number.isFinite)));
  } finally {
    await double.close();
  }
});
