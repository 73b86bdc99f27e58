/**
 * A batch read back: each run of its matrix with the conversation that ran
 * it (if one was started) and that conversation's status.
 *
 * @module
 */
import type { Redis } from "ioredis";
import { ConversationStore } from "../bus/conversation_store.ts";
import { conversationKeys } from "../bus/keys.ts";
import type { ConversationStatus } from "../model/conversation_meta.ts";
import type { Transcript } from "../analysis/run_analysis.ts";
import { type BatchRecord, BatchStore } from "./batch_store.ts";
import { type BatchRun, expandRuns } from "./batch_matrix.ts";

/** One run of the matrix and where it stands. */
export interface BatchRunState {
  run: BatchRun;
  /** The conversation recorded for it; undefined when none was started. */
  id?: string;
  /** Its status; undefined when it was not created (or has expired). */
  status?: ConversationStatus;
}

/**
 * The batch record and every run's state, in matrix order. Reads one hash
 * of the batch, then one status per conversation (pipelined, each a
 * single-key command in that conversation's slot).
 *
 * @throws {DialogueError} `not_found` for an unknown batch.
 */
export async function readBatchState(
  redis: Redis,
  batchId: string,
): Promise<{ record: BatchRecord; runs: BatchRunState[] }> {
  const store = new BatchStore(redis);
  const record = await store.require(batchId);
  const started = await store.runs(batchId);
  const runs: BatchRunState[] = expandRuns(record.spec).map((run) => {
    const id = started.get(run.key);
    return id === undefined ? { run } : { run, id };
  });
  const withId = runs.filter((r) => r.id !== undefined);
  const pipeline = redis.pipeline();
  for (const r of withId) pipeline.hget(conversationKeys(r.id!).meta, "status");
  const replies = withId.length > 0 ? (await pipeline.exec()) ?? [] : [];
  replies.forEach(([error, value], i) => {
    if (!error && typeof value === "string") withId[i]!.status = value as ConversationStatus;
  });
  return { record, runs };
}

/** The transcripts of a batch's created runs, each with its run. */
export async function readBatchTranscripts(
  redis: Redis,
  batchId: string,
): Promise<{ record: BatchRecord; runs: { run: BatchRun; transcript: Transcript }[] }> {
  const { record, runs } = await readBatchState(redis, batchId);
  const store = new ConversationStore(redis);
  const out: { run: BatchRun; transcript: Transcript }[] = [];
  for (const r of runs) {
    if (r.id === undefined || r.status === undefined) continue;
    out.push({ run: r.run, transcript: await store.transcript(r.id) });
  }
  return { record, runs: out };
}
