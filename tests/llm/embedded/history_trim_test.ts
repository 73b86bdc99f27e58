/** trimHistory(): real messages fitted with a tokenizer, in-process (a word-per-token double). */
import { assert, assertEquals } from "../../helpers/assert.ts";
import { type PromptTokenizer, trimHistory } from "../../../lib/llm/embedded/history_trim.ts";
import type { HostMessage } from "../../../lib/llm/embedded/host_protocol.ts";

/** A word is a token (its index in a vocabulary), and the template costs 3 a message plus 2. */
function wordTokenizer(): PromptTokenizer {
  const vocabulary: string[] = [];
  const id = (word: string) => {
    const at = vocabulary.indexOf(word);
    return at >= 0 ? at : vocabulary.push(word) - 1;
  };
  const tokenize = (text: string) => text.split(/\s+/).filter(Boolean).map(id);
  return {
    tokenize,
    detokenize: (tokens) => tokens.map((t) => vocabulary[t]).join(" "),
    promptTokens: (messages) => messages.reduce((n, m) => n + tokenize(m.content).length + 3, 2),
  };
}

const words = (n: number, word = "w") =>
  Array.from({ length: n }, (_, i) => `${word}${i}`).join(" ");

Deno.test("trimHistory() leaves a history that fits untouched, and without maxTokens lets the reply fill the rest", () => {
  const messages: HostMessage[] = [{ role: "system", content: words(5) }, {
    role: "user",
    content: words(5),
  }];
  const kept = trimHistory(messages, { budget: 100, maxTokens: 10, tokenizer: wordTokenizer() });
  assertEquals(kept, { messages, maxTokens: 10, droppedTurns: 0, cut: false, promptTokens: 18 });
  assertEquals(trimHistory(messages, { budget: 100, tokenizer: wordTokenizer() }).maxTokens, 82);
});

Deno.test("trimHistory() drops the oldest turns and keeps the system message and the last turn whole", () => {
  const messages: HostMessage[] = [{ role: "system", content: words(10, "s") }];
  for (let i = 0; i < 30; i++) {
    messages.push({ role: i % 2 ? "assistant" : "user", content: words(20, `t${i}_`) });
  }
  const kept = trimHistory(messages, { budget: 120, maxTokens: 30, tokenizer: wordTokenizer() });
  assert(kept.droppedTurns >= 27, `${kept.droppedTurns}`);
  assertEquals(kept.messages[0], messages[0]);
  assertEquals(kept.messages.at(-1), messages.at(-1));
  assertEquals(kept.cut, false);
  assert(kept.promptTokens + kept.maxTokens <= 120);
  assertEquals(kept.promptTokens, wordTokenizer().promptTokens(kept.messages));
});

Deno.test("trimHistory() cuts the system text to its start and the last turn to its end when they alone are too long", () => {
  const messages: HostMessage[] = [
    { role: "system", content: words(200, "s") },
    { role: "user", content: words(400, "u") },
  ];
  const kept = trimHistory(messages, { budget: 100, maxTokens: 20, tokenizer: wordTokenizer() });
  assertEquals(kept.cut, true);
  assert(kept.promptTokens + kept.maxTokens <= 100, JSON.stringify(kept).slice(0, 200));
  const last = kept.messages.at(-1)!;
  assert(last.content.endsWith("u399"), "the end of the last turn stays");
  if (kept.messages[0]!.role === "system") assert(kept.messages[0]!.content.startsWith("s0"));
});

Deno.test("trimHistory() fits whatever it is given into every budget the template allows", () => {
  for (const budget of [40, 64, 200, 1000]) {
    for (const turns of [1, 3, 50]) {
      for (const maxTokens of [undefined, 1, 30, 5000]) {
        const messages: HostMessage[] = [{ role: "system", content: words(150, "s") }];
        for (let i = 0; i < turns; i++) {
          messages.push({ role: "user", content: words(7 + (i * 13) % 90) });
        }
        const kept = trimHistory(messages, { budget, maxTokens, tokenizer: wordTokenizer() });
        assert(
          kept.promptTokens + kept.maxTokens <= budget,
          `budget ${budget}, ${turns} turns, maxTokens ${maxTokens}: ${kept.promptTokens} + ${kept.maxTokens}`,
        );
        assert(kept.maxTokens >= 1 && kept.messages.length >= 1);
      }
    }
  }
});
