/**
 * Which conversation a single-slot agent (`deno task agent --id N` without
 * `--conversation`) serves, and when it leaves a run that never starts. A
 * run stays `pending` while a manager writes its scenario; if that manager
 * died and no other manager pool is there to take its start ticket over, it
 * stays pending until one is started (the run is resumable: a manager pool
 * takes the ticket over). The agent does not fail such a run — the manager
 * side owns the status — it leaves it for a newer conversation, or once the
 * run has been pending longer than a live manager could take, and waits for
 * the next one.
 *
 * @module
 */
import type { Config } from "../config/config.ts";
import type { ConversationStatus } from "../model/conversation_meta.ts";

/** What the decisions read of a conversation. */
export interface PendingWaitMeta {
  id: string;
  status: ConversationStatus;
  created_at: number;
}

/**
 * How long a run may stay pending with a live manager: its attempts at the
 * scenario, each up to the request timeout, plus the time another manager
 * pool needs to take a dead one's start ticket over. The scenario writer
 * holds all its attempts to one request timeout, so this leaves room for a
 * manager killed mid-scenario and restarted to write it again.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { pendingBoundMs } from "./pending_wait.ts";
 * import { parseConfig } from "../config/config.ts";
 * strictEqual(pendingBoundMs(parseConfig({})), 300_000 * 3 + 5000);
 * ```
 */
export function pendingBoundMs(config: Config): number {
  return config.ollama.request_timeout_ms * config.manager.max_attempts +
    config.dispatch.dead_after_ms;
}

/**
 * The conversation to serve among `metas` (newest first): the newest running
 * one, or pending one the agent has not left.
 */
export function chooseConversation(
  metas: readonly PendingWaitMeta[],
  left: ReadonlySet<string>,
): string | undefined {
  return metas.find((m) => m.status === "running" || (m.status === "pending" && !left.has(m.id)))
    ?.id;
}

/**
 * Whether to leave `current`, a run the agent chose itself: only while it is
 * still pending, when a newer conversation waits to be served or it has been
 * pending for `boundMs`. Returns the reason, or undefined to stay.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { leavePendingReason } from "./pending_wait.ts";
 * const current = { id: "a", status: "pending" as const, created_at: 0 };
 * strictEqual(leavePendingReason(current, [current], 1000, 5000), undefined);
 * strictEqual(leavePendingReason(current, [current], 6000, 5000), "pending for 6 s");
 * ```
 */
export function leavePendingReason(
  current: PendingWaitMeta,
  metas: readonly PendingWaitMeta[],
  now: number,
  boundMs: number,
): string | undefined {
  if (current.status !== "pending") return undefined;
  const newer = metas.find((m) =>
    m.id !== current.id && m.created_at > current.created_at &&
    (m.status === "pending" || m.status === "running")
  );
  if (newer) return `newer conversation ${newer.id} to serve`;
  const pendingMs = now - current.created_at;
  if (pendingMs >= boundMs) return `pending for ${Math.round(pendingMs / 1000)} s`;
  return undefined;
}
