/**
 * The agent process around {@linkcode runAgent}: its three Redis
 * connections, its LLM backend, and finding the conversation to serve.
 *
 * @module
 */
import { agentHost, type Config } from "../config/config.ts";
import { waitForActiveConversation } from "../bus/conversation_store.ts";
import type { AgentId } from "../model/dialog_message.ts";
import { log } from "../base/logger.ts";
import { ollamaBackendFor } from "../llm/ollama_backend.ts";
import { closeRedis, connectRedis } from "../bus/redis_connection.ts";
import { runAgent } from "./agent_worker.ts";

/** Options of {@linkcode runAgentProcess}. */
export interface AgentProcessOptions {
  config: Config;
  agent: AgentId;
  /** Conversation to serve; default: the newest pending or running one (waits). */
  conversationId?: string;
  signal: AbortSignal;
}

/** Serves one agent slot until its conversation ends; returns the exit code. */
export async function runAgentProcess(options: AgentProcessOptions): Promise<number> {
  const { config, agent, signal } = options;
  const redis = await connectRedis(config.redis, { name: `agent-${agent}` });
  const blocking = await connectRedis(config.redis, {
    name: `agent-${agent}-reader`,
    blocking: true,
  });
  // Pub/sub needs a connection of its own.
  const subscriber = await connectRedis(config.redis, {
    name: `agent-${agent}-control`,
    blocking: true,
  });
  try {
    const id = options.conversationId ?? await waitForActiveConversation(redis, signal);
    if (!id) return 130;
    log("agent").info("Agent {agent} serving conversation {id}", { agent, id });
    const { turns } = await runAgent({
      config,
      agent,
      conversationId: id,
      redis,
      blocking,
      subscriber,
      backend: ollamaBackendFor(config.ollama, agentHost(config, agent)),
      signal,
    });
    log("agent").info("Agent {agent} done after {turns} turns", { agent, turns });
    return signal.aborted ? 130 : 0;
  } finally {
    await closeRedis(subscriber, blocking, redis);
  }
}
