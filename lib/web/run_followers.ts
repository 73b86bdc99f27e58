/**
 * The running conversations the dashboard follows, with the I/O around
 * each one's decisions ({@linkcode FollowedRun}): seeding from the recent
 * end of its live stream and its transcript, reading the reply a `turn_end`
 * names, re-reading the metadata on a status change, analysing it for its
 * viewers, and letting it go once it has ended. All of them are read
 * through one {@linkcode LiveStreams} loop.
 *
 * @module
 */
import type { Redis } from "ioredis";
import { type ConversationMeta, FINISHED_STATUSES } from "../model/conversation_meta.ts";
import { LiveEvent } from "../model/live_event.ts";
import { conversationKeys } from "../bus/keys.ts";
import { ConversationStore } from "../bus/conversation_store.ts";
import { analyzeRun } from "../analysis/run_analysis.ts";
import { type ConversationCard, withAnalysisFlags, withMeta } from "./conversation_card.ts";
import type { ConversationEvent, ConversationSnapshot } from "./conversation_events.ts";
import { FollowedRun } from "./followed_run.ts";
import { LiveStreams } from "./live_streams.ts";
import { readReply } from "./run_reads.ts";

/** Live events looked at when a run is first followed (what is being said now). */
const _SEED_EVENTS = 400;
/**
 * A viewed run's analysis (its per-turn charts) is redone at most this often.
 * The whole analysis of a 30-turn run takes ~20 ms: per turn of every run it
 * would cost more than a core at 200 live runs, so runs nobody views get
 * only the cheap incremental flags until they end.
 */
const _ANALYSIS_MS = 1000;

/** What the followers need of the hub: the cards and the viewers. */
export interface FollowersHost {
  /** The run's card (from its metadata when there is none yet). */
  card(id: string, meta: ConversationMeta): ConversationCard;
  setCard(id: string, card: ConversationCard): void;
  /** Tells the run's viewers. */
  emit(id: string, event: ConversationEvent): void;
  /** Whether someone views the run. */
  watched(id: string): boolean;
}

interface _Followed {
  id: string;
  key: string;
  run: FollowedRun;
  analyzedAt: number;
  /** Replies the last analysis saw (it is stale when more were accepted since). */
  analyzedReplies: number;
  analysisTimer?: ReturnType<typeof setTimeout>;
}

/** Every followed run. */
export class RunFollowers {
  readonly #cmd: Redis;
  readonly #store: ConversationStore;
  readonly #host: FollowersHost;
  readonly #streams: LiveStreams;
  readonly #byId = new Map<string, _Followed>();
  readonly #byKey = new Map<string, _Followed>();
  readonly #starting = new Map<string, Promise<void>>();
  #closed = false;

