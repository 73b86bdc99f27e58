import { assertEquals } from "../helpers/assert.ts";
import { DialogMessage } from "../../lib/model/dialog_message.ts";
import {
  decideResponse,
  type ResponseContext,
  settleAccept,
  stopAfterTurn,
} from "../../lib/manager/response_decision.ts";

function response(seq: number, requestId: string | undefined, conversation = "c1"): DialogMessage {
  return DialogMessage.parse({
    queue_timestamp: 1,
    message_id: `resp-${seq}`,
    role: "assistant",
    content: `reply ${seq}`,
    metadata: {
      conversation_id: conversation,
      sequence_number: seq,
      ...(requestId ? { request_id: requestId } : {}),
    },
  });
}

/** At turn 2, request 3 (for agent 1) routed as message "req-3". */
const AT_TURN_2: ResponseContext = {
  conversationId: "c1",
  turns: 2,
  routed: { seq: 3, messageId: "req-3", verified: true },
};

Deno.test("decideResponse takes the next turn from its agent's stream answering the routed request", () => {
  assertEquals(decideResponse({ slot: 1, message: response(3, "req-3") }, AT_TURN_2), {
    kind: "candidate",
    seq: 3,
  });
});

Deno.test("decideResponse dead-letters a response on the other agent's stream", () => {
  const decision = decideResponse({ slot: 2, message: response(3, "req-3") }, AT_TURN_2);
  assertEquals(decision, {
    kind: "dead_letter",
    reason: "response for turn 3 on agent 2's stream: turn 3 is agent 1's",
  });
});

Deno.test("decideResponse dead-letters a response for a future turn, however far", () => {
  for (const seq of [5, 999]) {
    const decision = decideResponse(
      { slot: seq % 2 === 1 ? 1 : 2, message: response(seq, "x") },
      AT_TURN_2,
    );
    assertEquals(decision.kind, "dead_letter");
    assertEquals(
      (decision as { reason: string }).reason,
      `response for future turn ${seq}: the run is at turn 2 and expects turn 3`,
    );
  }
});

Deno.test("decideResponse dead-letters a response to another request than the one routed", () => {
  for (const requestId of ["forged", undefined]) {
    const decision = decideResponse({ slot: 1, message: response(3, requestId) }, AT_TURN_2);
    assertEquals(decision, {
      kind: "dead_letter",
      reason: `response for turn 3 answers request ${
        requestId ?? "(none)"
      }, not req-3, the request routed for turn 3`,
    });
  }
});

Deno.test("decideResponse reads the routed request back before refusing what it only remembers", () => {
  const remembered = { ...AT_TURN_2, routed: { seq: 3, messageId: "req-3", verified: false } };
  assertEquals(decideResponse({ slot: 1, message: response(3, "other") }, remembered), {
    kind: "lookup",
    seq: 3,
  });
  const unknown = { ...AT_TURN_2, routed: undefined };
  assertEquals(decideResponse({ slot: 1, message: response(3, "req-3") }, unknown), {
    kind: "lookup",
    seq: 3,
  });
});

Deno.test("decideResponse leaves a counted turn to accept_response (its own answer again, or a second one)", () => {
  assertEquals(decideResponse({ slot: 2, message: response(2, "req-2") }, AT_TURN_2), {
    kind: "settle",
    seq: 2,
  });
});

Deno.test("decideResponse dead-letters a response of another conversation", () => {
  const decision = decideResponse({ slot: 1, message: response(3, "req-3", "c2") }, AT_TURN_2);
  assertEquals(decision.kind, "dead_letter");
});

Deno.test("settleAccept maps every answer of accept_response", () => {
  assertEquals(settleAccept(["accepted", "5-0"], 3), { kind: "accepted", next: "5-0" });
  assertEquals(settleAccept(["accepted", ""], 3), { kind: "accepted" });
  assertEquals(settleAccept(["duplicate", ""], 3), { kind: "duplicate" });
  assertEquals(settleAccept(["not_running", "interrupted"], 3), {
    kind: "not_running",
    status: "interrupted",
  });
  assertEquals(settleAccept(["not_recorded", ""], 3).kind, "dead_letter");
  assertEquals(settleAccept(["out_of_order", "1"], 3), {
    kind: "dead_letter",
    reason: "response for turn 3 is not the next turn: the run is at turn 1",
  });
});

Deno.test("stopAfterTurn: the turn limit, then the deadline, then the detectors", () => {
  const base = { seq: 3, maxTurns: 8, deadline: 1000, now: 500, loop: false };
  assertEquals(stopAfterTurn(base), undefined);
  assertEquals(stopAfterTurn({ ...base, seq: 8, now: 2000, loop: true }), "max_turns");
  assertEquals(stopAfterTurn({ ...base, now: 1000, loop: true }), "duration");
  assertEquals(stopAfterTurn({ ...base, loop: true }), "loop");
  assertEquals(stopAfterTurn({ ...base, deadline: undefined, now: 1e15 }), undefined);
});
