/**
 * The record of a batch in Redis: its spec and, per run key, the id of the
 * conversation that runs it. A batch's keys share their own hash tag
 * (`dialogue:{batch:ID}:…`), so every command on them stays in one slot on
 * Redis Cluster and none is ever combined with a conversation's keys: a run
 * is written to the batch (`HSET`) before its conversation is created (its
 * own slot), so a batch stopped between the two finds the id on resume and
 * creates that conversation then.
 *
 * @module
 */
import type { Redis } from "ioredis";
import { z } from "zod";
import { DialogueError, ErrorCode } from "../base/dialogue_error.ts";
import { KEY_PREFIX } from "../bus/keys.ts";
import { BatchSpec } from "./batch_file.ts";

/** Names of one batch's keys. */
export function batchKeys(id: string): { meta: string; runs: string } {
  const base = `${KEY_PREFIX}:{batch:${id}}`;
  return { meta: `${base}:meta`, runs: `${base}:runs` };
}

/** What a batch's `meta` hash holds. */
export const BatchRecord = z.object({
  id: z.string(),
  created_at: z.number(),
  spec: BatchSpec,
});
/** What a batch's `meta` hash holds. */
export type BatchRecord = z.infer<typeof BatchRecord>;

/** A batch id: `b` + UTC time + random, like conversation ids (`b20261202-011530-1a2b3c`). */
export function newBatchId(now = new Date()): string {
  const iso = now.toISOString();
  const stamp = `${iso.slice(0, 10).replaceAll("-", "")}-${iso.slice(11, 19).replaceAll(":", "")}`;
  return `b${stamp}-${crypto.randomUUID().slice(0, 6)}`;
}

/** Reads and writes batch records. */
export class BatchStore {
  readonly #redis: Redis;

  constructor(redis: Redis) {
    this.#redis = redis;
  }

  /** Records a new batch. */
  async create(record: BatchRecord): Promise<void> {
    const keys = batchKeys(record.id);
    await this.#redis.hset(keys.meta, {
      id: record.id,
      created_at: String(record.created_at),
      spec: JSON.stringify(record.spec),
    });
  }

  /**
   * The batch `id`.
   *
   * @throws {DialogueError} `not_found` for an unknown id.
   */
  async require(id: string): Promise<BatchRecord> {
    const raw = await this.#redis.hgetall(batchKeys(id).meta);
    if (!raw.spec) {
      throw new DialogueError(
        ErrorCode.NotFound,
        `Cannot find batch ${id} in Redis: check the id printed as 'batch <ID>' (or --redis-url)`,
      );
    }
    const parsed = BatchRecord.safeParse({
      id: raw.id,
      created_at: Number(raw.created_at),
      spec: JSON.parse(raw.spec),
    });
    if (!parsed.success) {
      throw new DialogueError(
        ErrorCode.NotFound,
        `Cannot read batch ${id} as its record is not one this version wrote`,
      );
    }
    return parsed.data;
  }

  /** Run key → conversation id, for every run started so far. */
  async runs(id: string): Promise<Map<string, string>> {
    return new Map(Object.entries(await this.#redis.hgetall(batchKeys(id).runs)));
  }

  /** Records the conversation that runs `key`. */
  async setRun(id: string, key: string, conversationId: string): Promise<void> {
    await this.#redis.hset(batchKeys(id).runs, key, conversationId);
  }
}
