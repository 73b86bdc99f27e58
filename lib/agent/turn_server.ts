/**
 * Serving one agent turn, the same way in a pool worker and in a single-slot
 * process: read the turn in one pipeline, decide (see
 * {@linkcode decideTurn}), generate with live tokens coalesced and never
 * awaited, record the reply through `record_response`, then one pipeline
 * with the manager's ticket and the acknowledgement.
 *
 * @module
 */
import type { ChainableCommander, Redis } from "ioredis";
import type { Config } from "../config/config.ts";
import { applyRunOverrides } from "../config/run_overrides.ts";
import type { AgentId, DialogMessage } from "../model/dialog_message.ts";
import type { BackendKind, LlmBackend } from "../llm/llm_backend.ts";
import { conversationKeys } from "../bus/keys.ts";
import { addManagerTicket } from "../bus/dispatch.ts";
import { encodeEntry } from "../bus/stream_entry.ts";
import { runScript } from "../bus/scripts.ts";
import { endRun } from "../manager/run_ending.ts";
import { queueDeadLetterEntry } from "../bus/dead_letter.ts";
import { log } from "../base/logger.ts";
import { decideTurn, type TurnClaim } from "./turn_decision.ts";
import { readTurn } from "./turn_reader.ts";
import type { ConversationCache } from "./conversation_cache.ts";
import { LiveBatcher, type LiveBatcherOptions } from "./live_batcher.ts";
import { generateReply } from "./reply_generation.ts";
import type { RunCancels } from "./run_cancels.ts";

/** What every turn of a process shares. */
export interface TurnContext {
  config: Config;
  /** Connection for ordinary commands (live writes go on it too, in order). */
  redis: Redis;
  cache: ConversationCache;
  /**
   * The backend serving `agent`'s slot: `kind` as the run recorded it
   * (absent in older runs); its host may differ per slot.
   */
  backendFor: (agent: AgentId, kind?: BackendKind) => LlmBackend;
  cancels: RunCancels;
  /** Process shutdown: a generation in flight is left for another process. */
  shutdown: AbortSignal;
  live?: LiveBatcherOptions;
}

/** How the caller hands a turn over and settles it. */
export interface ServeTurnOptions {
  /** Slot of the request stream the entry is on. */
  streamSlot: AgentId;
  /** The request when the caller read it already (single-slot mode). */
  request?: DialogMessage;
  /** The model the ticket was queued for (pool mode): it must be the slot's model. */
  model?: string;
  /** Adds the acknowledgement of the ticket or request to the turn's last pipeline. */
  settle: (pipeline: ChainableCommander) => void;
  /** Keeps the ticket or request from being taken over while generating. */
  touch?: () => Promise<void>;
  /** How often `touch` runs (ms). @default 1000 */
  touchMs?: number;
  /** Single-slot mode keeps the request of a paused run pending (released); a pool acks it, as resume re-issues the ticket. */
  releaseHeld?: boolean;
}

/** What became of a turn. */
export interface TurnResult {
  /** `settled`: acknowledged; `release`: the caller gives it back (still pending). */
  settlement: "settled" | "release";
  outcome:
    | "recorded"
    | "duplicate"
    | "skipped"
    | "held"
    | "dead_lettered"
    | "stopping"
    | "cancelled"
    | "failed";
  reason?: string;
}

