/**
 * Following a conversation for display: what is already there first, then
 * live events as they come, until the run ends. Used by the observer process
 * and by `main.ts`'s inline view; all output goes through the renderer.
 *
 * @module
 */
import type { Redis } from "ioredis";
import type { Config } from "../config/config.ts";
import { type ConversationMeta, FINISHED_STATUSES } from "../model/conversation_meta.ts";
import { ConversationStore } from "../bus/conversation_store.ts";
import { agentForTurn, type AgentId, type DialogMessage } from "../model/dialog_message.ts";
import { conversationKeys } from "../bus/keys.ts";
import { readLive } from "../bus/live_feed.ts";
import { LiveEvent } from "../model/live_event.ts";
import { OutageGuard } from "../bus/redis_outage.ts";
import { analyzeRun } from "../analysis/run_analysis.ts";
import { decodeEntry } from "../bus/stream_entry.ts";
import type { TerminalRenderer } from "./terminal_renderer.ts";
import { speakerName } from "./turn_lines.ts";
import { OutageNotice } from "./outage_notice.ts";

/** Options of {@linkcode watchConversation}. */
export interface WatchOptions {
  /** Stops watching (the run goes on). */
  signal?: AbortSignal;
  /**
   * How long to wait for a conversation that exists but has no scenario yet
   * (its manager is still writing it). An id that does not exist is an
   * error at once. @default 30000
   */
  appearTimeoutMs?: number;
  /**
   * Rides out Redis outages up to `max_unavailable_seconds`, saying that
   * Redis is waited for and when it is back.
   */
  redisConfig?: Config["redis"];
}

/**
 * Shows a conversation from its start and follows it live until it ends
 * (a finished one is replayed), then a one-line summary. When `signal`
 * aborts first, says that watching stopped while the run goes on. Replayed
 * turns show their position only; a turn seen live also its time left.
 * Returns the final metadata.
 *
 * @throws {DialogueError} `not_found` at once when `id` does not exist.
 */
export async function watchConversation(
  redis: Redis,
  id: string,
  renderer: TerminalRenderer,
  options: WatchOptions = {},
): Promise<ConversationMeta> {
  const store = new ConversationStore(redis);
  const signal = options.signal ?? new AbortController().signal;
  const view = new _View(redis, id, renderer, store);
  view.meta = await _waitForScenario(store, id, options.appearTimeoutMs ?? 30_000, signal, view);
  renderer.header(view.meta);
  for (const message of (await store.transcript(id)).responses) view.show(message, false);
  const notice = options.redisConfig
    ? new OutageNotice(renderer, options.redisConfig.max_unavailable_seconds)
    : undefined;
  notice?.attach(redis);
  const guard = options.redisConfig
    ? new OutageGuard(options.redisConfig, [redis], { signal, onWait: () => notice?.down() })
    : undefined;
  try {
    while (!signal.aborted) {
      const step = async () => {
        const more = await view.step();
        notice?.up();
        return more;
      };
      if (!(guard ? await guard.run(step) : await step())) break;
    }
  } finally {
    notice?.detach();
  }
  if (signal.aborted) {
    const meta = await store.require(id);
    if (!FINISHED_STATUSES.includes(meta.status)) {
      renderer.stoppedWatching(meta);
      return meta;
    }
  }
  // Responses that landed without live events (e.g. a trimmed live stream).
  const transcript = await store.transcript(id);
  for (const message of transcript.responses) view.show(message, false);
  const { overall, conversation } = analyzeRun(transcript);
  renderer.footer(transcript.meta, {
    turns: overall.turns,
    tokens: overall.tokens_generated,
    meanTokensPerSecond: overall.tokens_per_second.mean,
    durationMs: conversation.duration_ms ?? 0,
  });
  return transcript.meta;
}

/** What one watcher has shown so far. */
class _View {
  meta!: ConversationMeta;
  readonly #redis: Redis;
  readonly #id: string;
  readonly #renderer: TerminalRenderer;
  readonly #store: ConversationStore;
  readonly #shown = new Set<number>();
  readonly #started = new Set<number>();
  #cursor = "0";

  constructor(redis: Redis, id: string, renderer: TerminalRenderer, store: ConversationStore) {
    this.#redis = redis;
    this.#id = id;
    this.#renderer = renderer;
    this.#store = store;
  }

