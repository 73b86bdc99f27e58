/**
 * What an agent does with one turn it was handed (a pool ticket, or an entry
 * of its slot's request stream): serve it, skip it, hold it for a resumed
 * run, or dead-letter it with the reason. A pure function of what one
 * pipelined read returned, so every rule is tested in-process.
 *
 * @module
 */
import { agentForTurn, type AgentId, type DialogMessage } from "../model/dialog_message.ts";
import type { ConversationStatus } from "../model/conversation_meta.ts";

/** The turn as it was handed to the agent. */
export interface TurnClaim {
  conversation_id: string;
  /** Slot the ticket names (in single-slot mode: the process's slot). */
  agent: AgentId;
  seq: number;
  /** Entry id of the request on the conversation's request stream. */
  request: string;
}

/** What was read about the turn, in one pipeline. */
export interface TurnFacts {
  /** Slot of the request stream the entry was read from. */
  streamSlot: AgentId;
  /** The request entry: decoded, missing (deleted or trimmed), or invalid (with the reason). */
  request:
    | { kind: "ok"; message: DialogMessage }
    | { kind: "missing" }
    | { kind: "invalid"; reason: string };
  /** Undefined when the conversation's metadata is gone. */
  meta?: { status: ConversationStatus; deadline?: number | undefined; turns: number };
  /** routed[seq]: the request entry id the manager routed for the turn. */
  routed?: string | undefined;
  /** answered[seq]: the response entry id recorded for the turn. */
  answered?: string | undefined;
  /** Epoch ms. */
  now: number;
}

/** The verdict of {@linkcode decideTurn}. */
export type TurnDecision =
  | { action: "serve" }
  /**
   * Nothing to do (answered, run ended, deadline passed): acknowledge.
   * `notifyManager`: the turn was answered, perhaps by an agent that died
   * before telling the manager, so tell it (again; it ignores a duplicate).
   */
  | { action: "skip"; reason: string; notifyManager?: true }
  /** The run is not running now but may be resumed: a pool acks (resume re-issues the ticket), a slot process releases the entry. */
  | { action: "hold"; reason: string }
  /** Not a turn this agent may serve: record why, acknowledge, never serve. */
  | { action: "dead_letter"; reason: string };

/**
 * Decides one turn. An agent serves a request only for its slot's turn
 * (`agentForTurn(seq)` = the ticket's slot = the stream's slot), only the
 * entry the manager routed for that turn, only the next turn (`turns + 1`),
 * and only while the run is running and before its deadline.
 *
 * @example A request routed for the next turn is served
 * ```ts
 * import { decideTurn } from "./turn_decision.ts";
 * import { DialogMessage } from "../model/dialog_message.ts";
 * const message = DialogMessage.parse({
 *   queue_timestamp: 0, message_id: "m", role: "user", content: "hi",
 *   metadata: { conversation_id: "c", sequence_number: 1 },
 * });
 * const decision = decideTurn(
 *   { conversation_id: "c", agent: 1, seq: 1, request: "1-0" },
 *   { streamSlot: 1, request: { kind: "ok", message }, routed: "1-0",
 *     meta: { status: "running", turns: 0 }, now: 0 },
 * );
 * console.assert(decision.action === "serve");
 * ```
 */
export function decideTurn(claim: TurnClaim, facts: TurnFacts): TurnDecision {
  const { seq, agent } = claim;
  if (!facts.meta) return { action: "skip", reason: "the conversation no longer exists" };
  if (facts.request.kind === "missing") {
    return _dead(`request entry ${claim.request} is not on the request stream of agent ${agent}`);
  }
  if (facts.request.kind === "invalid") return _dead(`invalid request: ${facts.request.reason}`);
  const meta = facts.request.message.metadata;
  if (meta.conversation_id !== claim.conversation_id) {
    return _dead(
      `request belongs to conversation ${meta.conversation_id}, not ${claim.conversation_id}`,
    );
  }
  if (meta.sequence_number !== seq) {
    return _dead(`request is for turn ${meta.sequence_number}, the ticket names turn ${seq}`);
  }
  const speaker = agentForTurn(seq);
  if (speaker !== agent || speaker !== facts.streamSlot) {
    return _dead(
      `turn ${seq} is agent ${speaker}'s, but it came for agent ${agent} on agent ${facts.streamSlot}'s stream`,
    );
  }
  if (meta.agent_id !== undefined && meta.agent_id !== speaker) {
    return _dead(
      `request names agent ${meta.agent_id} for turn ${seq}, which is agent ${speaker}'s`,
    );
  }
  const { turns, status } = facts.meta;
  if (facts.routed === undefined) {
    return _dead(`turn ${seq} was never routed (the run is at turn ${turns})`);
  }
  if (facts.routed !== claim.request) {
    return _dead(
      `request ${claim.request} is not the one routed for turn ${seq} (${facts.routed})`,
    );
  }
  if (facts.answered !== undefined) {
    return { action: "skip", reason: `turn ${seq} is answered already`, notifyManager: true };
  }
  if (status === "interrupted" || status === "pending") {
    return { action: "hold", reason: `the run is ${status}` };
  }
  if (status !== "running") return _skip(`the run is ${status}`);
  if (seq <= turns) return _skip(`turn ${seq} was accepted already (the run is at turn ${turns})`);
  if (seq !== turns + 1) {
    return _dead(`turn ${seq} is not the next turn (the run is at turn ${turns})`);
  }
  if (facts.meta.deadline !== undefined && facts.now >= facts.meta.deadline) {
    return _skip("the run's deadline has passed");
  }
  return { action: "serve" };
}

function _dead(reason: string): TurnDecision {
  return { action: "dead_letter", reason };
}

function _skip(reason: string): TurnDecision {
  return { action: "skip", reason };
}
