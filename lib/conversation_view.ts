/**
 * Following a conversation for display: what is already there first, then
 * live events as they come, until the run ends. Used by the observer process
 * and by `main.ts`'s inline view; all output goes through the renderer.
 *
 * @module
 */
import type { Redis } from "ioredis";
import { type ConversationMeta, FINISHED_STATUSES } from "./conversation_meta.ts";
import { ConversationStore } from "./conversation_store.ts";
import { agentForTurn, type AgentId, type DialogMessage } from "./dialog_message.ts";
import { conversationKeys } from "./keys.ts";
import { readLive } from "./live_feed.ts";
import { decodeEntry } from "./stream_queue.ts";
import { analyzeRun } from "./run_analysis.ts";
import { speakerName, type TerminalRenderer } from "./terminal_renderer.ts";

/** Options of {@linkcode watchConversation}. */
export interface WatchOptions {
  /** Stops watching (the run goes on). */
  signal?: AbortSignal;
  /** How long to wait for the conversation to appear. @default 30000 */
  appearTimeoutMs?: number;
}

/**
 * Shows a conversation from its start and follows it live until it ends
 * (a finished one is replayed), then a one-line summary. Returns its final
 * metadata.
 */
export async function watchConversation(
  redis: Redis,
  id: string,
  renderer: TerminalRenderer,
  options: WatchOptions = {},
): Promise<ConversationMeta> {
  const store = new ConversationStore(redis);
  const signal = options.signal ?? new AbortController().signal;
  let meta = await _waitForScenario(store, id, options.appearTimeoutMs ?? 30_000, signal);
  renderer.header(meta);
  const shown = new Set<number>();
  const started = new Set<number>();
  const show = (message: DialogMessage) => {
    const seq = message.metadata.sequence_number;
    if (shown.has(seq)) return;
    shown.add(seq);
    renderer.turnEnd(message, speakerName(meta, _agentOf(message)));
    renderer.statusLine(_statusOf(meta, seq));
  };
  for (const message of (await store.transcript(id)).responses) show(message);

  let cursor = "0";
  while (!signal.aborted) {
    const entries = await readLive(redis, id, cursor, 1000);
    for (const { id: entryId, event } of entries) {
      cursor = entryId;
      if (!event) continue;
      if (event.type === "status") {
        meta = await store.require(id);
        continue;
      }
      if (shown.has(event.seq)) continue;
      const speaker = speakerName(meta, event.agent);
      if (event.type === "turn_start" || (event.type === "token" && !started.has(event.seq))) {
        if (!started.has(event.seq)) {
          started.add(event.seq);
          const model = event.type === "turn_start" ? event.model : _model(meta, event.agent);
          renderer.turnStart(event.seq, event.agent, speaker, model);
        }
      }
      if (event.type === "token") renderer.token(event.seq, event.text);
      else if (event.type === "turn_abandoned") {
        renderer.abandoned(event.seq, event.reason);
        started.delete(event.seq);
      } else if (event.type === "turn_end") {
        const message = await _response(redis, id, event.agent, event.message_id);
        if (message) show(message);
      }
    }
    if (entries.length === 0 || FINISHED_STATUSES.includes(meta.status)) {
      meta = await store.require(id);
      if (FINISHED_STATUSES.includes(meta.status) && entries.length === 0) break;
    }
  }
  // Responses that landed without live events (e.g. a trimmed live stream).
  const transcript = await store.transcript(id);
  for (const message of transcript.responses) show(message);
  const { overall, conversation } = analyzeRun(transcript);
  renderer.footer(transcript.meta, {
    turns: overall.turns,
    tokens: overall.tokens_generated,
    meanTokensPerSecond: overall.tokens_per_second.mean,
    durationMs: conversation.duration_ms ?? 0,
  });
  return transcript.meta;
}

async function _waitForScenario(
  store: ConversationStore,
  id: string,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<ConversationMeta> {
  const giveUp = Date.now() + timeoutMs;
  while (true) {
    const meta = await store.get(id);
    if (meta && (meta.scenario || FINISHED_STATUSES.includes(meta.status))) return meta;
    if (Date.now() > giveUp || signal.aborted) return await store.require(id);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Looks up one response by its message id on the agent's response stream. */
async function _response(
  redis: Redis,
  id: string,
  agent: AgentId,
  messageId: string,
): Promise<DialogMessage | undefined> {
  const stream = conversationKeys(id).responses(agent);
  // The response was written just before its turn_end event: it is near the end.
  const recent = await redis.xrevrange(stream, "+", "-", "COUNT", 20);
  for (const [, fields] of recent) {
    try {
      const message = decodeEntry(fields);
      if (message.message_id === messageId) return message;
    } catch {
      // Invalid entries are the consumers' to dead-letter.
    }
  }
  return undefined;
}

function _agentOf(message: DialogMessage): AgentId {
  return message.metadata.agent_id ?? agentForTurn(message.metadata.sequence_number);
}

function _model(meta: ConversationMeta, agent: AgentId): string {
  return agent === 1 ? meta.models.agent1 : meta.models.agent2;
}

function _statusOf(meta: ConversationMeta, turn: number) {
  const left = meta.deadline ? Math.max(0, (meta.deadline - Date.now()) / 1000) : undefined;
  return {
    turn,
    maxTurns: meta.max_turns,
    ...(left !== undefined && !FINISHED_STATUSES.includes(meta.status)
      ? { secondsLeft: left }
      : {}),
  };
}
