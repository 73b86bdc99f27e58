/**
 * Which cards the overview shows: the user's filter by status, model and
 * flag and the search by id or persona. Pure, shared by the page and its
 * tests.
 *
 * @module
 */
import type { CardFlag, ConversationCard } from "./conversation_card.ts";

/** The overview's filter; an empty field matches everything. */
export interface CardFilter {
  status?: string;
  model?: string;
  flag?: CardFlag | "";
  /** Part of the id or of a persona's name, any case. */
  search?: string;
}

/**
 * Whether `card` passes `filter`. The model matches either agent's or the
 * manager's model.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { cardMatches } from "./card_filter.ts";
 * const card = {
 *   id: "c1", status: "running" as const, personas: ["Mara", "Ilya"] as [string, string],
 *   models: { manager: "m", agent1: "llama3.2", agent2: "qwen" }, flags: ["loop" as const],
 * };
 * strictEqual(cardMatches(card, { search: "ily", model: "qwen", flag: "loop" }), true);
 * strictEqual(cardMatches(card, { status: "completed" }), false);
 * ```
 */
export function cardMatches(
  card: Pick<ConversationCard, "id" | "status" | "personas" | "models" | "flags">,
  filter: CardFilter,
): boolean {
  if (filter.status && card.status !== filter.status) return false;
  if (filter.flag && !card.flags.includes(filter.flag)) return false;
  const models = [card.models.agent1, card.models.agent2, card.models.manager];
  if (filter.model && !models.includes(filter.model)) return false;
  const search = filter.search?.trim().toLowerCase();
  if (search) {
    const haystack = [card.id, ...card.personas].map((s) => s.toLowerCase());
    if (!haystack.some((s) => s.includes(search))) return false;
  }
  return true;
}

/** The models cards use, sorted, for the filter's choices. */
export function cardModels(cards: Iterable<Pick<ConversationCard, "models">>): string[] {
  const out = new Set<string>();
  for (const c of cards) for (const m of [c.models.agent1, c.models.agent2]) out.add(m);
  return [...out].sort();
}
