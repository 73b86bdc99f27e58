/**
 * The manager's side of a run: set up the conversation, route every
 * response to the other agent as its next request, and stop at the turn
 * limit, the deadline, an error or a signal, recording why.
 *
 * @module
 */
import type { Redis } from "ioredis";
import { agentModel, type Config, redactConfig } from "./config.ts";
import { type ConversationMeta, FINISHED_STATUSES, type StopReason } from "./conversation_meta.ts";
import { ConversationStore } from "./conversation_store.ts";
import { agentForTurn, type DialogMessage, MessageMetadata } from "./dialog_message.ts";
import { DialogueError } from "./dialogue_error.ts";
import {
  AGENT_GROUP,
  consumerName,
  conversationKeys,
  MANAGER_GROUP,
  newConversationId,
} from "./keys.ts";
import type { LlmBackend } from "./llm_backend.ts";
import { publishLive } from "./live_feed.ts";
import { log } from "./logger.ts";
import { writeScenario } from "./scenario_writer.ts";
import type { Scenario } from "./story.ts";
import { type StreamEntry, StreamQueue } from "./stream_queue.ts";

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

const CONTROL_CANCEL = "cancel";

/**
 * Runs one conversation to its end and returns its final metadata.
 * A failure inside the run is recorded (status `failed`) and returned, not
 * thrown; only Redis being unusable throws.
 */
export async function runConversation(
  options: RunConversationOptions,
): Promise<ConversationMeta> {
  const { config, redis } = options;
  const store = new ConversationStore(redis);
  const id = options.conversationId ?? newConversationId();
  const keys = conversationKeys(id);
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
  const finish = async (
    status: "completed" | "failed" | "interrupted",
    reason: StopReason,
    detail?: string,
  ) => {
    if (await store.finish(id, status, reason, detail)) {
      const meta = await store.require(id);
      await publishLive(redis, id, {
        type: "status",
        status,
        stop_reason: reason,
        turns: meta.turns,
        ...(detail ? { detail: detail.slice(0, 4000) } : {}),
      });
      await redis.publish(keys.control, CONTROL_CANCEL);
      if (config.retention.seconds) {
        await store.expire(id, config.retention.seconds);
      }
      log("manager").info("Conversation {id} ended: {status} ({reason})", {
        id,
        status,
        reason,
      });
    }
    return await store.require(id);
  };

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
    if (options.signal.aborted) {
      return await finish("interrupted", "interrupted");
    }
    if (!(error instanceof DialogueError)) throw error;
    return await finish("failed", "error", error.message);
  }

  const queue = new StreamQueue(redis, options.blocking, {
    group: MANAGER_GROUP,
    consumer: consumerName("manager"),
    deadLetter: keys.deadLetter,
  });
  await queue.ensureGroup([keys.responses(1), keys.responses(2)]);
  await new StreamQueue(redis, options.blocking, {
    group: AGENT_GROUP,
    consumer: "setup",
    deadLetter: keys.deadLetter,
  }).ensureGroup([keys.requests(1), keys.requests(2)]);

  const startedAt = Date.now();
  const deadline = startedAt + config.conversation.duration_seconds * 1000;
  await store.update(id, {
    scenario,
    status: "running",
    started_at: startedAt,
    deadline,
  });
  await publishLive(redis, id, { type: "status", status: "running", turns: 0 });
  await _route(queue, keys, id, 1, scenario.story.initial_situation);

  return await _routeUntilDone({
    ...options,
    id,
    deadline,
    queue,
    store,
    finish,
  });
}

interface LoopState extends RunConversationOptions {
  id: string;
  deadline: number;
  queue: StreamQueue;
  store: ConversationStore;
  finish: (
    status: "completed" | "failed" | "interrupted",
    reason: StopReason,
    detail?: string,
  ) => Promise<ConversationMeta>;
}

async function _routeUntilDone(state: LoopState): Promise<ConversationMeta> {
  const { id, queue, store, finish, config, signal } = state;
  const keys = conversationKeys(id);
  let turns = 0;
  while (true) {
    if (signal.aborted) return await finish("interrupted", "interrupted");
    const remaining = state.deadline - Date.now();
    if (remaining <= 0) return await finish("completed", "duration");
    const meta = await store.require(id);
    if (FINISHED_STATUSES.includes(meta.status)) return meta;
    let entries: StreamEntry[];
    try {
      entries = await queue.read([keys.responses(1), keys.responses(2)], {
        blockMs: Math.min(1000, remaining),
      });
    } catch (error) {
      if (signal.aborted) continue;
      throw error;
    }
    for (const entry of entries) {
      const seq = entry.message.metadata.sequence_number;
      if (seq <= turns) {
        await queue.ack(entry);
        continue;
      }
      turns = seq;
      await store.update(id, { turns });
      if (seq >= config.conversation.max_turns) {
        await queue.ack(entry);
        return await finish("completed", "max_turns");
      }
      if (Date.now() >= state.deadline) {
        await queue.ack(entry);
        return await finish("completed", "duration");
      }
      await _route(queue, keys, id, seq + 1, entry.message.content);
      await queue.ack(entry);
    }
  }
}

/** Writes the request for turn `seq` (once, even if routed again after a crash). */
async function _route(
  queue: StreamQueue,
  keys: ReturnType<typeof conversationKeys>,
  conversationId: string,
  seq: number,
  content: string,
): Promise<void> {
  const agent = agentForTurn(seq);
  const message: DialogMessage = {
    queue_timestamp: Date.now(),
    message_id: crypto.randomUUID(),
    role: "user",
    content,
    metadata: MessageMetadata.parse({
      conversation_id: conversationId,
      sequence_number: seq,
      agent_id: agent,
    }),
  };
  await queue.addOnce(keys.requests(agent), message, {
    key: keys.routed,
    field: String(seq),
  });
}

/** Sent on the control channel when a run ends, so agents drop their generation. */
export { CONTROL_CANCEL };
