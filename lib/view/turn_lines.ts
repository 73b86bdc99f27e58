/**
 * The lines of one turn as the terminal shows it: the `[seq] Speaker
 * (model)` heading and the figures, references and error after the content.
 * Pure text, so the renderer only decides when to write them.
 *
 * @module
 */
import type { Paint } from "./terminal.ts";
import type { ConversationMeta } from "../model/conversation_meta.ts";
import type { AgentId, DialogMessage } from "../model/dialog_message.ts";
import { sanitizeText } from "../base/sanitize.ts";
import { formatInt } from "./text_table.ts";
import { wrapText } from "./word_wrap.ts";

/**
 * Model text made safe for one terminal line: escapes and control
 * characters removed, newlines too.
 */
export function oneLine(text: string): string {
  return sanitizeText(text, { keepNewlines: false });
}

/**
 * `n` and the noun, plural unless `n` is 1, with thousands separators.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { formatCount } from "./turn_lines.ts";
 *
 * strictEqual(formatCount(1, "turn"), "1 turn");
 * strictEqual(formatCount(1234, "token"), "1,234 tokens");
 * ```
 */
export function formatCount(n: number, noun: string): string {
  return `${formatInt(n)} ${noun}${n === 1 ? "" : "s"}`;
}

/** The colour of agent 1 (cyan) or agent 2 (magenta), so a reader tells the speakers apart. */
export function agentColor(paint: Paint, agent: AgentId): (s: string) => string {
  return agent === 1 ? paint.cyan : paint.magenta;
}

/**
 * The display name of agent 1 or 2: its persona's name (sanitized), or
 * `Agent 1` / `Agent 2` when there is no scenario.
 */
export function speakerName(
  meta: Pick<ConversationMeta, "scenario"> | undefined,
  agent: AgentId,
): string {
  const name = oneLine(meta?.scenario?.personas[agent - 1]?.name ?? "").trim();
  return name === "" ? `Agent ${agent}` : name;
}

/**
 * The heading of a turn, `[seq] Speaker (model)` in the agent's colour; the
 * model is left out when unknown.
 */
export function turnHeading(
  paint: Paint,
  turn: { seq: number; agent: AgentId; speaker: string; model?: string | undefined },
): string {
  const name = agentColor(paint, turn.agent)(
    paint.bold(`[${turn.seq}] ${oneLine(turn.speaker)}`),
  );
  return turn.model ? `${name}${paint.dim(` (${oneLine(turn.model)})`)}` : name;
}

/**
 * The lines after a turn's content: its figures (tokens, rate, time, time to
 * first token, sentiment — the zero ones left out), then its references and
 * its error when it has them. A reply the model stopped at the token limit
 * (`done_reason` `length`) says so after its token count. Given a `width`,
 * each is word-wrapped to it, later lines indented under the first.
 */
export function turnFigures(
  paint: Paint,
  md: DialogMessage["metadata"],
  width?: number,
): string[] {
  const cut = md.done_reason === "length" ? " (cut at the limit)" : "";
  const figures = [
    formatCount(md.tokens_generated, "token") + cut,
    md.tokens_per_second > 0 && `${md.tokens_per_second.toFixed(1)} tok/s`,
    md.generation_time_ms > 0 && `${formatInt(md.generation_time_ms)} ms`,
    md.time_to_first_token_ms > 0 &&
    `ttft ${formatInt(md.time_to_first_token_ms)} ms`,
    md.sentiment && oneLine(md.sentiment),
  ];
  const lines: string[] = [];
  const add = (tone: (s: string) => string, text: string) => {
    // One line of text (every part went through oneLine): each newline is a wrap.
    const wrapped = width === undefined ? text : wrapText(text, width, { indent: "    " });
    for (const line of wrapped.split("\n")) lines.push(tone(line));
  };
  add(paint.dim, `  ↳ ${figures.filter(Boolean).join(" · ")}`);
  const refs = (md.references ?? []).map(oneLine).join(" · ");
  if (refs) add(paint.dim, `  ↳ references: ${refs}`);
  if (md.error) add(paint.red, `  ✗ ${oneLine(md.error)}`);
  return lines;
}
