/**
 * Tickets: the small entries that tell a pool which conversation has work.
 * The conversation's own request and response streams stay the log and the
 * source of truth; a ticket only names a turn (agent ticket) or an event of a
 * conversation (manager ticket), and is acknowledged once that is handled.
 * Tickets of one partition are read in arrival order, so conversations are
 * served first come, first served, and none waits behind a busy one.
 *
 * @module
 */
import { z } from "zod";
import type { ChainableCommander, Redis } from "ioredis";
import { AgentId } from "../model/dialog_message.ts";
import { dispatchKeys, partitionOf } from "./keys.ts";

/** Tickets streams keep at least this many entries (approximate trim keeps the log of tickets short). */
export const TICKET_STREAM_MAXLEN = 100_000;

/** A turn for an agent pool: generate the reply to request `request` of `conversation_id`. */
export const AgentTicket = z.strictObject({
  conversation_id: z.string().min(1).max(128),
  agent: AgentId,
  seq: z.number().int().min(1),
  /** Entry id of the request on the conversation's request stream. */
  request: z.string().regex(/^\d+-\d+$/),
  model: z.string().min(1).max(200),
});
/** A turn for an agent pool. */
export type AgentTicket = z.infer<typeof AgentTicket>;

/** Something for a manager pool to do for one conversation. */
export const ManagerTicket = z.strictObject({
  /** `start`: write the scenario and route the first request; `response`: a reply was recorded; `resume`: continue the run. */
  kind: z.enum(["start", "response", "resume"]),
  conversation_id: z.string().min(1).max(128),
  seq: z.number().int().min(1).optional(),
});
/** Something for a manager pool to do. */
export type ManagerTicket = z.infer<typeof ManagerTicket>;

/** Where tickets go: the number of partitions, from `dispatch.partitions`. */
export interface DispatchOptions {
  partitions: number;
}

/** Queues an agent ticket on `pipeline` (or sends it on a connection). */
export function addAgentTicket(
  pipeline: Redis | ChainableCommander,
  ticket: AgentTicket,
  options: DispatchOptions,
): void {
  const stream = dispatchKeys.work(
    ticket.model,
    partitionOf(ticket.conversation_id, options.partitions),
  );
  pipeline.xadd(stream, "MAXLEN", "~", TICKET_STREAM_MAXLEN, "*", "t", JSON.stringify(ticket));
}

/** Queues a manager ticket on `pipeline` (or sends it on a connection). */
export function addManagerTicket(
  pipeline: Redis | ChainableCommander,
  ticket: ManagerTicket,
  options: DispatchOptions,
): void {
  const stream = dispatchKeys.inbox(partitionOf(ticket.conversation_id, options.partitions));
  pipeline.xadd(stream, "MAXLEN", "~", TICKET_STREAM_MAXLEN, "*", "t", JSON.stringify(ticket));
}

/**
 * Decodes a ticket entry's fields; undefined when it is not a valid ticket
 * (the caller acknowledges it and moves on: a bad ticket costs nothing, as
 * the conversation's streams are the record).
 */
export function decodeTicket<T extends z.ZodType>(
  schema: T,
  fields: string[],
): z.infer<T> | undefined {
  if (fields.length !== 2 || fields[0] !== "t" || (fields[1]?.length ?? 0) > 2000) return undefined;
  try {
    const parsed = schema.safeParse(JSON.parse(fields[1]!));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