  /**
   * Shows the notices at the head of the live stream (the manager's progress
   * while it writes the scenario) and moves past them; stops at any other event.
   */
  async notices(): Promise<void> {
    const start = this.#cursor === "0" ? "-" : `(${this.#cursor}`;
    const entries = await this.#redis.xrange(
      conversationKeys(this.#id).live,
      start,
      "+",
      "COUNT",
      100,
    );
    for (const [entryId, fields] of entries) {
      let event: LiveEvent | undefined;
      try {
        event = LiveEvent.safeParse(JSON.parse(fields[1] ?? "")).data;
      } catch {
        // An unreadable entry is the main loop's to skip.
      }
      if (event?.type !== "notice") return;
      this.#renderer.notice(event.text);
      this.#cursor = entryId;
    }
  }

  /**
   * Shows a finished message once, with its figures and the status line:
   * the time left as it was when the message was written for a turn seen
   * live, none for a replayed one (the deadline may have moved since, e.g.
   * by a resume).
   */
  show(message: DialogMessage, live: boolean): void {
    const seq = message.metadata.sequence_number;
    if (this.#shown.has(seq)) return;
    this.#shown.add(seq);
    const agent = message.metadata.agent_id ?? agentForTurn(seq);
    this.#renderer.turnEnd(message, speakerName(this.meta, agent));
    this.#renderer.statusLine(
      _statusOf(this.meta, seq, live ? message.queue_timestamp : undefined),
    );
  }

  /** Reads and shows the next live events; false once the run has ended. */
  async step(): Promise<boolean> {
    const entries = await readLive(this.#redis, this.#id, this.#cursor, 1000);
    for (const { id: entryId, event } of entries) {
      this.#cursor = entryId;
      if (event) await this.#apply(event);
    }
    // The status event that ends the run is the last word: stop now rather
    // than wait out one more blocking read.
    if (entries.length > 0 && FINISHED_STATUSES.includes(this.meta.status)) return false;
    if (entries.length === 0) {
      this.meta = await this.#store.require(this.#id);
      if (FINISHED_STATUSES.includes(this.meta.status)) return false;
    }
    return true;
  }

  async #apply(event: LiveEvent): Promise<void> {
    if (event.type === "status") {
      this.meta = await this.#store.require(this.#id);
      return;
    }
    if (event.type === "notice") {
      this.#renderer.notice(event.text);
      return;
    }
    if (this.#shown.has(event.seq)) return;
    const speaker = speakerName(this.meta, event.agent);
    if (event.type === "turn_start" && this.#started.has(event.seq)) {
      // Another agent process took the turn over (the first one stopped).
      this.#renderer.abandoned(event.seq, "taken over by another agent process");
      this.#started.delete(event.seq);
    }
    if ((event.type === "turn_start" || event.type === "token") && !this.#started.has(event.seq)) {
      this.#started.add(event.seq);
      const model = event.type === "turn_start" ? event.model : _model(this.meta, event.agent);
      this.#renderer.turnStart(event.seq, event.agent, speaker, model);
    }
    if (event.type === "token") this.#renderer.token(event.seq, event.text);
    else if (event.type === "turn_abandoned") {
      this.#renderer.abandoned(event.seq, event.reason);
      this.#started.delete(event.seq);
    } else if (event.type === "turn_end") {
      const message = await _response(this.#redis, this.#id, event.agent, event.message_id);
      if (message) this.show(message, true);
    }
  }
}

async function _waitForScenario(
  store: ConversationStore,
  id: string,
  timeoutMs: number,
  signal: AbortSignal,
  view: _View,
): Promise<ConversationMeta> {
  const giveUp = Date.now() + timeoutMs;
  while (true) {
    const meta = await store.get(id);
    if (!meta) return await store.require(id);
    if (meta.scenario || FINISHED_STATUSES.includes(meta.status)) return meta;
    // While the manager writes the scenario, its progress notices.
    await view.notices();
    if (Date.now() > giveUp || signal.aborted) return meta;
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

function _model(meta: ConversationMeta, agent: AgentId): string {
  return agent === 1 ? meta.models.agent1 : meta.models.agent2;
}

/** Turn `turn` of the run; the time left at `writtenAt` when given, the run was running. */
function _statusOf(meta: ConversationMeta, turn: number, writtenAt: number | undefined) {
  const running = !FINISHED_STATUSES.includes(meta.status);
  const left = meta.deadline && writtenAt !== undefined && running
    ? Math.max(0, (meta.deadline - writtenAt) / 1000)
    : undefined;
  return { turn, maxTurns: meta.max_turns, ...(left !== undefined ? { secondsLeft: left } : {}) };
}
