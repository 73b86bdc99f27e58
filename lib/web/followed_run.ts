/**
 * What the dashboard knows of one running conversation, and what each live
 * event does to it: the decisions of the hub, without I/O. A `turn_end`
 * asks for its reply to be read; a `status` event for the metadata; the
 * rest changes the card and yields the events the conversation's viewers
 * get. Model text is sanitized here, token by token with one
 * {@linkcode StreamSanitizer} per turn, so an escape sequence split over two
 * token events is still removed whole. Each accepted reply goes through the
 * manager's incremental loop and staleness trackers (a few microseconds,
 * where the whole analysis takes milliseconds), so a card's `loop` and
 * `stale` flags appear with the turn that raises them, whatever the run's
 * own `loop_action` and `stale_action`.
 *
 * @module
 */
import type { ConversationMeta } from "../model/conversation_meta.ts";
import type { DialogMessage } from "../model/dialog_message.ts";
import type { LiveEvent } from "../model/live_event.ts";
import type { TurnRow } from "../analysis/run_analysis.ts";
import { generationRow } from "../analysis/generation_stats.ts";
import { LoopTracker, StaleTracker } from "../manager/incremental_detectors.ts";
import { sanitizeText, StreamSanitizer } from "../base/sanitize.ts";
import {
  addFlag,
  type ConversationCard,
  withMessage,
  withTokens,
  withTurnStart,
} from "./conversation_card.ts";
import {
  type ConversationEvent,
  type ConversationSnapshot,
  type MessageView,
  messageView,
  scenarioView,
} from "./conversation_events.ts";

/** Longest text kept for a turn being generated. */
export const INFLIGHT_CHARS = 64_000;

/** What one live event asks for. */
export interface RunStep {
  /** The card after the event (the same object when unchanged). */
  card: ConversationCard;
  /** For the conversation's viewers. */
  events: ConversationEvent[];
  /** A reply was recorded: read it, then {@linkcode FollowedRun.prototype.accept} it. */
  reply?: { agent: 1 | 2; messageId: string };
  /** The status changed: read the metadata again. */
  statusChanged?: boolean;
}

interface _Turn {
  agent: 1 | 2;
  model: string;
  text: string;
  sanitizer: StreamSanitizer;
}

/** One running conversation as the hub follows it. */
export class FollowedRun {
  meta: ConversationMeta;
  /** Accepted replies, in turn order. */
  responses: DialogMessage[];
  /** Per-turn figures of the last analysis. */
  rows: TurnRow[] = [];
  readonly notices: string[] = [];
  /** `loop` and `stale` as the trackers found them. */
  readonly found = new Set<"loop" | "stale">();
  readonly #turns = new Map<number, _Turn>();
  readonly #loop = new LoopTracker();
  readonly #stale = new StaleTracker();

  /** @param responses the replies recorded so far, in turn order */
  constructor(meta: ConversationMeta, responses: DialogMessage[]) {
    this.meta = meta;
    this.responses = responses;
    for (const r of responses) this.#detect(r);
  }

  /**
   * Applies an event read before following began (the recent end of the
   * live stream): rebuilds the turn being generated and the notices; emits
   * nothing. Turns already recorded are dropped.
   */
  replay(event: LiveEvent): void {
    if (event.type === "turn_start") {
      this.#turns.set(event.seq, this.#turn(event.agent, event.model));
    } else if (event.type === "token") this.#push(event.seq, event.agent, event.text);
    else if (event.type === "turn_end" || event.type === "turn_abandoned") {
      this.#turns.delete(event.seq);
    } else if (event.type === "notice") this.notices.push(sanitizeText(event.text));
    for (const seq of this.#turns.keys()) {
      if (this.responses.some((r) => r.metadata.sequence_number === seq)) this.#turns.delete(seq);
    }
  }

