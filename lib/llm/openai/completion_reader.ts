/**
 * Reads the chunks of a streamed chat completion (`chat.completion.chunk`
 * events) into a reply: its content, `finish_reason`, the last usage and
 * llama.cpp `timings` seen, and when the content arrived.
 *
 * @module
 */
import { escapeControls } from "../../base/sanitize.ts";
import { type OpenAiErrorContext, streamError } from "./openai_errors.ts";
import type { SseEvent } from "./sse_events.ts";

/** Longest `finish_reason` kept: a server's own reasons are names, not prose. */
const _MAX_REASON_CHARS = 40;

/** How a {@linkcode CompletionReader} reads. */
export interface CompletionReaderOptions {
  /** Most characters of content kept; past it reading stops (`capped`). */
  maxChars: number;
  /** Called with each piece of content as it arrives. */
  onToken?: ((text: string) => void) | undefined;
  /** Names the server in an error event's message. */
  context: OpenAiErrorContext;
}

/**
 * The state of one streamed reply. Its fields stay readable after
 * {@linkcode CompletionReader.read} throws, so a cut stream can say how much
 * had arrived.
 *
 * @example Reading chunks
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { CompletionReader } from "./completion_reader.ts";
 *
 * async function* events() {
 *   yield { event: "message", data: '{"choices":[{"delta":{"content":"Hi"}}]}' };
 *   yield { event: "message", data: '{"choices":[{"delta":{},"finish_reason":"stop"}]}' };
 *   yield { event: "message", data: "[DONE]" };
 * }
 * const reader = new CompletionReader({
 *   maxChars: 100,
 *   context: { where: "a server", baseUrl: "http://x/v1", path: "/v1/chat/completions" },
 * });
 * await reader.read(events());
 * strictEqual(reader.content, "Hi");
 * strictEqual(reader.finishReason, "stop");
 * ```
 */
export class CompletionReader {
  /** The content so far. */
  content = "";
  /** The last `finish_reason` given, escaped and bounded; undefined while none came. */
  finishReason: string | undefined;
  /** The stream ended with `data: [DONE]`. */
  done = false;
  /** The reply reached `maxChars` and reading stopped there. */
  capped = false;
  /** The last non-null `usage` object (vLLM may send one in every chunk). */
  usage: Record<string, unknown> | undefined;
  /** The last llama.cpp `timings` object. */
  timings: Record<string, unknown> | undefined;
  /** `performance.now()` of the first and the last piece of content. */
  firstTokenAt: number | undefined;
  lastTokenAt: number | undefined;
  /** `performance.now()` when the stream ended (or reading stopped). */
  endedAt: number | undefined;
  #options: CompletionReaderOptions;

  /** A reader for one reply. */
  constructor(options: CompletionReaderOptions) {
    this.#options = options;
  }

  /**
   * Consumes `events` until `[DONE]`, the end of the stream, or the
   * content cap; returning early ends the iteration, which cancels the body.
   * An event whose data is not JSON is skipped (a keep-alive a proxy adds).
   *
   * @throws {DialogueError} `llm_transient` for an `{"error": …}` chunk;
   * whatever the event source throws (a cut connection) passes through.
   */
  async read(events: AsyncIterable<SseEvent>): Promise<void> {
    try {
      for await (const event of events) {
        if (event.data.trim() === "[DONE]") {
          this.done = true;
          return;
        }
        const chunk = _parse(event.data);
        if (chunk === undefined) continue;
        if (chunk.error !== undefined && chunk.error !== null) {
          throw streamError(chunk.error, this.#options.context);
        }
        if (this.#take(chunk)) return;
      }
    } finally {
      this.endedAt = performance.now();
    }
  }

  /** Takes one chunk in; true when the cap was reached and reading must stop. */
  #take(chunk: Record<string, unknown>): boolean {
    if (_isRecord(chunk.usage)) this.usage = chunk.usage;
    if (_isRecord(chunk.timings)) this.timings = chunk.timings;
    const choices = Array.isArray(chunk.choices) ? chunk.choices : [];
    const choice = choices.find((c) => _isRecord(c) && (c.index ?? 0) === 0);
    if (!_isRecord(choice)) return false;
    const delta = _isRecord(choice.delta) ? choice.delta : {};
    if (typeof delta.content === "string" && delta.content !== "") {
      if (this.#append(delta.content)) return true;
    }
    if (typeof choice.finish_reason === "string" && choice.finish_reason !== "") {
      this.finishReason = escapeControls(choice.finish_reason, { keepNewlines: false })
        .slice(0, _MAX_REASON_CHARS);
    }
    return false;
  }

  #append(piece: string): boolean {
    const now = performance.now();
    this.firstTokenAt ??= now;
    this.lastTokenAt = now;
    const room = this.#options.maxChars - this.content.length;
    if (piece.length < room) {
      this.content += piece;
      this.#options.onToken?.(piece);
      return false;
    }
    // A runaway reply: keep what fits and stop reading, so it is never
    // buffered whole; the caller returns it as cut at the length limit.
    let kept = piece.slice(0, Math.max(0, room));
    if (/[\ud800-\udbff]$/.test(kept)) kept = kept.slice(0, -1); // never half a pair
    this.content += kept;
    if (kept) this.#options.onToken?.(kept);
    this.capped = true;
    return true;
  }
}

function _parse(data: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(data);
    return _isRecord(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function _isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
