/** The model host's NDJSON protocol: every line validated and bounded, both ways. */
import { assert, assertEquals, assertRejects } from "../../helpers/assert.ts";
import {
  encodeLine,
  HostEvent,
  HostRequest,
  LineTooLongError,
  MAX_REPLY_CHARS,
  parseLine,
  readLines,
} from "../../../lib/llm/embedded/host_protocol.ts";
import { MAX_CONTENT_CHARS } from "../../../lib/model/dialog_message.ts";

function streamOf(...chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return ReadableStream.from(chunks.map((c) => encoder.encode(c)));
}

async function collect(stream: ReadableStream<Uint8Array>, max: number): Promise<string[]> {
  const lines: string[] = [];
  for await (const line of readLines(stream, max)) lines.push(line);
  return lines;
}

Deno.test("encodeLine() writes one line that parseLine() reads back, newlines in text included", () => {
  const request: HostRequest = {
    type: "chat",
    id: 7,
    messages: [{ role: "user", content: "two\nlines" }],
    maxTokens: 5,
  };
  const line = encodeLine(request);
  assertEquals(line.indexOf("\n"), line.length - 1);
  assertEquals(parseLine(HostRequest, line.trimEnd()), { ok: true, value: request });
});

Deno.test("parseLine() refuses what the host must not send: unknown types, bad ids, unknown error codes, oversize replies", () => {
  const bad = [
    "not json",
    '{"type":"shout","id":1}',
    '{"type":"token","id":-1,"text":"x"}',
    '{"type":"token","id":1.5,"text":"x"}',
    '{"type":"error","id":1,"code":"bogus","message":"x"}',
    JSON.stringify({ type: "token", id: 1, text: "x".repeat(MAX_REPLY_CHARS + 1) }),
    JSON.stringify({ type: "embedding", id: 1, vectors: [[Number.NaN]] }),
  ];
  for (const line of bad) {
    const parsed = parseLine(HostEvent, line);
    assertEquals(parsed.ok, false, line.slice(0, 80));
  }
  const error = parseLine(
    HostEvent,
    '{"type":"error","id":1,"code":"invalid_output","message":"no"}',
  );
  assert(error.ok && error.value.type === "error" && error.value.code === "invalid_output");
});

Deno.test("MAX_REPLY_CHARS leaves the JSON around a longest message room", () => {
  assert(MAX_REPLY_CHARS > MAX_CONTENT_CHARS);
});

Deno.test("readLines() splits lines across chunks and keeps a last line without a newline", async () => {
  const lines = await collect(streamOf('{"a":', '1}\n{"b"', ':2}\n\n{"c":3}'), 100);
  assertEquals(lines, ['{"a":1}', '{"b":2}', "", '{"c":3}']);
});

Deno.test("readLines() decodes UTF-8 split between chunks", async () => {
  const bytes = new TextEncoder().encode("é€\n");
  const stream = ReadableStream.from([
    bytes.subarray(0, 1),
    bytes.subarray(1, 4),
    bytes.subarray(4),
  ]);
  assertEquals(await collect(stream, 100), ["é€"]);
});

Deno.test("readLines() throws LineTooLongError for a line past its bound, whether or not it ends", async () => {
  await assertRejects(
    () => collect(streamOf("x".repeat(50), "x".repeat(60)), 100),
    (e) => e instanceof LineTooLongError,
  );
  await assertRejects(
    () => collect(streamOf("short\n" + "y".repeat(101) + "\nafter\n"), 100),
    (e) => e instanceof LineTooLongError,
  );
});
