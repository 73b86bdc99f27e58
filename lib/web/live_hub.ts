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
import { LiveEvent } from "../model/live_event.ts";
import { parseProgressEvent } from "../model/progress_event.ts";
import { closeRedis, connectRedis } from "../bus/redis_connection.ts";
import { conversationIndexKey, conversationKeys, dispatchKeys } from "../bus/keys.ts";
import { ConversationStore } from "../bus/conversation_store.ts";
import { analyzeRun } from "../analysis/run_analysis.ts";
import {
  cardFromMeta,
  type ConversationCard,
  withAnalysisFlags,
  withMeta,
  withProgress,
} from "./conversation_card.ts";
import { CardBoard, type JsonListener } from "./card_board.ts";
import { IndexWatch, readMetas } from "./index_watch.ts";
import type { ConversationEvent, ConversationSnapshot } from "./conversation_events.ts";
import { FollowedRun } from "./followed_run.ts";
import { readReply, storedSnapshot } from "./run_reads.ts";
import { LiveStreams } from "./live_streams.ts";
import type { WorkerPresence } from "./worker_presence.ts";

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

/** The pools' presence and whether Redis answers. */
export type HubStatus = WorkerPresence & { redis: "up" | "down" };

/**
 * How long the dashboard's connections keep trying to reach Redis: for good.
 * A dashboard outlives outages (the page says Redis is away meanwhile),
 * where a worker gives up after `redis.max_unavailable_seconds` to exit cleanly.
 */
const _UNAVAILABLE_FOREVER_SECONDS = 10 * 365 * 24 * 3600;

/** Receives serialized events (JSON), so a message is serialized once for every tab. */
export type HubListener = JsonListener;

/** Live events looked at when a run is first followed (what is being said now). */
const _SEED_EVENTS = 400;
/**
 * A viewed run's analysis (its per-turn charts) is redone at most this often.
 * The whole analysis of a 30-turn run takes ~20 ms: per turn of every run it
 * would cost more than a core at 200 live runs, so runs nobody views get
 * only the cheap incremental flags until they end.
 */
const _ANALYSIS_MS = 1000;

/** A running conversation the hub follows: its state, its stream, when it was analysed. */
interface _Tracked {
  id: string;
  key: string;
  run: FollowedRun;
  analyzedAt: number;
  /** Replies the last analysis saw (it is stale when more were accepted since). */
  analyzedReplies: number;
  analysisTimer?: ReturnType<typeof setTimeout>;
}

/** Follows every conversation for the dashboard. */
export class LiveHub {
  readonly #opts: Required<LiveHubOptions>;
  readonly #cmd: Redis;
  readonly #sub: Redis;
  readonly #store: ConversationStore;
  readonly #streams: LiveStreams;
  readonly #cards: CardBoard;
  #index: IndexWatch | undefined;
  /** Followed runs by id, and by live stream key. */
  readonly #tracked = new Map<string, _Tracked>();
  readonly #byKey = new Map<string, _Tracked>();
  readonly #tracking = new Map<string, Promise<void>>();
  readonly #watchers = new Map<string, Set<HubListener>>();
  readonly #presenceListeners = new Set<HubListener>();
  #presence: WorkerPresence = { managers: 0, agents: 0 };
  #redisUp = true;
  #presenceJson = "";
  #closed = false;

