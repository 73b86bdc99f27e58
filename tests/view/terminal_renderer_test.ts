import { match, ok, strictEqual, throws } from "node:assert/strict";
import { ConversationMeta } from "../../lib/model/conversation_meta.ts";
import { DialogMessage } from "../../lib/model/dialog_message.ts";
import { TerminalRenderer } from "../../lib/view/terminal_renderer.ts";

/** Control characters a hostile text could use (ESC, C0 but \n \t, DEL, C1). */
// deno-lint-ignore no-control-regex -- control characters are what is tested
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/;
/** The SGR codes picocolors emits for the styles the renderer uses. */
// deno-lint-ignore no-control-regex -- matching our own SGR codes
const OWN_COLORS = /\x1b\[(?:1|2|22|31|32|33|35|36|39)m/g;

const HOSTILE_TOKENS = [
  "Hel",
  "lo\x1b[2J\x1b[H",
  " there\x1b]52;c;cm0gLXJmIH4=",
  "\x07, \x1b]8;;https://evil.example/\x1b",
  "\\fri\u009b1;1H",
  "end\x1b[",
  "1A\b\r\u202e!",
];
const HOSTILE_VISIBLE = "Hello there, friend!";

function capture(color: boolean, width?: number, erase = false) {
  const out = { text: "" };
  const renderer = new TerminalRenderer({
    color,
    erase,
    writer: { write: (s) => out.text += s },
    ...(width === undefined ? {} : { width }),
  });
  return { out, renderer };
}

/** What a terminal shows for `output`: backspace moves left, text overwrites. */
function screen(output: string): string {
  const lines: string[][] = [[]];
  let x = 0;
  for (const char of output) {
    const line = lines[lines.length - 1]!;
    if (char === "\n") {
      lines.push([]);
      x = 0;
    } else if (char === "\b") x = Math.max(0, x - 1);
    else line[x++] = char;
  }
  return lines.map((line) => Array.from(line, (c) => c ?? " ").join("").trimEnd()).join("\n");
}

function meta(extra: Record<string, unknown> = {}): ConversationMeta {
  return ConversationMeta.parse({
    id: "conv-1",
    status: "running",
    created_at: 1_700_000_000_000,
    max_turns: 50,
    duration_seconds: 300,
    models: { manager: "qwen3", agent1: "llama3.2", agent2: "gemma3" },
    config: {},
    ...extra,
  });
}

const SCENARIO = {
  story: {
    setting: "A lighthouse on a rocky island, " + "storm ".repeat(30) +
      "\x1b]0;pwned\x07at night.",
    characters: ["Alice the keeper", "Bob the \x1b[31msailor"],
    initial_situation: "A ship is\nsinking.",
  },
  personas: [
    {
      name: "Alice",
      background: "Keeper for 30 years.",
      personality: "Calm",
      speaking_style: "Short sentences",
      goal: "Save the crew",
    },
    {
      name: "Bob\u009b2J",
      background: "Sailor.",
      personality: "Loud",
      speaking_style: "Shouts",
      goal: "Reach the shore",
    },
  ],
};

function message(seq: number, extra: Record<string, unknown> = {}) {
  return DialogMessage.parse({
    queue_timestamp: 1_700_000_000_000,
    message_id: `m-${seq}`,
    role: "assistant",
    content: "Full reply \x1b[2Jtext",
    metadata: {
      conversation_id: "conv-1",
      sequence_number: seq,
      agent_id: 2,
      model: "gemma3",
      tokens_generated: 42,
      tokens_per_second: 18.31,
      generation_time_ms: 2301,
      time_to_first_token_ms: 120,
      ...extra,
    },
  });
}

Deno.test("TerminalRenderer writes tokens in order and sanitized", () => {
  const { out, renderer } = capture(false);
  renderer.turnStart(3, 1, "Alice", "llama3.2");
  for (const token of HOSTILE_TOKENS) renderer.token(3, token);
  renderer.turnEnd(message(3, { agent_id: 1 }), "Alice");
  strictEqual(CONTROL.test(out.text), false, JSON.stringify(out.text));
  ok(out.text.startsWith(`\n[3] Alice (llama3.2)\n${HOSTILE_VISIBLE}\n`));
  strictEqual(out.text.includes("Full reply"), false);
});

Deno.test("TerminalRenderer lets only its own colour codes through", {
  ignore: Deno.permissions.querySync({ name: "env" }).state !== "granted",
}, () => {
  const { out, renderer } = capture(true);
  renderer.header(meta({ scenario: SCENARIO }));
  renderer.turnStart(1, 1, "Alice\x1b[5m", "llama3.2");
  for (const token of HOSTILE_TOKENS) renderer.token(1, token);
  renderer.turnEnd(message(1, { error: "bad \x1b[?1049h output" }), "Alice");
  renderer.turnEnd(message(2), "Bob");
  renderer.abandoned(3, "timeout\x1b]0;x\x07");
  renderer.footer(meta({ status: "failed", error: "boom\x1b[2J" }));
  ok(out.text.includes("\x1b[36m"), "agent 1 is cyan");
  ok(out.text.includes("\x1b[35m"), "agent 2 is magenta");
  const bare = out.text.replace(OWN_COLORS, "");
  strictEqual(CONTROL.test(bare), false, JSON.stringify(bare));
  ok(bare.includes(HOSTILE_VISIBLE));
});

Deno.test("TerminalRenderer writes no escape at all without colour", () => {
  const { out, renderer } = capture(false);
  renderer.header(meta({ scenario: SCENARIO }));
  renderer.turnStart(1, 1, "Alice", "llama3.2");
  renderer.token(1, "Hi");
  renderer.turnEnd(message(1, { error: "failed", references: ["a"] }), "Alice");
  renderer.abandoned(2, "timeout");
  renderer.footer(meta({ status: "failed", error: "boom" }));
  strictEqual(out.text.includes("\x1b"), false);
  strictEqual(CONTROL.test(out.text), false);
});

Deno.test("TerminalRenderer.turnEnd() writes the figures line", () => {
  const { out, renderer } = capture(false);
  renderer.turnStart(3, 2, "Bob", "gemma3");
  renderer.token(3, "Hi");
  renderer.turnEnd(
    message(3, { sentiment: "positive", references: ["Moby \x1b[1mDick"] }),
    "Bob",
  );
  ok(out.text.includes(
    "Hi\n  ↳ 42 tokens · 18.3 tok/s · 2,301 ms · ttft 120 ms · positive\n",
  ));
  ok(out.text.includes("  ↳ references: Moby Dick\n"));
});

Deno.test("TerminalRenderer.turnEnd() shows the metadata error", () => {
  const { out, renderer } = capture(false);
  renderer.turnEnd(
    message(4, { error: "invalid output\nafter 3 tries", tokens_generated: 0 }),
    "Bob",
  );
  ok(out.text.includes("  ↳ 0 tokens"));
  ok(out.text.endsWith("  ✗ invalid output after 3 tries\n"));
});

Deno.test("TerminalRenderer.turnEnd() prints the content on replay", () => {
  const { out, renderer } = capture(false);
  renderer.turnEnd(message(5), "Bob");
  strictEqual(
    out.text,
    "\n[5] Bob (gemma3)\nFull reply text\n" +
      "  ↳ 42 tokens · 18.3 tok/s · 2,301 ms · ttft 120 ms\n",
  );
});

Deno.test("TerminalRenderer prints the whole turn when attached late", () => {
  const { out, renderer } = capture(false);
  renderer.token(6, "tail of a tur");
  renderer.turnEnd(message(6), "Bob");
  strictEqual(out.text.includes("tail"), false);
  ok(out.text.includes("[6] Bob (gemma3)\nFull reply text\n"));
});

Deno.test("TerminalRenderer prints the content once when no token came", () => {
  const { out, renderer } = capture(false);
  renderer.turnStart(7, 2, "Bob", "gemma3");
  renderer.turnEnd(message(7), "Bob");
  strictEqual(out.text.split("[7] Bob").length, 2);
  ok(out.text.includes("[7] Bob (gemma3)\nFull reply text\n"));
});

Deno.test("TerminalRenderer.abandoned() marks the partial turn", () => {
  const { out, renderer } = capture(false);
  renderer.turnStart(3, 1, "Alice", "llama3.2");
  renderer.token(3, "Half a sent");
  renderer.abandoned(3, "model timed out");
  renderer.token(3, "ignored");
  renderer.turnStart(3, 1, "Alice", "llama3.2");
  renderer.token(3, "Retry.");
  renderer.turnEnd(message(3, { agent_id: 1 }), "Alice");
  ok(out.text.includes(
    "Half a sent\n  ✗ turn 3 abandoned: model timed out\n\n[3] Alice (llama3.2)\nRetry.\n",
  ));
  strictEqual(out.text.includes("ignored"), false);
});

Deno.test("TerminalRenderer.header() shows models, limits, story and personas", () => {
  const { out, renderer } = capture(false, 60);
  renderer.header(meta({ scenario: SCENARIO }));
  const text = out.text;
  ok(text.startsWith("Conversation conv-1\n"));
  ok(text.includes("agent 1 llama3.2 · agent 2 gemma3 · manager qwen3"));
  ok(text.includes("limits: 50 turns · 5:00"));
  ok(text.includes("  Characters: Alice the keeper, Bob the sailor\n"));
  ok(text.includes("  Situation: A ship is sinking.\n"));
  ok(text.includes(" night.\n"));
  strictEqual(text.includes("pwned"), false);
  ok(text.includes("  Bob (agent 2, gemma3)\n"));
  ok(text.includes("    Goal: Save the crew\n"));
  for (const line of text.split("\n")) ok(line.length <= 60, line);
  strictEqual(CONTROL.test(text), false);
});

Deno.test("TerminalRenderer.header() skips the story when there is none", () => {
  const { out, renderer } = capture(false);
  renderer.header(meta());
  strictEqual(out.text.includes("Story"), false);
  strictEqual(out.text.split("\n").length, 4);
});

Deno.test("TerminalRenderer.status() returns a one-line status", () => {
  const { out, renderer } = capture(false);
  strictEqual(
    renderer.status({ turn: 3, maxTurns: 50, secondsLeft: 252 }),
    "turn 3/50 · 4:12 left",
  );
  strictEqual(renderer.status({ turn: 1, maxTurns: 2 }), "turn 1/2");
  strictEqual(
    renderer.status({ turn: 1, maxTurns: 2, secondsLeft: -5 }),
    "turn 1/2 · 0:00 left",
  );
  strictEqual(out.text, "");
});

Deno.test("TerminalRenderer.footer() tells how the run ended", () => {
  const { out, renderer } = capture(false);
  renderer.turnStart(6, 2, "Bob", "gemma3");
  renderer.token(6, "cut off");
  renderer.footer(meta({ status: "completed", stop_reason: "max_turns" }), {
    turns: 6,
    tokens: 1234,
    meanTokensPerSecond: 17.25,
    durationMs: 12_345,
  });
  ok(out.text.includes(
    "cut off\n\nRun ended: completed (max_turns) after 6 turns in 12.3 s\n" +
      "  1,234 tokens · 17.3 tok/s mean\n",
  ));
});

Deno.test("TerminalRenderer.footer() shows the error of a failed run", () => {
  const { out, renderer } = capture(false);
  renderer.footer(meta({
    status: "failed",
    stop_reason: "error",
    turns: 1,
    started_at: 1000,
    ended_at: 1850,
    error: "Ollama went away\x1b[2J",
  }));
  strictEqual(
    out.text,
    "\nRun ended: failed (error) after 1 turn in 850 ms\n  Ollama went away\n",
  );
});

Deno.test("TerminalRenderer rejects a width below 20", () => {
  throws(() => new TerminalRenderer({ width: 5 }), RangeError);
  throws(() => new TerminalRenderer({ width: NaN }), RangeError);
});

Deno.test("TerminalRenderer chooses colour itself when not told", () => {
  const out = { text: "" };
  const renderer = new TerminalRenderer({
    writer: { write: (s) => out.text += s },
  });
  renderer.abandoned(1, "x");
  match(out.text, /turn 1 abandoned: x/);
});

const LONG_REPLY = "The keeper reads the compass by lamplight while the storm keeps rising " +
  "over the rocks and the ship keeps coming, its bell ringing through the fog, " +
  "and nobody on the island has slept since the lamp went dark two nights ago.";

/** The lines of the turn's content: after the heading, before the figures. */
function contentLines(text: string, heading: string): string[] {
  const body = text.slice(text.indexOf(heading) + heading.length + 1);
  return body.slice(0, body.indexOf("\n  ↳")).split("\n");
}

Deno.test("TerminalRenderer on a terminal wraps a streamed turn at word boundaries to its width", () => {
  const { out, renderer } = capture(false, 40, true);
  renderer.turnStart(1, 1, "Alice", "llama3.2");
  for (let i = 0; i < LONG_REPLY.length; i += 3) renderer.token(1, LONG_REPLY.slice(i, i + 3));
  renderer.turnEnd({ ...message(1, { agent_id: 1 }), content: LONG_REPLY }, "Alice");
  const lines = contentLines(screen(out.text), "[1] Alice (llama3.2)");
  ok(lines.length > 4, out.text);
  for (const line of lines) ok(line.length <= 40, line);
  strictEqual(lines.join(" "), LONG_REPLY, "lines break only where there was a space");
});

Deno.test("TerminalRenderer on a pipe writes no backspace and cuts no word while streaming", () => {
  const { out, renderer } = capture(false, 40);
  renderer.turnStart(1, 1, "Alice", "llama3.2");
  for (let i = 0; i < LONG_REPLY.length; i += 3) {
    const before = out.text.length;
    renderer.token(1, LONG_REPLY.slice(i, i + 3));
    ok(out.text.length > before, "every token is written at once");
  }
  renderer.turnEnd({ ...message(1, { agent_id: 1 }), content: LONG_REPLY }, "Alice");
  strictEqual(out.text.includes("\b"), false);
  const lines = contentLines(out.text, "[1] Alice (llama3.2)");
  ok(lines.length > 4, out.text);
  strictEqual(lines.join(" "), LONG_REPLY, "lines break only where there was a space");
});

Deno.test("TerminalRenderer wraps a replayed turn the same way", () => {
  const { out, renderer } = capture(false, 40);
  renderer.turnEnd({ ...message(2), content: LONG_REPLY }, "Bob");
  const lines = contentLines(out.text, "[2] Bob (gemma3)");
  for (const line of lines) ok(line.length <= 40, line);
  strictEqual(lines.join(" "), LONG_REPLY);
});

Deno.test("TerminalRenderer wraps at 100 columns by default when stdout is not a terminal", {
  ignore: Deno.stdout.isTerminal(),
}, () => {
  const { out, renderer } = capture(false);
  renderer.turnStart(1, 1, "Alice", "llama3.2");
  renderer.token(1, LONG_REPLY);
  renderer.turnEnd({ ...message(1, { agent_id: 1 }), content: LONG_REPLY }, "Alice");
  const lines = contentLines(out.text, "[1] Alice (llama3.2)");
  strictEqual(lines.length, 3, out.text);
  for (const line of lines) ok(line.length <= 100, line);
  ok(lines[0]!.length > 80, "wider than the 80 columns a terminal would cut at");
});

Deno.test("TerminalRenderer writes the held-back word before a notice inside a live turn", () => {
  const { out, renderer } = capture(false, 40);
  renderer.turnStart(1, 1, "Alice", "llama3.2");
  renderer.token(1, "Half a sent");
  renderer.redisWaiting(60);
  renderer.token(1, "ence more");
  renderer.redisBack(3200);
  renderer.turnEnd(message(1, { agent_id: 1 }), "Alice");
  ok(
    out.text.includes(
      "Half a sent\n  … Redis is unreachable: waiting for it to come back (up to 60 s)\n" +
        "ence more\n  ✓ Redis is back after 3.2 s; following the run again\n  ↳ 42 tokens",
    ),
    out.text,
  );
});

Deno.test("TerminalRenderer.turnEnd() marks a reply cut at the token limit", () => {
  const { out, renderer } = capture(false);
  renderer.turnStart(3, 2, "Bob", "gemma3");
  renderer.token(3, "Cut in the mid");
  renderer.turnEnd(message(3, { tokens_generated: 400, done_reason: "length" }), "Bob");
  ok(out.text.includes("Cut in the mid\n  ↳ 400 tokens (cut at the limit) · 18.3 tok/s"), out.text);
  const { out: plain, renderer: other } = capture(false);
  other.turnEnd(message(4, { done_reason: "stop" }), "Bob");
  strictEqual(plain.text.includes("cut at"), false);
});

Deno.test("TerminalRenderer.footer() gives the stop reason only when it is not the status again", () => {
  const { out, renderer } = capture(false);
  renderer.footer(meta({ status: "interrupted", stop_reason: "interrupted", turns: 3 }));
  ok(out.text.includes("Run ended: interrupted after 3 turns"), out.text);
  strictEqual(out.text.includes("(interrupted)"), false);
  const { out: other, renderer: second } = capture(false);
  second.footer(meta({ status: "completed", stop_reason: "duration", turns: 3 }));
  ok(other.text.includes("Run ended: completed (duration) after 3 turns"), other.text);
});

Deno.test("TerminalRenderer.stoppedWatching() says the run goes on, not that it ended", () => {
  const { out, renderer } = capture(false);
  renderer.turnStart(4, 2, "Bob", "gemma3");
  renderer.token(4, "still talk");
  renderer.stoppedWatching(meta({ status: "running", turns: 3, max_turns: 10 }));
  strictEqual(
    out.text.slice(out.text.indexOf("still")),
    "still talk\n\nStopped watching; conversation conv-1 is still running (turn 3/10)\n",
  );
  strictEqual(out.text.includes("Run ended"), false);
});

Deno.test("TerminalRenderer.waitingForConversation() says what it waits for", () => {
  const { out, renderer } = capture(false);
  renderer.waitingForConversation();
  renderer.waitingForConversation("old-1");
  strictEqual(
    out.text,
    "waiting for a conversation … (start one with 'deno task chat')\n" +
      "waiting for a conversation … (the newest, old-1, has ended: replay it with --conversation old-1)\n",
  );
});
