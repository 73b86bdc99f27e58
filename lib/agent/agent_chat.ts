/**
 * Building the chat an agent sends to its model: persona and story as the
 * system prompt, then the conversation so far from this agent's point of
 * view, bounded so a long run never overflows the model's context.
 *
 * @module
 */
import type { AgentId, DialogMessage } from "../model/dialog_message.ts";
import type { ChatMessage } from "../llm/llm_backend.ts";
import type { Scenario } from "../model/story.ts";
import {
  DEFAULT_TEMPLATES,
  JSON_REPLY_INSTRUCTIONS,
  renderTemplate,
} from "../config/prompt_template.ts";

/** Inputs of {@linkcode buildAgentChat}. */
export interface AgentChatInput {
  agent: AgentId;
  scenario: Scenario;
  /** Earlier responses of both agents, in turn order (the newest ones, when bounded). */
  history: DialogMessage[];
  /** Turns before `history` that the caller did not read (counted in the omission note). @default 0 */
  unread?: number;
  /** `json` adds the reply-format instructions. */
  output: "json" | "text";
  /** Most recent turns kept. @default 40 */
  maxMessages?: number;
  /** Character budget for the kept turns. @default 24000 */
  maxChars?: number;
  templates?: {
    agent_system?: string | undefined;
    first_turn?: string | undefined;
  };
}

/**
 * The messages for an agent's next turn. The opening situation is always
 * kept; the oldest turns are dropped first, with a note saying how many.
 */
export function buildAgentChat(input: AgentChatInput): ChatMessage[] {
  const me = input.scenario.personas[input.agent - 1]!;
  const partner = input.scenario.personas[input.agent === 1 ? 1 : 0]!;
  const system = renderTemplate(
    "agent_system",
    input.templates?.agent_system ?? DEFAULT_TEMPLATES.agent_system,
    {
      ...me,
      partner: partner.name,
      setting: input.scenario.story.setting,
      characters: input.scenario.story.characters.join(", "),
      format_instructions: input.output === "json" ? JSON_REPLY_INSTRUCTIONS : "",
    },
  ).trim();
  // Agent 1 is asked to open; agent 2 sees the situation, then agent 1's line.
  const opening = input.agent === 1
    ? renderTemplate(
      "first_turn",
      input.templates?.first_turn ?? DEFAULT_TEMPLATES.first_turn,
      {
        initial_situation: input.scenario.story.initial_situation,
        partner: partner.name,
        name: me.name,
      },
    )
    : `${input.scenario.story.initial_situation}\n\n${partner.name} speaks first.`;
  const kept = _bounded(
    input.history,
    input.maxMessages ?? 40,
    input.maxChars ?? 24_000,
  );
  const dropped = (input.unread ?? 0) + input.history.length - kept.length;
  const note = dropped === 0
    ? ""
    : `\n\n(${dropped} earlier ${dropped === 1 ? "turn is" : "turns are"} omitted.)`;
  const turns: ChatMessage[] = kept.map((m) => ({
    role: m.metadata.agent_id === input.agent ? "assistant" : "user",
    content: m.content,
  }));
  return _mergeSameRole([
    { role: "system", content: system },
    { role: "user", content: opening + note },
    ...turns,
  ]);
}

/** The newest turns that fit both budgets; the newest is always kept, cut if needed. */
function _bounded(
  history: DialogMessage[],
  maxMessages: number,
  maxChars: number,
) {
  const out: DialogMessage[] = [];
  let chars = 0;
  for (let i = history.length - 1; i >= 0 && out.length < maxMessages; i--) {
    const message = history[i]!;
    if (chars + message.content.length > maxChars) {
      if (out.length === 0) {
        out.push({ ...message, content: message.content.slice(-maxChars) });
      }
      break;
    }
    chars += message.content.length;
    out.push(message);
  }
  return out.reverse();
}

/** Chat templates expect alternating roles: join neighbours of the same role. */
function _mergeSameRole(messages: ChatMessage[]): ChatMessage[] {
  const out: ChatMessage[] = [];
  for (const message of messages) {
    const last = out.at(-1);
    if (last && last.role === message.role && message.role !== "system") {
      last.content += `\n\n${message.content}`;
    } else out.push({ ...message });
  }
  return out;
}
