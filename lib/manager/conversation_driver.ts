/**
 * The manager pool's I/O shell for one conversation: the start, response,
 * resume and deadline handlers around the pure decisions of
 * `response_decision.ts`. The conversation's limits and scenario are read
 * once and cached; its turn count is kept from the answers of
 * `accept_response`, and re-read when a resume ticket says it changed.
 * The pool calls one handler at a time per conversation.
 *
 * Redis round trips of an ordinary turn: one `XREADGROUP` of the response
 * streams, one `accept_response` (counts the turn, routes the next request),
 * one pipeline (agent ticket, `XACK`, progress `PUBLISH`).
 *
 * @module
 */
import type { ChainableCommander, Redis } from "ioredis";
import type { Config } from "../config/config.ts";
import type { ConversationMeta } from "../model/conversation_meta.ts";
import {
  agentForTurn,
  type AgentId,
  type DialogMessage,
  MessageMetadata,
} from "../model/dialog_message.ts";
import type { Scenario } from "../model/story.ts";
import type { LlmBackend } from "../llm/llm_backend.ts";
import { ConversationStore } from "../bus/conversation_store.ts";
import { addAgentTicket } from "../bus/dispatch.ts";
import {
  AGENT_GROUP,
  type ConversationKeys,
  conversationKeys,
  dispatchKeys,
  MANAGER_GROUP,
} from "../bus/keys.ts";
import { LIVE_STREAM_MAXLEN } from "../bus/live_feed.ts";
import { registerScripts, runScript } from "../bus/scripts.ts";
import { transitionStatus } from "../bus/status_transition.ts";
import { decodeEntry, decodeFields, encodeEntry, type StreamEntry } from "../bus/stream_entry.ts";
import { DialogueError } from "../base/dialogue_error.ts";
import { log } from "../base/logger.ts";
import type { TicketOutcome } from "../bus/ticket_reader.ts";
import { LiveDetectors } from "./live_detectors.ts";
import { POOL_CONSUMER, queueDeadLetter, readResponses } from "./response_reader.ts";
import {
  decideResponse,
  type RoutedRequest,
  settleAccept,
  stopAfterTurn,
  type TurnStop,
} from "./response_decision.ts";
import { endRun } from "./run_ending.ts";
import { writeScenario } from "./scenario_writer.ts";

/** What every driver of one pool shares. */
export interface DriverContext {
  config: Config;
  redis: Redis;
  /** Writes scenarios. */
  backend: LlmBackend;
  /** Bounds the scenario writings in flight. */
  scenarioSlots: Slots;
  signal: AbortSignal;
}

/** Queues the acknowledgement of the ticket being served on a pipeline. */
export type TicketSettler = (pipeline: ChainableCommander) => void;

/** Progress of a run, published on {@linkcode dispatchKeys.events} after each accepted turn. */
export interface ProgressEvent {
  type: "progress";
  id: string;
  turns: number;
  max_turns: number;
  status: string;
  agent: AgentId;
  tokens: number;
  tokens_per_second: number;
  last: string;
}

/** Entries read per `XREADGROUP` of the response streams. */
const READ_COUNT = 16;

/** A counting semaphore. */
export class Slots {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(size: number) {
    this.#free = size;
  }

  /** Runs `fn` once a slot is free. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await fn();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    }
  }
}

/** One conversation as the pool serves it. */
export class ConversationDriver {
  readonly id: string;
  readonly #context: DriverContext;
  readonly #keys: ConversationKeys;
  #meta: ConversationMeta | undefined;
  #turns = 0;
  #routed: RoutedRequest | undefined;
  #detectors: LiveDetectors | undefined;
  /** This consumer's pending entries have been read since the last interruption. */
  #recovered = false;
  /** Acknowledges the ticket in hand, in the next turn's pipeline. */
  #settle: TicketSettler | undefined;
  /** The last settler used (to tell the caller its ticket is settled). */
  #settled: TicketSettler | undefined;

