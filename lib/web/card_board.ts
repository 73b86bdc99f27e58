/**
 * The overview's cards, kept by the hub and handed to every tab in
 * batches: a card changed many times between two batches is sent once, in
 * its latest state, and the batch is serialized once for all tabs.
 *
 * @module
 */
import { compareCards, type ConversationCard } from "./conversation_card.ts";
import { UpdateBatcher } from "./update_batcher.ts";

/** Receives serialized JSON, the same string for every tab. */
export type JsonListener = (json: string) => void;

/** Every card, and the batches of those that changed. */
export class CardBoard {
  readonly #cards = new Map<string, ConversationCard>();
  readonly #listeners = new Set<JsonListener>();
  readonly #batcher: UpdateBatcher<string>;

  /** @param batchMs time between two batches */
  constructor(batchMs: number) {
    this.#batcher = new UpdateBatcher((ids) => this.#flush(ids), { intervalMs: batchMs });
  }

  get(id: string): ConversationCard | undefined {
    return this.#cards.get(id);
  }

  /** Replaces a card; it goes out with the next batch unless it is the same object. */
  set(id: string, card: ConversationCard): void {
    if (this.#cards.get(id) === card) return;
    this.#cards.set(id, card);
    this.#batcher.mark(id);
  }

  /** Every card, in overview order. */
  all(): ConversationCard[] {
    return [...this.#cards.values()].sort(compareCards);
  }

  /** Calls `listener` with each batch (`{cards, now}`); returns the unsubscribe. */
  onBatch(listener: JsonListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Stops batching. */
  close(): void {
    this.#batcher.close();
  }

  #flush(ids: string[]): void {
    if (this.#listeners.size === 0) return;
    const cards = ids.flatMap((id) => this.#cards.get(id) ?? []);
    const json = JSON.stringify({ cards, now: Date.now() });
    for (const listener of this.#listeners) listener(json);
  }
}
