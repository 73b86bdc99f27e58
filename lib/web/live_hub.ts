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
import { FINISHED_STATUSES } from "../model/conversation_meta.ts";
import { parseProgressEvent } from "../model/progress_event.ts";
import { closeRedis, connectRedis } from "../bus/redis_connection.ts";
import { conversationIndexKey, dispatchKeys } from "../bus/keys.ts";
import { ConversationStore } from "../bus/conversation_store.ts";
import {
  cardFromMeta,
  type ConversationCard,
  withMeta,
  withProgress,
} from "./conversation_card.ts";
import { CardBoard, type JsonListener } from "./card_board.ts";
import { IndexWatch, readMetas } from "./index_watch.ts";
import type { ConversationEvent, ConversationSnapshot } from "./conversation_events.ts";
import { RunFollowers } from "./run_followers.ts";
import { storedSnapshot } from "./run_reads.ts";
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

/** Follows every conversation for the dashboard. */
export class LiveHub {
  readonly #opts: Required<LiveHubOptions>;
  readonly #cmd: Redis;
  readonly #sub: Redis;
  readonly #store: ConversationStore;
  readonly #followers: RunFollowers;
  readonly #cards: CardBoard;
  #index: IndexWatch | undefined;
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
    this.#cards = new CardBoard(opts.batchMs);
    this.#followers = new RunFollowers(reader, cmd, {
      card: (id, meta) => this.#cards.get(id) ?? cardFromMeta(meta),
      setCard: (id, card) => this.#cards.set(id, card),
      emit: (id, event) => this.#emit(id, event),
      watched: (id) => this.#watchers.has(id),
    }, { blockMs: opts.blockMs });
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
    if (!known || (!FINISHED_STATUSES.includes(known.status) && !this.#followers.has(id))) {
      const meta = await this.#store.get(id).catch(() => undefined);
      if (!meta) return undefined;
      if (!known) this.#cards.set(id, cardFromMeta(meta));
      await this.#followers.follow(meta);
    }
    const followed = this.#followers.snapshot(id);
    const snapshot = followed ?? await storedSnapshot(this.#store, id, this.#cards.get(id));
    if (!snapshot) return undefined;
    if (!followed) {
      this.#cards.set(id, snapshot.card);
      // Resumed while the ended run was read: start over from the live state.
      if (this.#followers.has(id)) return await this.view(id, listener);
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

  /** Follows `id` from now on (after a start or resume from the page), if it is not over. */
  async follow(id: string): Promise<void> {
    const meta = await this.#store.get(id);
    if (!meta) return;
    this.#cards.set(id, withMeta(this.#cards.get(id) ?? cardFromMeta(meta), meta));
    await this.#followers.follow(meta);
    // Its viewers saw it ended: the status event that resumed it may precede the followed part.
    const card = this.#cards.get(id);
    if (card) this.#emit(id, { type: "card", card });
  }

  /** Stops following, drops the connections (the blocking ones first). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#index?.close();
    this.#cards.close();
    this.#sub.disconnect();
    await this.#followers.close();
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
    await this.#followers.start();
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
    await Promise.all(metas.map((m) => this.#followers.follow(m)));
    this.#index = new IndexWatch(this.#cmd, newest, {
      pollMs: this.#opts.pollMs,
      deadAfterMs: this.#opts.deadAfterMs,
      known: (id) => this.#cards.get(id) !== undefined,
      onConversations: (fresh) => {
        for (const meta of fresh) {
          this.#cards.set(meta.id, cardFromMeta(meta));
          void this.#followers.follow(meta).catch(() => {});
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
    this.#cards.set(event.id, withProgress(card, event));
    if (event.type === "progress" && event.status === "running" && !this.#followers.has(event.id)) {
      void this.follow(event.id).catch(() => {});
    }
  }

  #emit(id: string, event: ConversationEvent): void {
    const set = this.#watchers.get(id);
    if (!set || set.size === 0) return;
    const json = JSON.stringify(event);
    for (const listener of set) listener(json);
  }
}
