/**
 * Reading one turn in one pipeline: the request entry (unless the caller
 * read it already), the few meta fields that change, routed[seq],
 * answered[seq], and only the responses the prompt needs that the
 * {@linkcode ConversationCache} lacks (bounded `XREVRANGE … COUNT n`).
 *
 * @module
 */
import type { Redis } from "ioredis";
import type { AgentId, DialogMessage } from "../model/dialog_message.ts";
import { ConversationMeta, ConversationStatus } from "../model/conversation_meta.ts";
import { Scenario } from "../model/story.ts";
import { agentForTurn } from "../model/dialog_message.ts";
import { conversationKeys } from "../bus/keys.ts";
import { decodeEntry, decodeFields, LOSSY_UTF8, type RawFields } from "../bus/stream_entry.ts";
import type { TurnClaim, TurnFacts } from "./turn_decision.ts";
import type { CachedConversation, ConversationCache } from "./conversation_cache.ts";
import { runOverrides } from "../config/run_overrides.ts";

/** A turn as read: the facts for the decision and what generation needs. */
export interface TurnRead {
  facts: TurnFacts;
  /** Static meta and history; undefined when the run has no scenario yet. */
  conversation?: CachedConversation;
  /** Responses before the turn, oldest first, bounded by the cache. */
  history: DialogMessage[];
  /** Last resume of the run (epoch ms), 0 when never paused. */
  resumedAt: number;
  /** Redis round trips this read took (1, or 2 when history had to be fetched by id). */
  roundTrips: number;
  /** Redis commands this read sent. */
  commands: number;
}

/** Options of {@linkcode readTurn}. */
export interface ReadTurnOptions {
  cache: ConversationCache;
  /** Slot of the stream the request is on (the ticket's slot in a pool). */
  streamSlot: AgentId;
  /** The request entry when it was read already (single-slot mode reads it with XREADGROUP). */
  request?: DialogMessage;
  now?: () => number;
}

const _STATUS_FIELDS = ["status", "deadline", "turns", "resumed_at"] as const;

