/**
 * Pool mode (`deno task agent` without `--id`): a long-lived worker that
 * serves agent turns of any conversation, either slot, from the work
 * streams of the models it serves, with `concurrency` generations in
 * flight. Run status is pushed to it (a run's cancel on its control
 * channel aborts its generation; a new model on the events channel adds a
 * work stream), never polled.
 *
 * @module
 */
import type { Redis } from "ioredis";
import type { Config } from "../config/config.ts";
import type { AgentId } from "../model/dialog_message.ts";
import type { BackendKind, LlmBackend } from "../llm/llm_backend.ts";
import { BackendSet } from "../llm/backend_factory.ts";
import { dispatchKeys, KEY_PREFIX, WORKER_GROUP } from "../bus/keys.ts";
import { AgentTicket } from "../bus/dispatch.ts";
import { TicketReader } from "../bus/ticket_reader.ts";
import { CONTROL_CANCEL } from "../manager/run_ending.ts";
import { log } from "../base/logger.ts";
import { ConversationCache } from "./conversation_cache.ts";
import { RunCancels } from "./run_cancels.ts";
import { serveTurn, type TurnContext, type TurnResult } from "./turn_server.ts";

/** Options of {@linkcode runAgentPool}. */
export interface AgentPoolOptions {
  config: Config;
  /** Connection for ordinary commands. */
  redis: Redis;
  /** Dedicated connection for pub/sub (control pattern and events channel). */
  subscriber: Redis;
  /** Stable consumer name: a restart under the same name takes its tickets back at once. */
  consumer: string;
  /** Generations in flight. @default config.agents.concurrency */
  concurrency?: number;
  /** Models served. @default config.agents.models, else every model in dispatchKeys.models */
  models?: string[];
  /** The backend for a slot's host. @default an Ollama backend per host */
  backendFor?: (agent: AgentId, kind?: BackendKind) => LlmBackend;
  /** How long one blocking ticket read waits before looking again; bounds how long stopping takes (ms). @default 1000 */
  blockMs?: number;
  /** Called after each turn (for logs, tests and counters). */
  onTurn?: (ticket: AgentTicket, result: TurnResult) => void;
  signal: AbortSignal;
}

/** Channel pattern of every conversation's control channel. */
export const CONTROL_PATTERN = `${KEY_PREFIX}:{*}:control`;

/** Serves agent tickets until `signal` aborts; returns the number of replies recorded. */
export async function runAgentPool(options: AgentPoolOptions): Promise<{ turns: number }> {
  const { config, redis, subscriber, signal } = options;
  const filter = options.models ?? config.agents.models;
  let models = filter ?? await redis.smembers(dispatchKeys.models);
  const partitions = config.dispatch.partitions;
  const streams = () =>
    models.flatMap((model) =>
      Array.from({ length: partitions }, (_, p) => dispatchKeys.work(model, p))
    );
  const cancels = new RunCancels();
  const cache = new ConversationCache({ maxMessages: config.conversation.history_messages });
  const reader = new TicketReader(redis, {
    streams,
    group: WORKER_GROUP,
    consumer: options.consumer,
    schema: AgentTicket,
    heartbeatMs: config.dispatch.heartbeat_ms,
    deadAfterMs: config.dispatch.dead_after_ms,
    redisConfig: config.redis,
    ...(options.blockMs ? { blockMs: options.blockMs } : {}),
  });

  subscriber.on("pmessage", (_pattern: string, channel: string, message: string) => {
    if (message !== CONTROL_CANCEL) return;
    const id = channel.slice(KEY_PREFIX.length + 2, channel.lastIndexOf("}"));
    cancels.cancel(id);
    cache.forget(id);
  });
  subscriber.on("message", (channel: string, message: string) => {
    if (channel !== dispatchKeys.events || message !== "models" || filter) return;
    redis.smembers(dispatchKeys.models).then((all) => {
      models = all;
      reader.refresh();
    }).catch((error) => {
      log("agent").warn("Cannot read the model set: {error}", { error: String(error) });
    });
  });
  await subscriber.psubscribe(CONTROL_PATTERN);
  if (!filter) {
    await subscriber.subscribe(dispatchKeys.events);
    // A model added between the first read and the subscription.
    models = await redis.smembers(dispatchKeys.models);
  }

  const concurrency = options.concurrency ?? config.agents.concurrency;
  // One backend per (kind, host), shared by every turn in flight: an
  // embedded model is loaded once and serves `concurrency` sequences.
  const backends = new BackendSet(config, { sequences: concurrency });
  const backendFor = options.backendFor ??
    ((agent: AgentId, kind?: BackendKind) =>
      backends.forRole(agent === 1 ? "agent1" : "agent2", kind));
  const ctx: TurnContext = { config, redis, cache, backendFor, cancels, shutdown: signal };
  log("agent").info("Agent pool {consumer} serving {models} with concurrency {concurrency}", {
    consumer: options.consumer,
    models: filter ? filter.join(", ") : "every model",
    concurrency,
  });
  let turns = 0;
  try {
    await reader.serve(async (held) => {
      const ticket = held.ticket;
      const result = await serveTurn(ctx, ticket, {
        streamSlot: ticket.agent,
        model: ticket.model,
        settle: (p) => p.xack(held.stream, WORKER_GROUP, held.id),
      });
      if (result.outcome === "recorded") turns++;
      options.onTurn?.(ticket, result);
      return result.settlement === "release" ? "release" : "settled";
    }, { concurrency, signal });
  } finally {
    await reader.close();
    await backends.close();
  }
  return { turns };
}
