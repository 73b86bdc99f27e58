/**
 * The manager's side of a run: set up the conversation, route every
 * response to the other agent as its next request, and stop at the turn
 * limit, the deadline, a loop, an error or a signal, recording why. A run
 * whose manager died or was stopped can be resumed from its state in Redis.
 *
 * @module
 */
import type { Redis } from "ioredis";
import { agentModel, type Config } from "../config/config.ts";
import { redactConfig } from "../config/redaction.ts";
import {
  type ConversationMeta,
  FINISHED_STATUSES,
  type StopReason,
} from "../model/conversation_meta.ts";
import { ConversationStore } from "../bus/conversation_store.ts";
import { agentForTurn, type DialogMessage, MessageMetadata } from "../model/dialog_message.ts";
import { DialogueError, ErrorCode } from "../base/dialogue_error.ts";
import { LiveDetectors } from "./live_detectors.ts";
import {
  AGENT_GROUP,
  consumerName,
  conversationKeys,
  MANAGER_GROUP,
  newConversationId,
} from "../bus/keys.ts";
import type { LlmBackend } from "../llm/llm_backend.ts";
import { publishLive } from "../bus/live_feed.ts";
import { endRun } from "./run_ending.ts";
import { log } from "../base/logger.ts";
import { OutageGuard } from "../bus/redis_outage.ts";
import { writeScenario } from "./scenario_writer.ts";
import type { Scenario } from "../model/story.ts";
import type { StreamEntry } from "../bus/stream_entry.ts";
import { StreamQueue } from "../bus/stream_queue.ts";

/** Inputs of {@linkcode runConversation}. */
export interface RunConversationOptions {
  config: Config;
  /** Connection for ordinary commands. */
  redis: Redis;
  /** Dedicated connection for blocking reads. */
  blocking: Redis;
  /** Backend the manager writes the scenario with. */
  backend: LlmBackend;
  /** Use this id (e.g. chosen by `main.ts`); a new one otherwise. */
  conversationId?: string;
  /** A user's scenario; the manager's model writes one otherwise. */
  scenario?: Scenario;
  /** Ends the run as `interrupted`. */
  signal: AbortSignal;
  /** Called once the conversation exists, before the scenario is written. */
  onCreated?: (id: string) => void;
}

type FinalStatus = "completed" | "failed" | "interrupted";

/**
 * Runs one conversation to its end and returns its final metadata.
 * A failure inside the run is recorded (status `failed`) and returned, not
 * thrown; only Redis staying unusable throws.
 */
export async function runConversation(
  options: RunConversationOptions,
): Promise<ConversationMeta> {
  const { config, redis } = options;
  const store = new ConversationStore(redis);
  const id = options.conversationId ?? newConversationId();
  if (await store.get(id)) {
    throw new DialogueError(
      ErrorCode.Usage,
      `Conversation ${id} exists already: continue it with --resume ${id}, or choose another id`,
    );
  }
  await store.create({
    id,
    status: "pending",
    created_at: Date.now(),
    turns: 0,
    max_turns: config.conversation.max_turns,
    duration_seconds: config.conversation.duration_seconds,
    models: {
      manager: config.manager.model,
      agent1: agentModel(config, 1),
      agent2: agentModel(config, 2),
    },
    config: redactConfig(config),
  });
  options.onCreated?.(id);
  const run = new _Run(options, id);

  let scenario: Scenario;
  try {
    scenario = options.scenario ?? await writeScenario(options.backend, {
      model: config.manager.model,
      topic: config.manager.topic,
      maxAttempts: config.manager.max_attempts,
      template: config.prompts.scenario as string | undefined,
      temperature: config.generation.temperature,
      numCtx: config.generation.num_ctx,
      seed: config.generation.seed,
      signal: options.signal,
    });
  } catch (error) {
    if (options.signal.aborted) return await run.finish("interrupted", "interrupted");
    if (!(error instanceof DialogueError)) throw error;
    return await run.finish("failed", "error", error.message);
  }
  await run.ensureGroups();
  const startedAt = Date.now();
  await store.update(id, {
    scenario,
    status: "running",
    started_at: startedAt,
    deadline: startedAt + config.conversation.duration_seconds * 1000,
  });
  await publishLive(redis, id, { type: "status", status: "running", turns: 0 });
  await run.route(1, scenario.story.initial_situation);
  return await run.loop();
}

