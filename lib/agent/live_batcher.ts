/**
 * Live events of one turn, written without making generation wait: tokens
 * are coalesced (every ~25 ms or ~4 KB, whichever comes first), every write
 * is sent on one connection without awaiting it (Redis applies commands of
 * a connection in the order they were sent, so events stay in order), and a
 * byte cap per turn keeps a runaway model from flooding the live stream.
 * One batcher serves a turn from its first attempt to its last, so the cap
 * bounds the turn, not each attempt (a retried runaway reply is not
 * published again).
 *
 * @module
 */
import type { Redis } from "ioredis";
import type { AgentId } from "../model/dialog_message.ts";
import type { LiveEvent } from "../model/live_event.ts";
import { queueLive } from "../bus/live_feed.ts";
import { log } from "../base/logger.ts";

/** Options of a {@linkcode LiveBatcher}. */
export interface LiveBatcherOptions {
  /** Longest a token waits before it is written (ms). @default 25 */
  flushMs?: number;
  /** Characters of text that trigger a write at once (a token event holds at most 4000). @default 4000 */
  batchChars?: number;
  /** Live text (UTF-8 bytes) published per turn; past it the turn's tokens are dropped from the live view only. @default 65536 */
  maxTurnBytes?: number;
}

/** Most characters one `token` event may carry (the LiveEvent schema's limit). */
const MAX_EVENT_CHARS = 4000;

/**
 * The live writer of one turn (`seq`, `agent`) of one conversation.
 *
 * @example
 * ```ts ignore
 * const live = new LiveBatcher(redis, id, 3, 1);
 * live.event({ type: "turn_start", seq: 3, agent: 1, model, at: Date.now() });
 * live.token("Hel"); live.token("lo");
 * live.end({ type: "turn_end", seq: 3, agent: 1, message_id });
 * ```
 */
export class LiveBatcher {
  readonly #redis: Redis;
  readonly #id: string;
  readonly #seq: number;
  readonly #agent: AgentId;
  readonly #flushMs: number;
  readonly #batchChars: number;
  readonly #maxTurnBytes: number;
  #buffer = "";
  #timer: ReturnType<typeof setTimeout> | undefined;
  #bytes = 0;
  #capped = false;
  #warned = false;
  /** Writes sent (for counting and tests). */
  writes = 0;

  constructor(
    redis: Redis,
    conversationId: string,
    turn: { seq: number; agent: AgentId },
    options: LiveBatcherOptions = {},
  ) {
    this.#redis = redis;
    this.#id = conversationId;
    this.#seq = turn.seq;
    this.#agent = turn.agent;
    this.#flushMs = options.flushMs ?? 25;
    this.#batchChars = Math.min(options.batchChars ?? MAX_EVENT_CHARS, MAX_EVENT_CHARS);
    this.#maxTurnBytes = options.maxTurnBytes ?? 65_536;
  }

  /** Whether the turn's live text reached the byte cap. */
  get capped(): boolean {
    return this.#capped;
  }

  /** Sends an event now, after any tokens still buffered. */
  event(event: LiveEvent): void {
    this.#send([...this.#drain(), event]);
  }

  /** Buffers a piece of generated text. */
  token(text: string): void {
    if (this.#capped || !text) return;
    const bytes = _utf8Length(text);
    if (this.#bytes + bytes > this.#maxTurnBytes) {
      this.#capped = true;
      this.#send([...this.#drain(), {
        type: "notice",
        turn: this.#seq,
        text:
          `Live text of turn ${this.#seq} passed ${this.#maxTurnBytes} bytes; the rest is only in the recorded response`,
      }]);
      return;
    }
    this.#bytes += bytes;
    this.#buffer += text;
    if (this.#buffer.length >= this.#batchChars) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), this.#flushMs);
  }

  /** Sends the buffered tokens now. */
  flush(): void {
    const events = this.#drain();
    if (events.length > 0) this.#send(events);
  }

  /** Sends what is buffered, then the turn's last event; the batcher is done. */
  end(event: LiveEvent): void {
    this.event(event);
  }

  #drain(): LiveEvent[] {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const events: LiveEvent[] = [];
    for (let at = 0; at < this.#buffer.length; at += MAX_EVENT_CHARS) {
      events.push({
        type: "token",
        seq: this.#seq,
        agent: this.#agent,
        text: this.#buffer.slice(at, at + MAX_EVENT_CHARS),
      });
    }
    this.#buffer = "";
    return events;
  }

  /** One write (a pipeline when several events), never awaited. */
  #send(events: LiveEvent[]): void {
    if (events.length === 0) return;
    this.writes++;
    const warn = (error: unknown) => this.#warn(error);
    if (events.length === 1) {
      queueLive(this.#redis, this.#id, events[0]!).catch(warn);
      return;
    }
    const pipeline = this.#redis.pipeline();
    for (const event of events) queueLive(pipeline, this.#id, event);
    pipeline.exec().catch(warn);
  }

  #warn(error: unknown): void {
    // Live events are best effort (the response stream is the record): say
    // so once per turn, not once per token.
    if (this.#warned) return;
    this.#warned = true;
    log("agent").warn("Cannot publish live events: {error}", { error: String(error) });
  }
}

function _utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code < 0xdc00) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}
