/**
 * A test's browser tab without the browser: reads a Server-Sent Events
 * stream over real HTTP and hands over its messages as they come.
 *
 * @module
 */

/** One message of an event stream. */
export interface SseMessage {
  event: string;
  data: string;
  /** When it was read (performance.now()). */
  at: number;
}

/** An open event stream. */
export class SseReader {
  readonly messages: SseMessage[] = [];
  readonly status: number;
  readonly #body: ReadableStreamDefaultReader<Uint8Array>;
  readonly #pump: Promise<void>;
  #waiters: (() => void)[] = [];
  #ended = false;

  private constructor(status: number, body: ReadableStreamDefaultReader<Uint8Array>) {
    this.status = status;
    this.#body = body;
    this.#pump = this.#read();
  }

  /**
   * Opens `url` with `headers`.
   *
   * @throws {Error} when the answer is not an event stream (its status and text).
   */
  static async open(url: string, headers: Record<string, string> = {}): Promise<SseReader> {
    const res = await fetch(url, { headers });
    if (!res.ok || !res.body || !res.headers.get("content-type")?.includes("text/event-stream")) {
      const text = await res.text();
      throw new Error(`Not an event stream: ${res.status} ${text}`);
    }
    return new SseReader(res.status, res.body.getReader());
  }

  /** Waits for the first message after index `from` that `match` accepts. */
  async next(
    what: string,
    match: (m: SseMessage) => boolean,
    options: { from?: number; timeoutMs?: number } = {},
  ): Promise<SseMessage> {
    const giveUp = Date.now() + (options.timeoutMs ?? 10_000);
    let index = options.from ?? 0;
    while (true) {
      for (; index < this.messages.length; index++) {
        const m = this.messages[index]!;
        if (match(m)) return m;
      }
      if (this.#ended) throw new Error(`The stream ended before ${what}`);
      const left = giveUp - Date.now();
      if (left <= 0) {
        throw new Error(
          `Timed out waiting for ${what}; got ${
            this.messages.map((m) => `${m.event}:${m.data.slice(0, 120)}`).join("\n")
          }`,
        );
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }

  /** Messages of `event`, their data parsed. */
  parsed(event: string): unknown[] {
    return this.messages.filter((m) => m.event === event).map((m) => JSON.parse(m.data));
  }

  /** Closes the stream (as a tab that leaves). */
  async close(): Promise<void> {
    await this.#body.cancel().catch(() => {});
    await this.#pump;
  }

  async #read(): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      while (true) {
        const { value, done } = await this.#body.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = "message";
          const data: string[] = [];
          for (const line of block.split("\n")) {
            if (line.startsWith("event: ")) event = line.slice(7);
            else if (line.startsWith("data: ")) data.push(line.slice(6));
          }
          if (data.length > 0) {
            this.messages.push({ event, data: data.join("\n"), at: performance.now() });
          }
        }
        for (const w of this.#waiters.splice(0)) w();
      }
    } catch {
      // Cancelled.
    } finally {
      this.#ended = true;
      for (const w of this.#waiters.splice(0)) w();
    }
  }
}
