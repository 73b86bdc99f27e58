/**
 * What the manager writes for a turn, built in one place: the request
 * message routed to the next agent, the agent ticket naming it, live events,
 * and the progress event dashboards read.
 *
 * @module
 */
import type { ChainableCommander } from "ioredis";
import type { ConversationMeta } from "../model/conversation_meta.ts";
import {
  agentForTurn,
  type AgentId,
  type DialogMessage,
  MessageMetadata,
} from "../model/dialog_message.ts";
import { addAgentTicket } from "../bus/dispatch.ts";

/** Progress of a run, published on `dispatchKeys.events` after each accepted turn. */
export interface ProgressEvent {
  type: "progress";
  id: string;
  turns: number;
  max_turns: number;
  status: string;
  agent: AgentId;
  tokens: number;
  tokens_per_second: number;
  /** The last ~60 characters of the turn's reply, whitespace folded. */
  last: string;
}

/** The request of turn `seq` of conversation `id`: `content` is what the other agent said. */
export function requestMessage(id: string, seq: number, content: string): DialogMessage {
  return {
    queue_timestamp: Date.now(),
    message_id: crypto.randomUUID(),
    role: "user",
    content,
    metadata: MessageMetadata.parse({
      conversation_id: id,
      sequence_number: seq,
      agent_id: agentForTurn(seq),
    }),
  };
}

/** Queues the agent ticket of turn `seq` (request entry `request`) on `pipeline`. */
export function queueAgentTicket(
  pipeline: ChainableCommander,
  meta: Pick<ConversationMeta, "id" | "models">,
  turn: { seq: number; request: string; partitions: number },
): void {
  const agent = agentForTurn(turn.seq);
  addAgentTicket(pipeline, {
    conversation_id: meta.id,
    agent,
    seq: turn.seq,
    request: turn.request,
    model: agent === 1 ? meta.models.agent1 : meta.models.agent2,
  }, { partitions: turn.partitions });
}

/**
 * The progress event after turn `turns` (whose reply is `message`).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { progressEvent } from "./turn_messages.ts";
 * const message = { content: "We climb  the tower\nnow.", metadata: { sequence_number: 2,
 *   tokens_generated: 5, tokens_per_second: 40 } };
 * strictEqual(progressEvent("c1", { max_turns: 8, status: "running" }, 2, message).last,
 *   "We climb the tower now.");
 * ```
 */
export function progressEvent(
  id: string,
  meta: Pick<ConversationMeta, "max_turns" | "status">,
  turns: number,
  message: {
    content: string;
    metadata: Pick<
      DialogMessage["metadata"],
      "sequence_number" | "tokens_generated" | "tokens_per_second"
    >;
  },
): ProgressEvent {
  const flat = message.content.replace(/\s+/g, " ").trim();
  return {
    type: "progress",
    id,
    turns,
    max_turns: meta.max_turns,
    status: meta.status,
    agent: agentForTurn(message.metadata.sequence_number),
    tokens: message.metadata.tokens_generated,
    tokens_per_second: message.metadata.tokens_per_second,
    last: flat.slice(-60),
  };
}
