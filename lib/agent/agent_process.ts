/**
 * The agent process around {@linkcode runAgent} (single-slot mode) and
 * {@linkcode runAgentPool} (pool mode): their Redis connections, their LLM
 * backend, and finding the conversation to serve.
 *
 * @module
 */
import type { Config } from "../config/config.ts";
import { ConversationStore } from "../bus/conversation_store.ts";
import { chooseConversation, leavePendingReason, pendingBoundMs } from "./pending_wait.ts";
import type { AgentId } from "../model/dialog_message.ts";
import { log } from "../base/logger.ts";
import { sleep } from "../base/backoff.ts";
import { BackendSet } from "../llm/backend_factory.ts";
import { resolveBackends } from "../llm/backend_resolution.ts";
import { closeRedis, connectRedis } from "../bus/redis_connection.ts";
import { runAgent } from "./agent_worker.ts";
import { runAgentPool } from "./agent_pool.ts";
import { consumerName } from "../bus/keys.ts";

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
  const { agent, signal } = options;
  const role = agent === 1 ? "agent1" : "agent2";
  // Redis first: without it nothing can run, whatever the backends.
  const redis = await connectRedis(options.config.redis, { name: `agent-${agent}` });
  let config: Config;
  try {
    ({ config } = await resolveBackends(options.config, { roles: [role], signal }));
  } catch (error) {
    await closeRedis(redis);
    throw error;
  }
  const backends = new BackendSet(config);
  const blocking = await connectRedis(config.redis, {
    name: `agent-${agent}-reader`,
    blocking: true,
  });
  // Pub/sub needs a connection of its own.
  const subscriber = await connectRedis(config.redis, {
    name: `agent-${agent}-control`,
    blocking: true,
  });
  const store = new ConversationStore(redis);
  // Runs this agent chose and left while they were still pending.
  const left = new Set<string>();
  const boundMs = pendingBoundMs(config);
  try {
    while (true) {
      const id = options.conversationId ?? await _waitForConversation(store, left, signal);
      if (!id) return 130;
      log("agent").info("Agent {agent} serving conversation {id}", { agent, id });
      const { turns, leftPending } = await runAgent({
        config,
        agent,
        conversationId: id,
        redis,
        blocking,
        subscriber,
        // The run's recorded backend for this slot wins over this process's own.
        backend: (kind) => backends.forRole(role, kind),
        signal,
        // A run named with --conversation is waited for however long it takes.
        ...(options.conversationId ? {} : {
          leavePending: async () => {
            const current = await store.get(id);
            if (!current) return undefined;
            return leavePendingReason(current, await store.list(10), Date.now(), boundMs);
          },
        }),
      });
      if (!leftPending) {
        log("agent").info("Agent {agent} done after {turns} turns", { agent, turns });
        return signal.aborted ? 130 : 0;
      }
      left.add(id);
      log("agent").warn(
        "Agent {agent} leaves conversation {id}, still pending ({reason}): its manager may have died; a manager pool ('deno task manager --pool') takes it over. Waiting for another conversation",
        { agent, id, reason: leftPending },
      );
    }
  } finally {
    await closeRedis(subscriber, blocking, redis);
    await backends.close();
  }
}

/** The newest conversation to serve, polling until one appears; undefined once `signal` aborts. */
async function _waitForConversation(
  store: ConversationStore,
  left: ReadonlySet<string>,
  signal: AbortSignal,
  pollMs = 500,
): Promise<string | undefined> {
  while (!signal.aborted) {
    const id = chooseConversation(await store.list(10), left);
    if (id) return id;
    await sleep(pollMs, signal);
  }
  return undefined;
}

/** Options of {@linkcode runAgentPoolProcess}. */
export interface AgentPoolProcessOptions {
  config: Config;
  /** Stable consumer name. @default consumerName("agent-pool") */
  consumer?: string;
  signal: AbortSignal;
}

/** Serves agent tickets of every conversation until `signal` aborts; returns the exit code. */
export async function runAgentPoolProcess(options: AgentPoolProcessOptions): Promise<number> {
  const { signal } = options;
  const redis = await connectRedis(options.config.redis, { name: "agent-pool" });
  // Each run records its roles' backends and the pool follows them; its own
  // settings only serve older runs. So nothing found is no reason to stop
  // (Ollama may come up later): no role here is required to resolve.
  let config: Config;
  try {
    ({ config } = await resolveBackends(options.config, { roles: [], signal }));
  } catch (error) {
    await closeRedis(redis);
    throw error;
  }
  // Pub/sub needs a connection of its own.
  const subscriber = await connectRedis(config.redis, {
    name: "agent-pool-control",
    blocking: true,
  });
  try {
    const { turns } = await runAgentPool({
      config,
      redis,
      subscriber,
      consumer: options.consumer ?? consumerName("agent-pool"),
      signal,
    });
    log("agent").info("Agent pool stopped after {turns} turns", { turns });
    return 0;
  } finally {
    await closeRedis(subscriber, redis);
  }
}
