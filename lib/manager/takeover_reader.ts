/**
 * What a `ResponseRouter` reads back from Redis about a run it
 * did not route itself: after a takeover (the manager that served the run
 * died) or a resume, the request routed for the next turn, the answer
 * recorded for it and the detectors' view of the run are not in memory.
 * These reads are off the ordinary turn's path: each runs once per takeover
 * or when an entry cannot be decided without it.
 *
 * @module
 */
import type { Redis } from "ioredis";
import type { Config } from "../config/config.ts";
import { agentForTurn } from "../model/dialog_message.ts";
import { ConversationStore } from "../bus/conversation_store.ts";
import { type ConversationKeys, conversationKeys, MANAGER_GROUP } from "../bus/keys.ts";
import { decodeEntry, decodeFields } from "../bus/stream_entry.ts";
import { LiveDetectors } from "./live_detectors.ts";
import type { RoutedRequest } from "./response_decision.ts";
import { POOL_CONSUMER } from "./response_reader.ts";

/** Where a turn stands in Redis, as {@linkcode TakeoverReader.turn} found it. */
export type TurnRecord =
  /** No request was routed for the turn (yet). */
  | { kind: "unrouted" }
  /** Routed (`request` is the request entry's id), no answer recorded. */
  | { kind: "unanswered"; request: string }
  /** An answer was recorded (`answer` is the response entry's id) but not accepted. */
  | { kind: "answered"; request: string; answer: string };

/**
 * Reads what one conversation's router needs to carry on a run that another
 * process (or an earlier driver) served: routed requests, recorded answers,
 * the accepted turns' replies.
 */
export class TakeoverReader {
  readonly #redis: Redis;
  readonly #id: string;
  readonly #keys: ConversationKeys;

  constructor(redis: Redis, id: string) {
    this.#redis = redis;
    this.#id = id;
    this.#keys = conversationKeys(id);
  }

  /**
   * The request routed for turn `seq`, read from its request stream (so
   * `verified`); undefined when none was routed, it was trimmed away, or it
   * does not decode. Lets a response whose request this process did not
   * route be decided.
   */
  async routed(seq: number): Promise<RoutedRequest | undefined> {
    const entryId = await this.#redis.hget(this.#keys.routed, String(seq));
    if (!entryId) return undefined;
    const raw = await this.#redis.xrangeBuffer(
      this.#keys.requests(agentForTurn(seq)),
      entryId,
      entryId,
    );
    const fields = raw[0]?.[1];
    if (!fields) return undefined;
    try {
      return { seq, messageId: decodeEntry(decodeFields(fields)).message_id, verified: true };
    } catch {
      return undefined;
    }
  }

  /**
   * Whether turn `seq` was routed and answered (one round trip): tells the
   * recovery path whether to re-issue the agent ticket or to claim the
   * answer a dead manager read but never accepted.
   */
  async turn(seq: number): Promise<TurnRecord> {
    const [[, request], [, answer]] = await this.#redis.pipeline()
      .hget(this.#keys.routed, String(seq))
      .hget(this.#keys.answered, String(seq))
      .exec() as [[unknown, string | null], [unknown, string | null]];
    if (!request) return { kind: "unrouted" };
    if (!answer) return { kind: "unanswered", request };
    return { kind: "answered", request, answer };
  }

  /**
   * Moves response entry `answer` of turn `seq` to this process's consumer
   * in {@linkcode MANAGER_GROUP} (it may be pending on a consumer that is
   * gone); true when it was pending and is now ours to re-read.
   */
  async claimAnswer(seq: number, answer: string): Promise<boolean> {
    const claimed = await this.#redis.xclaim(
      this.#keys.responses(agentForTurn(seq)),
      MANAGER_GROUP,
      POOL_CONSUMER,
      0,
      answer,
      "JUSTID",
    ) as string[];
    return claimed.length > 0;
  }

  /**
   * Live detectors that have seen the replies of turns 1..`turns`, so a run
   * taken over keeps its loop, staleness, echo and collapse findings (and does not report a
   * notice twice). Reads the log only when a detector is on and turns were
   * accepted; a takeover is rare, so reading the whole run once is fine.
   */
  async detectors(conversation: Config["conversation"], turns: number): Promise<LiveDetectors> {
    const detectors = new LiveDetectors(conversation);
    const { loop_action, stale_action, echo_action, collapse_action } = conversation;
    const actions = [loop_action, stale_action, echo_action, collapse_action];
    if (turns > 0 && actions.some((action) => action !== "off")) {
      // Every accepted turn: the detectors' findings depend on the whole run.
      const history = await new ConversationStore(this.#redis).responsesBefore(
        this.#id,
        turns + 1,
        { limit: turns },
      );
      detectors.replay(history.map((m) => m.content));
    }
    return detectors;
  }
}
