/** sseEvents(): the event-stream reader behind the OpenAI backend, fed bytes in chosen pieces. */
import { assert, assertEquals, assertRejects } from "../../helpers/assert.ts";
import { type SseEvent, sseEvents } from "../../../lib/llm/openai/sse_events.ts";

const encoder = new TextEncoder();

/** A body delivering exactly these pieces, one read each. */
function body(...pieces: (string | Uint8Array)[]): ReadableStream<Uint8Array> {
  const queue = pieces.map((p) => typeof p === "string" ? encoder.encode(p) : p);
  return new ReadableStream({
    pull(controller) {
      const next = queue.shift();
      if (next === undefined) controller.close();
      else controller.enqueue(next);
    },
  });
}

async function collect(
  stream: ReadableStream<Uint8Array>,
  maxEventChars?: number,
): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  const options = maxEventChars === undefined ? {} : { maxEventChars };
  for await (const event of sseEvents(stream, options)) events.push(event);
  return events;
}

Deno.test("sseEvents() dispatches on blank lines, joins data lines, skips comments and other fields", async () => {
  const events = await collect(body(
    ": keep-alive\n\n",
    'id: 7\nretry: 100\ndata: {"a":1}\n\n',
    "event: error\ndata:first\ndata:  second\n\n",
    "data\n\n",
  ));
  assertEquals(events, [
    { event: "message", data: '{"a":1}' },
    { event: "error", data: "first\n second" },
    { event: "message", data: "" },
  ]);
});

Deno.test("sseEvents() reads CRLF, CR and LF line ends, a CR and its LF arriving in different chunks", async () => {
  const events = await collect(body(
    "data: one\r\n\r\n",
    "data: two\r",
    "\ndata: more\r\n\r",
    "\ndata: three\r\rdata: four\n\n",
  ));
  // A CR ending a chunk and the LF starting the next are one line end, not two.
  assertEquals(events.map((e) => e.data), ["one", "two\nmore", "three", "four"]);
});

Deno.test("sseEvents() decodes a multibyte character split across network chunks whole", async () => {
  const bytes = encoder.encode('data: {"c":"é🎉✓"}\n\n');
  const pieces: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i++) pieces.push(bytes.subarray(i, i + 1));
  const events = await collect(body(...pieces));
  assertEquals(events, [{ event: "message", data: '{"c":"é🎉✓"}' }]);
});

Deno.test("sseEvents() keeps a last complete event without its blank line and drops a line cut short", async () => {
  assertEquals((await collect(body("data: a\n\ndata: [DONE]\n"))).map((e) => e.data), [
    "a",
    "[DONE]",
  ]);
  assertEquals((await collect(body('data: a\n\ndata: {"cut'))).map((e) => e.data), ["a"]);
});

Deno.test("sseEvents() stops with a RangeError when one event grows past maxEventChars", async () => {
  let pulls = 0; // 100 KB in all: a broken bound ends the test instead of hanging it
  const endless = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (++pulls > 1000) controller.close();
      else controller.enqueue(encoder.encode("x".repeat(100)));
    },
  });
  const error = await assertRejects(() => collect(endless, 1000));
  assert(error instanceof RangeError);
  // Data lines count too, not only an unfinished line.
  const many = await assertRejects(() => collect(body("data: 123456789\n".repeat(200)), 1000));
  assert(many instanceof RangeError);
});

Deno.test("sseEvents() cancels the body when the reader stops early", async () => {
  let cancelled = false;
  const endless = new ReadableStream<Uint8Array>({
    pull(controller) {
      controller.enqueue(encoder.encode("data: more\n\n"));
    },
    cancel() {
      cancelled = true;
    },
  });
  for await (const _ of sseEvents(endless)) break;
  assert(cancelled, "the body was cancelled");
});
