/**
 * Prompt templates with named `{{placeholders}}`, and the defaults. Every
 * template can be overridden from the config (`prompts.*`, inline or a file).
 *
 * @module
 */
import { usageError } from "../base/dialogue_error.ts";

/** Placeholders each template may use. */
export const TEMPLATE_PLACEHOLDERS = {
  scenario: ["topic"],
  agent_system: [
    "name",
    "background",
    "personality",
    "speaking_style",
    "goal",
    "partner",
    "setting",
    "characters",
    "format_instructions",
  ],
  first_turn: ["initial_situation", "partner", "name"],
} as const;

/** Which template. */
export type TemplateName = keyof typeof TEMPLATE_PLACEHOLDERS;

/** The built-in templates. */
export const DEFAULT_TEMPLATES: Record<TemplateName, string> = {
  scenario: [
    "Invent the setting for a short conversation between two characters.",
    "Theme: {{topic}}.",
    "Write a vivid setting, the names of the two characters, and the initial situation",
    "that gets them talking. Then write each character's persona: name, background,",
    "personality, speaking style and a goal they pursue in the conversation.",
    "The two goals should create some tension. Keep every field to a few sentences.",
    "Answer with JSON only.",
  ].join("\n"),
  agent_system: [
    "You are {{name}}. Stay in character for the whole conversation.",
    "Background: {{background}}",
    "Personality: {{personality}}",
    "Speaking style: {{speaking_style}}",
    "Your goal: {{goal}}",
    "",
    "Setting: {{setting}}",
    "Characters: {{characters}}",
    "You are talking with {{partner}}. Reply with one message of one to four sentences,",
    "in your own voice, moving the conversation forward. Do not repeat yourself.",
    "{{format_instructions}}",
  ].join("\n"),
  first_turn: "{{initial_situation}}\n\nYou speak first: say your opening line to {{partner}}.",
};

/** Instructions appended when agents answer as JSON. */
export const JSON_REPLY_INSTRUCTIONS =
  'Answer as JSON: {"message": your words, "sentiment": "positive" | "neutral" | "negative" | "mixed", "references": short phrases from earlier turns you respond to}.';

/**
 * Fills a template's `{{placeholders}}`.
 *
 * @throws {DialogueError} `usage` when the template names an unknown placeholder.
 */
export function renderTemplate(
  name: TemplateName,
  template: string,
  values: Partial<Record<string, string>>,
): string {
  checkTemplate(name, template);
  return template.replace(
    /\{\{\s*([a-z_]+)\s*\}\}/g,
    (_, key: string) => values[key] ?? "",
  );
}

/**
 * Checks that a template uses only known placeholders.
 *
 * @throws {DialogueError} `usage` naming the unknown placeholder and the known ones.
 */
export function checkTemplate(name: TemplateName, template: string): void {
  const known: readonly string[] = TEMPLATE_PLACEHOLDERS[name];
  for (const match of template.matchAll(/\{\{\s*([^}]*?)\s*\}\}/g)) {
    if (!known.includes(match[1]!)) {
      throw usageError(
        `Invalid configuration field prompts.${name}: unknown placeholder {{${match[1]}}} (known: ${
          known.map((k) => `{{${k}}}`).join(", ")
        })`,
      );
    }
  }
}
