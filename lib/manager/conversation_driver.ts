/**
 * The manager pool's I/O shell for one conversation: what its start,
 * response and resume tickets and its deadline do. The conversation's
 * metadata (limits, models, scenario, status) is read once and cached; it is
 * read again on a resume ticket (which is how a status change reaches the
 * pool) and when `accept_response` says the run is not running. Routing the
 * responses is the {@linkcode ResponseRouter}'s. The pool calls one handler
 * at a time per conversation.
 *
 * @module
 */
import { queueLive } from "../bus/live_feed.ts";
import type { Redis } from "ioredis";
import type { Config } from "../config/config.ts";
import { applyRunOverrides, runOverrides } from "../config/run_overrides.ts";
import type { ConversationMeta } from "../model/conversation_meta.ts";
import type { Scenario } from "../model/story.ts";
import type { BackendKind, LlmBackend } from "../llm/llm_backend.ts";
import { roleModel } from "../config/backend_config.ts";
import { ConversationStore } from "../bus/conversation_store.ts";
import {
  AGENT_GROUP,
  type ConversationKeys,
  conversationKeys,
  dispatchKeys,
  MANAGER_GROUP,
} from "../bus/keys.ts";
import { transitionStatus } from "../bus/status_transition.ts";
import type { TicketOutcome } from "../bus/ticket_reader.ts";
import { DialogueError } from "../base/dialogue_error.ts";
import { ResponseRouter } from "./response_router.ts";
import type { TicketSettler } from "./turn_acceptance.ts";
import type { TurnStop } from "./response_decision.ts";
import { endRun } from "./run_ending.ts";
import { writeScenario } from "./scenario_writer.ts";
import type { Slots } from "../base/slots.ts";

/** What every driver of one pool shares. */
export interface DriverContext {
  config: Config;
  redis: Redis;
  /**
   * Writes scenarios: fixed, or chosen per run from the manager backend the
   * run recorded (absent in older runs).
   */
  backend: LlmBackend | ((kind?: BackendKind) => LlmBackend);
  /** Bounds the scenario writings in flight. */
  scenarioSlots: Slots;
  signal: AbortSignal;
}

/** One conversation as the pool serves it. */
export class ConversationDriver {
  readonly id: string;
  readonly #context: DriverContext;
  readonly #keys: ConversationKeys;
  readonly #router: ResponseRouter;
  #meta: ConversationMeta | undefined;

