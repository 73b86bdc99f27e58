/**
 * Changing a conversation's status in Redis: the only way to do it. The
 * guard comes from the state machine in `lib/model/conversation_status.ts`
 * and is applied atomically by `lua/transition.lua`, so two processes racing
 * (a manager ending a run, chat interrupting it) cannot both win, and an
 * ended run is never revived.
 *
 * @module
 */
import type { Redis } from "ioredis";
import type { ConversationMeta, ConversationStatus } from "../model/conversation_meta.ts";
import { statusesLeadingTo } from "../model/conversation_status.ts";
import { conversationKeys } from "./keys.ts";
import { runScript } from "./scripts.ts";

/** Result of {@linkcode transitionStatus}. */
export interface TransitionResult {
  /** Whether the status changed. */
  changed: boolean;
  /** The status before the call ("" when the conversation does not exist). */
  previous: ConversationStatus | "";
}

/** Options of {@linkcode transitionStatus}. */
export interface TransitionOptions {
  /** Fields set with the new status (numbers and strings as stored). */
  set?: Partial<Record<keyof ConversationMeta, string | number>>;
  /** Fields removed with the change (e.g. `ended_at` on resume). */
  remove?: (keyof ConversationMeta)[];
}

/**
 * Moves conversation `id` to status `to` when the state machine allows it
 * from its current status; otherwise changes nothing.
 *
 * @example
 * ```ts ignore
 * const { changed } = await transitionStatus(redis, id, "running", { set: { started_at: Date.now() } });
 * ```
 */
export async function transitionStatus(
  redis: Redis,
  id: string,
  to: ConversationStatus,
  options: TransitionOptions = {},
): Promise<TransitionResult> {
  const allowed = `,${statusesLeadingTo(to).join(",")},`;
  const remove = options.remove ?? [];
  const sets = Object.entries(options.set ?? {}).filter(([, v]) => v !== undefined)
    .flatMap(([k, v]) => [k, String(v)]);
  const [changed, previous] = await runScript<[number, string]>(
    redis,
    "transition",
    [conversationKeys(id).meta],
    [to, allowed, remove.length, ...remove, ...sets],
  );
  return { changed: changed === 1, previous: previous as ConversationStatus | "" };
}