  /**
   * `card` showing the turn being generated now, if any (its text so far),
   * after {@linkcode replay}: a run followed mid-turn shows its last words at once.
   */
  withCurrentTurn(card: ConversationCard): ConversationCard {
    const seq = Math.max(0, ...this.#turns.keys());
    const turn = this.#turns.get(seq);
    if (!turn) return card;
    return withTokens(withTurnStart(card, seq, turn.agent), seq, turn.agent, turn.text);
  }

  /** `card` with the `loop` and `stale` flags the trackers found. */
  flagged(card: ConversationCard): ConversationCard {
    let out = card;
    for (const flag of this.found) out = { ...out, flags: addFlag(out.flags, flag) };
    return out;
  }

  /** What live event `event` does, given the run's card. */
  step(card: ConversationCard, event: LiveEvent): RunStep {
    switch (event.type) {
      case "turn_start": {
        // A second start of a turn is another agent process taking it over: it starts over.
        const turn = this.#turn(event.agent, event.model);
        this.#turns.set(event.seq, turn);
        return {
          card: withTurnStart(card, event.seq, event.agent),
          events: [{ type: "turn_start", seq: event.seq, agent: event.agent, model: turn.model }],
        };
      }
      case "token": {
        const events: ConversationEvent[] = [];
        if (!this.#turns.has(event.seq)) {
          const turn = this.#turn(event.agent);
          this.#turns.set(event.seq, turn);
          events.push({
            type: "turn_start",
            seq: event.seq,
            agent: event.agent,
            model: turn.model,
          });
        }
        const text = this.#push(event.seq, event.agent, event.text);
        if (text === "") return { card, events };
        events.push({ type: "tokens", seq: event.seq, agent: event.agent, text });
        return { card: withTokens(card, event.seq, event.agent, text), events };
      }
      case "turn_end":
        this.#turns.delete(event.seq);
        return { card, events: [], reply: { agent: event.agent, messageId: event.message_id } };
      case "turn_abandoned":
        this.#turns.delete(event.seq);
        return {
          card: { ...card, flags: addFlag(card.flags, "errors") },
          events: [{
            type: "abandoned",
            seq: event.seq,
            reason: sanitizeText(event.reason, { keepNewlines: false }),
          }],
        };
      case "notice": {
        const text = sanitizeText(event.text);
        this.notices.push(text);
        return { card, events: [{ type: "notice", text }] };
      }
      case "status":
        return { card, events: [], statusChanged: true };
    }
  }

  /** Records a reply read after its `turn_end` (replacing one of the same turn). */
  accept(card: ConversationCard, message: DialogMessage): ConversationCard {
    const seq = message.metadata.sequence_number;
    this.#turns.delete(seq);
    const fresh = !this.responses.some((r) => r.metadata.sequence_number === seq);
    this.responses = [...this.responses.filter((r) => r.metadata.sequence_number !== seq), message]
      .sort((a, b) => a.metadata.sequence_number - b.metadata.sequence_number);
    // The trackers take turns in order, once each: a reply read again changes nothing.
    if (fresh && seq === this.responses.at(-1)?.metadata.sequence_number) this.#detect(message);
    return this.flagged(withMessage(card, message));
  }

  /** The `message` event of a reply, with its generation figures. */
  messageEvent(message: DialogMessage): ConversationEvent {
    return { type: "message", message: this.view(message) };
  }

  /** A reply as the page shows it, with its figures (latency from the reply before it). */
  view(message: DialogMessage): MessageView {
    const seq = message.metadata.sequence_number;
    const before = this.responses.filter((r) => r.metadata.sequence_number < seq).at(-1);
    const previousAt = before?.queue_timestamp ?? this.meta.started_at;
    const figures = generationRow(
      message,
      this.meta,
      previousAt === undefined ? {} : { previousAt },
    );
    return messageView(message, this.meta.models, figures);
  }

  /** What a viewer who opens the conversation now sees. */
  snapshot(card: ConversationCard): ConversationSnapshot {
    return {
      card,
      ...(this.meta.scenario ? { scenario: scenarioView(this.meta.scenario) } : {}),
      messages: this.responses.map((r) => this.view(r)),
      rows: this.rows,
      inflight: [...this.#turns].map(([seq, t]) => ({
        seq,
        agent: t.agent,
        model: t.model,
        text: t.text,
      })),
      notices: [...this.notices],
    };
  }

  #detect(message: DialogMessage): void {
    const seq = message.metadata.sequence_number;
    for (const [kind, tracker] of [["loop", this.#loop], ["stale", this.#stale]] as const) {
      const step = tracker.peek(message.content, seq);
      step.commit();
      if (step.finding.detected) this.found.add(kind);
    }
  }

  #turn(agent: 1 | 2, model?: string): _Turn {
    const name = model ?? (agent === 1 ? this.meta.models.agent1 : this.meta.models.agent2);
    return {
      agent,
      model: sanitizeText(name, { keepNewlines: false }),
      text: "",
      sanitizer: new StreamSanitizer(),
    };
  }

  /** Adds a token event's text to its turn; the sanitized text it adds. */
  #push(seq: number, agent: 1 | 2, raw: string): string {
    const turn = this.#turns.get(seq) ?? this.#turn(agent);
    this.#turns.set(seq, turn);
    const text = turn.sanitizer.push(raw);
    turn.text = (turn.text + text).slice(-INFLIGHT_CHARS);
    return text;
  }
}