  constructor(context: DriverContext, id: string) {
    this.#context = context;
    this.id = id;
    this.#keys = conversationKeys(id);
    registerScripts(context.redis);
  }

  /** Whether the run has ended (the pool may forget this driver). */
  get ended(): boolean {
    const status = this.#meta?.status;
    return status === "completed" || status === "failed";
  }

  /** `start` ticket: scenario, groups, pending → running, request 1. */
  async start(touch: () => void): Promise<TicketOutcome> {
    const meta = await this.#load();
    if (!meta) return "ack";
    if (meta.status !== "pending") return meta.status === "running" ? await this.resume() : "ack";
    const scenario = meta.scenario ?? await this.#writeScenario(touch);
    if (scenario === "release") return "release";
    if (scenario === undefined) return "ack";
    await this.#ensureGroups();
    const now = Date.now();
    const deadline = now + meta.duration_seconds * 1000;
    const { changed, previous } = await transitionStatus(this.#context.redis, this.id, "running", {
      set: { started_at: now, deadline },
    });
    if (!changed) return previous === "running" ? await this.resume() : "ack";
    this.#meta = { ...meta, scenario, status: "running", started_at: now, deadline };
    const pipeline = this.#context.redis.pipeline()
      .zadd(dispatchKeys.deadlines, deadline, this.id);
    this.#queueLive(pipeline, { type: "status", status: "running", turns: 0 });
    await pipeline.exec();
    await this.#routeFirst(scenario, { ticket: true });
    return "ack";
  }

