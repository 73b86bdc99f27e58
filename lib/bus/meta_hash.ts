/**
 * How conversation metadata is laid out in its Redis hash: objects as JSON,
 * numbers as decimal strings, the rest as plain strings. Pure, so the
 * encoding can be tested without a server.
 *
 * @module
 */
import { ConversationMeta } from "../model/conversation_meta.ts";
import { DialogueError, ErrorCode } from "../base/dialogue_error.ts";
import { conversationKeys } from "./keys.ts";

/** Fields stored as JSON in the meta hash; the rest are plain strings or numbers. */
const _JSON_FIELDS = new Set(["scenario", "models", "backends", "config"]);
const _NUMBER_FIELDS = new Set([
  "created_at",
  "started_at",
  "ended_at",
  "resumed_at",
  "paused_ms",
  "deadline",
  "turns",
  "max_turns",
  "duration_seconds",
]);

/**
 * The hash fields of (part of) a conversation's metadata, ready for `HSET`.
 * Undefined fields are left out, so a patch overwrites only what it names.
 *
 * @example Encoding a patch
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { encodeMetaHash } from "./meta_hash.ts";
 *
 * deepStrictEqual(encodeMetaHash({ turns: 3, models: { agent1: "a", agent2: "b", manager: "m" } }), {
 *   turns: "3",
 *   models: '{"agent1":"a","agent2":"b","manager":"m"}',
 * });
 * ```
 */
export function encodeMetaHash(meta: Partial<ConversationMeta>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(meta)) {
    if (value === undefined) continue;
    out[key] = _JSON_FIELDS.has(key) ? JSON.stringify(value) : String(value);
  }
  return out;
}

/**
 * The metadata of conversation `id` read back from its (non-empty) hash, and
 * checked against the schema, so that a hash edited by hand or written by an
 * older version is reported rather than half-used.
 *
 * @throws {DialogueError} `not_found` naming the field that is wrong and how to
 * inspect or delete the run.
 */
export function decodeMetaHash(id: string, raw: Record<string, string>): ConversationMeta {
  let decoded: Record<string, unknown>;
  try {
    decoded = _decode(raw);
  } catch (error) {
    throw _invalidMeta(id, (error as Error).message);
  }
  const result = ConversationMeta.safeParse(decoded);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  throw _invalidMeta(id, `${issue.path.join(".") || "meta"}: ${issue.message}`);
}

function _decode(raw: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (_JSON_FIELDS.has(key)) out[key] = JSON.parse(value);
    else if (_NUMBER_FIELDS.has(key)) out[key] = Number(value);
    else out[key] = value;
  }
  return out;
}

function _invalidMeta(id: string, why: string): DialogueError {
  return new DialogueError(
    ErrorCode.NotFound,
    `Conversation ${id} has invalid metadata in Redis (${why}): inspect ${
      conversationKeys(id).meta
    } or delete the run with 'deno task clean --conversation ${id} --force'`,
  );
}
