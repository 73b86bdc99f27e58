/**
 * What the overview shows of one conversation, and how live events change
 * it. Pure: the hub feeds it metadata, live events, accepted messages and
 * analysis flags; the page renders it as it comes. Model text in a card is
 * sanitized here (escape sequences and control characters removed) and put
 * in the page as text, never as HTML.
 *
 * @module
 */
import type { ConversationMeta } from "../model/conversation_meta.ts";
import type { DialogMessage } from "../model/dialog_message.ts";
import type { ProgressEvent } from "../model/progress_event.ts";
import { sanitizeText } from "../base/sanitize.ts";
import { speakerName } from "../view/turn_lines.ts";

/** Flags the overview shows and filters by (the analysis's codes of the same name). */
export const CARD_FLAGS = ["loop", "stale", "drift", "truncated", "errors"] as const;
/** One of {@linkcode CARD_FLAGS}. */
export type CardFlag = typeof CARD_FLAGS[number];

/** Characters of the last words a card keeps. */
export const LAST_WORDS_CHARS = 240;

/** One conversation as the overview shows it. */
export interface ConversationCard {
  id: string;
  status: ConversationMeta["status"];
  stop_reason?: ConversationMeta["stop_reason"];
  /** Why it failed (sanitized, one line). */
  error?: string;
  created_at: number;
  started_at?: number;
  ended_at?: number;
  /** Epoch ms; the page counts the time left down from it. */
  deadline?: number;
  turns: number;
  max_turns: number;
  models: ConversationMeta["models"];
  /** The backend per role; runs recorded before backends were chosen used Ollama. */
  backends: NonNullable<ConversationMeta["backends"]>;
  /** Persona names of agent 1 and 2 (sanitized), `Agent 1`/`Agent 2` without a scenario. */
  personas: [string, string];
  /** Output rate of the last finished turn. */
  tokens_per_second?: number;
  /** The turn being generated, if any. */
  speaking?: { seq: number; agent: 1 | 2 };
  /** The end of the latest text, streaming while a turn is generated (sanitized). */
  last: string;
  flags: CardFlag[];
}

/**
 * A card from a run's metadata; the live fields start empty.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { cardFromMeta } from "./conversation_card.ts";
 * const card = cardFromMeta({
 *   id: "c1", status: "running", created_at: 1, turns: 2, max_turns: 8, duration_seconds: 60,
 *   models: { manager: "m", agent1: "a", agent2: "b" }, config: {},
 * });
 * strictEqual(card.personas[0], "Agent 1");
 * strictEqual(card.backends.agent2, "ollama");
 * ```
 */
export function cardFromMeta(meta: ConversationMeta): ConversationCard {
  return withMeta({
    id: meta.id,
    status: meta.status,
    created_at: meta.created_at,
    turns: 0,
    max_turns: meta.max_turns,
    models: meta.models,
    backends: { manager: "ollama", agent1: "ollama", agent2: "ollama" },
    personas: ["Agent 1", "Agent 2"],
    last: "",
    flags: [],
  }, meta);
}

/** `card` with the fields its metadata holds replaced by `meta`'s (the live fields kept). */
export function withMeta(card: ConversationCard, meta: ConversationMeta): ConversationCard {
  const out: ConversationCard = {
    ...card,
    status: meta.status,
    created_at: meta.created_at,
    turns: Math.max(card.turns, meta.turns),
    max_turns: meta.max_turns,
    models: meta.models,
    backends: meta.backends ?? card.backends,
    personas: [speakerName(meta, 1), speakerName(meta, 2)],
  };
  _set(out, "stop_reason", meta.stop_reason);
  _set(out, "error", meta.error === undefined ? undefined : _oneLine(meta.error, 300));
  _set(out, "started_at", meta.started_at);
  _set(out, "ended_at", meta.ended_at);
  _set(out, "deadline", meta.deadline);
  if (meta.status !== "running") delete out.speaking;
  if (meta.status === "failed") out.flags = addFlag(out.flags, "errors");
  return out;
}

/** `card` once turn `seq` of `agent` started: the last words start over. */
export function withTurnStart(card: ConversationCard, seq: number, agent: 1 | 2): ConversationCard {
  return { ...card, speaking: { seq, agent }, last: "" };
}

