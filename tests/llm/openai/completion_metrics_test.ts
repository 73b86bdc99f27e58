/** completionMetrics(): where each figure of a finished stream comes from. */
import { assertEquals } from "../../helpers/assert.ts";
import { estimateTokens } from "../../../lib/llm/llm_backend.ts";
import { completionMetrics } from "../../../lib/llm/openai/completion_metrics.ts";

const times = { firstTokenAt: 110, lastTokenAt: 150, endedAt: 160 };

Deno.test("completionMetrics() does not take a usage of zeros for text that is not empty as reported", () => {
  const metrics = completionMetrics(
    { content: "Some words here.", usage: { prompt_tokens: 0, completion_tokens: 0 }, ...times },
    { started: 100, promptText: "A prompt of several words." },
  );
  assertEquals(metrics.sources, {
    promptTokens: "estimated",
    generatedTokens: "estimated",
    timings: "timed",
  });
  assertEquals(metrics.generatedTokens, estimateTokens("Some words here."));
  assertEquals(metrics.promptTokens, estimateTokens("A prompt of several words."));
});

Deno.test("completionMetrics() times the stream itself: request to first token, first to last, request to end", () => {
  const metrics = completionMetrics(
    { content: "x", usage: { prompt_tokens: 3, completion_tokens: 1 }, ...times },
    { started: 100, promptText: "p" },
  );
  assertEquals(
    [metrics.promptMs, metrics.generationMs, metrics.totalMs, metrics.loadMs],
    [10, 40, 60, 0],
  );
});

Deno.test("completionMetrics() adds llama.cpp's cached prompt tokens to the evaluated ones", () => {
  const metrics = completionMetrics({
    content: "x",
    timings: { prompt_n: 4, cache_n: 20, predicted_n: 1, prompt_ms: 2.5, predicted_ms: 1 },
    ...times,
  }, { started: 100, promptText: "p" });
  assertEquals([metrics.promptTokens, metrics.generatedTokens], [24, 1]);
  assertEquals([metrics.promptMs, metrics.generationMs, metrics.totalMs], [2.5, 1, 3.5]);
  assertEquals(metrics.sources.timings, "reported");
});
