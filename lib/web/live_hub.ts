/**
 * The dashboard's one view of Redis, shared by every browser: one blocking
 * connection reads the live streams of all running conversations (one
 * `XREAD` over them), one subscriber follows the progress channel, one
 * connection serves the other reads. However many tabs are open, the server
 * holds these three connections; each tab only registers a listener.
 *
 * Cards (the overview) change with every event but are handed on in
 * batches, at most once per `batchMs`; a conversation's own events (tokens
 * included) go to its viewers as they arrive. The hub only reads: it never
 * sits between agents and managers.
 *
 * @module
 */
import type { Redis } from "ioredis";
import type { Config } from "../config/config.ts";
import { type ConversationMeta, FINISHED_STATUSES } from "../model/conversation_meta.ts";
import type { DialogMessage } from "../model/dialog_message.ts";
import { LiveEvent } from "../model/live_event.ts";
import { parseProgressEvent } from "../model/progress_event.ts";
import { closeRedis, connectRedis } from "../bus/redis_connection.ts";
import { conversationIndexKey, conversationKeys, dispatchKeys } from "../bus/keys.ts";
import { decodeMetaHash } from "../bus/meta_hash.ts";
import { decodeEntry } from "../bus/stream_entry.ts";
import { ConversationStore } from "../bus/conversation_store.ts";
import { analyzeRun, type RunAnalysis, type TurnRow } from "../analysis/run_analysis.ts";
import { sanitizeText, StreamSanitizer } from "../base/sanitize.ts";
import { log } from "../base/logger.ts";
import {
  cardFromMeta,
  compareCards,
  type ConversationCard,
  withAnalysisFlags,
  withMessage,
  withMeta,
  withProgress,
  withTokens,
  withTurnStart,
} from "./conversation_card.ts";
import {
  type ConversationEvent,
  type ConversationSnapshot,
  messageView,
  scenarioView,
} from "./conversation_events.ts";
import { UpdateBatcher } from "./update_batcher.ts";
import { type WorkerPresence, workerPresence } from "./worker_presence.ts";

/** Options of {@linkcode LiveHub.open}. */
export interface LiveHubOptions {
  redisConfig: Config["redis"];
  /** A pool silent this long is dead (`dispatch.dead_after_ms`). */
  deadAfterMs: number;
  /** Newest conversations loaded at start. @default {500} */
  cardLimit?: number;
  /** Time between two batches of card updates. @default {250} */
  batchMs?: number;
  /** Time between two looks for new conversations and heartbeats. @default {1000} */
  pollMs?: number;
  /** How long one read of the live streams blocks. @default {1000} */
  blockMs?: number;
}

/** Receives serialized events (JSON), so a message is serialized once for every tab. */
export type HubListener = (json: string) => void;

/** Live events looked at when a run is first followed (what is being said now). */
const _SEED_EVENTS = 400;
/** Longest text kept for a turn being generated. */
const _INFLIGHT_CHARS = 64_000;
/** Analyses of a run nobody is viewing are at most this frequent (its flags only). */
const _QUIET_ANALYSIS_MS = 3000;

interface _Inflight {
  agent: 1 | 2;
  model: string;
  text: string;
  sanitizer: StreamSanitizer;
}

/** A running conversation the hub follows. */
interface _Tracked {
  id: string;
  key: string;
  cursor: string;
  meta: ConversationMeta;
  responses: DialogMessage[];
  rows: TurnRow[];
  inflight: Map<number, _Inflight>;
  notices: string[];
  analyzedAt: number;
  analysisTimer?: ReturnType<typeof setTimeout>;
}

/** Follows every conversation for the dashboard. */
export class LiveHub {
  readonly #opts: Required<LiveHubOptions>;
  readonly #cmd: Redis;
  readonly #reader: Redis;
  readonly #sub: Redis;
  readonly #store: ConversationStore;
  readonly #cards = new Map<string, ConversationCard>();
  readonly #tracked = new Map<string, _Tracked>();
  readonly #tracking = new Map<string, Promise<void>>();
  readonly #watchers = new Map<string, Set<HubListener>>();
  readonly #cardListeners = new Set<HubListener>();
  readonly #presenceListeners = new Set<HubListener>();
  readonly #batcher: UpdateBatcher<string>;
  #presence: WorkerPresence = { managers: 0, agents: 0 };
  #presenceJson = "";
  #lastScore = 0;
  #closed = false;
  #readerId = 0;
  #blocked = false;
  #wake: (() => void) | undefined;
  #pollTimer: ReturnType<typeof setTimeout> | undefined;
  #loop: Promise<void> = Promise.resolve();

