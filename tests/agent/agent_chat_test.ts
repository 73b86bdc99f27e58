import assert from "node:assert/strict";
import { type AgentChatInput, buildAgentChat } from "../../lib/agent/agent_chat.ts";
import { agentForTurn, type AgentId, DialogMessage } from "../../lib/model/dialog_message.ts";
import type { ChatMessage } from "../../lib/llm/llm_backend.ts";
import { JSON_REPLY_INSTRUCTIONS } from "../../lib/config/prompt_template.ts";
import { DialogueError, ErrorCode } from "../../lib/base/dialogue_error.ts";
import type { Scenario } from "../../lib/model/story.ts";

const SCENARIO: Scenario = {
  story: {
    setting: "A lighthouse on a rocky island during a winter storm.",
    characters: ["Mara", "Ilya"],
    initial_situation: "The lamp has failed and a ship is approaching the rocks.",
  },
  personas: [
    {
      name: "Mara",
      background: "The island's keeper for twenty years.",
      personality: "Calm, practical, stubborn.",
      speaking_style: "Short sentences, nautical words.",
      goal: "Relight the lamp before the ship arrives.",
    },
    {
      name: "Ilya",
      background: "A young engineer stranded on the island.",
      personality: "Curious, anxious, inventive.",
      speaking_style: "Fast, full of questions.",
      goal: "Convince Mara to try his untested repair.",
    },
  ],
};

/** The response of turn `seq`, spoken by the agent whose turn it is. */
function turn(seq: number, content = `line ${seq}`): DialogMessage {
  const agent: AgentId = agentForTurn(seq);
  return DialogMessage.parse({
    queue_timestamp: 1_700_000_000_000 + seq,
    message_id: `m${seq}`,
    role: "assistant",
    content,
    metadata: { conversation_id: "chat-test", sequence_number: seq, agent_id: agent },
  });
}

/** Responses of turns 1..n. */
function turns(n: number, content?: (seq: number) => string): DialogMessage[] {
  return Array.from({ length: n }, (_, i) => turn(i + 1, content?.(i + 1)));
}

function chat(
  agent: AgentId,
  history: DialogMessage[],
  extra: Partial<AgentChatInput> = {},
): ChatMessage[] {
  return buildAgentChat({ agent, scenario: SCENARIO, history, output: "text", ...extra });
}

function assertAlternates(messages: ChatMessage[]): void {
  assert.equal(messages[0]?.role, "system");
  assert.equal(messages.filter((m) => m.role === "system").length, 1);
  for (let i = 2; i < messages.length; i++) {
    assert.notEqual(
      messages[i]!.role,
      messages[i - 1]!.role,
      `messages ${i - 1} and ${i} are both ${messages[i]!.role}`,
    );
  }
  assert.equal(messages[1]?.role, "user", "the first message after the system prompt is user");
  assert.equal(messages.at(-1)?.role, "user", "the model is asked to answer the last user message");
}

Deno.test("buildAgentChat() puts the agent's persona and the setting in the system prompt", () => {
  const [system] = chat(1, []);
  assert.equal(system!.role, "system");
  const mara = SCENARIO.personas[0]!;
  const ilya = SCENARIO.personas[1]!;
  for (const field of Object.values(mara)) assert.ok(system!.content.includes(field), field);
  assert.ok(system!.content.includes(SCENARIO.story.setting));
  assert.ok(system!.content.includes("Mara, Ilya"), "the characters are listed");
  assert.ok(system!.content.includes("talking with Ilya"), "the partner is named");
  assert.ok(!system!.content.includes(ilya.goal), "not the partner's persona");

  const [system2] = chat(2, [turn(1)]);
  assert.ok(system2!.content.startsWith("You are Ilya."), system2!.content);
  assert.ok(system2!.content.includes(ilya.goal));
  assert.ok(!system2!.content.includes(mara.goal));
});

Deno.test("buildAgentChat() gives agent 1 the first-turn prompt as its first user message", () => {
  const messages = chat(1, []);
  assert.equal(messages.length, 2);
  assert.equal(
    messages[1]!.content,
    `${SCENARIO.story.initial_situation}\n\nYou speak first: say your opening line to Ilya.`,
  );
  assert.equal(messages[1]!.role, "user");
});

Deno.test("buildAgentChat() uses a custom first_turn template for agent 1", () => {
  const messages = chat(1, [], {
    templates: { first_turn: "{{name}}, greet {{partner}}. {{initial_situation}}" },
  });
  assert.equal(messages[1]!.content, `Mara, greet Ilya. ${SCENARIO.story.initial_situation}`);
});

Deno.test("buildAgentChat() shows agent 2 the situation and agent 1's opening as user text", () => {
  const messages = chat(2, [turn(1, "Hold the lantern, lad.")]);
  assert.equal(messages.length, 2);
  assert.equal(messages[1]!.role, "user");
  assert.ok(messages[1]!.content.startsWith(SCENARIO.story.initial_situation));
  assert.ok(messages[1]!.content.includes("Mara speaks first."));
  assert.ok(messages[1]!.content.endsWith("Hold the lantern, lad."));
});