  private constructor(opts: Required<LiveHubOptions>, cmd: Redis, reader: Redis, sub: Redis) {
    this.#opts = opts;
    this.#cmd = cmd;
    this.#sub = sub;
    this.#store = new ConversationStore(cmd);
    this.#streams = new LiveStreams(reader, cmd, (key, entries) => this.#entries(key, entries), {
      blockMs: opts.blockMs,
    });
    this.#cards = new CardBoard(opts.batchMs);
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
    opts.redisConfig = {
      ...opts.redisConfig,
      max_unavailable_seconds: _UNAVAILABLE_FOREVER_SECONDS,
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
    return this.#cards.all();
  }

  /** The live pools, as of the last look. */
  presence(): WorkerPresence {
    return this.#presence;
  }

  /** Calls `listener` with each batch of changed cards (`{cards, now}`); returns the unsubscribe. */
  onCards(listener: HubListener): () => void {
    return this.#cards.onBatch(listener);
  }

  /** The pools and whether Redis answers, as the `workers` event carries them. */
  status(): HubStatus {
    return { ...this.#presence, redis: this.#redisUp ? "up" : "down" };
  }

  /** Calls `listener` when {@linkcode status} changes; returns the unsubscribe. */
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
    const known = this.#cards.get(id);
    if (!known || (!FINISHED_STATUSES.includes(known.status) && !this.#tracked.has(id))) {
      const meta = await this.#store.get(id).catch(() => undefined);
      if (!meta) return undefined;
      if (!known) this.#setCard(id, cardFromMeta(meta));
      if (!FINISHED_STATUSES.includes(meta.status)) await this.#track(meta);
    }
    const tracked = this.#tracked.get(id);
    if (tracked && tracked.analyzedReplies !== tracked.run.responses.length) {
      this.#analyzeNow(tracked);
    }
    const snapshot = tracked
      ? tracked.run.snapshot(this.#card(tracked))
      : await storedSnapshot(this.#store, id, this.#cards.get(id));
    if (!snapshot) return undefined;
    if (!tracked) this.#setCard(id, snapshot.card);
    // Resumed while the ended run was read: start over from the live state.
    if (!tracked && this.#tracked.has(id)) return await this.view(id, listener);
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

  /** Follows `id` from now on (after a start or resume from the page), if it is not over. */
  async follow(id: string): Promise<void> {
    const meta = await this.#store.get(id);
    if (!meta) return;
    this.#setCard(id, withMeta(this.#cards.get(id) ?? cardFromMeta(meta), meta));
    if (!FINISHED_STATUSES.includes(meta.status)) await this.#track(meta);
    // Its viewers saw it ended: the status event that resumed it may precede the followed part.
    const card = this.#cards.get(id);
    if (card) this.#emit(id, { type: "card", card });
  }

  /** Stops following, drops the connections (the blocking ones first). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#index?.close();
    this.#cards.close();
    for (const t of this.#tracked.values()) clearTimeout(t.analysisTimer);
    this.#sub.disconnect();
    await this.#streams.close();
    await Promise.allSettled([...this.#tracking.values()]);
    await closeRedis(this.#cmd);
  }

  async #start(): Promise<void> {
    this.#cmd.on("close", () => {
      this.#redisUp = false;
      this.#hubStatusChanged();
    });
    this.#cmd.on("ready", () => {
      this.#redisUp = true;
      this.#hubStatusChanged();
    });
    this.#cmd.on("error", () => {}); // Reported through the status; the client reconnects.
    this.#sub.on("message", (channel: string, message: string) => {
      if (channel === dispatchKeys.events) this.#onProgress(message);
    });
    await this.#sub.subscribe(dispatchKeys.events);
    await this.#streams.start();
    const raw = await this.#cmd.zrevrange(
      conversationIndexKey(),
      0,
      this.#opts.cardLimit - 1,
      "WITHSCORES",
    );
    const ids: string[] = [];
    let newest = 0;
    for (let i = 0; i < raw.length; i += 2) {
      ids.push(raw[i]!);
      newest = Math.max(newest, Number(raw[i + 1]));
    }
    const metas = await readMetas(this.#cmd, ids);
    for (const meta of metas) this.#cards.set(meta.id, cardFromMeta(meta));
    await Promise.all(
      metas.filter((m) => !FINISHED_STATUSES.includes(m.status)).map((m) => this.#track(m)),
    );
    this.#index = new IndexWatch(this.#cmd, newest, {
      pollMs: this.#opts.pollMs,
      deadAfterMs: this.#opts.deadAfterMs,
      known: (id) => this.#cards.get(id) !== undefined,
      onConversations: (fresh) => {
        for (const meta of fresh) {
          this.#cards.set(meta.id, cardFromMeta(meta));
          if (!FINISHED_STATUSES.includes(meta.status)) void this.#track(meta).catch(() => {});
        }
      },
      onPresence: (presence) => this.#setPresence(presence),
    });
    await this.#index.look();
  }

  #setPresence(presence: WorkerPresence): void {
    this.#presence = presence;
    this.#hubStatusChanged();
  }

  #hubStatusChanged(): void {
    const json = JSON.stringify(this.status());
    if (json === this.#presenceJson) return;
    this.#presenceJson = json;
    for (const listener of this.#presenceListeners) listener(json);
  }

  #onProgress(message: string): void {
    const event = parseProgressEvent(message);
    if (!event) return;
    const card = this.#cards.get(event.id);
    if (!card) {
      // A run this server has not seen yet: look now rather than at the next poll.
      void this.#index?.look();
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
    const run = new FollowedRun(transcript.meta, transcript.responses);
    for (const [, fields] of [...recent].reverse()) {
      const event = _liveEvent(fields);
      if (event) run.replay(event);
    }
    if (this.#closed) return;
    const t: _Tracked = { id: meta.id, key, run, analyzedAt: 0, analyzedReplies: -1 };
    this.#tracked.set(meta.id, t);
    this.#byKey.set(key, t);
    this.#setCard(meta.id, run.flagged(run.withCurrentTurn(withMeta(this.#card(t), run.meta))));
    this.#streams.add(key, recent[0]?.[0] ?? "0-0");
  }

  #untrack(t: _Tracked): void {
    this.#tracked.delete(t.id);
    this.#byKey.delete(t.key);
    this.#streams.remove(t.key);
    clearTimeout(t.analysisTimer);
  }

  async #entries(key: string, entries: [string, string[]][]): Promise<void> {
    const t = this.#byKey.get(key);
    for (const [, fields] of entries) {
      if (!t || this.#tracked.get(t.id) !== t) return;
      const event = _liveEvent(fields);
      if (event) await this.#apply(t, event);
    }
  }

  /** One live event: the decision is the run's; reading what it names and telling viewers is here. */
  async #apply(t: _Tracked, event: LiveEvent): Promise<void> {
    const step = t.run.step(this.#card(t), event);
    this.#setCard(t.id, step.card);
    for (const e of step.events) this.#emit(t.id, e);
    if (step.reply) {
      const message = await readReply(this.#cmd, t.id, step.reply.agent, step.reply.messageId);
      if (!message) return;
      this.#setCard(t.id, t.run.accept(this.#card(t), message));
      this.#emit(t.id, t.run.messageEvent(message));
      if (this.#watchers.has(t.id)) this.#analyzeSoon(t);
    }
    if (step.statusChanged) await this.#statusChanged(t);
  }

  async #statusChanged(t: _Tracked): Promise<void> {
    const meta = await this.#store.get(t.id);
    if (!meta) return;
    t.run.meta = meta;
    const card = withMeta(this.#card(t), meta);
    this.#setCard(t.id, card);
    this.#emit(t.id, { type: "card", card });
    if (!FINISHED_STATUSES.includes(meta.status)) return;
    // Ended: the record in Redis is the last word (accepted replies only).
    this.#untrack(t);
    const analysis = analyzeRun(await this.#store.transcript(t.id));
    const flagged = withAnalysisFlags(this.#card(t), analysis.flags.map((f) => f.code));
    this.#setCard(t.id, flagged);
    this.#emit(t.id, { type: "card", card: flagged });
    this.#emit(t.id, { type: "analysis", analysis });
  }

  /** The viewed run's per-turn figures, redone now or after at most `_ANALYSIS_MS`. */
  #analyzeSoon(t: _Tracked): void {
    const wait = _ANALYSIS_MS - (Date.now() - t.analyzedAt);
    if (wait <= 0) {
      this.#analyzeNow(t);
      return;
    }
    t.analysisTimer ??= setTimeout(() => {
      t.analysisTimer = undefined;
      if (this.#tracked.get(t.id) === t && this.#watchers.has(t.id)) this.#analyzeNow(t);
    }, wait);
  }

  /** Analyses what the run has said so far: its rows for the charts and its flags. */
  #analyzeNow(t: _Tracked): void {
    clearTimeout(t.analysisTimer);
    t.analysisTimer = undefined;
    t.analyzedAt = Date.now();
    t.analyzedReplies = t.run.responses.length;
    const analysis = analyzeRun({ meta: t.run.meta, responses: t.run.responses, requests: [] });
    t.run.rows = analysis.per_turn;
    this.#setCard(t.id, withAnalysisFlags(this.#card(t), analysis.flags.map((f) => f.code)));
    this.#emit(t.id, { type: "rows", rows: analysis.per_turn });
  }

  #card(t: _Tracked): ConversationCard {
    return this.#cards.get(t.id) ?? cardFromMeta(t.run.meta);
  }

  #setCard(id: string, card: ConversationCard): void {
    this.#cards.set(id, card);
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
