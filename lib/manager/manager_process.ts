/**
 * The manager process around {@linkcode runConversation}: its Redis
 * connections, its LLM backend, and what happens when Redis stays away.
 *
 * @module
 */
import type { Config } from "../config/config.ts";
import { resumeConversation, runConversation } from "./conversation_runner.ts";
import { DialogueError, ErrorCode } from "../base/dialogue_error.ts";
import { log } from "../base/logger.ts";
import { ollamaBackendFor } from "../llm/ollama_backend.ts";
import { closeRedis, connectRedis } from "../bus/redis_connection.ts";
import { recordFailureWhenBack } from "../bus/redis_outage.ts";
import type { Scenario } from "../model/story.ts";

/** Options of {@linkcode runManagerProcess}. */
export interface ManagerProcessOptions {
  config: Config;
  /** Id for a new conversation (default: a fresh one). */
  conversationId?: string;
  /** Continue this conversation instead of starting one. */
  resume?: string;
  scenario?: Scenario;
  signal: AbortSignal;
}

/**
 * Runs (or resumes) one conversation; returns the exit code: 0 completed,
 * 1 failed, 130 interrupted.
 *
 * @throws {DialogueError} when Redis cannot be reached at start.
 */
export async function runManagerProcess(options: ManagerProcessOptions): Promise<number> {
  const { config, signal } = options;
  const redis = await connectRedis(config.redis, { name: "manager" });
  const blocking = await connectRedis(config.redis, { name: "manager-reader", blocking: true });
  let id = options.resume ?? options.conversationId;
  const common = {
    config,
    redis,
    blocking,
    backend: ollamaBackendFor(config.ollama, config.manager.host ?? config.ollama.host),
    signal,
  };
  try {
    const meta = options.resume
      ? await resumeConversation({ ...common, conversationId: options.resume })
      : await runConversation({
        ...common,
        ...(options.conversationId ? { conversationId: options.conversationId } : {}),
        ...(options.scenario ? { scenario: options.scenario } : {}),
        onCreated: (created) => {
          id = created;
          log("manager").info("Conversation {id} created", { id: created });
        },
      });
    if (meta.status === "failed") {
      console.error(`manager: conversation ${meta.id} failed: ${meta.error ?? "unknown error"}`);
      return 1;
    }
    return meta.status === "interrupted" ? 130 : 0;
  } catch (error) {
    if (!(error instanceof DialogueError) || error.code !== ErrorCode.RedisUnavailable || !id) {
      throw error;
    }
    // Say why now, then try to leave the reason in Redis once it is back.
    console.error(`manager: ${error.message}`);
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
  } finally {
    await closeRedis(blocking, redis);
  }
}
