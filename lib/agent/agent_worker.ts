/**
 * Single-slot mode (`deno task agent --id N`): take requests for one slot of
 * one conversation from its request stream and serve each with
 * {@linkcode serveTurn}, the same decision and recording path as the pool.
 *
 * @module
 */
import type { Redis } from "ioredis";
import type { Config } from "../config/config.ts";
import { CONTROL_CANCEL } from "../manager/run_ending.ts";
import { FINISHED_STATUSES } from "../model/conversation_meta.ts";
import type { ConversationStatus } from "../model/conversation_meta.ts";
import { ConversationStore } from "../bus/conversation_store.ts";
import type { AgentId } from "../model/dialog_message.ts";
import { AGENT_GROUP, consumerName, conversationKeys } from "../bus/keys.ts";
import type { BackendKind, LlmBackend } from "../llm/llm_backend.ts";
import type { StreamEntry } from "../bus/stream_entry.ts";
import { StreamQueue } from "../bus/stream_queue.ts";
import { OutageGuard } from "../bus/redis_outage.ts";
import { ConversationCache } from "./conversation_cache.ts";
import { RunCancels } from "./run_cancels.ts";
import { serveTurn, type TurnContext } from "./turn_server.ts";

/** Inputs of {@linkcode runAgent}. */
export interface RunAgentOptions {
  config: Config;
  agent: AgentId;
  conversationId: string;
  /** Connection for ordinary commands. */
  redis: Redis;
  /** Dedicated connection for blocking reads. */
  blocking: Redis;
  /** Dedicated connection for the control channel (pub/sub mode). */
  subscriber: Redis;
  /**
   * The backend of the slot: fixed, or chosen per turn from the kind the run
   * recorded for it (absent in older runs).
   */
  backend: LlmBackend | ((kind?: BackendKind) => LlmBackend);
  /** Shutdown: the current generation is abandoned and left unacknowledged. */
  signal: AbortSignal;
  /**
   * Asked while the run is still pending: a reason to stop waiting for it to
   * start (lib/agent/pending_wait.ts), or undefined to wait on.
   * @default never leave
   */
  leavePending?: () => Promise<string | undefined>;
}

/** What {@linkcode runAgent} did: turns recorded, and why it left a run that never started. */
export interface RunAgentResult {
  turns: number;
  leftPending?: string;
}

/**
 * Serves one agent slot of a conversation until the conversation ends (or,
 * with `leavePending`, until it gives up on a run that does not start).
 */
export async function runAgent(options: RunAgentOptions): Promise<RunAgentResult> {
  const { redis, agent, conversationId: id, signal } = options;
  const keys = conversationKeys(id);
  const store = new ConversationStore(redis);
  await store.waitFor(id, { signal });
  // An interrupted run may be about to be resumed: wait for it rather than exit.
  await store.waitWhileInterrupted(id, signal);
  const claimIdleMs = options.config.conversation.claim_idle_seconds * 1000;
  const stream = keys.requests(agent);
  const queue = new StreamQueue(redis, options.blocking, {
    group: AGENT_GROUP,
    consumer: consumerName(`agent-${agent}`),
    deadLetter: keys.deadLetter,
    claimIdleMs,
  });
  await queue.ensureGroup([stream]);
  const cancels = new RunCancels();
  await options.subscriber.subscribe(keys.control);
  const onControl = (channel: string, message: string) => {
    if (channel === keys.control && message === CONTROL_CANCEL) cancels.cancel(id);
  };
  options.subscriber.on("message", onControl);
  const ctx: TurnContext = {
    config: options.config,
    redis,
    cache: new ConversationCache({
      maxMessages: options.config.conversation.history_messages,
      maxConversations: 1,
    }),
    backendFor: (_agent, kind) =>
      typeof options.backend === "function" ? options.backend(kind) : options.backend,
    cancels,
    shutdown: signal,
  };
  const guard = new OutageGuard(options.config.redis, [redis, options.blocking], {
    onRecover: () => queue.recover(),
    signal,
  });
  let turns = 0;
  let leftPending: string | undefined;
  const step = async (): Promise<boolean> => {
    const status = await redis.hget(keys.meta, "status") as ConversationStatus | null;
    if (status === null || FINISHED_STATUSES.includes(status)) return false;
    if (status === "pending" && options.leavePending) {
      leftPending = await options.leavePending();
      if (leftPending) return false;
    }
    let entries: StreamEntry[];
    try {
      entries = await queue.read([stream], { count: 1, blockMs: 1000 });
    } catch (error) {
      if (signal.aborted) return false;
      throw error;
    }
    for (const entry of entries) {
      const result = await serveTurn(ctx, {
        conversation_id: id,
        agent,
        seq: entry.message.metadata.sequence_number,
        request: entry.id,
      }, {
        streamSlot: agent,
        request: entry.message,
        settle: (p) => p.xack(entry.stream, AGENT_GROUP, entry.id),
        touch: () => queue.touch(entry),
        touchMs: claimIdleMs / 3,
        releaseHeld: true,
      });
      // Unfinished work stays pending, released so that the next agent (after
      // a resume, or another process for this slot) takes it at once.
      if (result.settlement === "release") await queue.release(entry);
      if (result.outcome === "recorded") turns++;
    }
    return true;
  };
  try {
    while (!signal.aborted && await guard.run(step));
  } finally {
    options.subscriber.off("message", onControl);
  }
  if (leftPending) await options.subscriber.unsubscribe(keys.control);
  return leftPending ? { turns, leftPending } : { turns };
}
