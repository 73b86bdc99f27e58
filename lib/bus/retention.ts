/**
 * Choosing conversations to delete: by id, by age, or all finished ones.
 * Running and pending conversations are kept unless forced.
 *
 * @module
 */
import { type ConversationMeta, FINISHED_STATUSES } from "../model/conversation_meta.ts";
import { usageError } from "../base/dialogue_error.ts";

/** What to delete. */
export interface CleanSelection {
  ids?: string[];
  /** Only conversations created longer ago than this (ms). */
  olderThanMs?: number;
  /** Every conversation (subject to `olderThanMs` and `force`). */
  all?: boolean;
  /** Also delete pending and running conversations. @default false */
  force?: boolean;
}

/** The conversations `selection` picks from `metas`. */
export function selectForCleanup(
  metas: ConversationMeta[],
  selection: CleanSelection,
  now = Date.now(),
): ConversationMeta[] {
  return metas.filter((meta) => {
    if (selection.ids?.length && !selection.ids.includes(meta.id)) return false;
    if (!selection.ids?.length && !selection.all && selection.olderThanMs === undefined) {
      return false;
    }
    if (selection.olderThanMs !== undefined && now - meta.created_at < selection.olderThanMs) {
      return false;
    }
    return selection.force || FINISHED_STATUSES.includes(meta.status);
  });
}

/**
 * Parses an age such as `90s`, `30m`, `12h`, `7d` or `2w` into milliseconds.
 *
 * @throws {DialogueError} `usage` naming the flag and the expected form.
 */
export function parseAge(text: string, flag = "--older-than"): number {
  const match = /^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$/.exec(text.trim());
  if (!match) {
    throw usageError(
      `Invalid ${flag} ${
        JSON.stringify(text)
      }: expected a number and a unit (s, m, h, d, w), e.g. 7d`,
    );
  }
  const unit = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 }[match[2] as "s"];
  return Number(match[1]) * unit * 1000;
}
