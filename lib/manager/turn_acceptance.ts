/**
 * Accepting one response: the hot path of an ordinary turn. One
 * `accept_response` (which checks the response is the answer recorded for
 * the next turn, counts it and routes the next request, atomically), then
 * one pipeline with what follows from its answer: the agent ticket of the
 * next turn, the live notices, the `XACK`, the progress `PUBLISH` and the
 * acknowledgement of the manager ticket being served. What the router keeps
 * in memory is its caller's to update from the returned outcome.
 *
 * @module
 */
import type { ChainableCommander, Redis } from "ioredis";
import { queueLive } from "../bus/live_feed.ts";
import { conversationKeys, dispatchKeys, MANAGER_GROUP } from "../bus/keys.ts";
import { runScript } from "../bus/scripts.ts";
import { encodeEntry, type StreamEntry } from "../bus/stream_entry.ts";
import type { ConversationMeta } from "../model/conversation_meta.ts";
import { agentForTurn } from "../model/dialog_message.ts";
import type { LiveCheck } from "./live_detectors.ts";
import { type RoutedRequest, settleAccept } from "./response_decision.ts";
import { queueDeadLetter } from "./response_dead_letter.ts";
import { progressEvent, queueAgentTicket, requestMessage } from "./turn_messages.ts";

/**
 * Queues the acknowledgement of the ticket being served on a pipeline, so
 * the ticket is settled in the same round trip as the turn it brought.
 */
export type TicketSettler = (pipeline: ChainableCommander) => void;

/** Options of {@linkcode acceptTurn}. */
export interface AcceptTurnOptions {
  /** The conversation whose response `entry` is. */
  id: string;
  /** The run's cached metadata: models for the next ticket, limits for the progress event. */
  meta: ConversationMeta;
  /** Inbox partitions the next agent ticket is spread over (`dispatch.partitions`). */
  partitions: number;
  /** The live detectors' verdict on the turn, committed once it is accepted. @default none */
  check?: LiveCheck | undefined;
  /** Route the next request with the acceptance (false when the run stops here or the turn was counted before). */
  route: boolean;
  /** Put in the pipeline of the accepted turn. @default none */
  settle?: TicketSettler | undefined;
}

/** What {@linkcode acceptTurn} did. */
export type AcceptOutcome =
  /** Counted; `routed` is the next turn's request when one was routed; `settled` when `settle` went out. */
  | { kind: "accepted"; routed: RoutedRequest | undefined; settled: boolean }
  /** This very response was accepted before: it was acknowledged. */
  | { kind: "duplicate" }
  /** The run is not running: nothing was written, the entry is still pending. */
  | { kind: "not_running" }
  /** `accept_response` refused it: moved to the dead-letter stream. */
  | { kind: "dead_lettered" };

/**
 * Accepts `entry`, the response of turn `seq` of its conversation, with
 * `accept_response`, and writes what follows from the script's answer in
 * one pipeline. Two round trips whatever the answer (one when the run is
 * not running).
 */
export async function acceptTurn(
  redis: Redis,
  entry: StreamEntry,
  options: AcceptTurnOptions,
): Promise<AcceptOutcome> {
  const { id, meta } = options;
  const keys = conversationKeys(id);
  const seq = entry.message.metadata.sequence_number;
  const next = options.route ? requestMessage(id, seq + 1, entry.message.content) : undefined;
  const reply = await runScript<[string, string]>(
    redis,
    "accept_response",
    [keys.meta, keys.answered, keys.routed, keys.requests(agentForTurn(seq + 1))],
    [seq, entry.id, next ? "1" : "0", ...(next ? encodeEntry(next) : [])],
  );
  const verdict = settleAccept(reply, seq);
  const pipeline = redis.pipeline();
  switch (verdict.kind) {
    case "dead_letter":
      queueDeadLetter(pipeline, id, { ...entry, reason: verdict.reason });
      await pipeline.exec();
      return { kind: "dead_lettered" };
    case "duplicate":
      pipeline.xack(entry.stream, MANAGER_GROUP, entry.id);
      await pipeline.exec();
      return { kind: "duplicate" };
    case "not_running":
      return { kind: "not_running" };
    case "accepted":
      break;
  }
  options.check?.commit();
  for (const notice of options.check?.notices ?? []) queueLive(pipeline, id, notice);
  let routed: RoutedRequest | undefined;
  if (next && verdict.next) {
    routed = { seq: seq + 1, messageId: next.message_id, verified: false };
    queueAgentTicket(pipeline, meta, {
      seq: seq + 1,
      request: verdict.next,
      partitions: options.partitions,
    });
  }
  pipeline.xack(entry.stream, MANAGER_GROUP, entry.id);
  pipeline.publish(
    dispatchKeys.events,
    JSON.stringify(progressEvent(id, meta, seq, entry.message)),
  );
  options.settle?.(pipeline);
  await pipeline.exec();
  return { kind: "accepted", routed, settled: options.settle !== undefined };
}