/** `card` with `text` (already sanitized) streamed into the turn being generated. */
export function withTokens(
  card: ConversationCard,
  seq: number,
  agent: 1 | 2,
  text: string,
): ConversationCard {
  const last = card.speaking?.seq === seq ? card.last + text : text;
  return { ...card, speaking: { seq, agent }, last: last.slice(-LAST_WORDS_CHARS) };
}

/**
 * `card` once a reply was recorded: its rate, its last words, and the
 * `truncated` (cut at the token limit) and `errors` (a retry or an error)
 * flags it raises.
 */
export function withMessage(card: ConversationCard, message: DialogMessage): ConversationCard {
  const md = message.metadata;
  let flags = card.flags;
  if (md.done_reason === "length") flags = addFlag(flags, "truncated");
  if ((md.attempts ?? 1) > 1 || md.error !== undefined) flags = addFlag(flags, "errors");
  const out: ConversationCard = {
    ...card,
    turns: Math.max(card.turns, md.sequence_number),
    last: _oneLine(message.content, LAST_WORDS_CHARS * 4).slice(-LAST_WORDS_CHARS),
    flags,
  };
  if (md.tokens_per_second > 0) out.tokens_per_second = md.tokens_per_second;
  if (card.speaking?.seq === md.sequence_number) delete out.speaking;
  return out;
}

/** `card` after a per-turn progress event of the manager (turns accepted, status). */
export function withProgress(card: ConversationCard, event: ProgressEvent): ConversationCard {
  const out: ConversationCard = { ...card, turns: Math.max(card.turns, event.turns) };
  if (card.stop_reason === undefined) out.status = event.status;
  if (event.type === "progress") {
    if (event.max_turns > 0) out.max_turns = event.max_turns;
    if (event.tokens_per_second !== undefined) out.tokens_per_second = event.tokens_per_second;
  } else if (event.stop_reason) {
    out.stop_reason = event.stop_reason;
  }
  return out;
}

/** `card` with the flags the analysis found among {@linkcode CARD_FLAGS} added. */
export function withAnalysisFlags(
  card: ConversationCard,
  codes: readonly string[],
): ConversationCard {
  let flags = card.flags;
  for (const code of codes) {
    if ((CARD_FLAGS as readonly string[]).includes(code)) flags = addFlag(flags, code as CardFlag);
  }
  return flags === card.flags ? card : { ...card, flags };
}

/** `flags` with `flag`, in the order of {@linkcode CARD_FLAGS}; the same array when it was there. */
export function addFlag(flags: readonly CardFlag[], flag: CardFlag): CardFlag[] {
  if (flags.includes(flag)) return flags as CardFlag[];
  return CARD_FLAGS.filter((f) => f === flag || flags.includes(f));
}

/**
 * Overview order: pending and running runs first, then newest first.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { compareCards } from "./conversation_card.ts";
 * const cards = [
 *   { id: "old-running", status: "running" as const, created_at: 1 },
 *   { id: "new-done", status: "completed" as const, created_at: 3 },
 *   { id: "newer-running", status: "running" as const, created_at: 2 },
 * ];
 * deepStrictEqual(cards.sort(compareCards).map((c) => c.id), ["newer-running", "old-running", "new-done"]);
 * ```
 */
export function compareCards(
  a: Pick<ConversationCard, "status" | "created_at" | "id">,
  b: Pick<ConversationCard, "status" | "created_at" | "id">,
): number {
  const live = (c: typeof a) => c.status === "running" || c.status === "pending" ? 0 : 1;
  return live(a) - live(b) || b.created_at - a.created_at || (a.id < b.id ? -1 : 1);
}

function _oneLine(text: string, max: number): string {
  return sanitizeText(text.slice(-max * 2), { keepNewlines: false }).replace(/\s+/g, " ").trim()
    .slice(-max);
}

function _set<K extends keyof ConversationCard>(
  card: ConversationCard,
  key: K,
  value: ConversationCard[K] | undefined,
): void {
  if (value === undefined) delete card[key];
  else card[key] = value;
}
