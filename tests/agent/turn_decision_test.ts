/**
 * decideTurn(): every rule of what an agent may serve, in-process.
 */
import { assertEquals, assertStringIncludes } from "../helpers/assert.ts";
import { decideTurn, type TurnClaim, type TurnFacts } from "../../lib/agent/turn_decision.ts";
import { type AgentId, DialogMessage } from "../../lib/model/dialog_message.ts";

function request(seq: number, extra: Record<string, unknown> = {}): DialogMessage {
  return DialogMessage.parse({
    queue_timestamp: 1,
    message_id: `m${seq}`,
    role: "user",
    content: "hello",
    metadata: { conversation_id: "c1", sequence_number: seq, ...extra },
  });
}

/** Turn 3 of c1 (agent 1's), routed as entry 3-0, the run at turn 2 and running. */
function turn3(
  change: { claim?: Partial<TurnClaim>; facts?: Partial<TurnFacts> } = {},
): [TurnClaim, TurnFacts] {
  const claim: TurnClaim = {
    conversation_id: "c1",
    agent: 1,
    seq: 3,
    request: "3-0",
    ...change.claim,
  };
  const facts: TurnFacts = {
    streamSlot: 1,
    request: { kind: "ok", message: request(3, { agent_id: 1 }) },
    meta: { status: "running", deadline: 10_000, turns: 2 },
    routed: "3-0",
    now: 5_000,
    ...change.facts,
  };
  return [claim, facts];
}

function deadReason(claim: TurnClaim, facts: TurnFacts): string {
  const decision = decideTurn(claim, facts);
  assertEquals(decision.action, "dead_letter", JSON.stringify(decision));
  return (decision as { reason: string }).reason;
}

Deno.test("decideTurn() serves the routed request of the next turn on its slot's stream", () => {
  assertEquals(decideTurn(...turn3()), { action: "serve" });
});

Deno.test("decideTurn() dead-letters a request whose turn belongs to the other slot", () => {
  // Turn 4 is agent 2's: a request for it on agent 1's stream, ticketed for agent 1.
  const [claim, facts] = turn3({
    claim: { seq: 4 },
    facts: { request: { kind: "ok", message: request(4) }, routed: "3-0" },
  });
  assertStringIncludes(deadReason(claim, facts), "turn 4 is agent 2's");
  // A ticket for the right slot but the entry read from the other slot's stream.
  const [claim2, facts2] = turn3({ facts: { streamSlot: 2 } });
  assertStringIncludes(deadReason(claim2, facts2), "agent 2's stream");
  // A ticket that names the wrong slot for the turn.
  const [claim3, facts3] = turn3({ claim: { agent: 2 as AgentId } });
  assertStringIncludes(deadReason(claim3, facts3), "turn 3 is agent 1's");
});

Deno.test("decideTurn() dead-letters a request naming the other agent in its metadata", () => {
  const [claim, facts] = turn3({
    facts: { request: { kind: "ok", message: request(3, { agent_id: 2 }) } },
  });
  assertStringIncludes(deadReason(claim, facts), "names agent 2");
});

Deno.test("decideTurn() dead-letters a future turn that was never routed", () => {
  const [claim, facts] = turn3({
    claim: { seq: 5, request: "5-0" },
    facts: { request: { kind: "ok", message: request(5) }, routed: undefined },
  });
  assertStringIncludes(deadReason(claim, facts), "never routed");
});

Deno.test("decideTurn() dead-letters a routed turn that is not the next one", () => {
  const [claim, facts] = turn3({ facts: { meta: { status: "running", turns: 0 } } });
  assertStringIncludes(deadReason(claim, facts), "not the next turn");
});

Deno.test("decideTurn() dead-letters an injected entry that is not the one routed for the turn", () => {
  const [claim, facts] = turn3({ claim: { request: "3-1" } });
  assertStringIncludes(deadReason(claim, facts), "not the one routed for turn 3 (3-0)");
});

Deno.test("decideTurn() dead-letters a ticket whose request entry is missing, invalid or mismatched", () => {
  assertStringIncludes(deadReason(...turn3({ facts: { request: { kind: "missing" } } })), "not on");
  assertStringIncludes(
    deadReason(...turn3({ facts: { request: { kind: "invalid", reason: "no 'data' field" } } })),
    "no 'data' field",
  );
  assertStringIncludes(
    deadReason(...turn3({ facts: { request: { kind: "ok", message: request(1) } } })),
    "request is for turn 1",
  );
  assertStringIncludes(
    deadReason(...turn3({ claim: { conversation_id: "c2" } })),
    "conversation c1",
  );
});

Deno.test("decideTurn() skips an answered turn, an ended run, an accepted turn and a passed deadline", () => {
  const skip = (facts: Partial<TurnFacts>) => decideTurn(...turn3({ facts })).action;
  assertEquals(decideTurn(...turn3({ facts: { answered: "9-0" } })), {
    action: "skip",
    reason: "turn 3 is answered already",
    notifyManager: true,
  });
  assertEquals(skip({ meta: { status: "completed", turns: 2 } }), "skip");
  assertEquals(skip({ meta: { status: "failed", turns: 2 } }), "skip");
  assertEquals(skip({ meta: { status: "running", turns: 3 } }), "skip");
  assertEquals(skip({ now: 10_000 }), "skip");
  assertEquals(skip({ meta: undefined }), "skip");
});

Deno.test("decideTurn() holds the turn of an interrupted or not yet started run", () => {
  for (const status of ["interrupted", "pending"] as const) {
    const decision = decideTurn(...turn3({ facts: { meta: { status, turns: 2 } } }));
    assertEquals(decision, { action: "hold", reason: `the run is ${status}` });
  }
});

Deno.test("decideTurn() checks integrity before status: an injected entry of an ended run is dead-lettered", () => {
  const [claim, facts] = turn3({
    claim: { request: "3-1" },
    facts: { meta: { status: "completed", turns: 2 } },
  });
  assertEquals(decideTurn(claim, facts).action, "dead_letter");
});
