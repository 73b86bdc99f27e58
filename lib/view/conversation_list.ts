/**
 * The `observe --list` view: conversations with status, turns, age and the
 * depth and pending count of each queue, as a plain aligned table.
 *
 * @module
 */
import type { ConversationMeta } from "../model/conversation_meta.ts";
import type { QueueStat } from "../bus/queue_stats.ts";
import { formatDuration } from "./format_duration.ts";

/** One row of the list. */
export interface ConversationRow {
  meta: ConversationMeta;
  queues: QueueStat[];
}

/** Formats the list; `now` is injectable for tests. */
export function formatConversationList(rows: ConversationRow[], now = Date.now()): string {
  if (rows.length === 0) return "No conversations in Redis yet: start one with 'deno task chat'.";
  const header = ["ID", "STATUS", "STOP", "TURNS", "AGE", "QUEUES len/pending req1 res1 req2 res2"];
  const body = rows.map(({ meta, queues }) => [
    meta.id,
    meta.status,
    meta.stop_reason ?? "-",
    `${meta.turns}/${meta.max_turns}`,
    formatDuration(Math.max(0, now - meta.created_at)),
    queues.map((q) => `${q.length}/${q.pending}`).join(" "),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => i === cells.length - 1 ? c : c.padEnd(widths[i]!)).join("  ");
  return [line(header), ...body.map(line)].join("\n");
}
