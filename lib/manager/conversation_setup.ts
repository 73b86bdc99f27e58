/**
 * Creating, resuming and interrupting conversations: the steps a user (or
 * the chat supervisor) takes, each a few Redis commands plus a ticket for
 * the manager pool, which does the rest.
 *
 * @module
 */
import type { Redis } from "ioredis";
import { agentModel, type Config } from "../config/config.ts";
import { concreteBackend, roleModel } from "../config/backend_config.ts";
import { redactConfig } from "../config/redaction.ts";
import { runVersions } from "../base/version.ts";
import type { ConversationMeta } from "../model/conversation_meta.ts";
import type { Scenario } from "../model/story.ts";
import { ConversationStore } from "../bus/conversation_store.ts";
import { addManagerTicket } from "../bus/dispatch.ts";
import { conversationKeys, dispatchKeys, newConversationId } from "../bus/keys.ts";
import { LIVE_STREAM_MAXLEN } from "../bus/live_feed.ts";
import { transitionStatus } from "../bus/status_transition.ts";
import { DialogueError, ErrorCode } from "../base/dialogue_error.ts";
import { log } from "../base/logger.ts";
import { endRun } from "./run_ending.ts";

/** Options of {@linkcode createConversation}. */
export interface CreateConversationOptions {
  /** Use this id; a new one otherwise. */
  id?: string | undefined;
  /** A user's scenario; the manager pool's model writes one otherwise. */
  scenario?: Scenario | undefined;
  /** Stored as `meta.config.batch`: the batch, cell and run this conversation belongs to. */
  batch?: { id: string; cell: string; run: string } | undefined;
}

/**
 * Creates a `pending` conversation with the limits of `config` and queues
 * its `start` ticket; returns its id.
 *
 * @throws {DialogueError} `usage` when a conversation with that id exists.
 */
export async function createConversation(
  redis: Redis,
  config: Config,
  options: CreateConversationOptions = {},
): Promise<string> {
  const store = new ConversationStore(redis);
  const id = options.id ?? newConversationId();
  if (await redis.exists(conversationKeys(id).meta)) {
    throw new DialogueError(
      ErrorCode.Usage,
      `Conversation ${id} exists already: continue it with --resume ${id}, or choose another id`,
    );
  }
  const models = {
    manager: roleModel(config, "manager"),
    agent1: agentModel(config, 1),
    agent2: agentModel(config, 2),
  };
  const backends = {
    manager: concreteBackend(config, "manager"),
    agent1: concreteBackend(config, "agent1"),
    agent2: concreteBackend(config, "agent2"),
  };
  await store.create({
    id,
    status: "pending",
    created_at: Date.now(),
    turns: 0,
    max_turns: config.conversation.max_turns,
    duration_seconds: config.conversation.duration_seconds,
    models,
    backends,
    // The versions ride with the stored config so the report can name them.
    config: {
      ...redactConfig(config),
      versions: runVersions(),
      ...(options.batch ? { batch: options.batch } : {}),
    },
    ...(options.scenario ? { scenario: options.scenario } : {}),
  });
  const added = await redis.sadd(dispatchKeys.models, models.agent1, models.agent2);
  const pipeline = redis.pipeline();
  if (added > 0) pipeline.publish(dispatchKeys.events, "models");
  addManagerTicket(pipeline, { kind: "start", conversation_id: id }, {
    partitions: config.dispatch.partitions,
  });
  await pipeline.exec();
  log("manager").debug("Conversation {id} created", { id });
  return id;
}

/**
 * @throws {DialogueError} `usage` when the run completed or failed: only
 * interrupted runs, runs whose manager died, and runs not started yet continue.
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

/**
 * Continues conversation `id` from its state in Redis. An interrupted run
 * goes back to `running` with the time it had left (the pause is added to
 * `paused_ms` and to its deadline); a run still `running` whose manager died
 * keeps its deadline; a `pending` one gets its start again. A `resume` ticket
 * then tells the manager pool to re-issue the turn in progress.
 *
 * @throws {DialogueError} `not_found` for an unknown id, `usage` when it
 * completed or failed, or another process changed its status meanwhile.
 */
export async function requestResume(redis: Redis, config: Config, id: string): Promise<void> {
  const store = new ConversationStore(redis);
  const meta = await store.require(id);
  assertResumable(meta);
  const dispatch = { partitions: config.dispatch.partitions };
  const keys = conversationKeys(id);
  if (meta.status === "interrupted") {
    const now = Date.now();
    const pause = Math.max(0, now - (meta.ended_at ?? now));
    const set: Record<string, number> = {
      resumed_at: now,
      paused_ms: (meta.paused_ms ?? 0) + pause,
    };
    if (meta.deadline !== undefined) set.deadline = meta.deadline + pause;
    const { changed, previous } = await transitionStatus(redis, id, "running", {
      set,
      remove: ["ended_at", "stop_reason", "error"],
    });
    if (!changed) {
      throw new DialogueError(
        ErrorCode.Usage,
        `Cannot resume conversation ${id} as it became ${
          previous || "deleted"
        } meanwhile: check it with 'deno task observe --list'`,
      );
    }
    const pipeline = redis.pipeline();
    if (set.deadline !== undefined) pipeline.zadd(dispatchKeys.deadlines, set.deadline, id);
    pipeline.xadd(
      keys.live,
      "MAXLEN",
      "~",
      LIVE_STREAM_MAXLEN,
      "*",
      "e",
      JSON.stringify({ type: "status", status: "running", turns: meta.turns }),
    );
    await pipeline.exec();
  }
  log("manager").info("Resuming conversation {id} at turn {turns}", { id, turns: meta.turns });
  const pipeline = redis.pipeline();
  addManagerTicket(pipeline, {
    kind: meta.status === "pending" ? "start" : "resume",
    conversation_id: id,
  }, dispatch);
  await pipeline.exec();
}

/**
 * Interrupts each conversation of `ids` that is `pending` or `running`:
 * status `interrupted` (resumable), a live status event, a cancel on its
 * control channel so agents drop their generation. Ended ones are left alone.
 */
export async function interruptConversations(
  redis: Redis,
  config: Config,
  ids: Iterable<string>,
): Promise<void> {
  await Promise.all(
    [...ids].map((id) =>
      endRun(redis, id, {
        status: "interrupted",
        reason: "interrupted",
        retentionSeconds: config.retention.seconds,
      })
    ),
  );
}
