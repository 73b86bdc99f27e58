/**
 * The one state machine of a conversation's status. Every change of status
 * goes through {@linkcode canTransition} here and, in Redis, through the
 * guarded `transition.lua` script (see `lib/bus/status_transition.ts`), so a
 * run that ended as `failed` can never be set back to `running`.
 *
 * ```
 * pending ──► running ──► completed | failed
 *    │          │ ▲
 *    │          ▼ │ (resume)
 *    │       interrupted ──► failed
 *    └──► failed | interrupted
 * ```
 *
 * @module
 */
import type { ConversationStatus } from "./conversation_meta.ts";

/** Legal targets from each status. */
export const STATUS_TRANSITIONS: Readonly<
  Record<ConversationStatus, readonly ConversationStatus[]>
> = {
  pending: ["running", "failed", "interrupted"],
  running: ["completed", "failed", "interrupted"],
  interrupted: ["running", "failed"],
  completed: [],
  failed: [],
};

/** Whether a conversation in status `from` may move to `to`. */
export function canTransition(from: ConversationStatus, to: ConversationStatus): boolean {
  return STATUS_TRANSITIONS[from].includes(to);
}

/** Every status from which `to` may be reached (the guard the Lua script applies). */
export function statusesLeadingTo(to: ConversationStatus): ConversationStatus[] {
  return (Object.keys(STATUS_TRANSITIONS) as ConversationStatus[]).filter((from) =>
    canTransition(from, to)
  );
}
