/**
 * Choosing conversations to delete: by id, by age, or all finished ones.
 * Running and pending conversations are kept unless forced.
 *
 * @module
 */
import { type ConversationMeta, FINISHED_STATUSES } from "../model/conversation_meta.ts";

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

/** Parses an age such as `7d` (moved to lib/base/age.ts, where the config reads it too). */
export { parseAge } from "../base/age.ts";