/** Reads turn `claim` of its conversation in one pipeline (two in the rare case below). */
export async function readTurn(
  redis: Redis,
  claim: TurnClaim,
  options: ReadTurnOptions,
): Promise<TurnRead> {
  const id = claim.conversation_id;
  const keys = conversationKeys(id);
  const cache = options.cache;
  const cached = cache.get(id);
  const missing = cache.missing(id, claim.seq);
  const perSlot = { 1: 0, 2: 0 } as Record<AgentId, number>;
  for (const s of missing) perSlot[agentForTurn(s)]++;
  const fields: string[] = [
    ..._STATUS_FIELDS,
    ...(cached ? [] : ["scenario", "models", "backends", "config"]),
  ];

  const pipeline = redis.pipeline();
  if (!options.request) {
    pipeline.xrangeBuffer(keys.requests(options.streamSlot), claim.request, claim.request);
  }
  pipeline.hmget(keys.meta, ...fields);
  pipeline.hget(keys.routed, String(claim.seq));
  pipeline.hmget(keys.answered, String(claim.seq), ...missing.map(String));
  // Injected or duplicate entries may sit among the newest ones: read a little more.
  for (const slot of [1, 2] as AgentId[]) {
    if (perSlot[slot] > 0) {
      pipeline.xrevrangeBuffer(keys.responses(slot), "+", "-", "COUNT", perSlot[slot] + 2);
    }
  }
  const replies = (await pipeline.exec())!;
  let commands = replies.length;
  for (const [error] of replies) if (error) throw error;
  const values = replies.map(([, value]) => value);
  let at = 0;
  const requestRaw = options.request ? undefined : values[at++] as [Uint8Array, RawFields][];
  const metaValues = values[at++] as (string | null)[];
  const routed = values[at++] as string | null;
  const answeredValues = values[at++] as (string | null)[];
  // Entry ids are unique per stream only: keyed by slot and id.
  const byId = new Map<string, RawFields>();
  const slotsRead = ([1, 2] as AgentId[]).filter((slot) => perSlot[slot] > 0);
  for (const slot of slotsRead) {
    for (const [rawId, raw] of values[at++] as [Uint8Array, RawFields][]) {
      byId.set(`${slot}:${LOSSY_UTF8.decode(rawId)}`, raw);
    }
  }

  const facts: TurnFacts = {
    streamSlot: options.streamSlot,
    request: options.request
      ? { kind: "ok", message: options.request }
      : _decodeRequest(requestRaw ?? []),
    routed: routed ?? undefined,
    answered: answeredValues[0] ?? undefined,
    now: (options.now ?? Date.now)(),
  };
  const meta = _decodeMeta(metaValues);
  if (meta) facts.meta = meta.status;
  let conversation = cached;
  if (!conversation && meta?.scenario && meta.models) {
    conversation = cache.remember(id, {
      scenario: meta.scenario,
      models: meta.models,
      ...(meta.backends ? { backends: meta.backends } : {}),
      overrides: meta.overrides,
    });
  }

  // The accepted response of each missing turn is the one answered[s] names.
  let roundTrips = 1;
  const wanted = missing.map((seq, i) => {
    const entryId = answeredValues[i + 1] ?? undefined;
    return { seq, entryId, key: `${agentForTurn(seq)}:${entryId}` };
  });
  const lacking = wanted.filter((w) => w.entryId !== undefined && !byId.has(w.key));
  if (lacking.length > 0) {
    roundTrips++;
    const more = redis.pipeline();
    for (const w of lacking) {
      more.xrangeBuffer(keys.responses(agentForTurn(w.seq)), w.entryId!, w.entryId!);
    }
    const got = (await more.exec())!;
    commands += got.length;
    got.forEach(([error, value], i) => {
      if (error) throw error;
      for (const [, raw] of value as [Uint8Array, RawFields][]) byId.set(lacking[i]!.key, raw);
    });
  }
  if (conversation) {
    const found: DialogMessage[] = [];
    for (const w of wanted) {
      const raw = w.entryId === undefined ? undefined : byId.get(w.key);
      const message = raw ? _tryDecode(raw) : undefined;
      if (!message || message.metadata.sequence_number !== w.seq) continue;
      found.push(message);
    }
    cache.append(id, found);
  }
  return {
    facts,
    ...(conversation ? { conversation } : {}),
    history: conversation ? cache.historyBefore(id, claim.seq) : [],
    resumedAt: meta?.resumedAt ?? 0,
    roundTrips,
    commands,
  };
}

function _decodeRequest(raw: [Uint8Array, RawFields][]): TurnFacts["request"] {
  const entry = raw[0];
  if (!entry) return { kind: "missing" };
  try {
    return { kind: "ok", message: decodeEntry(decodeFields(entry[1])) };
  } catch (error) {
    return { kind: "invalid", reason: (error as Error).message };
  }
}

function _tryDecode(raw: RawFields): DialogMessage | undefined {
  try {
    return decodeEntry(decodeFields(raw));
  } catch {
    return undefined;
  }
}

function _decodeMeta(values: (string | null)[]) {
  const [status, deadline, turns, resumedAt, scenario, models, backends, config] = values;
  const parsedStatus = ConversationStatus.safeParse(status);
  if (!parsedStatus.success) return undefined;
  return {
    status: {
      status: parsedStatus.data,
      deadline: deadline ? Number(deadline) : undefined,
      turns: turns ? Number(turns) : 0,
    },
    resumedAt: resumedAt ? Number(resumedAt) : 0,
    scenario: scenario ? _json(Scenario, scenario) : undefined,
    models: models ? _json(ConversationMeta.shape.models, models) : undefined,
    backends: backends ? _json(ConversationMeta.shape.backends.unwrap(), backends) : undefined,
    overrides: runOverrides(config ? _parse(config) : undefined),
  };
}

function _parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function _json<T>(schema: { safeParse(v: unknown): { success: boolean; data?: T } }, text: string) {
  try {
    const parsed = schema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