  /** `resume` ticket: re-read the run, then finish or re-issue the turn in progress. */
  async resume(): Promise<TicketOutcome> {
    const meta = await this.#load();
    if (!meta) return "ack";
    if (meta.status === "pending") return await this.start(() => {});
    if (meta.status !== "running") return "ack";
    let scenario = meta.scenario;
    if (!scenario) {
      // Interrupted before its scenario was written, then resumed.
      const written = await this.#writeScenario(() => {});
      if (written === "release") return "release";
      if (written === undefined) return "ack";
      scenario = written;
    }
    await this.#ensureGroups();
    const deadline = meta.deadline ?? Date.now() + meta.duration_seconds * 1000;
    const pipeline = this.#context.redis.pipeline().zadd(dispatchKeys.deadlines, deadline, this.id);
    if (meta.started_at === undefined) pipeline.hset(this.#keys.meta, "started_at", Date.now());
    if (meta.deadline === undefined) pipeline.hset(this.#keys.meta, "deadline", deadline);
    await pipeline.exec();
    this.#meta = { ...meta, scenario, deadline };
    this.#recovered = false;
    if (this.#turns === 0) await this.#routeFirst(scenario, { ticket: false });
    await this.#drain();
    await this.#ensureTicket();
    return "ack";
  }

  /**
   * `response` ticket for turn `seq`: accept what the agents recorded. The
   * ticket is acknowledged (`settle`) in the pipeline after the first
   * accepted turn, so the answer is "settled" then. When new entries do not
   * bring the run to turn `seq`, its answer was read by a manager that died
   * before accepting it: the pending entries are read, then the answer
   * recorded for the turn is claimed.
   */
  async response(
    options: { seq?: number | undefined; settle?: TicketSettler } = {},
  ): Promise<TicketOutcome> {
    const meta = this.#meta ?? await this.#load();
    if (!meta || meta.status !== "running") return "ack";
    const { seq, settle } = options;
    this.#settle = settle;
    try {
      await this.#drain();
      if (seq !== undefined && this.#turns < seq && this.#meta?.status === "running") {
        this.#recovered = false;
        await this.#drain();
        if (this.#turns < seq && this.#meta?.status === "running") await this.#ensureTicket();
      }
    } finally {
      this.#settle = undefined;
    }
    return settle && this.#settled === settle ? "settled" : "ack";
  }

  /** The deadline keeper found the run due: end it unless its deadline moved. */
  async expire(): Promise<void> {
    const [status, deadline] = await this.#context.redis.hmget(
      this.#keys.meta,
      "status",
      "deadline",
    );
    if (status === "running" && deadline !== null && Number(deadline) > Date.now()) {
      await this.#context.redis.zadd(dispatchKeys.deadlines, Number(deadline), this.id);
      return;
    }
    if (status === "running") await this.#end("completed", "duration");
    else await this.#context.redis.zrem(dispatchKeys.deadlines, this.id);
    if (this.#meta && status) {
      this.#meta = { ...this.#meta, status: status as ConversationMeta["status"] };
    }
  }

  async #load(): Promise<ConversationMeta | undefined> {
    const meta = await new ConversationStore(this.#context.redis).get(this.id);
    this.#meta = meta;
    if (meta) this.#turns = meta.turns;
    return meta;
  }

  async #writeScenario(touch: () => void): Promise<Scenario | "release" | undefined> {
    const { config, backend, signal } = this.#context;
    const every = Math.max(100, Math.floor(config.dispatch.dead_after_ms / 3));
    const timer = setInterval(touch, every);
    try {
      const scenario = await this.#context.scenarioSlots.run(() =>
        writeScenario(backend, {
          model: config.manager.model,
          topic: config.manager.topic,
          maxAttempts: config.manager.max_attempts,
          template: config.prompts.scenario as string | undefined,
          temperature: config.generation.temperature,
          numCtx: config.generation.num_ctx,
          seed: config.generation.seed,
          signal,
        })
      );
      await new ConversationStore(this.#context.redis).update(this.id, { scenario });
      return scenario;
    } catch (error) {
      if (signal.aborted) return "release";
      if (!(error instanceof DialogueError)) throw error;
      await this.#end("failed", "error", error.message);
      return undefined;
    } finally {
      clearInterval(timer);
    }
  }

  async #ensureGroups(): Promise<void> {
    const pipeline = this.#context.redis.pipeline();
    for (const agent of [1, 2] as const) {
      pipeline.xgroup("CREATE", this.#keys.responses(agent), MANAGER_GROUP, "0", "MKSTREAM");
      pipeline.xgroup("CREATE", this.#keys.requests(agent), AGENT_GROUP, "0", "MKSTREAM");
    }
    for (const [error] of await pipeline.exec() ?? []) {
      if (error && !error.message.includes("BUSYGROUP")) throw error;
    }
  }

  /** Routes request 1 once (after a crash, the one routed before stays); optionally its ticket. */
  async #routeFirst(scenario: Scenario, options: { ticket: boolean }): Promise<void> {
    const message = this.#request(1, scenario.story.initial_situation);
    const [entryId, added] = await runScript<[string, number]>(
      this.#context.redis,
      "add_once",
      [this.#keys.routed, this.#keys.requests(1)],
      ["1", ...encodeEntry(message)],
    );
    this.#routed = added === 1
      ? { seq: 1, messageId: message.message_id, verified: false }
      : undefined;
    if (!options.ticket) return;
    const pipeline = this.#context.redis.pipeline();
    this.#queueTicket(pipeline, 1, entryId);
    await pipeline.exec();
  }

  /** Reads and settles response entries until none are left. */
  async #drain(): Promise<void> {
    const { redis } = this.#context;
    for (let round = 0; round < 100; round++) {
      const from = this.#recovered ? ">" : "0";
      const batch = await readResponses(redis, this.id, { from, count: READ_COUNT });
      if (from === "0" && batch.raw === 0) {
        this.#recovered = true;
        continue;
      }
      if (batch.gone.length + batch.undecoded.length > 0) {
        const pipeline = redis.pipeline();
        for (const entry of batch.gone) pipeline.xack(entry.stream, MANAGER_GROUP, entry.id);
        for (const entry of batch.undecoded) {
          log("manager").warn("Dead-lettered response {entry} of {id}: {reason}", {
            entry: entry.id,
            id: this.id,
            reason: entry.reason,
          });
          queueDeadLetter(pipeline, this.id, entry);
        }
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
    let decision = decideResponse({ slot, message: entry.message }, this.#responseContext());
    if (decision.kind === "lookup") {
      this.#routed = await this.#readRouted(decision.seq);
      decision = decideResponse({ slot, message: entry.message }, this.#responseContext());
      if (decision.kind === "lookup") {
        decision = {
          kind: "dead_letter",
          reason: `response for turn ${decision.seq}, for which no request was routed`,
        };
      }
    }
    switch (decision.kind) {
      case "dead_letter":
        await this.#deadLetter(entry, decision.reason);
        return "next";
      case "settle":
        // Never routes: a counted turn's response is either its recorded answer or not.
        return await this.#accept(entry, { stop: true, detectors: undefined });
      case "candidate":
        return await this.#acceptCandidate(entry);
    }
    return "next";
  }

  async #acceptCandidate(entry: StreamEntry): Promise<"next" | "stop"> {
    const meta = this.#meta!;
    const seq = entry.message.metadata.sequence_number;
    const detectors = await this.#ensureDetectors();
    const check = detectors.check(entry.message.content, seq);
    const reason = stopAfterTurn({
      seq,
      maxTurns: meta.max_turns,
      deadline: meta.deadline,
      now: Date.now(),
      loop: check.stop,
    });
    if (reason === "loop") {
      log("manager").info("Stopping {id} after turn {seq}: {why}", {
        id: this.id,
        seq,
        why: check.why,
      });
    }
    return await this.#accept(entry, { stop: reason !== undefined, detectors: check, reason });
  }

  /** `accept_response`, then one pipeline with what follows from its answer. */
  async #accept(
    entry: StreamEntry,
    options: {
      stop: boolean;
      detectors: ReturnType<LiveDetectors["check"]> | undefined;
      /** End the run after this turn, for this reason. */
      reason?: TurnStop | undefined;
    },
  ): Promise<"next" | "stop"> {
    const { redis } = this.#context;
    const seq = entry.message.metadata.sequence_number;
    const next = options.stop ? undefined : this.#request(seq + 1, entry.message.content);
    const reply = await runScript<[string, string]>(
      redis,
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
    const pipeline = redis.pipeline();
    switch (verdict.kind) {
      case "dead_letter":
        log("manager").warn("Dead-lettered response {entry} of {id}: {reason}", {
          entry: entry.id,
          id: this.id,
          reason: verdict.reason,
        });
        queueDeadLetter(pipeline, this.id, {
          ...entry,
          fields: encodeEntry(entry.message),
          reason: verdict.reason,
        });
        await pipeline.exec();
        return "next";
      case "duplicate":
        pipeline.xack(entry.stream, MANAGER_GROUP, entry.id);
        await pipeline.exec();
        await this.#ensureTicket();
        return "next";
      case "not_running": {
        const meta = await this.#load();
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
    this.#meta = { ...this.#meta!, turns: seq };
    options.detectors?.commit();
    for (const notice of options.detectors?.notices ?? []) this.#queueLive(pipeline, notice);
    if (next && verdict.next) {
      this.#routed = { seq: seq + 1, messageId: next.message_id, verified: false };
      this.#queueTicket(pipeline, seq + 1, verdict.next);
    }
    pipeline.xack(entry.stream, MANAGER_GROUP, entry.id);
    pipeline.publish(dispatchKeys.events, JSON.stringify(this.#progress(entry.message)));
    if (this.#settle) {
      this.#settle(pipeline);
      this.#settled = this.#settle;
      this.#settle = undefined;
    }
    await pipeline.exec();
    if (options.reason) {
      await this.#end("completed", options.reason);
      return "stop";
    }
    return "next";
  }

  async #deadLetter(entry: StreamEntry, reason: string): Promise<void> {
    log("manager").warn("Dead-lettered response {entry} of {id}: {reason}", {
      entry: entry.id,
      id: this.id,
      reason,
    });
    const pipeline = this.#context.redis.pipeline();
    queueDeadLetter(pipeline, this.id, { ...entry, fields: encodeEntry(entry.message), reason });
    await pipeline.exec();
  }

  /** Makes sure the routed, unanswered next turn has an agent ticket (a recovery path). */
  async #ensureTicket(): Promise<void> {
    const { redis } = this.#context;
    const seq = this.#turns + 1;
    const [[, routed], [, answered]] = await redis.pipeline()
      .hget(this.#keys.routed, String(seq))
      .hget(this.#keys.answered, String(seq))
      .exec() as [[unknown, string | null], [unknown, string | null]];
    if (!routed) return;
    if (!answered) {
      const pipeline = redis.pipeline();
      this.#queueTicket(pipeline, seq, routed);
      await pipeline.exec();
      return;
    }
    // Answered but never accepted: its entry may be pending on a consumer
    // that is gone. Take it and settle it.
    const claimed = await redis.xclaim(
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

  async #readRouted(seq: number): Promise<RoutedRequest | undefined> {
    const { redis } = this.#context;
    const entryId = await redis.hget(this.#keys.routed, String(seq));
    if (!entryId) return undefined;
    const raw = await redis.xrangeBuffer(this.#keys.requests(agentForTurn(seq)), entryId, entryId);
    const fields = raw[0]?.[1];
    if (!fields) return undefined;
    try {
      const message = decodeEntry(decodeFields(fields));
      return { seq, messageId: message.message_id, verified: true };
    } catch {
      return undefined;
    }
  }

  /** The detectors, rebuilt from the accepted turns when this process took the run over. */
  async #ensureDetectors(): Promise<LiveDetectors> {
    if (this.#detectors) return this.#detectors;
    const detectors = new LiveDetectors(this.#context.config.conversation);
    const { loop_action, stale_action } = this.#context.config.conversation;
    if (this.#turns > 0 && (loop_action !== "off" || stale_action !== "off")) {
      const history = await new ConversationStore(this.#context.redis).responsesBefore(
        this.id,
        this.#turns + 1,
      );
      detectors.replay(history.map((m) => m.content));
    }
    this.#detectors = detectors;
    return detectors;
  }

  #responseContext() {
    return { conversationId: this.id, turns: this.#turns, routed: this.#routed };
  }

  #request(seq: number, content: string): DialogMessage {
    return {
      queue_timestamp: Date.now(),
      message_id: crypto.randomUUID(),
      role: "user",
      content,
      metadata: MessageMetadata.parse({
        conversation_id: this.id,
        sequence_number: seq,
        agent_id: agentForTurn(seq),
      }),
    };
  }

  #queueTicket(pipeline: ChainableCommander, seq: number, request: string): void {
    const agent = agentForTurn(seq);
    const models = this.#meta!.models;
    addAgentTicket(pipeline, {
      conversation_id: this.id,
      agent,
      seq,
      request,
      model: agent === 1 ? models.agent1 : models.agent2,
    }, { partitions: this.#context.config.dispatch.partitions });
  }

  #queueLive(pipeline: ChainableCommander, event: object): void {
    pipeline.xadd(
      this.#keys.live,
      "MAXLEN",
      "~",
      LIVE_STREAM_MAXLEN,
      "*",
      "e",
      JSON.stringify(event),
    );
  }

  #progress(message: DialogMessage): ProgressEvent {
    const flat = message.content.replace(/\s+/g, " ").trim();
    return {
      type: "progress",
      id: this.id,
      turns: this.#turns,
      max_turns: this.#meta!.max_turns,
      status: this.#meta!.status,
      agent: agentForTurn(message.metadata.sequence_number),
      tokens: message.metadata.tokens_generated,
      tokens_per_second: message.metadata.tokens_per_second,
      last: flat.slice(-60),
    };
  }

  async #end(
    status: "completed" | "failed",
    reason: "max_turns" | "duration" | "loop" | "error",
    detail?: string,
  ): Promise<void> {
    await endRun(this.#context.redis, this.id, {
      status,
      reason,
      ...(detail ? { detail } : {}),
      retentionSeconds: this.#context.config.retention.seconds,
    });
    if (this.#meta) this.#meta = { ...this.#meta, status };
  }
}
