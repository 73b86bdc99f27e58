/**
 * The block a conversation opens with: its id, models and limits, then the
 * story and each persona, word-wrapped. Pure text, so width and colour are
 * tested without a terminal.
 *
 * @module
 */
import type { Paint } from "./terminal.ts";
import type { ConversationMeta } from "../model/conversation_meta.ts";
import type { AgentId } from "../model/dialog_message.ts";
import { formatDuration } from "./format_duration.ts";
import { agentColor, oneLine } from "./turn_lines.ts";
import { wrapText } from "./word_wrap.ts";

/** How {@linkcode headerBlock} lays the block out. */
export interface HeaderOptions {
  /** Colour functions (identity functions for plain output). */
  paint: Paint;
  /** Column at which story and persona text is word-wrapped. */
  width: number;
}

/**
 * The header lines of a run: id, models and limits, then (when the run has a
 * scenario) the story and the personas, their text wrapped at `width`.
 */
export function headerBlock(meta: ConversationMeta, options: HeaderOptions): string[] {
  const { paint: p, width } = options;
  const m = meta.models;
  // Each model with its backend when the run recorded one that is not Ollama.
  const named = (role: "agent1" | "agent2" | "manager") => {
    const backend = meta.backends?.[role];
    return oneLine(m[role]) + (backend && backend !== "ollama" ? ` (${backend})` : "");
  };
  const [a1, a2, mgr] = [named("agent1"), named("agent2"), named("manager")];
  const limit = formatDuration(meta.duration_seconds * 1000);
  const lines = [
    p.bold(`Conversation ${oneLine(meta.id)}`),
    p.dim(`  models: agent 1 ${a1} · agent 2 ${a2} · manager ${mgr}`),
    p.dim(`  limits: ${meta.max_turns} turns · ${limit}`),
  ];
  const scenario = meta.scenario;
  if (!scenario) return lines;
  const wrap = (label: string, text: string, indent: string) =>
    lines.push(..._wrapped(label, text, indent, width));
  const { story, personas } = scenario;
  lines.push("", p.bold("Story"));
  wrap("  Setting: ", story.setting, "    ");
  wrap("  Characters: ", story.characters.join(", "), "    ");
  wrap("  Situation: ", story.initial_situation, "    ");
  lines.push(p.bold("Personas"));
  personas.forEach((persona, i) => {
    const agent = (i + 1) as AgentId;
    const model = agent === 1 ? m.agent1 : m.agent2;
    lines.push(
      `  ${agentColor(p, agent)(oneLine(persona.name))}` +
        p.dim(` (agent ${agent}, ${oneLine(model)})`),
    );
    wrap("    Personality: ", persona.personality, "      ");
    wrap("    Style: ", persona.speaking_style, "      ");
    wrap("    Goal: ", persona.goal, "      ");
  });
  return lines;
}

/** `label` + `text` word-wrapped at `width`, `indent` before each later line. */
function _wrapped(label: string, text: string, indent: string, width: number): string[] {
  const words = oneLine(text).split(" ").filter((word) => word !== "");
  return wrapText(label + words.join(" "), width, { indent }).split("\n");
}