/**
 * Continues a conversation from its state in Redis: its turn count, its
 * routed requests and the responses still unacknowledged. An interrupted run
 * gets back the time it had left; a run whose manager died keeps its deadline.
 *
 * @throws {DialogueError} `not_found` for an unknown id, `usage` when the run
 * completed or failed, or never got its scenario.
 */
export async function resumeConversation(
  options: Omit<RunConversationOptions, "conversationId" | "scenario" | "onCreated"> & {
    conversationId: string;
  },
): Promise<ConversationMeta> {
  const id = options.conversationId;
  const store = new ConversationStore(options.redis);
  const meta = await store.require(id);
  assertResumable(meta);
  if (!meta.scenario || meta.deadline === undefined) {
    throw new DialogueError(
      ErrorCode.Usage,
      `Cannot resume conversation ${id} as it never started (no scenario yet): start a new run`,
    );
  }
  const deadline = meta.status === "interrupted" && meta.ended_at
    ? Date.now() + Math.max(0, meta.deadline - meta.ended_at)
    : meta.deadline;
  await options.redis.hdel(conversationKeys(id).meta, "ended_at", "stop_reason", "error");
  await store.update(id, { status: "running", deadline });
  await publishLive(options.redis, id, { type: "status", status: "running", turns: meta.turns });
  log("manager").info("Resuming conversation {id} at turn {turns}", { id, turns: meta.turns });
  const run = new _Run(options, id);
  await run.ensureGroups();
  // The first request is routed once; this is a no-op unless the manager
  // died before routing it.
  await run.route(1, meta.scenario.story.initial_situation);
  return await run.loop({ claimAllPending: true });
}

/**
 * @throws {DialogueError} `usage` when the run completed or failed: only
 * interrupted runs, and runs whose manager died, continue.
 */
export function assertResumable(meta: ConversationMeta): void {
  if (meta.status === "completed" || meta.status === "failed") {
    throw new DialogueError(
      ErrorCode.Usage,
      `Cannot resume conversation ${meta.id} as it is ${meta.status} (${
        meta.stop_reason ?? "no reason"
      }): start a new run`,
    );
  }
}

/** One run's routing state and helpers. */
class _Run {
  readonly #options: RunConversationOptions;
  readonly #id: string;
  readonly #store: ConversationStore;
  readonly #keys: ReturnType<typeof conversationKeys>;
  readonly #queue: StreamQueue;
  readonly #guard: OutageGuard;
  readonly #detectors: LiveDetectors;
  #texts: string[] = [];

