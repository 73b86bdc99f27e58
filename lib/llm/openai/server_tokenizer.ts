/**
 * Counting generated tokens with the server's own tokenizer, for a stream
 * that ended without its usage chunk (a server that ignores
 * `stream_options.include_usage`).
 *
 * @module
 */

/** Sends one request to the server (the backend's funnel: its URL, headers and key). */
export type ServerFetch = (path: string, body: unknown, signal: AbortSignal) => Promise<Response>;

/** How long a count may take before the reply's tokens are estimated instead. */
const _TIMEOUT_MS = 10_000;

/**
 * The `POST /tokenize` endpoint that llama.cpp's server and vLLM serve at
 * their root. A server without it (404, 405, 501, or an answer of another
 * shape) is remembered, so each backend asks at most once and then
 * estimates; any other failure only costs that one count.
 *
 * @example
 * ```ts
 * import { ServerTokenizer } from "./server_tokenizer.ts";
 *
 * const tokenizer = new ServerTokenizer((path, body, signal) =>
 *   fetch(`http://127.0.0.1:8080${path}`, { method: "POST", body: JSON.stringify(body), signal })
 * );
 * const count = await tokenizer.count("Hello there", "tiny"); // undefined when unavailable
 * ```
 */
export class ServerTokenizer {
  #fetch: ServerFetch;
  #missing = false;

  /** A tokenizer reached through `fetch`. */
  constructor(fetch: ServerFetch) {
    this.#fetch = fetch;
  }

  /** True once the server proved to have no `/tokenize`. */
  get missing(): boolean {
    return this.#missing;
  }

  /**
   * Tokens of `text` as the server's tokenizer for `model` counts them,
   * without special tokens (it is generated text, not a prompt), or
   * undefined when it cannot say. Never throws: the reply it counts stands
   * either way.
   */
  async count(text: string, model: string, signal?: AbortSignal): Promise<number | undefined> {
    if (this.#missing) return undefined;
    // llama.cpp reads `content` and `add_special`, vLLM `prompt` and
    // `add_special_tokens`; each ignores the other's fields.
    const body = {
      content: text,
      prompt: text,
      model,
      add_special: false,
      add_special_tokens: false,
    };
    const timeout = AbortSignal.timeout(_TIMEOUT_MS);
    try {
      const response = await this.#fetch(
        "/tokenize",
        body,
        signal ? AbortSignal.any([signal, timeout]) : timeout,
      );
      if (!response.ok) {
        await response.body?.cancel();
        if ([404, 405, 501].includes(response.status)) this.#missing = true;
        return undefined;
      }
      const value = await response.json() as { count?: unknown; tokens?: unknown };
      const count = _isCount(value.count)
        ? value.count
        : Array.isArray(value.tokens)
        ? value.tokens.length
        : undefined;
      if (count === undefined) this.#missing = true;
      return count;
    } catch {
      return undefined;
    }
  }
}

function _isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0;
}
