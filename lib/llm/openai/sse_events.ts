/**
 * Server-sent events read from an HTTP body, as OpenAI-compatible servers
 * stream a chat completion. Hand-written rather than taken from npm: the
 * part of the protocol these servers use is a few lines (`data:` fields, `:`
 * comments, blank-line dispatch, any of CRLF / LF / CR), and owning it lets
 * us bound what one event may buffer and cancel the body the moment the
 * reader stops.
 *
 * @module
 */

/** One dispatched event of a `text/event-stream`. */
export interface SseEvent {
  /** The `event:` field; `message` when the event gave none. */
  event: string;
  /** Its `data:` lines joined with `\n`. */
  data: string;
}

/** Options of {@linkcode sseEvents}. */
export interface SseEventsOptions {
  /**
   * Most characters one event (its unfinished line plus its data) may hold.
   * A server that never ends a line would otherwise grow the buffer without
   * limit; past this the read stops with a `RangeError`.
   *
   * @default {1048576}
   */
  maxEventChars?: number;
}

/**
 * Yields the events of `body` as they complete. Bytes are decoded as a
 * stream, so a multibyte character split across network chunks comes out
 * whole, and a CR ending one chunk pairs with an LF starting the next.
 *
 * At the end of the body a last event whose lines were all complete is
 * still dispatched (some servers omit the final blank line after
 * `data: [DONE]`), but a line cut short is dropped: a half-received JSON
 * chunk is never handed on. Leaving the loop early (a `break`, a throw)
 * cancels the body, which closes the connection.
 *
 * @throws {RangeError} When an event grows past `maxEventChars`.
 *
 * @example Reading two events
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { sseEvents } from "./sse_events.ts";
 *
 * const body = new Response(": hi\r\ndata: {\"a\":1}\r\n\r\ndata: [DONE]\n\n").body!;
 * const data: string[] = [];
 * for await (const event of sseEvents(body)) data.push(event.data);
 * strictEqual(data.join("|"), "{\"a\":1}|[DONE]");
 * ```
 */
export async function* sseEvents(
  body: ReadableStream<Uint8Array>,
  options: SseEventsOptions = {},
): AsyncGenerator<SseEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const parser = new _SseParser(options.maxEventChars ?? 1_048_576);
  let finished = false;
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) {
        finished = true;
        yield* parser.push(decoder.decode());
        yield* parser.end();
        return;
      }
      yield* parser.push(decoder.decode(value, { stream: true }));
    }
  } finally {
    // A consumer that stops early must not leave the socket open.
    if (!finished) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

/** The line and field state of one event stream (WHATWG HTML §9.2.6, the parts servers use). */
class _SseParser {
  #max: number;
  #partial = ""; // an unfinished line, never holding a line terminator
  #afterCr = false; // the last chunk ended in CR: a leading LF belongs to it
  #event = "";
  #data: string[] = [];
  #dataChars = 0;

  constructor(max: number) {
    this.#max = max;
  }

  push(text: string): SseEvent[] {
    if (this.#afterCr && text.startsWith("\n")) text = text.slice(1);
    if (text === "") return [];
    this.#afterCr = false;
    const events: SseEvent[] = [];
    const buffer = this.#partial + text;
    const terminators = /\r\n|\r|\n/g;
    // The old partial holds no terminator: scanning it again would make a
    // long line split over many chunks quadratic.
    terminators.lastIndex = this.#partial.length;
    this.#partial = "";
    let from = 0;
    for (let match = terminators.exec(buffer); match; match = terminators.exec(buffer)) {
      const event = this.#line(buffer.slice(from, match.index));
      if (event) events.push(event);
      from = terminators.lastIndex;
      if (match[0] === "\r" && from === buffer.length) this.#afterCr = true;
    }
    this.#partial = buffer.slice(from);
    this.#check();
    return events;
  }

  end(): SseEvent[] {
    this.#partial = "";
    const event = this.#dispatch();
    return event ? [event] : [];
  }

  #line(line: string): SseEvent | undefined {
    if (line === "") return this.#dispatch();
    if (line.startsWith(":")) return undefined;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") {
      this.#dataChars += value.length + 1;
      this.#data.push(value);
      this.#check();
    } else if (field === "event") {
      this.#event = value;
    }
    return undefined;
  }

  #dispatch(): SseEvent | undefined {
    const data = this.#data;
    const event = this.#event || "message";
    this.#data = [];
    this.#dataChars = 0;
    this.#event = "";
    return data.length === 0 ? undefined : { event, data: data.join("\n") };
  }

  /** The unfinished line counts too: it is where a never-ending event grows. */
  #check(): void {
    if (this.#partial.length + this.#dataChars > this.#max) {
      throw new RangeError(
        `Cannot read the event stream as one event passed ${this.#max} characters: the server never ended it`,
      );
    }
  }
}