  private constructor(opts: Required<LiveHubOptions>, cmd: Redis, reader: Redis, sub: Redis) {
    this.#opts = opts;
    this.#cmd = cmd;
    this.#reader = reader;
    this.#sub = sub;
    this.#store = new ConversationStore(cmd);
    this.#batcher = new UpdateBatcher((ids) => this.#flushCards(ids), {
      intervalMs: opts.batchMs,
    });
  }

  /**
   * Connects, loads the newest conversations and starts following the
   * running ones.
   *
   * @throws {DialogueError} `redis_unavailable` when Redis cannot be reached.
   */
  static async open(options: LiveHubOptions): Promise<LiveHub> {
    const opts: Required<LiveHubOptions> = {
      cardLimit: 500,
      batchMs: 250,
      pollMs: 1000,
      blockMs: 1000,
      ...options,
    };
    const cmd = await connectRedis(opts.redisConfig, { name: "web" });
    let reader: Redis | undefined;
    let sub: Redis | undefined;
    try {
      reader = await connectRedis(opts.redisConfig, { name: "web-live", blocking: true });
      sub = await connectRedis(opts.redisConfig, { name: "web-events", blocking: true });
      const hub = new LiveHub(opts, cmd, reader, sub);
      await hub.#start();
      return hub;
    } catch (error) {
      reader?.disconnect();
      sub?.disconnect();
      await closeRedis(cmd);
      throw error;
    }
  }

  /** The connection for ordinary commands (control actions use it too). */
  get redis(): Redis {
    return this.#cmd;
  }

  /** Every card, in overview order. */
  cards(): ConversationCard[] {
    return [...this.#cards.values()].sort(compareCards);
  }

  /** The live pools, as of the last look. */
  presence(): WorkerPresence {
    return this.#presence;
  }

  /** Calls `listener` with each batch of changed cards (`{cards, now}`); returns the unsubscribe. */
  onCards(listener: HubListener): () => void {
    this.#cardListeners.add(listener);
    return () => this.#cardListeners.delete(listener);
  }

  /** Calls `listener` when the live pools change (`{managers, agents}`); returns the unsubscribe. */
  onPresence(listener: HubListener): () => void {
    this.#presenceListeners.add(listener);
    return () => this.#presenceListeners.delete(listener);
  }

  /**
   * Opens conversation `id` for a viewer: its snapshot, taken in the same
   * turn of the event loop as `listener` is registered so that no event is
   * missed or seen twice; then every event. Undefined when it does not exist.
   */
  async view(
    id: string,
    listener: HubListener,
  ): Promise<{ snapshot: ConversationSnapshot; close: () => void } | undefined> {
    let card = this.#cards.get(id);
    if (!card) {
      const meta = await this.#store.get(id).catch(() => undefined);
      if (!meta) return undefined;
      card = cardFromMeta(meta);
      this.#cards.set(id, card);
      if (!FINISHED_STATUSES.includes(meta.status)) await this.#track(meta);
    } else if (!FINISHED_STATUSES.includes(card.status) && !this.#tracked.has(id)) {
      const meta = await this.#store.get(id);
      if (meta) await this.#track(meta);
    }
    const tracked = this.#tracked.get(id);
    const snapshot = tracked ? this.#liveSnapshot(tracked) : await this.#endedSnapshot(id);
    if (!snapshot) return undefined;
    if (!tracked && this.#tracked.has(id)) {
      // Resumed while the snapshot was read: start over from the live state.
      return await this.view(id, listener);
    }
    const set = this.#watchers.get(id) ?? new Set();
    set.add(listener);
    this.#watchers.set(id, set);
    return {
      snapshot,
      close: () => {
        set.delete(listener);
        if (set.size === 0) this.#watchers.delete(id);
      },
    };
  }

  /** Follows `id` from now on (after a resume from the page), if it is running. */
  async follow(id: string): Promise<void> {
    const meta = await this.#store.get(id);
    if (!meta) return;
    this.#setCard(id, withMeta(this.#cards.get(id) ?? cardFromMeta(meta), meta));
    if (!FINISHED_STATUSES.includes(meta.status)) await this.#track(meta);
  }

  /** Stops following, drops the connections (the blocking one first). */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#pollTimer);
    this.#batcher.close();
    for (const t of this.#tracked.values()) clearTimeout(t.analysisTimer);
    this.#wake?.();
    this.#reader.disconnect();
    this.#sub.disconnect();
    await this.#loop.catch(() => {});
    await Promise.allSettled([...this.#tracking.values()]);
    await closeRedis(this.#cmd);
  }

  async #start(): Promise<void> {
    this.#readerId = Number(await this.#reader.client("ID"));
    this.#sub.on("message", (channel: string, message: string) => {
      if (channel === dispatchKeys.events) this.#onProgress(message);
    });
    await this.#sub.subscribe(dispatchKeys.events);
    const raw = await this.#cmd.zrevrange(
      conversationIndexKey(),
      0,
      this.#opts.cardLimit - 1,
      "WITHSCORES",
    );
    const ids: string[] = [];
    for (let i = 0; i < raw.length; i += 2) {
      ids.push(raw[i]!);
      this.#lastScore = Math.max(this.#lastScore, Number(raw[i + 1]));
    }
    const metas = await this.#metas(ids);
    for (const meta of metas) this.#cards.set(meta.id, cardFromMeta(meta));
    await Promise.all(
      metas.filter((m) => !FINISHED_STATUSES.includes(m.status)).map((m) => this.#track(m)),
    );
    await this.#poll();
    this.#loop = this.#readLoop();
  }

  /** Metadata of `ids`, one pipeline; missing and invalid ones left out. */
  async #metas(ids: readonly string[]): Promise<ConversationMeta[]> {
    if (ids.length === 0) return [];
    const pipe = this.#cmd.pipeline();
    for (const id of ids) pipe.hgetall(conversationKeys(id).meta);
    const replies = (await pipe.exec()) ?? [];
    const out: ConversationMeta[] = [];
    ids.forEach((id, i) => {
      const [error, hash] = replies[i] ?? [];
      if (error || !hash || Object.keys(hash).length === 0) return;
      try {
        out.push(decodeMetaHash(id, hash as Record<string, string>));
      } catch {
        // Invalid metadata: left for the user to inspect with the CLI.
      }
    });
    return out;
  }

  /**
   * New conversations and the pools' heartbeats, once per `pollMs`: no
   * notification announces either (a run's first event comes from the
   * manager that picks it up), and one pipelined look per second per server
   * costs nothing next to the live streams.
   */
  async #poll(): Promise<void> {
    if (this.#closed) return;
    try {
      const [[, fresh], [, beats]] = (await this.#cmd.pipeline()
        .zrangebyscore(conversationIndexKey(), this.#lastScore, "+inf", "WITHSCORES")
        .hgetall(dispatchKeys.heartbeats)
        .exec()) as [[unknown, string[]], [unknown, Record<string, string>]];
      const ids: string[] = [];
      for (let i = 0; i < fresh.length; i += 2) {
        const id = fresh[i]!;
        this.#lastScore = Math.max(this.#lastScore, Number(fresh[i + 1]));
        if (!this.#cards.has(id)) ids.push(id);
      }
      for (const meta of await this.#metas(ids)) {
        this.#setCard(meta.id, cardFromMeta(meta));
        if (!FINISHED_STATUSES.includes(meta.status)) void this.#track(meta);
      }
      this.#setPresence(workerPresence(beats ?? {}, Date.now(), this.#opts.deadAfterMs));
    } catch (error) {
      if (!this.#closed) log("web").debug("Poll failed: {error}", { error: String(error) });
    }
    if (!this.#closed) this.#pollTimer = setTimeout(() => this.#poll(), this.#opts.pollMs);
  }

  #setPresence(presence: WorkerPresence): void {
    const json = JSON.stringify(presence);
    this.#presence = presence;
    if (json === this.#presenceJson) return;
    this.#presenceJson = json;
    for (const listener of this.#presenceListeners) listener(json);
  }

  #onProgress(message: string): void {
    const event = parseProgressEvent(message);
    if (!event) return;
    const card = this.#cards.get(event.id);
    if (!card) {
      clearTimeout(this.#pollTimer);
      void this.#poll();
      return;
    }
    this.#setCard(event.id, withProgress(card, event));
    if (event.type === "progress" && event.status === "running" && !this.#tracked.has(event.id)) {
      void this.follow(event.id).catch(() => {});
    }
  }

  /** Starts following a running conversation: what it is saying now, then its live stream. */
  #track(meta: ConversationMeta): Promise<void> {
    if (this.#tracked.has(meta.id)) return Promise.resolve();
    const pending = this.#tracking.get(meta.id);
    if (pending) return pending;
    const started = this.#seed(meta).finally(() => this.#tracking.delete(meta.id));
    this.#tracking.set(meta.id, started);
    return started;
  }

  async #seed(meta: ConversationMeta): Promise<void> {
    const key = conversationKeys(meta.id).live;
    const [recent, transcript] = await Promise.all([
      this.#cmd.xrevrange(key, "+", "-", "COUNT", _SEED_EVENTS),
      this.#store.transcript(meta.id),
    ]);
    const t: _Tracked = {
      id: meta.id,
      key,
      cursor: recent[0]?.[0] ?? "0-0",
      meta: transcript.meta,
      responses: transcript.responses,
      rows: [],
      inflight: new Map(),
      notices: [],
      analyzedAt: 0,
    };
    for (const [, fields] of recent.reverse()) {
      const event = _liveEvent(fields);
      if (event) this.#replayEvent(t, event);
    }
    if (this.#closed) return;
    this.#tracked.set(meta.id, t);
    this.#setCard(meta.id, withMeta(this.#cards.get(meta.id) ?? cardFromMeta(meta), t.meta));
    this.#analyze(t, true);
    this.#readersChanged();
  }

  /** Rebuilds the turns being generated and the notices from the recent events. */
  #replayEvent(t: _Tracked, event: LiveEvent): void {
    if (event.type === "turn_start") t.inflight.set(event.seq, this.#inflight(t, event.agent));
    else if (event.type === "token") {
      const f = t.inflight.get(event.seq) ?? this.#inflight(t, event.agent);
      f.text = (f.text + f.sanitizer.push(event.text)).slice(-_INFLIGHT_CHARS);
      t.inflight.set(event.seq, f);
    } else if (event.type === "turn_end" || event.type === "turn_abandoned") {
      t.inflight.delete(event.seq);
    } else if (event.type === "notice") t.notices.push(sanitizeText(event.text));
    for (const seq of t.inflight.keys()) {
      if (t.responses.some((r) => r.metadata.sequence_number === seq)) t.inflight.delete(seq);
    }
  }

  #inflight(t: _Tracked, agent: 1 | 2, model?: string): _Inflight {
    return {
      agent,
      model: sanitizeText(model ?? (agent === 1 ? t.meta.models.agent1 : t.meta.models.agent2), {
        keepNewlines: false,
      }),
      text: "",
      sanitizer: new StreamSanitizer(),
    };
  }

  /** Wakes the blocked read so that it reads the streams of conversations just added. */
  #readersChanged(): void {
    if (this.#wake) {
      const wake = this.#wake;
      this.#wake = undefined;
      wake();
    } else if (this.#blocked) {
      this.#cmd.client("UNBLOCK", this.#readerId).catch(() => {});
    }
  }

  async #readLoop(): Promise<void> {
    while (!this.#closed) {
      const list = [...this.#tracked.values()];
      if (list.length === 0) {
        await new Promise<void>((resolve) => this.#wake = resolve);
        continue;
      }
      let reply: [string, [string, string[]][]][] | null;
      try {
        this.#blocked = true;
        reply = await (this.#reader.xread as (...args: (string | number)[]) => Promise<
          [string, [string, string[]][]][] | null
        >)(
          "COUNT",
          500,
          "BLOCK",
          this.#opts.blockMs,
          "STREAMS",
          ...list.map((t) => t.key),
          ...list.map((t) => t.cursor),
        );
      } catch (error) {
        if (this.#closed) return;
        log("web").warning("Reading the live streams failed: {error}", { error: String(error) });
        await new Promise((r) => setTimeout(r, 500));
        continue;
      } finally {
        this.#blocked = false;
      }
      const byKey = new Map(list.map((t) => [t.key, t]));
      for (const [key, entries] of reply ?? []) {
        const t = byKey.get(key);
        if (!t) continue;
        for (const [entryId, fields] of entries) {
          if (this.#tracked.get(t.id) !== t) break;
          t.cursor = entryId;
          const event = _liveEvent(fields);
          if (!event) continue;
          try {
            await this.#apply(t, event);
          } catch (error) {
            if (this.#closed) return;
            log("web").warning("Cannot follow {id}: {error}", { id: t.id, error: String(error) });
          }
        }
      }
    }
  }

  async #apply(t: _Tracked, event: LiveEvent): Promise<void> {
    const card = this.#cards.get(t.id) ?? cardFromMeta(t.meta);
    switch (event.type) {
      case "turn_start": {
        const f = this.#inflight(t, event.agent, event.model);
        t.inflight.set(event.seq, f);
        this.#setCard(t.id, withTurnStart(card, event.seq, event.agent));
        this.#emit(t.id, {
          type: "turn_start",
          seq: event.seq,
          agent: event.agent,
          model: f.model,
        });
        return;
      }
      case "token": {
        let f = t.inflight.get(event.seq);
        if (!f) {
          f = this.#inflight(t, event.agent);
          t.inflight.set(event.seq, f);
          this.#emit(t.id, {
            type: "turn_start",
            seq: event.seq,
            agent: event.agent,
            model: f.model,
          });
        }
        const text = f.sanitizer.push(event.text);
        if (text === "") return;
        f.text = (f.text + text).slice(-_INFLIGHT_CHARS);
        this.#setCard(t.id, withTokens(card, event.seq, event.agent, text));
        this.#emit(t.id, { type: "tokens", seq: event.seq, agent: event.agent, text });
        return;
      }
      case "turn_end": {
        t.inflight.delete(event.seq);
        const message = await this.#response(t.id, event.agent, event.message_id);
        if (!message) return;
        const seq = message.metadata.sequence_number;
        t.responses = [...t.responses.filter((r) => r.metadata.sequence_number !== seq), message]
          .sort((a, b) => a.metadata.sequence_number - b.metadata.sequence_number);
        this.#setCard(t.id, withMessage(card, message));
        const row = this.#analyze(t, this.#watchers.has(t.id))?.per_turn.find((r) => r.seq === seq);
        this.#emit(t.id, {
          type: "message",
          message: messageView(message, t.meta.models),
          ...(row ? { row } : {}),
        });
        return;
      }
      case "turn_abandoned":
        t.inflight.delete(event.seq);
        this.#setCard(t.id, { ...card, flags: [...new Set([...card.flags, "errors" as const])] });
        this.#emit(t.id, {
          type: "abandoned",
          seq: event.seq,
          reason: sanitizeText(event.reason, { keepNewlines: false }),
        });
        return;
      case "notice": {
        const text = sanitizeText(event.text);
        t.notices.push(text);
        this.#emit(t.id, { type: "notice", text });
        return;
      }
      case "status":
        await this.#statusChanged(t);
        return;
    }
  }

  async #statusChanged(t: _Tracked): Promise<void> {
    const meta = await this.#store.get(t.id);
    if (!meta) return;
    t.meta = meta;
    const card = withMeta(this.#cards.get(t.id) ?? cardFromMeta(meta), meta);
    this.#setCard(t.id, card);
    this.#emit(t.id, { type: "card", card });
    if (!FINISHED_STATUSES.includes(meta.status)) return;
    // Ended: the record in Redis is the last word (accepted replies only).
    this.#tracked.delete(t.id);
    clearTimeout(t.analysisTimer);
    const analysis = analyzeRun(await this.#store.transcript(t.id));
    const flagged = withAnalysisFlags(
      this.#cards.get(t.id) ?? card,
      analysis.flags.map((f) => f.code),
    );
    this.#setCard(t.id, flagged);
    this.#emit(t.id, { type: "card", card: flagged });
    this.#emit(t.id, { type: "analysis", analysis });
  }

  /**
   * The analysis of what a running conversation has said so far, for its
   * per-turn figures and its flags: at once when someone views it (or
   * `now`), else at most every few seconds (only its card's flags need it).
   */
  #analyze(t: _Tracked, now: boolean): RunAnalysis | undefined {
    const elapsed = Date.now() - t.analyzedAt;
    if (!now && elapsed < _QUIET_ANALYSIS_MS) {
      t.analysisTimer ??= setTimeout(() => {
        t.analysisTimer = undefined;
        if (this.#tracked.get(t.id) === t) this.#analyze(t, true);
      }, _QUIET_ANALYSIS_MS - elapsed);
      return undefined;
    }
    clearTimeout(t.analysisTimer);
    t.analysisTimer = undefined;
    t.analyzedAt = Date.now();
    const analysis = analyzeRun({ meta: t.meta, responses: t.responses, requests: [] });
    t.rows = analysis.per_turn;
    const card = this.#cards.get(t.id);
    if (card) this.#setCard(t.id, withAnalysisFlags(card, analysis.flags.map((f) => f.code)));
    return analysis;
  }

  /** The reply a `turn_end` names: written just before it, so among the last few entries. */
  async #response(id: string, agent: 1 | 2, messageId: string) {
    const recent = await this.#cmd.xrevrange(
      conversationKeys(id).responses(agent),
      "+",
      "-",
      "COUNT",
      10,
    );
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

  #liveSnapshot(t: _Tracked): ConversationSnapshot {
    const card = this.#cards.get(t.id) ?? cardFromMeta(t.meta);
    return {
      card,
      ...(t.meta.scenario ? { scenario: scenarioView(t.meta.scenario) } : {}),
      messages: t.responses.map((r) => messageView(r, t.meta.models)),
      rows: t.rows,
      inflight: [...t.inflight].map(([seq, f]) => ({
        seq,
        agent: f.agent,
        model: f.model,
        text: f.text,
      })),
      notices: [...t.notices],
    };
  }

  async #endedSnapshot(id: string): Promise<ConversationSnapshot | undefined> {
    const meta = await this.#store.get(id);
    if (!meta) return undefined;
    const transcript = await this.#store.transcript(id);
    const analysis = analyzeRun(transcript);
    const card = withAnalysisFlags(
      withMeta(this.#cards.get(id) ?? cardFromMeta(meta), meta),
      analysis.flags.map((f) => f.code),
    );
    this.#setCard(id, card);
    return {
      card,
      ...(meta.scenario ? { scenario: scenarioView(meta.scenario) } : {}),
      messages: transcript.responses.map((r) => messageView(r, meta.models)),
      rows: analysis.per_turn,
      inflight: [],
      notices: [],
      ...(FINISHED_STATUSES.includes(meta.status) ? { analysis } : {}),
    };
  }

  #setCard(id: string, card: ConversationCard): void {
    if (this.#cards.get(id) === card) return;
    this.#cards.set(id, card);
    this.#batcher.mark(id);
  }

  #flushCards(ids: string[]): void {
    if (this.#cardListeners.size === 0) return;
    const cards = ids.flatMap((id) => this.#cards.get(id) ?? []);
    const json = JSON.stringify({ cards, now: Date.now() });
    for (const listener of this.#cardListeners) listener(json);
  }

  #emit(id: string, event: ConversationEvent): void {
    const set = this.#watchers.get(id);
    if (!set || set.size === 0) return;
    const json = JSON.stringify(event);
    for (const listener of set) listener(json);
  }
}

function _liveEvent(fields: string[]): LiveEvent | undefined {
  try {
    const parsed = LiveEvent.safeParse(JSON.parse(fields[1] ?? ""));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
