/**
 * Every Redis key and channel name DialogueLLM uses, built in one place.
 *
 * A conversation's keys carry its id as a hash tag (`{id}`) so they share one
 * cluster slot and multi-key commands and scripts stay legal on Redis Cluster.
 *
 * @module
 */
import type { AgentId } from "../model/dialog_message.ts";

/** Prefix of every key; change it to run several deployments on one Redis. */
export const KEY_PREFIX = "dialogue";

/** Consumer group through which agents read their request stream. */
export const AGENT_GROUP = "agents";
/** Consumer group through which the manager reads the response streams. */
export const MANAGER_GROUP = "manager";

/** Sorted set of conversation ids scored by creation time (ms). */
export function conversationIndexKey(): string {
  return `${KEY_PREFIX}:conversations`;
}

/** Names of one conversation's keys. */
export interface ConversationKeys {
  /** Hash: the conversation's metadata. */
  meta: string;
  /** Stream: requests for agent 1 or 2. */
  requests(agent: AgentId): string;
  /** Stream: responses of agent 1 or 2. */
  responses(agent: AgentId): string;
  /** Capped stream: live tokens and status events for observers. */
  live: string;
  /** Stream: entries that failed validation, with the reason. */
  deadLetter: string;
  /** Hash: sequence number → response message id (first answer wins). */
  answered: string;
  /** Hash: sequence number → request entry id (first routing wins). */
  routed: string;
  /** Pub/sub channel: control messages (cancel) to agents. */
  control: string;
  /** Every key of the conversation, for cleanup and expiry. */
  all(): string[];
}

/**
 * The keys of conversation `id`.
 *
 * @example Keys of one conversation
 * ```ts
 * const keys = conversationKeys("c1");
 * keys.requests(1); // "dialogue:{c1}:requests:1"
 * ```
 */
export function conversationKeys(id: string): ConversationKeys {
  const base = `${KEY_PREFIX}:{${id}}`;
  const keys: ConversationKeys = {
    meta: `${base}:meta`,
    requests: (agent) => `${base}:requests:${agent}`,
    responses: (agent) => `${base}:responses:${agent}`,
    live: `${base}:live`,
    deadLetter: `${base}:dead`,
    answered: `${base}:answered`,
    routed: `${base}:routed`,
    control: `${base}:control`,
    all: () => [
      keys.meta,
      keys.requests(1),
      keys.requests(2),
      keys.responses(1),
      keys.responses(2),
      keys.live,
      keys.deadLetter,
      keys.answered,
      keys.routed,
    ],
  };
  return keys;
}

/**
 * A new conversation id: sortable by creation time, unique across hosts.
 * Characters are limited to `[0-9a-z-]` so the id is safe in keys and paths.
 */
export function newConversationId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, "").replace("T", "-")
    .slice(0, 15);
  const rand = crypto.randomUUID().slice(0, 8);
  return `${stamp.toLowerCase()}-${rand}`;
}

/** Whether `id` is a well-formed conversation id as accepted from users. */
export function isValidConversationId(id: string): boolean {
  return /^[0-9A-Za-z_.-]{1,128}$/.test(id);
}

/**
 * A consumer name unique to this process, so several processes (on several
 * hosts) can serve the same role without taking each other's entries.
 */
export function consumerName(role: string): string {
  let host = "host";
  try {
    host = Deno.hostname();
  } catch {
    // No --allow-sys=hostname: the pid and a random suffix still keep it unique.
  }
  return `${role}-${host}-${Deno.pid}-${crypto.randomUUID().slice(0, 4)}`;
}

/** Consumer group through which pool workers read their work streams. */
export const WORKER_GROUP = "workers";
/** Consumer group through which pool managers read their inbox streams. */
export const MANAGERS_GROUP = "managers";

/**
 * Keys of the dispatch layer that lets a few processes serve many
 * conversations. Work is spread over `partitions` streams, each with a hash
 * tag of its own, so on Redis Cluster they land on different masters and no
 * command ever spans two conversations or two partitions.
 */
export const dispatchKeys = {
  /**
   * Stream of agent tickets (a turn to generate) for one model and partition;
   * pool workers read it through {@linkcode WORKER_GROUP}.
   */
  work: (model: string, partition: number): string =>
    `${KEY_PREFIX}:{work:${_safeModel(model)}:${partition}}:agents`,
  /** Stream of manager tickets (start, a response to route, resume) for one partition. */
  inbox: (partition: number): string => `${KEY_PREFIX}:{inbox:${partition}}:managers`,
  /** Set of the models conversations have asked for, so workers know which work streams to read. */
  models: `${KEY_PREFIX}:models`,
  /** Sorted set: running conversation id → deadline (epoch ms), for deadline enforcement. */
  deadlines: `${KEY_PREFIX}:deadlines`,
  /** Hash: pool process consumer name → last heartbeat (epoch ms). */
  heartbeats: `${KEY_PREFIX}:heartbeats`,
  /** Pub/sub channel: `models` when a new model appears; progress of runs (JSON) for dashboards. */
  events: `${KEY_PREFIX}:events`,
} as const;

/** The partition a conversation's tickets go to (stable for its id). */
export function partitionOf(conversationId: string, partitions: number): number {
  if (partitions <= 1) return 0;
  let hash = 2166136261;
  for (let i = 0; i < conversationId.length; i++) {
    hash ^= conversationId.charCodeAt(i);
    hash = Math.imul(hash, 16777619);
  }
  return (hash >>> 0) % partitions;
}

/** A model name made safe inside a key's hash tag (no braces, no spaces). */
function _safeModel(model: string): string {
  return model.replace(/[^0-9A-Za-z._:/-]/g, "_");
}
