/**
 * Routing one running conversation's responses: read them through the
 * manager group, decide each with `response_decision.ts`, accept the
 * answer of the next turn with `accept_response` (which counts it and
 * routes the next request at once), dead-letter anything else with its
 * reason. The turn count and the request routed last are kept in memory;
 * the live detectors are fed one turn at a time.
 *
 * Redis round trips of an ordinary turn: one `XREADGROUP` of the response
 * streams, one `accept_response`, one pipeline (agent ticket of the next
 * turn, `XACK`, progress `PUBLISH`, and the manager ticket's `XACK`).
 *
 * @module
 */
import { queueLive } from "../bus/live_feed.ts";
import type { ChainableCommander, Redis } from "ioredis";
import type { Config } from "../config/config.ts";
import type { ConversationMeta } from "../model/conversation_meta.ts";
import { agentForTurn, type AgentId } from "../model/dialog_message.ts";
import type { Scenario } from "../model/story.ts";
import { ConversationStore } from "../bus/conversation_store.ts";
import {
  type ConversationKeys,
  conversationKeys,
  dispatchKeys,
  MANAGER_GROUP,
} from "../bus/keys.ts";
import { registerScripts, runScript } from "../bus/scripts.ts";
import { decodeEntry, decodeFields, encodeEntry, type StreamEntry } from "../bus/stream_entry.ts";
import { log } from "../base/logger.ts";
import { type LiveCheck, LiveDetectors } from "./live_detectors.ts";
import { POOL_CONSUMER, queueDeadLetter, readResponses } from "./response_reader.ts";
import {
  decideResponse,
  type RoutedRequest,
  settleAccept,
  stopAfterTurn,
  type TurnStop,
} from "./response_decision.ts";
import { progressEvent, queueAgentTicket, requestMessage } from "./turn_messages.ts";

/** Entries read per `XREADGROUP` of the response streams. */
const READ_COUNT = 16;

/** Queues the acknowledgement of the ticket being served on a pipeline. */
export type TicketSettler = (pipeline: ChainableCommander) => void;

/** What the router needs from the conversation's driver. */
export interface RouterHost {
  /** The cached metadata (limits, models, status). */
  meta(): ConversationMeta;
  /** Re-reads the metadata (the run is not running any more). */
  reload(): Promise<ConversationMeta | undefined>;
  /** Ends the run after an accepted turn. */
  end(reason: TurnStop): Promise<void>;
}

/** Routes one conversation's responses. */
export class ResponseRouter {
  readonly #redis: Redis;
  readonly #config: Config;
  readonly #id: string;
  readonly #keys: ConversationKeys;
  readonly #host: RouterHost;
  #turns = 0;
  #routed: RoutedRequest | undefined;
  #detectors: LiveDetectors | undefined;
  /** This consumer's pending entries have been read since the last reset. */
  #recovered = false;
  /** Acknowledges the ticket in hand, in the next accepted turn's pipeline. */
  #settle: TicketSettler | undefined;
  #settledBy: TicketSettler | undefined;

  constructor(context: { redis: Redis; config: Config }, id: string, host: RouterHost) {
    this.#redis = context.redis;
    this.#config = context.config;
    this.#id = id;
    this.#keys = conversationKeys(id);
    this.#host = host;
    registerScripts(context.redis);
  }

  /** Turns accepted so far. */
  get turns(): number {
    return this.#turns;
  }

