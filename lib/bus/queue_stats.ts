/**
 * Depth and pending counts of a conversation's four queues, for the
 * observer's list and for tests that check nothing was left unacknowledged.
 *
 * @module
 */
import type { Redis } from "ioredis";
import type { AgentId } from "../model/dialog_message.ts";
import { AGENT_GROUP, conversationKeys, MANAGER_GROUP } from "./keys.ts";

/** Depth and unacknowledged count of one stream. */
export interface QueueStat {
  stream: string;
  length: number;
  pending: number;
}

/**
 * The length and pending count of each request and response stream of
 * conversation `id`, requests of agent 1 first. A stream whose consumer group
 * does not exist yet has nothing pending.
 */
export async function queueStats(redis: Redis, id: string): Promise<QueueStat[]> {
  const keys = conversationKeys(id);
  const streams: [string, string][] = [];
  for (const agent of [1, 2] as AgentId[]) {
    streams.push([keys.requests(agent), AGENT_GROUP]);
    streams.push([keys.responses(agent), MANAGER_GROUP]);
  }
  const out: QueueStat[] = [];
  for (const [stream, group] of streams) {
    const length = await redis.xlen(stream);
    let pending = 0;
    try {
      const summary = await redis.xpending(stream, group) as [
        number,
        ...unknown[],
      ];
      pending = Number(summary[0] ?? 0);
    } catch {
      // No group yet: nothing is pending.
    }
    out.push({ stream, length, pending });
  }
  return out;
}
