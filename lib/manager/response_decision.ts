/**
 * What the manager does with one entry of a conversation's response streams,
 * as pure functions of the entry and the conversation's cached state. The
 * manager accepts a response only for the turn, the slot and the request it
 * routed; anything else is dead-lettered with a reason, never counted or
 * routed. The last word is `accept_response.lua`'s (is this the response
 * recorded for turn turns+1?), whose answer {@linkcode settleAccept} maps.
 *
 * @module
 */
import { agentForTurn, type AgentId, type DialogMessage } from "../model/dialog_message.ts";

/** The request the manager routed for a turn. */
export interface RoutedRequest {
  seq: number;
  /** `message_id` of the request message. */
  messageId: string;
  /** Read from the request stream (true) or remembered from routing it (false). */
  verified: boolean;
}

/** What {@linkcode decideResponse} knows of the conversation. */
export interface ResponseContext {
  conversationId: string;
  /** Turns accepted so far. */
  turns: number;
  /** The request routed for turn `turns + 1`, when known. */
  routed: RoutedRequest | undefined;
}

/** A response entry: the slot whose stream it was read from and its message. */
export interface ResponseEntry {
  slot: AgentId;
  message: DialogMessage;
}

/** Verdict of {@linkcode decideResponse}. */
export type ResponseDecision =
  /** The next turn, from the right slot, answering the routed request: check the limits, then accept. */
  | { kind: "candidate"; seq: number }
  /** A turn already counted: `accept_response` tells the recorded answer (acknowledge) from a second one (dead-letter). */
  | { kind: "settle"; seq: number }
  /** The routed request of the turn must be read from Redis before deciding. */
  | { kind: "lookup"; seq: number }
  | { kind: "dead_letter"; reason: string };

/**
 * Decides what to do with a response entry.
 *
 * @example A response written on the other agent's stream
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { decideResponse } from "./response_decision.ts";
 * const message = { queue_timestamp: 0, message_id: "m", role: "assistant" as const,
 *   content: "hi", metadata: { conversation_id: "c", sequence_number: 1, tokens_generated: 0,
 *   generation_time_ms: 0, prompt_tokens: 0, tokens_per_second: 0, prompt_tokens_per_second: 0,
 *   time_to_first_token_ms: 0, load_duration_ms: 0, prompt_eval_duration_ms: 0,
 *   total_duration_ms: 0, wall_time_ms: 0, llm_ms: 0, request_id: "r1" } };
 * const routed = { seq: 1, messageId: "r1", verified: true };
 * strictEqual(decideResponse({ slot: 2, message }, { conversationId: "c", turns: 0, routed }).kind, "dead_letter");
 * strictEqual(decideResponse({ slot: 1, message }, { conversationId: "c", turns: 0, routed }).kind, "candidate");
 * ```
 */
export function decideResponse(entry: ResponseEntry, context: ResponseContext): ResponseDecision {
  const { metadata } = entry.message;
  const seq = metadata.sequence_number;
  const { turns, routed } = context;
  if (metadata.conversation_id !== context.conversationId) {
    return {
      kind: "dead_letter",
      reason:
        `response of conversation ${metadata.conversation_id} on the streams of ${context.conversationId}`,
    };
  }
  const speaker = agentForTurn(seq);
  if (entry.slot !== speaker) {
    return {
      kind: "dead_letter",
      reason:
        `response for turn ${seq} on agent ${entry.slot}'s stream: turn ${seq} is agent ${speaker}'s`,
    };
  }
  if (seq <= turns) return { kind: "settle", seq };
  if (seq > turns + 1) {
    return {
      kind: "dead_letter",
      reason: `response for future turn ${seq}: the run is at turn ${turns} and expects turn ${
        turns + 1
      }`,
    };
  }
  if (routed === undefined || routed.seq !== seq) return { kind: "lookup", seq };
  if (metadata.request_id !== routed.messageId) {
    if (!routed.verified) return { kind: "lookup", seq };
    return {
      kind: "dead_letter",
      reason: `response for turn ${seq} answers request ${
        metadata.request_id ?? "(none)"
      }, not ${routed.messageId}, the request routed for turn ${seq}`,
    };
  }
  return { kind: "candidate", seq };
}

/** Why a run ends after an accepted turn. */
export type TurnStop = "max_turns" | "duration" | DetectorStop;

/** The stop reasons of the live detectors. */
export type DetectorStop = "loop" | "echo" | "collapse";

/** What the turn limits say after turn `seq`. */
export interface StopInputs {
  seq: number;
  maxTurns: number;
  deadline: number | undefined;
  now: number;
  /** The live detectors want the run to end here. */
  loop: boolean;
  /** Which stop reason they give. @default {"loop"} */
  reason?: DetectorStop | undefined;
}

/**
 * Why the run ends after turn `seq`, if it does: the turn limit first, then
 * the deadline, then the detectors.
 */
export function stopAfterTurn(inputs: StopInputs): TurnStop | undefined {
  if (inputs.seq >= inputs.maxTurns) return "max_turns";
  if (inputs.deadline !== undefined && inputs.now >= inputs.deadline) return "duration";
  return inputs.loop ? inputs.reason ?? "loop" : undefined;
}

/** Verdict of {@linkcode settleAccept}. */
export type AcceptVerdict =
  /** Counted; `next` is the entry id of the next request (absent when the run stops). */
  | { kind: "accepted"; next?: string }
  /** This very response was accepted before (a re-read after a crash): acknowledge it. */
  | { kind: "duplicate" }
  /** The run is not running: leave the entry pending (interrupted) or acknowledge it (ended). */
  | { kind: "not_running"; status: string }
  | { kind: "dead_letter"; reason: string };

/** Maps the reply of `accept_response.lua` for the response of turn `seq`. */
export function settleAccept(reply: readonly [string, string], seq: number): AcceptVerdict {
  const [outcome, detail] = reply;
  switch (outcome) {
    case "accepted":
      return detail ? { kind: "accepted", next: detail } : { kind: "accepted" };
    case "duplicate":
      return { kind: "duplicate" };
    case "not_running":
      return { kind: "not_running", status: detail };
    case "not_recorded":
      return {
        kind: "dead_letter",
        reason: `response for turn ${seq} is not the answer recorded for that turn ` +
          `(a second or forged response)`,
      };
    case "out_of_order":
      return {
        kind: "dead_letter",
        reason: `response for turn ${seq} is not the next turn: the run is at turn ${detail}`,
      };
    default:
      throw new Error(`Cannot settle turn ${seq} as accept_response answered ${outcome}`);
  }
}