Deno.test("buildAgentChat() gives agent 2 agent 1's turns as user and its own as assistant", () => {
  const messages = chat(2, turns(5));
  assert.deepEqual(
    messages.slice(2).map((m) => [m.role, m.content]),
    [["assistant", "line 2"], ["user", "line 3"], ["assistant", "line 4"], ["user", "line 5"]],
  );
  assert.ok(messages[1]!.content.endsWith("line 1"));
});

Deno.test("buildAgentChat() gives agent 1 its own turns as assistant and agent 2's as user", () => {
  const messages = chat(1, turns(4));
  assert.deepEqual(
    messages.slice(2).map((m) => [m.role, m.content]),
    [["assistant", "line 1"], ["user", "line 2"], ["assistant", "line 3"], ["user", "line 4"]],
  );
});

Deno.test("buildAgentChat() alternates roles after the system message for any history", () => {
  for (let done = 0; done <= 9; done++) {
    const agent = agentForTurn(done + 1);
    for (const maxMessages of [1, 2, 3, 40]) {
      assertAlternates(chat(agent, turns(done), { maxMessages }));
    }
    assertAlternates(chat(agent, turns(done, () => "x".repeat(30)), { maxChars: 70 }));
  }
});

Deno.test("buildAgentChat() keeps only the newest maxMessages turns and says how many are omitted", () => {
  const messages = chat(1, turns(10), { maxMessages: 4 });
  const text = messages.map((m) => m.content).join("\n");
  for (let seq = 7; seq <= 10; seq++) assert.ok(text.includes(`line ${seq}`), `line ${seq}`);
  for (let seq = 1; seq <= 6; seq++) {
    assert.ok(!new RegExp(`line ${seq}\\b`).test(text), `line ${seq} is dropped`);
  }
  assert.ok(messages[1]!.content.includes("(6 earlier turns are omitted.)"), messages[1]!.content);
});

Deno.test("buildAgentChat() keeps only the newest turns that fit maxChars", () => {
  const history = turns(10, (seq) => `${seq}`.padEnd(100, "."));
  const messages = chat(1, history, { maxChars: 250 });
  const kept = messages.slice(1).map((m) => m.content).join("\n");
  assert.ok(kept.includes(history[9]!.content));
  assert.ok(kept.includes(history[8]!.content));
  assert.ok(!kept.includes(history[7]!.content), "a third turn would exceed 250 characters");
  assert.ok(messages[1]!.content.includes("(8 earlier turns are omitted.)"), messages[1]!.content);
});

Deno.test("buildAgentChat() adds no omission note when the whole history fits", () => {
  const messages = chat(1, turns(6));
  assert.ok(!messages.some((m) => m.content.includes("omitted")));
  assert.equal(messages.length, 2 + 6);
});

Deno.test("buildAgentChat() always keeps the newest turn, even when it alone exceeds maxChars", () => {
  const newest = `start ${"y".repeat(500)} end`;
  const history = [turn(1, "short opening"), turn(2, newest)];
  const messages = chat(1, history, { maxChars: 100 });
  const last = messages.at(-1)!;
  assert.equal(last.role, "user");
  assert.ok(last.content.endsWith(newest.slice(-100)), "the end of the newest turn is kept");
  assert.ok(!messages.some((m) => m.content.includes("short opening")));
  assert.ok(messages.some((m) => m.content.includes("(1 earlier turn is omitted.)")));
  assertAlternates(messages);
});

Deno.test("buildAgentChat() adds the JSON reply instructions only for json output", () => {
  const json = chat(1, [], { output: "json" });
  const text = chat(1, [], { output: "text" });
  assert.ok(json[0]!.content.includes(JSON_REPLY_INSTRUCTIONS));
  assert.ok(!text[0]!.content.includes(JSON_REPLY_INSTRUCTIONS));
  assert.ok(!text[0]!.content.includes("JSON"));
  assert.equal(text[0]!.content, text[0]!.content.trim());
});

Deno.test("buildAgentChat() rejects a custom system template with an unknown placeholder", () => {
  assert.throws(
    () => chat(1, [], { templates: { agent_system: "You are {{persona}}." } }),
    (error: unknown) =>
      error instanceof DialogueError && error.code === ErrorCode.Usage &&
      error.message.includes("{{persona}}"),
  );
});

Deno.test("buildAgentChat() counts turns the caller did not read in the omission note", () => {
  const messages = buildAgentChat({
    agent: 1,
    scenario: SCENARIO,
    history: [],
    unread: 7,
    output: "text",
  });
  assert.match(messages[1]!.content, /7 earlier turns are omitted/);
});
