/** OllamaBackend against the real HTTP double: what a reply may cost in memory. */
import { assert, assertEquals } from "../../helpers/assert.ts";
import { OllamaDouble } from "../../../lib/testing/ollama_double.ts";
import { CONTENT_MARGIN_CHARS, OllamaBackend } from "../../../lib/llm/ollama/ollama_backend.ts";
import { MAX_CONTENT_CHARS } from "../../../lib/model/dialog_message.ts";

Deno.test("OllamaBackend.chat() stops reading a runaway reply past MAX_CONTENT_CHARS plus a margin and returns it cut at the length limit", async () => {
  const double = await OllamaDouble.start({ splitUtf8: false });
  try {
    // 100 KB of words, streamed a word per chunk: never buffered whole.
    const huge = "word ".repeat(20_000);
    double.enqueueFault({ kind: "text", content: huge });
    const backend = new OllamaBackend({ host: double.url });
    let streamed = 0;
    const result = await backend.chat(
      { model: "tiny", messages: [{ role: "user", content: "talk" }] },
      { onToken: (piece) => streamed += piece.length },
    );
    const bound = MAX_CONTENT_CHARS + CONTENT_MARGIN_CHARS;
    assertEquals(result.content.length, bound);
    assertEquals(streamed, bound, "onToken saw only what was kept");
    assertEquals(result.doneReason, "length", "treated as a reply cut at the length limit");
    assert(result.content === huge.slice(0, bound));
    // The double still answers: the cut request did not wedge it.
    const next = await backend.chat({ model: "tiny", messages: [{ role: "user", content: "hi" }] });
    assertEquals(next.doneReason, "stop");
  } finally {
    await double.close();
  }
});