  /**
   * @param reader the blocking connection for the live streams
   * @param cmd the connection for everything else
   */
  constructor(reader: Redis, cmd: Redis, host: FollowersHost, options: { blockMs: number }) {
    this.#cmd = cmd;
    this.#store = new ConversationStore(cmd);
    this.#host = host;
    this.#streams = new LiveStreams(reader, cmd, (key, entries) => this.#entries(key, entries), {
      blockMs: options.blockMs,
    });
  }

  /** Starts reading. */
  async start(): Promise<void> {
    await this.#streams.start();
  }

  /** Whether run `id` is followed. */
  has(id: string): boolean {
    return this.#byId.has(id);
  }

  /** Starts following a run that is not over: what it is saying now, then its live stream. */
  follow(meta: ConversationMeta): Promise<void> {
    if (this.#byId.has(meta.id) || FINISHED_STATUSES.includes(meta.status)) {
      return Promise.resolve();
    }
    const pending = this.#starting.get(meta.id);
    if (pending) return pending;
    const started = this.#seed(meta).finally(() => this.#starting.delete(meta.id));
    this.#starting.set(meta.id, started);
    return started;
  }

  /** What a viewer of followed run `id` sees now (analysed first if replies came since). */
  snapshot(id: string): ConversationSnapshot | undefined {
    const f = this.#byId.get(id);
    if (!f) return undefined;
    if (f.analyzedReplies !== f.run.responses.length) this.#analyzeNow(f);
    return f.run.snapshot(this.#host.card(f.id, f.run.meta));
  }

  /** Stops reading (the caller closes the connections after). */
  async close(): Promise<void> {
    this.#closed = true;
    for (const f of this.#byId.values()) clearTimeout(f.analysisTimer);
    await this.#streams.close();
    await Promise.allSettled([...this.#starting.values()]);
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
    const f: _Followed = { id: meta.id, key, run, analyzedAt: 0, analyzedReplies: -1 };
    this.#byId.set(meta.id, f);
    this.#byKey.set(key, f);
    const card = withMeta(this.#host.card(meta.id, run.meta), run.meta);
    this.#host.setCard(meta.id, run.flagged(run.withCurrentTurn(card)));
    this.#streams.add(key, recent[0]?.[0] ?? "0-0");
  }

  async #entries(key: string, entries: [string, string[]][]): Promise<void> {
    const f = this.#byKey.get(key);
    for (const [, fields] of entries) {
      if (!f || this.#byId.get(f.id) !== f) return;
      const event = _liveEvent(fields);
      if (event) await this.#apply(f, event);
    }
  }

  /** One live event: the decision is the run's; reading what it names and telling viewers is here. */
  async #apply(f: _Followed, event: LiveEvent): Promise<void> {
    const host = this.#host;
    const step = f.run.step(host.card(f.id, f.run.meta), event);
    host.setCard(f.id, step.card);
    for (const e of step.events) host.emit(f.id, e);
    if (step.reply) {
      const message = await readReply(this.#cmd, f.id, step.reply.agent, step.reply.messageId);
      if (!message) return;
      host.setCard(f.id, f.run.accept(host.card(f.id, f.run.meta), message));
      host.emit(f.id, f.run.messageEvent(message));
      if (host.watched(f.id)) this.#analyzeSoon(f);
    }
    if (step.statusChanged) await this.#statusChanged(f);
  }

  async #statusChanged(f: _Followed): Promise<void> {
    const host = this.#host;
    const meta = await this.#store.get(f.id);
    if (!meta) return;
    f.run.meta = meta;
    const card = withMeta(host.card(f.id, meta), meta);
    host.setCard(f.id, card);
    host.emit(f.id, { type: "card", card });
    if (!FINISHED_STATUSES.includes(meta.status)) return;
    // Ended: let it go; the record in Redis is the last word (accepted replies only).
    this.#byId.delete(f.id);
    this.#byKey.delete(f.key);
    this.#streams.remove(f.key);
    clearTimeout(f.analysisTimer);
    const analysis = analyzeRun(await this.#store.transcript(f.id));
    const flagged = withAnalysisFlags(host.card(f.id, meta), analysis.flags.map((x) => x.code));
    host.setCard(f.id, flagged);
    host.emit(f.id, { type: "card", card: flagged });
    host.emit(f.id, { type: "analysis", analysis });
  }

  /** The viewed run's per-turn figures, redone now or after at most `_ANALYSIS_MS`. */
  #analyzeSoon(f: _Followed): void {
    const wait = _ANALYSIS_MS - (Date.now() - f.analyzedAt);
    if (wait <= 0) {
      this.#analyzeNow(f);
      return;
    }
    f.analysisTimer ??= setTimeout(() => {
      f.analysisTimer = undefined;
      if (this.#byId.get(f.id) === f && this.#host.watched(f.id)) this.#analyzeNow(f);
    }, wait);
  }

  /** Analyses what the run has said so far: its rows for the charts and its flags. */
  #analyzeNow(f: _Followed): void {
    clearTimeout(f.analysisTimer);
    f.analysisTimer = undefined;
    f.analyzedAt = Date.now();
    f.analyzedReplies = f.run.responses.length;
    const analysis = analyzeRun({ meta: f.run.meta, responses: f.run.responses, requests: [] });
    f.run.rows = analysis.per_turn;
    const codes = analysis.flags.map((x) => x.code);
    this.#host.setCard(f.id, withAnalysisFlags(this.#host.card(f.id, f.run.meta), codes));
    this.#host.emit(f.id, { type: "rows", rows: analysis.per_turn });
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