  constructor(options: RunConversationOptions, id: string) {
    this.#options = options;
    this.#id = id;
    this.#store = new ConversationStore(options.redis);
    this.#keys = conversationKeys(id);
    this.#queue = new StreamQueue(options.redis, options.blocking, {
      group: MANAGER_GROUP,
      consumer: consumerName("manager"),
      deadLetter: this.#keys.deadLetter,
      claimIdleMs: options.config.conversation.claim_idle_seconds * 1000,
    });
    this.#guard = new OutageGuard(options.config.redis, [options.redis, options.blocking], {
      onRecover: () => this.#queue.recover(),
      signal: options.signal,
    });
    this.#detectors = new LiveDetectors(
      options.config.conversation,
      (notice) => publishLive(options.redis, id, notice),
    );
  }

  async ensureGroups(): Promise<void> {
    const { redis, blocking } = this.#options;
    await this.#queue.ensureGroup([this.#keys.responses(1), this.#keys.responses(2)]);
    await new StreamQueue(redis, blocking, {
      group: AGENT_GROUP,
      consumer: "setup",
      deadLetter: this.#keys.deadLetter,
    }).ensureGroup([this.#keys.requests(1), this.#keys.requests(2)]);
  }

  /** Records the end of the run unless it has ended already; returns the final metadata. */
  async finish(
    status: FinalStatus,
    reason: StopReason,
    detail?: string,
  ): Promise<ConversationMeta> {
    await endRun(this.#options.redis, this.#id, {
      status,
      reason,
      ...(detail ? { detail } : {}),
      retentionSeconds: this.#options.config.retention.seconds,
    });
    return await this.#store.require(this.#id);
  }

  /** Writes the request for turn `seq` (once, even if routed again after a crash). */
  async route(seq: number, content: string): Promise<void> {
    const agent = agentForTurn(seq);
    const message: DialogMessage = {
      queue_timestamp: Date.now(),
      message_id: crypto.randomUUID(),
      role: "user",
      content,
      metadata: MessageMetadata.parse({
        conversation_id: this.#id,
        sequence_number: seq,
        agent_id: agent,
      }),
    };
    await this.#queue.addOnce(this.#keys.requests(agent), message, {
      key: this.#keys.routed,
      field: String(seq),
    });
  }

  /** Routes responses until the run ends. */
  async loop(options: { claimAllPending?: boolean } = {}): Promise<ConversationMeta> {
    const { signal } = this.#options;
    if (options.claimAllPending) {
      // Resuming: the previous manager is gone, its pending responses are ours.
      await this.#queue.claimAll([this.#keys.responses(1), this.#keys.responses(2)]);
    }
    while (true) {
      const ended = await this.#guard.run(() => this.#step());
      if (ended) return ended;
      if (signal.aborted) return await this.finish("interrupted", "interrupted");
    }
  }

  /** One read-and-route step; the final metadata once the run has ended. */
  async #step(): Promise<ConversationMeta | undefined> {
    const { signal } = this.#options;
    if (signal.aborted) return await this.finish("interrupted", "interrupted");
    const meta = await this.#store.require(this.#id);
    if (FINISHED_STATUSES.includes(meta.status)) return meta;
    const remaining = (meta.deadline ?? Date.now()) - Date.now();
    if (remaining <= 0) return await this.finish("completed", "duration");
    let entries: StreamEntry[];
    try {
      entries = await this.#queue.read([this.#keys.responses(1), this.#keys.responses(2)], {
        blockMs: Math.min(1000, remaining),
      });
    } catch (error) {
      if (signal.aborted) return await this.finish("interrupted", "interrupted");
      throw error;
    }
    let turns = meta.turns;
    for (const entry of entries.sort(_bySeq)) {
      const seq = entry.message.metadata.sequence_number;
      // Re-processing a response is safe: routing is idempotent per turn.
      turns = Math.max(turns, seq);
      await this.#store.update(this.#id, { turns });
      const stop = await this.#stopReason(seq, entry.message.content, meta);
      if (stop) {
        await this.#queue.ack(entry);
        return await this.finish("completed", stop);
      }
      await this.route(seq + 1, entry.message.content);
      await this.#queue.ack(entry);
    }
    return undefined;
  }

  /** Reply texts of turns 1..seq: appended as they come, read from Redis after a gap (resume). */
  async #textsUpTo(seq: number, latest: string): Promise<string[]> {
    if (this.#texts.length === seq - 1) this.#texts.push(latest);
    else if (this.#texts.length < seq) {
      const { responses } = await this.#store.transcript(this.#id);
      this.#texts = responses.map((r) => r.content);
    }
    return this.#texts.slice(0, seq);
  }

  /** Why the run must stop after turn `seq`, if it must. */
  async #stopReason(
    seq: number,
    latest: string,
    meta: ConversationMeta,
  ): Promise<StopReason | undefined> {
    // The limits stored with the run win: a resumed run keeps its own.
    if (seq >= meta.max_turns) return "max_turns";
    if (meta.deadline !== undefined && Date.now() >= meta.deadline) return "duration";
    const texts = await this.#textsUpTo(seq, latest);
    return await this.#detectors.shouldStop(texts) ? "loop" : undefined;
  }
}

function _bySeq(a: StreamEntry, b: StreamEntry): number {
  return a.message.metadata.sequence_number - b.message.metadata.sequence_number;
}
