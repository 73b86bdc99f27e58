/**
 * What an agent keeps in memory per conversation so that a turn reads only
 * what changed: the parts of the metadata that never change once the run
 * has started (scenario, models) and the last responses (the prompt's
 * history), appended turn by turn. Bounded: least recently used
 * conversations are dropped first.
 *
 * @module
 */
import type { DialogMessage } from "../model/dialog_message.ts";
import type { Scenario } from "../model/story.ts";
import type { ConversationMeta } from "../model/conversation_meta.ts";
import type { RunOverrides } from "../config/run_overrides.ts";

/** One conversation as cached. */
export interface CachedConversation {
  scenario: Scenario;
  models: ConversationMeta["models"];
  /** The backend of each role, as the run recorded it (absent: Ollama, as older runs). */
  backends?: ConversationMeta["backends"];
  /** The run's own generation settings (`meta.config`), applied over the pool's. */
  overrides?: RunOverrides;
  /** Accepted responses of consecutive turns, oldest first, at most `maxMessages`. */
  history: DialogMessage[];
}

/** Options of a {@linkcode ConversationCache}. */
export interface ConversationCacheOptions {
  /** Responses kept per conversation (`conversation.history_messages`). */
  maxMessages: number;
  /** Conversations kept. @default 1000 */
  maxConversations?: number;
}

/**
 * A bounded LRU of {@linkcode CachedConversation}s.
 *
 * @example
 * ```ts
 * import { ConversationCache } from "./conversation_cache.ts";
 * const cache = new ConversationCache({ maxMessages: 40 });
 * cache.missing("c1", 5); // [1, 2, 3, 4]: nothing cached yet
 * ```
 */
export class ConversationCache {
  readonly #entries = new Map<string, CachedConversation>();
  readonly #maxMessages: number;
  readonly #maxConversations: number;

  constructor(options: ConversationCacheOptions) {
    this.#maxMessages = options.maxMessages;
    this.#maxConversations = options.maxConversations ?? 1000;
  }

  /** Number of conversations cached. */
  get size(): number {
    return this.#entries.size;
  }

  /** The cached conversation (marked as recently used), if any. */
  get(id: string): CachedConversation | undefined {
    const entry = this.#entries.get(id);
    if (entry) {
      this.#entries.delete(id);
      this.#entries.set(id, entry);
    }
    return entry;
  }

  /** Caches a conversation's static metadata, keeping its history if cached. */
  remember(id: string, parts: Omit<CachedConversation, "history">): CachedConversation {
    const entry = { history: [], ...this.#entries.get(id), ...parts };
    this.#entries.delete(id);
    this.#entries.set(id, entry);
    while (this.#entries.size > this.#maxConversations) {
      this.#entries.delete(this.#entries.keys().next().value!);
    }
    return entry;
  }

  /** Forgets a conversation (it ended). */
  forget(id: string): void {
    this.#entries.delete(id);
  }

  /**
   * Turns whose responses the prompt of turn `seq` needs and the cache lacks,
   * oldest first: at most the last `maxMessages` before `seq`.
   */
  missing(id: string, seq: number): number[] {
    const history = this.#entries.get(id)?.history ?? [];
    const last = history.at(-1)?.metadata.sequence_number ?? 0;
    const from = Math.max(last + 1, seq - this.#maxMessages, 1);
    const out: number[] = [];
    for (let s = from; s < seq; s++) out.push(s);
    return out;
  }

  /**
   * Adds accepted responses (consecutive turns after the cached ones, as
   * {@linkcode missing} asked for). A gap restarts the history after it.
   */
  append(id: string, responses: DialogMessage[]): void {
    const entry = this.#entries.get(id);
    if (!entry) return;
    for (const response of responses) {
      const seq = response.metadata.sequence_number;
      const last = entry.history.at(-1)?.metadata.sequence_number ?? 0;
      if (seq <= last) continue;
      if (seq !== last + 1) entry.history = [];
      entry.history.push(response);
    }
    if (entry.history.length > this.#maxMessages) {
      entry.history = entry.history.slice(-this.#maxMessages);
    }
  }

  /** The cached responses before turn `seq`. */
  historyBefore(id: string, seq: number): DialogMessage[] {
    const history = this.#entries.get(id)?.history ?? [];
    return history.filter((m) => m.metadata.sequence_number < seq);
  }
}
