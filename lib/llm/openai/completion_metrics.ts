/**
 * The {@linkcode GenerationMetrics} of a streamed chat completion, each
 * figure labelled with where it came from. Token counts: the `usage` chunk
 * (`reported`), else llama.cpp's `timings` counts (`reported`), else the
 * server's tokenizer (`counted`), else characters / 4 (`estimated`).
 * Durations: llama.cpp's `timings` (`reported`), else our clock (`timed`).
 * A count of 0 against text that is not empty is a server that fills
 * `usage` with zeros, not a measurement, and is not taken.
 *
 * @module
 */
import { estimateTokens, type GenerationMetrics } from "../llm_backend.ts";

/** The figures of a finished stream that the metrics are made from. */
export interface CompletionFigures {
  content: string;
  /** The last `usage` object the stream carried. */
  usage?: Record<string, unknown> | undefined;
  /** The last llama.cpp `timings` object. */
  timings?: Record<string, unknown> | undefined;
  /** `performance.now()` of the first and last piece of content, and of the end. */
  firstTokenAt?: number | undefined;
  lastTokenAt?: number | undefined;
  endedAt?: number | undefined;
}

/** Token counts the server gave; a field is undefined when it gave none worth taking. */
export interface ReportedTokens {
  prompt?: number;
  generated?: number;
}

/**
 * The token counts the server reported for `figures`, `usage` first.
 * llama.cpp's `prompt_n` leaves out the tokens it reused from its cache
 * (`cache_n`); both are added so the figure means the prompt's size, as
 * `usage.prompt_tokens` does.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { reportedTokens } from "./completion_metrics.ts";
 *
 * deepStrictEqual(
 *   reportedTokens({ content: "Hi", usage: { prompt_tokens: 9, completion_tokens: 0 } }, "hello"),
 *   { prompt: 9 },
 * );
 * ```
 */
export function reportedTokens(figures: CompletionFigures, promptText: string): ReportedTokens {
  const usage = figures.usage ?? {};
  const timings = figures.timings ?? {};
  const evaluated = _count(timings.prompt_n);
  const fromTimings = evaluated === undefined
    ? undefined
    : evaluated + (_count(timings.cache_n) ?? 0);
  const prompt = _plausible([_count(usage.prompt_tokens), fromTimings], promptText);
  const generated = _plausible(
    [_count(usage.completion_tokens), _count(timings.predicted_n)],
    figures.content,
  );
  const out: ReportedTokens = {};
  if (prompt !== undefined) out.prompt = prompt;
  if (generated !== undefined) out.generated = generated;
  return out;
}

/** Options of {@linkcode completionMetrics}. */
export interface CompletionMetricsOptions {
  /** `performance.now()` when the request was sent. */
  started: number;
  /** The text of every message sent, for an estimate of the prompt's tokens. */
  promptText: string;
  /** Generated tokens counted with the server's tokenizer, when it has one. */
  countedTokens?: number | undefined;
}

/**
 * The metrics of a finished stream. When our clock is the source,
 * `promptMs` is request → first token (it includes the network and any
 * queue, so it is an upper bound of the prompt's evaluation) and
 * `generationMs` first → last token; `loadMs` is never known here.
 */
export function completionMetrics(
  figures: CompletionFigures,
  options: CompletionMetricsOptions,
): GenerationMetrics {
  const reported = reportedTokens(figures, options.promptText);
  const sources: GenerationMetrics["sources"] = {
    promptTokens: reported.prompt === undefined ? "estimated" : "reported",
    generatedTokens: "reported",
    timings: "timed",
  };
  let generated = reported.generated;
  if (generated === undefined) {
    if (figures.content === "") {
      generated = 0; // nothing arrived: nothing to count
      sources.generatedTokens = "counted";
    } else if (options.countedTokens !== undefined) {
      generated = options.countedTokens;
      sources.generatedTokens = "counted";
    } else {
      generated = estimateTokens(figures.content);
      sources.generatedTokens = "estimated";
    }
  }
  const promptMs = _ms(figures.timings?.prompt_ms);
  const generationMs = _ms(figures.timings?.predicted_ms);
  const ended = figures.endedAt ?? performance.now();
  let timings: Pick<GenerationMetrics, "promptMs" | "generationMs" | "totalMs">;
  if (promptMs !== undefined && generationMs !== undefined) {
    sources.timings = "reported";
    timings = { promptMs, generationMs, totalMs: promptMs + generationMs };
  } else {
    const first = figures.firstTokenAt ?? ended;
    timings = {
      promptMs: first - options.started,
      generationMs: (figures.lastTokenAt ?? first) - first,
      totalMs: ended - options.started,
    };
  }
  return {
    promptTokens: reported.prompt ?? estimateTokens(options.promptText),
    generatedTokens: generated,
    loadMs: 0,
    ...timings,
    sources,
  };
}

/** The first count given that can be true of `text`: 0 only when it is empty. */
function _plausible(counts: (number | undefined)[], text: string): number | undefined {
  return counts.find((count) => count !== undefined && (count > 0 || text === ""));
}

function _count(value: unknown): number | undefined {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 ? value : undefined;
}

function _ms(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : undefined;
}