/** Serves one turn; never throws for a bad turn, only for Redis failures and bugs. */
export async function serveTurn(
  ctx: TurnContext,
  claim: TurnClaim,
  options: ServeTurnOptions,
): Promise<TurnResult> {
  const { redis } = ctx;
  const id = claim.conversation_id;
  const keys = conversationKeys(id);
  const read = await readTurn(redis, claim, {
    cache: ctx.cache,
    streamSlot: options.streamSlot,
    ...(options.request ? { request: options.request } : {}),
  });
  const settle = async (extra?: (p: ChainableCommander) => void): Promise<void> => {
    const pipeline = redis.pipeline();
    extra?.(pipeline);
    options.settle(pipeline);
    for (const [error] of (await pipeline.exec()) ?? []) if (error) throw error;
  };
  const deadLetter = async (reason: string): Promise<TurnResult> => {
    log("agent").warn("Dead-lettered turn {seq} of {id} (request {request}): {reason}", {
      seq: claim.seq,
      id,
      request: claim.request,
      reason,
    });
    await settle((p) =>
      queueDeadLetterEntry(p, keys.deadLetter, {
        source: keys.requests(options.streamSlot),
        sourceId: claim.request,
        reason,
        raw: { ticket: claim, model: options.model },
      })
    );
    return { settlement: "settled", outcome: "dead_lettered", reason };
  };
  const hold = async (reason: string): Promise<TurnResult> => {
    if (options.releaseHeld) return { settlement: "release", outcome: "held", reason };
    await settle();
    return { settlement: "settled", outcome: "held", reason };
  };

  const decision = decideTurn(claim, read.facts);
  if (decision.action === "dead_letter") return await deadLetter(decision.reason);
  if (decision.action === "hold") return await hold(decision.reason);
  const tellManager = (p: ChainableCommander) =>
    addManagerTicket(p, { kind: "response", conversation_id: id, seq: claim.seq }, {
      partitions: ctx.config.dispatch.partitions,
    });
  if (decision.action === "skip") {
    if (read.facts.meta?.status !== "running") ctx.cache.forget(id);
    await settle(decision.notifyManager ? tellManager : undefined);
    return { settlement: "settled", outcome: "skipped", reason: decision.reason };
  }
  const conversation = read.conversation;
  if (!conversation) {
    await settle();
    return { settlement: "settled", outcome: "skipped", reason: "the run has no scenario" };
  }
  const agent = claim.agent;
  const model = agent === 1 ? conversation.models.agent1 : conversation.models.agent2;
  if (options.model !== undefined && options.model !== model) {
    return await deadLetter(
      `ticket queued for model ${options.model}, but agent ${agent} of this run uses ${model}`,
    );
  }
  const request = (read.facts.request as { message: DialogMessage }).message;
  const seq = claim.seq;
  const live = new LiveBatcher(redis, id, { seq, agent }, ctx.live);
  live.event({ type: "turn_start", seq, agent, model, at: Date.now() });
  const run = ctx.cancels.open(id);
  const heartbeat = options.touch
    ? setInterval(() => options.touch!().catch(() => {}), options.touchMs ?? 1000)
    : undefined;
  let outcome;
  try {
    outcome = await generateReply({
      // The run's own settings (topic, temperature, seed, prompts) over the pool's.
      config: applyRunOverrides(ctx.config, conversation.overrides ?? {}),
      backend: ctx.backendFor(agent, conversation.backends?.[agent === 1 ? "agent1" : "agent2"]),
      agent,
      model,
      scenario: conversation.scenario,
      history: read.history,
      request,
      deadline: read.facts.meta?.deadline,
      since: Math.max(request.queue_timestamp, read.resumedAt),
      shutdown: ctx.shutdown,
      cancel: run.signal,
      onText: (text) => live.token(text),
      onRetry: (reason) => live.event({ type: "turn_abandoned", seq, agent, reason }),
    });
  } finally {
    clearInterval(heartbeat);
    run.done();
  }

  if (outcome.kind === "reply") {
    const message = outcome.message;
    const [verdict, answerId] = await runScript<[string, string]>(
      redis,
      "record_response",
      [keys.meta, keys.routed, keys.answered, keys.responses(agent)],
      [seq, claim.request, ...encodeEntry(message)],
    );
    if (verdict === "recorded" || verdict === "duplicate") {
      if (verdict === "recorded") {
        ctx.cache.append(id, [message]);
        live.end({ type: "turn_end", seq, agent, message_id: message.message_id });
      } else {
        live.end({ type: "turn_abandoned", seq, agent, reason: "answered by another agent" });
      }
      // The manager's ticket goes even for a duplicate: the agent that
      // recorded first may have died before sending it.
      await settle(tellManager);
      log("agent").debug("Agent {agent} answered turn {seq} of {id} as {answerId}", {
        agent,
        seq,
        id,
        answerId,
      });
      return { settlement: "settled", outcome: verdict };
    }
    live.end({ type: "turn_abandoned", seq, agent, reason: `not recorded: ${verdict}` });
    if (verdict === "not_running" && (answerId === "interrupted" || answerId === "pending")) {
      return await hold(`the run is ${answerId}`);
    }
    ctx.cache.forget(id);
    await settle();
    return { settlement: "settled", outcome: "skipped", reason: `${verdict} ${answerId}`.trim() };
  }
  live.end({ type: "turn_abandoned", seq, agent, reason: outcome.reason });
  if (outcome.kind === "stopping") {
    return { settlement: "release", outcome: "stopping", reason: outcome.reason };
  }
  if (outcome.kind === "cancelled") {
    const status = await redis.hget(keys.meta, "status");
    if (status === "interrupted") {
      const held = await hold("the run was interrupted");
      return { ...held, outcome: "cancelled" };
    }
    await settle();
    return { settlement: "settled", outcome: "cancelled", reason: outcome.reason };
  }
  await endRun(redis, id, {
    status: "failed",
    reason: "error",
    detail: outcome.reason,
    retentionSeconds: ctx.config.retention.seconds,
  });
  log("agent").error("{reason}", { reason: outcome.reason });
  ctx.cache.forget(id);
  await settle();
  return { settlement: "settled", outcome: "failed", reason: outcome.reason };
}
