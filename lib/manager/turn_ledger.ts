/**
 * The normal accept path of one conversation: the count of accepted turns,
 * the request routed for the next one and the live detectors, and the
 * settling of one response entry against them. Each entry is decided with
 * `response_decision.ts`, checked against the limits and the detectors when
 * it is the next turn, then accepted with {@linkcode acceptTurn} or
 * dead-lettered with its reason. Reading the entries, and the recovery
 * paths around them, are the `ResponseRouter`'s.
 *
 * @module
 */
import type { Redis } from "ioredis";
import type { Config } from "../config/config.ts";
import type { ConversationMeta } from "../model/conversation_meta.ts";
import type { AgentId } from "../model/dialog_message.ts";
import { conversationKeys, MANAGER_GROUP } from "../bus/keys.ts";
import type { StreamEntry } from "../bus/stream_entry.ts";
import { log } from "../base/logger.ts";
import type { LiveCheck, LiveDetectors } from "./live_detectors.ts";
import { queueDeadLetter } from "./response_dead_letter.ts";
import {
  decideResponse,
  type RoutedRequest,
  stopAfterTurn,
  type TurnStop,
} from "./response_decision.ts";
import { TakeoverReader } from "./takeover_reader.ts";
import { acceptTurn, type TicketSettler } from "./turn_acceptance.ts";

/** What the ledger needs from the conversation's driver, which owns the run's metadata and ending. */
export interface LedgerHost {
  /** The cached metadata (limits, models, status). */
  meta(): ConversationMeta;
  /** Re-reads the metadata (the run is not running any more). */
  reload(): Promise<ConversationMeta | undefined>;
  /** Ends the run after an accepted turn. */
  end(reason: TurnStop): Promise<void>;
}

/**
 * What became of one entry in {@linkcode TurnLedger.settle}: go on with the
 * next ("next"); the response was accepted before, so make sure the next
 * turn has its ticket ("duplicate"); the run ended ("stop"); the run was
 * interrupted, its answer left pending for the resume ("interrupted").
 */
export type EntryOutcome = "next" | "duplicate" | "stop" | "interrupted";

/**
 * Keeps one conversation's accepted turns in memory and settles its
 * response entries one at a time, so an ordinary turn reads nothing but the
 * response itself.
 */
export class TurnLedger {
  readonly #redis: Redis;
  readonly #config: Config;
  readonly #id: string;
  readonly #responses1: string;
  readonly #host: LedgerHost;
  readonly #takeover: TakeoverReader;
  #turns = 0;
  #routed: RoutedRequest | undefined;
  #detectors: LiveDetectors | undefined;
  /** Acknowledges the ticket in hand, in the next accepted turn's pipeline. */
  #settle: TicketSettler | undefined;
  #settledBy: TicketSettler | undefined;

  constructor(context: { redis: Redis; config: Config }, id: string, host: LedgerHost) {
    this.#redis = context.redis;
    this.#config = context.config;
    this.#id = id;
    this.#responses1 = conversationKeys(id).responses(1);
    this.#host = host;
    this.#takeover = new TakeoverReader(context.redis, id);
  }

  /** Turns accepted so far. */
  get turns(): number {
    return this.#turns;
  }

  /** Starts again from `turns` accepted (the run's state in Redis). */
  reset(turns: number): void {
    // Turns accepted elsewhere meanwhile: the detectors are rebuilt from the log.
    if (turns !== this.#turns) this.#detectors = undefined;
    this.#turns = turns;
  }

  /** Remembers the request just routed for a turn (undefined: read it when needed). */
  routed(request: RoutedRequest | undefined): void {
    this.#routed = request;
  }

  /**
   * Runs `fn` with `settle` put in the pipeline of the first turn accepted
   * meanwhile; true when it was (the ticket it acknowledges is settled).
   */
  async settling(settle: TicketSettler | undefined, fn: () => Promise<void>): Promise<boolean> {
    this.#settle = settle;
    this.#settledBy = undefined;
    try {
      await fn();
    } finally {
      this.#settle = undefined;
    }
    return settle !== undefined && this.#settledBy === settle;
  }

  /** Settles one response entry: accepted, acknowledged or dead-lettered. */
  async settle(entry: StreamEntry): Promise<EntryOutcome> {
    const slot: AgentId = entry.stream === this.#responses1 ? 1 : 2;
    const context = () => ({ conversationId: this.#id, turns: this.#turns, routed: this.#routed });
    let decision = decideResponse({ slot, message: entry.message }, context());
    if (decision.kind === "lookup") {
      this.#routed = await this.#takeover.routed(decision.seq);
      decision = decideResponse({ slot, message: entry.message }, context());
      if (decision.kind === "lookup") {
        decision = {
          kind: "dead_letter",
          reason: `response for turn ${decision.seq}, for which no request was routed`,
        };
      }
    }
    switch (decision.kind) {
      case "dead_letter": {
        const pipeline = this.#redis.pipeline();
        queueDeadLetter(pipeline, this.#id, { ...entry, reason: decision.reason });
        await pipeline.exec();
        return "next";
      }
      case "settle":
        // Never routes: a counted turn's response is its recorded answer again, or a second one.
        return await this.#accept(entry, { check: undefined, stop: undefined, route: false });
      case "candidate":
        return await this.#acceptCandidate(entry);
    }
    return "next";
  }

  async #acceptCandidate(entry: StreamEntry): Promise<EntryOutcome> {
    const meta = this.#host.meta();
    const seq = entry.message.metadata.sequence_number;
    // Rebuilt from the accepted turns when this process took the run over.
    this.#detectors ??= await this.#takeover.detectors(this.#config.conversation, this.#turns);
    const check = this.#detectors.check(entry.message.content, seq);
    const stop = stopAfterTurn({
      seq,
      maxTurns: meta.max_turns,
      deadline: meta.deadline,
      now: Date.now(),
      loop: check.stop,
      reason: check.reason,
    });
    if (stop === "loop" || stop === "echo" || stop === "collapse") {
      log("manager").info("Stopping {id} after turn {seq}: {why}", {
        id: this.#id,
        seq,
        why: check.why,
      });
    }
    return await this.#accept(entry, { check, stop, route: stop === undefined });
  }

  /** {@linkcode acceptTurn}, then what its outcome means for the ledger and the run. */
  async #accept(
    entry: StreamEntry,
    options: { check: LiveCheck | undefined; stop: TurnStop | undefined; route: boolean },
  ): Promise<EntryOutcome> {
    const outcome = await acceptTurn(this.#redis, entry, {
      id: this.#id,
      meta: this.#host.meta(),
      partitions: this.#config.dispatch.partitions,
      check: options.check,
      route: options.route,
      settle: this.#settle,
    });
    switch (outcome.kind) {
      case "dead_lettered":
        return "next";
      case "duplicate":
        return "duplicate";
      case "not_running": {
        const meta = await this.#host.reload();
        if (meta && meta.status !== "completed" && meta.status !== "failed") return "interrupted";
        await this.#redis.xack(entry.stream, MANAGER_GROUP, entry.id);
        return "stop";
      }
      case "accepted":
        break;
    }
    this.#turns = entry.message.metadata.sequence_number;
    if (outcome.routed) this.#routed = outcome.routed;
    if (outcome.settled) {
      this.#settledBy = this.#settle;
      this.#settle = undefined;
    }
    if (options.stop) {
      await this.#host.end(options.stop);
      return "stop";
    }
    return "next";
  }
}