  /** Starts again from the run's state in Redis: `turns` accepted, pending entries to re-read. */
  reset(turns: number): void {
    // Turns accepted elsewhere meanwhile: the detectors are rebuilt from the log.
    if (turns !== this.#turns) this.#detectors = undefined;
    this.#turns = turns;
    this.#recovered = false;
  }

  /** Routes request 1 once (after a crash, the one routed before stays); optionally its ticket. */
  async routeFirst(scenario: Scenario, options: { ticket: boolean }): Promise<void> {
    const message = requestMessage(this.#id, 1, scenario.story.initial_situation);
    const [entryId, added] = await runScript<[string, number]>(
      this.#redis,
      "add_once",
      [this.#keys.routed, this.#keys.requests(1)],
      ["1", ...encodeEntry(message)],
    );
    this.#routed = added === 1
      ? { seq: 1, messageId: message.message_id, verified: false }
      : undefined;
    if (!options.ticket) return;
    const pipeline = this.#redis.pipeline();
    this.#queueTicket(pipeline, 1, entryId);
    await pipeline.exec();
  }

  /**
   * Settles every response waiting on the streams. `settle` is put in the
   * pipeline of the first accepted turn; true when it was.
   */
  async drain(settle?: TicketSettler): Promise<boolean> {
    return await this.#settling(settle, () => this.#drain());
  }

  /**
   * The recovery path for a response ticket of a turn that new entries did
   * not reach: its answer was read by a manager that died before accepting
   * it. Re-reads the pending entries, then claims the answer recorded for
   * the next turn, or re-issues the ticket of a routed, unanswered one.
   */
  async recover(settle?: TicketSettler): Promise<boolean> {
    return await this.#settling(settle, async () => {
      this.#recovered = false;
      await this.#drain();
      if (this.#host.meta().status === "running") await this.ensureTicket();
    });
  }

  async #settling(settle: TicketSettler | undefined, fn: () => Promise<void>): Promise<boolean> {
    this.#settle = settle;
    this.#settledBy = undefined;
    try {
      await fn();
    } finally {
      this.#settle = undefined;
    }
    return settle !== undefined && this.#settledBy === settle;
  }

  /** Makes sure the routed, unanswered next turn has an agent ticket (a recovery path). */
  async ensureTicket(): Promise<void> {
    const seq = this.#turns + 1;
    const [[, routed], [, answered]] = await this.#redis.pipeline()
      .hget(this.#keys.routed, String(seq))
      .hget(this.#keys.answered, String(seq))
      .exec() as [[unknown, string | null], [unknown, string | null]];
    if (!routed) return;
    if (!answered) {
      const pipeline = this.#redis.pipeline();
      this.#queueTicket(pipeline, seq, routed);
      await pipeline.exec();
      return;
    }
    // Answered but never accepted: its entry may be pending on a consumer
    // that is gone. Take it and settle it.
    const claimed = await this.#redis.xclaim(
      this.#keys.responses(agentForTurn(seq)),
      MANAGER_GROUP,
      POOL_CONSUMER,
      0,
      answered,
      "JUSTID",
    ) as string[];
    if (claimed.length === 0) return;
    this.#recovered = false;
    await this.#drain();
  }

  async #drain(): Promise<void> {
    for (let round = 0; round < 100; round++) {
      const from = this.#recovered ? ">" : "0";
      const batch = await readResponses(this.#redis, this.#id, { from, count: READ_COUNT });
      if (from === "0" && batch.raw === 0) {
        this.#recovered = true;
        continue;
      }
      if (batch.gone.length + batch.undecoded.length > 0) {
        const pipeline = this.#redis.pipeline();
        for (const entry of batch.gone) pipeline.xack(entry.stream, MANAGER_GROUP, entry.id);
        for (const entry of batch.undecoded) this.#queueDeadLetter(pipeline, entry, entry.reason);
        await pipeline.exec();
      }
      const entries = batch.entries.sort((a, b) =>
        a.message.metadata.sequence_number - b.message.metadata.sequence_number
      );
      for (const entry of entries) {
        if (await this.#settleEntry(entry) === "stop") return;
      }
      if (batch.raw < READ_COUNT && from === ">") return;
    }
  }

  /** One response entry; "stop" when the run is no longer running. */
  async #settleEntry(entry: StreamEntry): Promise<"next" | "stop"> {
    const slot: AgentId = entry.stream === this.#keys.responses(1) ? 1 : 2;
    const context = () => ({ conversationId: this.#id, turns: this.#turns, routed: this.#routed });
    let decision = decideResponse({ slot, message: entry.message }, context());
    if (decision.kind === "lookup") {
      this.#routed = await this.#readRouted(decision.seq);
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
        this.#queueDeadLetter(pipeline, entry, decision.reason);
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

  async #acceptCandidate(entry: StreamEntry): Promise<"next" | "stop"> {
    const meta = this.#host.meta();
    const seq = entry.message.metadata.sequence_number;
    const check = (await this.#ensureDetectors()).check(entry.message.content, seq);
    const stop = stopAfterTurn({
      seq,
      maxTurns: meta.max_turns,
      deadline: meta.deadline,
      now: Date.now(),
      loop: check.stop,
    });
    if (stop === "loop") {
      log("manager").info("Stopping {id} after turn {seq}: {why}", {
        id: this.#id,
        seq,
        why: check.why,
      });
    }
    return await this.#accept(entry, { check, stop, route: stop === undefined });
  }

  /** `accept_response`, then one pipeline with what follows from its answer. */
  async #accept(
    entry: StreamEntry,
    options: { check: LiveCheck | undefined; stop: TurnStop | undefined; route: boolean },
  ): Promise<"next" | "stop"> {
    const seq = entry.message.metadata.sequence_number;
    const next = options.route
      ? requestMessage(this.#id, seq + 1, entry.message.content)
      : undefined;
    const reply = await runScript<[string, string]>(
      this.#redis,
      "accept_response",
      [
        this.#keys.meta,
        this.#keys.answered,
        this.#keys.routed,
        this.#keys.requests(agentForTurn(seq + 1)),
      ],
      [seq, entry.id, next ? "1" : "0", ...(next ? encodeEntry(next) : [])],
    );
    const verdict = settleAccept(reply, seq);
    const pipeline = this.#redis.pipeline();
    switch (verdict.kind) {
      case "dead_letter":
        this.#queueDeadLetter(pipeline, entry, verdict.reason);
        await pipeline.exec();
        return "next";
      case "duplicate":
        pipeline.xack(entry.stream, MANAGER_GROUP, entry.id);
        await pipeline.exec();
        await this.ensureTicket();
        return "next";
      case "not_running": {
        const meta = await this.#host.reload();
        if (!meta || meta.status === "completed" || meta.status === "failed") {
          pipeline.xack(entry.stream, MANAGER_GROUP, entry.id);
          await pipeline.exec();
        } else {
          // Interrupted: the recorded answer waits, pending, for the resume.
          this.#recovered = false;
        }
        return "stop";
      }
      case "accepted":
        break;
    }
    this.#turns = seq;
    options.check?.commit();
    for (const notice of options.check?.notices ?? []) queueLive(pipeline, this.#id, notice);
    if (next && verdict.next) {
      this.#routed = { seq: seq + 1, messageId: next.message_id, verified: false };
      this.#queueTicket(pipeline, seq + 1, verdict.next);
    }
    pipeline.xack(entry.stream, MANAGER_GROUP, entry.id);
    const event = progressEvent(this.#id, this.#host.meta(), seq, entry.message);
    pipeline.publish(dispatchKeys.events, JSON.stringify(event));
    if (this.#settle) {
      this.#settle(pipeline);
      this.#settledBy = this.#settle;
      this.#settle = undefined;
    }
    await pipeline.exec();
    if (options.stop) {
      await this.#host.end(options.stop);
      return "stop";
    }
    return "next";
  }

  #queueDeadLetter(
    pipeline: ChainableCommander,
    entry: { stream: string; id: string; fields?: string[] | undefined; message?: unknown },
    reason: string,
  ): void {
    log("manager").warn("Dead-lettered response {entry} of {id}: {reason}", {
      entry: entry.id,
      id: this.#id,
      reason,
    });
    const fields = entry.fields ??
      ("message" in entry ? encodeEntry((entry as StreamEntry).message) : undefined);
    queueDeadLetter(pipeline, this.#id, { stream: entry.stream, id: entry.id, fields, reason });
  }

  async #readRouted(seq: number): Promise<RoutedRequest | undefined> {
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

  /** The detectors, rebuilt from the accepted turns when this process took the run over. */
  async #ensureDetectors(): Promise<LiveDetectors> {
    if (this.#detectors) return this.#detectors;
    const detectors = new LiveDetectors(this.#config.conversation);
    const { loop_action, stale_action } = this.#config.conversation;
    if (this.#turns > 0 && (loop_action !== "off" || stale_action !== "off")) {
      // Every accepted turn: the detectors' findings depend on the whole run
      // (a takeover is rare, so reading it once is fine).
      const history = await new ConversationStore(this.#redis).responsesBefore(
        this.#id,
        this.#turns + 1,
        { limit: this.#turns },
      );
      detectors.replay(history.map((m) => m.content));
    }
    this.#detectors = detectors;
    return detectors;
  }

  #queueTicket(pipeline: ChainableCommander, seq: number, request: string): void {
    queueAgentTicket(pipeline, this.#host.meta(), {
      seq,
      request,
      partitions: this.#config.dispatch.partitions,
    });
  }
}
