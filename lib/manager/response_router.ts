/**
 * Routing one running conversation's responses: read them through the
 * manager group (this consumer's pending entries first, then new ones),
 * settle each with the {@linkcode TurnLedger} (the normal accept path), and
 * the recovery paths for what a dead manager left half done: its pending
 * entries, an answer it read but never accepted, a routed turn whose agent
 * ticket is gone. Request 1 is routed here too.
 *
 * Redis round trips of an ordinary turn: one `XREADGROUP` of the response
 * streams, one `accept_response`, one pipeline (agent ticket of the next
 * turn, `XACK`, progress `PUBLISH`, and the manager ticket's `XACK`).
 *
 * @module
 */
import type { ChainableCommander, Redis } from "ioredis";
import type { Config } from "../config/config.ts";
import type { Scenario } from "../model/story.ts";
import { type ConversationKeys, conversationKeys, MANAGER_GROUP } from "../bus/keys.ts";
import { registerScripts, runScript } from "../bus/scripts.ts";
import { encodeEntry } from "../bus/stream_entry.ts";
import { readResponses } from "./response_reader.ts";
import { queueDeadLetter } from "./response_dead_letter.ts";
import { TakeoverReader } from "./takeover_reader.ts";
import type { TicketSettler } from "./turn_acceptance.ts";
import { type LedgerHost, TurnLedger } from "./turn_ledger.ts";
import { queueAgentTicket, requestMessage } from "./turn_messages.ts";

/** Entries read per `XREADGROUP` of the response streams. */
const READ_COUNT = 16;

/** What the router needs from the conversation's driver (the ledger's host). */
export type RouterHost = LedgerHost;

/**
 * Routes one conversation's responses, one call at a time (the pool
 * serialises a conversation's tickets).
 */
export class ResponseRouter {
  readonly #redis: Redis;
  readonly #config: Config;
  readonly #id: string;
  readonly #keys: ConversationKeys;
  readonly #host: RouterHost;
  readonly #ledger: TurnLedger;
  readonly #takeover: TakeoverReader;
  /** This consumer's pending entries have been read since the last reset. */
  #recovered = false;

  constructor(context: { redis: Redis; config: Config }, id: string, host: RouterHost) {
    this.#redis = context.redis;
    this.#config = context.config;
    this.#id = id;
    this.#keys = conversationKeys(id);
    this.#host = host;
    this.#ledger = new TurnLedger(context, id, host);
    this.#takeover = new TakeoverReader(context.redis, id);
    registerScripts(context.redis);
  }

  /** Turns accepted so far. */
  get turns(): number {
    return this.#ledger.turns;
  }

  /** Starts again from the run's state in Redis: `turns` accepted, pending entries to re-read. */
  reset(turns: number): void {
    this.#ledger.reset(turns);
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
    this.#ledger.routed(
      added === 1 ? { seq: 1, messageId: message.message_id, verified: false } : undefined,
    );
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
    return await this.#ledger.settling(settle, () => this.#drain());
  }

  /**
   * The recovery path for a response ticket of a turn that new entries did
   * not reach: its answer was read by a manager that died before accepting
   * it. Re-reads the pending entries, then claims the answer recorded for
   * the next turn, or re-issues the ticket of a routed, unanswered one.
   */
  async recover(settle?: TicketSettler): Promise<boolean> {
    return await this.#ledger.settling(settle, async () => {
      this.#recovered = false;
      await this.#drain();
      if (this.#host.meta().status === "running") await this.ensureTicket();
    });
  }

  /** Makes sure the routed, unanswered next turn has an agent ticket (a recovery path). */
  async ensureTicket(): Promise<void> {
    const seq = this.#ledger.turns + 1;
    const turn = await this.#takeover.turn(seq);
    if (turn.kind === "unrouted") return;
    if (turn.kind === "unanswered") {
      const pipeline = this.#redis.pipeline();
      this.#queueTicket(pipeline, seq, turn.request);
      await pipeline.exec();
      return;
    }
    // Answered but never accepted: its entry may be pending on a consumer
    // that is gone. Take it and settle it.
    if (!await this.#takeover.claimAnswer(seq, turn.answer)) return;
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
        for (const entry of batch.undecoded) queueDeadLetter(pipeline, this.#id, entry);
        await pipeline.exec();
      }
      const entries = batch.entries.sort((a, b) =>
        a.message.metadata.sequence_number - b.message.metadata.sequence_number
      );
      for (const entry of entries) {
        const outcome = await this.#ledger.settle(entry);
        if (outcome === "duplicate") await this.ensureTicket();
        if (outcome === "stop") return;
        if (outcome === "interrupted") {
          // The recorded answer waits, pending, for the resume.
          this.#recovered = false;
          return;
        }
      }
      if (batch.raw < READ_COUNT && from === ">") return;
    }
  }

  #queueTicket(pipeline: ChainableCommander, seq: number, request: string): void {
    queueAgentTicket(pipeline, this.#host.meta(), {
      seq,
      request,
      partitions: this.#config.dispatch.partitions,
    });
  }
}
