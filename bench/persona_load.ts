/**
 * Persona-sized work for the floors: ~100-word messages, and the chat
 * request an agent sends (system prompt + 40-message history + structured
 * output schema), streamed from the Ollama double and parsed line by line.
 *
 * @module
 */
import { z } from "zod";
import { ConversationContent } from "../lib/model/dialog_message.ts";

/** Words in a reply, as a persona answers. */
export const REPLY_WORDS = 100;
/** Messages of history in every request, the project's default. */
export const HISTORY_MESSAGES = 40;

const _WORDS = ("the harbor keeper remembered a storm that carried letters across the " +
  "narrow bridge while the patient baker answered questions about the old map and " +
  "a stranger painted the market beside the river at last").split(" ");

/** About `words` words of plain text, varied by `salt`. */
export function prose(words: number, salt: number): string {
  const out: string[] = [];
  for (let i = 0; i < words; i++) out.push(_WORDS[(i * 7 + salt) % _WORDS.length]!);
  return out.join(" ") + ".";
}

/** A stream entry as the project writes one: the message JSON in a `data` field. */
export function entryPayload(conversation: string, seq: number, content: string): string {
  return JSON.stringify({
    queue_timestamp: Date.now(),
    message_id: crypto.randomUUID(),
    role: seq % 2 === 1 ? "user" : "assistant",
    content,
    metadata: { conversation_id: conversation, sequence_number: seq },
  });
}

const _SCHEMA = z.toJSONSchema(ConversationContent);
const _HISTORY = Array.from({ length: HISTORY_MESSAGES }, (_, i) => ({
  role: i % 2 === 0 ? "user" : "assistant",
  content: prose(REPLY_WORDS, i),
}));
const _SYSTEM = `You are Mara Quinn, a harbor keeper. ${prose(80, 3)}`;

/**
 * The `/api/chat` body of one agent turn: persona, `history` messages of
 * history (the last one this turn's request), the reply schema.
 */
export function chatBody(model: string, seq: number, history = HISTORY_MESSAGES): string {
  return JSON.stringify({
    model,
    messages: [
      { role: "system", content: _SYSTEM },
      ..._HISTORY.slice(0, Math.max(0, history - 1)),
      { role: "user", content: `${prose(REPLY_WORDS, seq)} (turn ${seq})` },
    ],
    format: _SCHEMA,
    options: { temperature: 0.8, num_ctx: 4096, num_predict: 400 },
    stream: true,
  });
}

/**
 * One streaming `/api/chat` call: sends `body`, parses every NDJSON line and
 * returns the content once the `done` line arrives.
 *
 * @throws {Error} When the reply is not 200 or ends without `done`.
 */
export async function streamReply(url: string, body: string): Promise<string> {
  const response = await fetch(`${url}/api/chat`, { method: "POST", body });
  if (!response.ok || !response.body) {
    throw new Error(`Cannot stream a reply as the double answered ${response.status}`);
  }
  const decoder = new TextDecoder();
  let buffer = "";
  let content = "";
  for await (const chunk of response.body) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf("\n")) >= 0) {
      const line = JSON.parse(buffer.slice(0, end));
      buffer = buffer.slice(end + 1);
      if (line.done) return content;
      content += line.message.content;
    }
  }
  throw new Error("Cannot use the reply as the stream ended without done");
}
