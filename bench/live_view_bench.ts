/**
 * Live view costs, measured side by side (`deno task bench`):
 * - extracting the `message` field from streamed structured output with the
 *   incremental JsonFieldStream vs. re-parsing the growing buffer on every
 *   chunk (what a naive live view would do);
 * - sanitizing streamed tokens with StreamSanitizer vs. sanitizing the
 *   whole text again on every chunk.
 */
import { JsonFieldStream } from "../lib/agent/json_field_stream.ts";
import { sanitizeText, StreamSanitizer } from "../lib/base/sanitize.ts";

const WORDS = 400;
const message = Array.from({ length: WORDS }, (_, i) => `word${i % 37}`).join(" ");
const reply = JSON.stringify({ message, sentiment: "neutral", references: ["a", "b"] });
const chunks = reply.match(/.{1,4}/gs)!;

Deno.bench("JsonFieldStream, incremental", { group: "message field", baseline: true }, () => {
  const field = new JsonFieldStream("message");
  let shown = "";
  for (const chunk of chunks) shown += field.push(chunk);
  if (shown.length !== message.length) throw new Error("wrong extraction");
});

Deno.bench("re-parse the buffer on every chunk", { group: "message field" }, () => {
  let buffer = "";
  let shown = "";
  for (const chunk of chunks) {
    buffer += chunk;
    const match = /"message"\s*:\s*"((?:[^"\\]|\\.)*)/.exec(buffer);
    if (match) {
      const text = JSON.parse(`"${match[1]!.replace(/\\$/, "")}"`) as string;
      shown = text;
    }
  }
  if (shown.length !== message.length) throw new Error("wrong extraction");
});

const tokens = message.split(" ").map((w) => ` ${w}\x1b[1m`);

Deno.bench("StreamSanitizer, per token", { group: "sanitize tokens", baseline: true }, () => {
  const sanitizer = new StreamSanitizer();
  let out = "";
  for (const token of tokens) out += sanitizer.push(token);
  out += sanitizer.flush();
  if (out.includes("\x1b")) throw new Error("not sanitized");
});

Deno.bench("sanitizeText over the whole text per token", { group: "sanitize tokens" }, () => {
  let raw = "";
  let out = "";
  for (const token of tokens) {
    raw += token;
    out = sanitizeText(raw);
  }
  if (out.includes("\x1b")) throw new Error("not sanitized");
});