  constructor(context: DriverContext, id: string) {
    this.#context = context;
    this.id = id;
    this.#keys = conversationKeys(id);
    this.#router = new ResponseRouter(context, id, {
      meta: () => this.#meta!,
      reload: () => this.#load(),
      end: (reason) => this.#end("completed", reason),
    });
  }

  /** Whether the run has ended (the pool may forget this driver). */
  get ended(): boolean {
    const status = this.#meta?.status;
    return status === "completed" || status === "failed";
  }

  /** `start` ticket: scenario, groups, pending → running, request 1 and its ticket. */
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
    queueLive(pipeline, this.id, { type: "status", status: "running", turns: 0 });
    await pipeline.exec();
    await this.#router.routeFirst(scenario, { ticket: true });
    return "ack";
  }

  /**
   * `resume` ticket: re-read the run, settle the answers waiting for it, and
   * re-issue the ticket of the turn in progress.
   */
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
    const pipeline = this.#context.redis.pipeline()
      .zadd(dispatchKeys.deadlines, deadline, this.id);
    if (meta.started_at === undefined) pipeline.hset(this.#keys.meta, "started_at", Date.now());
    if (meta.deadline === undefined) pipeline.hset(this.#keys.meta, "deadline", deadline);
    await pipeline.exec();
    this.#meta = { ...meta, scenario, deadline };
    if (this.#router.turns === 0) await this.#router.routeFirst(scenario, { ticket: false });
    await this.#router.drain();
    if (this.#meta.status === "running") await this.#router.ensureTicket();
    return "ack";
  }

  /**
   * `response` ticket for turn `seq`: accept what the agents recorded. The
   * ticket is acknowledged (`settle`) in the pipeline of the first accepted
   * turn ("settled"). When the new entries do not bring the run to turn
   * `seq`, the recovery path runs (see {@linkcode ResponseRouter.recover}).
   */
  async response(
    options: { seq?: number | undefined; settle?: TicketSettler } = {},
  ): Promise<TicketOutcome> {
    const meta = this.#meta ?? await this.#load();
    if (!meta || meta.status !== "running") return "ack";
    const { seq, settle } = options;
    let settled = await this.#router.drain(settle);
    const short = seq !== undefined && this.#router.turns < seq;
    if (short && this.#meta?.status === "running") {
      settled = await this.#router.recover(settled ? undefined : settle) || settled;
    }
    return settled ? "settled" : "ack";
  }

  /** The deadline keeper found the run due: end it unless its deadline moved. */
  async expire(): Promise<void> {
    const { redis } = this.#context;
    const [status, deadline] = await redis.hmget(this.#keys.meta, "status", "deadline");
    if (status === "running" && deadline !== null && Number(deadline) > Date.now()) {
      await redis.zadd(dispatchKeys.deadlines, Number(deadline), this.id);
      return;
    }
    if (status === "running") {
      await this.#end("completed", "duration", await this.#cutTurn());
      return;
    }
    await redis.zrem(dispatchKeys.deadlines, this.id);
    if (this.#meta && status) {
      this.#meta = { ...this.#meta, status: status as ConversationMeta["status"] };
    }
  }

  async #load(): Promise<ConversationMeta | undefined> {
    const meta = await new ConversationStore(this.#context.redis).get(this.id);
    this.#meta = meta;
    if (meta) this.#router.reset(meta.turns);
    return meta;
  }

  /** The model's scenario, stored; "release" on shutdown; undefined when the run failed. */
  async #writeScenario(touch: () => void): Promise<Scenario | "release" | undefined> {
    const { signal } = this.#context;
    // The run's own settings (topic, temperature, seed, prompt) over the pool's.
    const config = applyRunOverrides(this.#context.config, runOverrides(this.#meta?.config));
    const chosen = this.#context.backend;
    const backend = typeof chosen === "function" ? chosen(this.#meta?.backends?.manager) : chosen;
    // The ticket stays ours while the model writes, however long it takes.
    const timer = setInterval(touch, Math.max(100, Math.floor(config.dispatch.dead_after_ms / 3)));
    try {
      const scenario = await this.#context.scenarioSlots.run(() =>
        writeScenario(backend, {
          // The manager's model as the run recorded it (an embedded model's file name).
          model: this.#meta?.models.manager ?? roleModel(config, "manager"),
          topic: config.manager.topic,
          maxAttempts: config.manager.max_attempts,
          template: config.prompts.scenario as string | undefined,
          temperature: config.generation.temperature,
          contextTokens: config.generation.num_ctx,
          seed: config.generation.seed,
          signal,
          // One request timeout for the whole writing (see WriteScenarioOptions.budgetMs).
          budgetMs: config.ollama.request_timeout_ms,
          onProgress: (text) => {
            queueLive(this.#context.redis, this.id, { type: "notice", text }).catch(() => {});
          },
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

  /** Says which turn the deadline cut, and how long it had waited: the run's record of it. */
  async #cutTurn(): Promise<string | undefined> {
    const { redis } = this.#context;
    const [turns, resumedAt] = await redis.hmget(this.#keys.meta, "turns", "resumed_at");
    const seq = Number(turns ?? 0) + 1;
    const [routed, answered] = await Promise.all([
      redis.hget(this.#keys.routed, String(seq)),
      redis.hget(this.#keys.answered, String(seq)),
    ]);
    if (!routed || answered) return undefined;
    const since = Math.max(Number(routed.split("-")[0]), Number(resumedAt ?? 0));
    const seconds = (Math.max(0, Date.now() - since) / 1000).toFixed(1);
    return `Turn ${seq} was cut by the deadline after waiting ${seconds} s for a reply`;
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

  async #end(status: "completed" | "failed", reason: TurnStop | "error", detail?: string) {
    await endRun(this.#context.redis, this.id, {
      status,
      reason,
      ...(detail ? { detail } : {}),
      retentionSeconds: this.#context.config.retention.seconds,
    });
    if (this.#meta) this.#meta = { ...this.#meta, status };
  }
}
