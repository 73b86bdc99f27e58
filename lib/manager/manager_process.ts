/**
 * The manager process around {@linkcode runManagerPool}: its Redis
 * connection, its LLM backend, its mode (serve every conversation; or create
 * or resume one and serve until it ends), and what happens when Redis stays
 * away.
 *
 * @module
 */
import type { Redis } from "ioredis";
import type { Config } from "../config/config.ts";
import type { Role } from "../config/backend_config.ts";
import { DialogueError, ErrorCode } from "../base/dialogue_error.ts";
import { MAX_STDERR_TEXT, sanitizeBounded } from "../base/sanitize.ts";
import { BackendSet } from "../llm/backend_factory.ts";
import type { BackendKind } from "../llm/llm_backend.ts";
import { resolveBackends } from "../llm/backend_resolution.ts";
import { consumerName } from "../bus/keys.ts";
import { ConversationStore } from "../bus/conversation_store.ts";
import { closeRedis, connectRedis } from "../bus/redis_connection.ts";
import { recordFailureWhenBack } from "../bus/redis_outage.ts";
import type { Scenario } from "../model/story.ts";
import { createConversation, interruptConversations, requestResume } from "./conversation_setup.ts";
import { runManagerPool } from "./manager_pool.ts";

/** Options of {@linkcode runManagerProcess}. */
export interface ManagerProcessOptions {
  config: Config;
  /** Serve every conversation until stopped (no conversation of its own). */
  pool?: boolean;
  /** Stable consumer name (a restart under it takes its tickets back at once). @default host-pid-random */
  consumer?: string | undefined;
  /** Id for a new conversation (default: a fresh one). */
  conversationId?: string | undefined;
  /** Continue this conversation instead of starting one. */
  resume?: string | undefined;
  scenario?: Scenario | undefined;
  signal: AbortSignal;
}

/**
 * Runs the manager; returns the exit code. A pool returns 0 once stopped;
 * with a conversation of its own: 0 completed, 1 failed, 130 interrupted
 * (a signal interrupts the conversation, resumable with `--resume`).
 *
 * @throws {DialogueError} when Redis cannot be reached at start, or the
 * conversation cannot be created or resumed.
 */
export async function runManagerProcess(options: ManagerProcessOptions): Promise<number> {
  const { signal } = options;
  // A manager that creates a run resolves every role's backend (the run
  // records them); a pool or a resume writes scenarios only.
  const roles: Role[] = options.pool || options.resume
    ? ["manager"]
    : options.scenario
    ? ["agent1", "agent2"]
    : ["manager", "agent1", "agent2"];
  // Redis first: without it nothing can run, whatever the backends.
  const redis = await connectRedis(options.config.redis, { name: "manager" });
  let resolved;
  try {
    resolved = await resolveBackends(options.config, { roles, signal });
  } catch (error) {
    await closeRedis(redis);
    throw error;
  }
  const config = resolved.config;
  const backends = new BackendSet(config);
  const common = {
    config,
    redis,
    // Each run's recorded manager backend wins over this process's own.
    backend: (kind?: BackendKind) => backends.forRole("manager", kind),
    consumer: options.consumer ?? consumerName("manager"),
    signal,
  };
  let id: string | undefined;
  try {
    if (options.pool) {
      await runManagerPool(common);
      return 0;
    }
    if (options.resume) {
      id = options.resume;
      await requestResume(redis, config, id);
    } else {
      id = await createConversation(redis, config, {
        id: options.conversationId,
        scenario: options.scenario,
      });
    }
    const endings = await runManagerPool({ ...common, until: new Set([id]) });
    if (!endings.has(id)) {
      await interruptConversations(redis, config, [id]);
    }
    return await _exitCode(redis, id);
  } catch (error) {
    if (!(error instanceof DialogueError) || error.code !== ErrorCode.RedisUnavailable || !id) {
      throw error;
    }
    return await _outage(config, id, error);
  } finally {
    await closeRedis(redis);
    await backends.close();
  }
}

async function _exitCode(redis: Redis, id: string): Promise<number> {
  const meta = await new ConversationStore(redis).require(id);
  if (meta.status === "failed") {
    const why = sanitizeBounded(meta.error ?? "unknown error", MAX_STDERR_TEXT, {
      keepNewlines: false,
    });
    console.error(`manager: conversation ${meta.id} failed: ${why}`);
    return 1;
  }
  return meta.status === "completed" ? 0 : 130;
}

/** Says why now, then tries to leave the reason in Redis once it is back. */
async function _outage(config: Config, id: string, error: DialogueError): Promise<number> {
  console.error(
    `manager: ${sanitizeBounded(error.message, MAX_STDERR_TEXT, { keepNewlines: false })}`,
  );
  const waitMs = config.redis.max_unavailable_seconds * 1000;
  const outcome = await recordFailureWhenBack(config.redis, id, error.message, waitMs);
  const said = {
    recorded: `recorded conversation ${id} as failed`,
    already_ended: `conversation ${id} had ended already`,
    gone: `Redis came back without conversation ${id} (no persistence? see README, Reliability)`,
    unreachable: `could not record conversation ${id} as failed: Redis stayed unreachable`,
  }[outcome];
  console.error(`manager: ${said}`);
  return 1;
}
