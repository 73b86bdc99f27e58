/**
 * One browser's event stream: messages are queued and written in order; a
 * tab that stops reading is dropped once its queue is long, rather than
 * holding the server's memory; a comment every few seconds keeps proxies
 * from closing an idle stream. {@linkcode SseRegistry} closes every stream
 * when the server stops (an open stream would otherwise hold it).
 *
 * @module
 */
import type { SSEStreamingApi } from "hono/streaming";

/** Messages a tab may be behind before it is dropped. */
export const SSE_MAX_QUEUED = 2000;
const _KEEPALIVE_MS = 15_000;

/** The open streams of one server. */
export class SseRegistry {
  readonly #open = new Set<SseClient>();

  /** A new client, closed with the registry. */
  client(): SseClient {
    const client = new SseClient(() => this.#open.delete(client));
    this.#open.add(client);
    return client;
  }

  /** Open streams. */
  get size(): number {
    return this.#open.size;
  }

  /** Ends every stream. */
  closeAll(): void {
    for (const client of [...this.#open]) client.close();
  }
}

/** A queue of messages for one stream; messages sent before it is attached wait. */
export class SseClient {
  readonly #onClose: () => void;
  readonly #buffer: { event: string; data: string }[] = [];
  #stream: SSEStreamingApi | undefined;
  #chain: Promise<void> = Promise.resolve();
  #queued = 0;
  #closed = false;
  #done!: () => void;
  #keepalive: ReturnType<typeof setInterval> | undefined;
  /** Resolves when the stream ends (the tab left, it fell behind, or the server stops). */
  readonly closed: Promise<void>;

  constructor(onClose: () => void) {
    this.#onClose = onClose;
    this.closed = new Promise((resolve) => this.#done = resolve);
  }

  /** Starts writing to `stream`, what was sent so far first. */
  attach(stream: SSEStreamingApi): void {
    if (this.#closed) return;
    this.#stream = stream;
    stream.onAbort(() => this.close());
    for (const message of this.#buffer.splice(0)) this.send(message.event, message.data);
    this.#keepalive = setInterval(
      () => this.#write(() => stream.write(": keep-alive\n\n")),
      _KEEPALIVE_MS,
    );
  }

  /** Queues one message (`data` is one line of JSON). */
  send(event: string, data: string): void {
    if (this.#closed) return;
    const stream = this.#stream;
    if (!stream) {
      this.#buffer.push({ event, data });
      return;
    }
    this.#write(() => stream.writeSSE({ event, data }));
  }

  /** Ends the stream. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#keepalive);
    this.#onClose();
    this.#done();
  }

  #write(write: () => Promise<unknown>): void {
    if (++this.#queued > SSE_MAX_QUEUED) {
      this.close();
      return;
    }
    this.#chain = this.#chain.then(async () => {
      this.#queued--;
      if (!this.#closed) await write();
    }).catch(() => this.close());
  }
}
