/**
 * Persona consistency, judged by a model: each agent's lines are shown to a
 * judge model with its persona and scored on a fixed rubric, through
 * structured output (the zod schema sent as the request's JSON schema), validated, with a
 * bounded number of attempts. Off by default; reports label the scores as
 * model-judged, since a judge model has its own biases.
 *
 * @module
 */
import { z } from "zod";
import { agentForTurn, type AgentId, type DialogMessage } from "../model/dialog_message.ts";
import { DialogueError, ErrorCode } from "../base/dialogue_error.ts";
import type { LlmBackend } from "../llm/llm_backend.ts";
import { generationSchema } from "../llm/generation_schema.ts";
import type { Scenario } from "../model/story.ts";
import { mean, round } from "./stats.ts";
import { parseStructuredReply } from "../llm/structured_reply.ts";

/** Bumped whenever a criterion or its wording changes, so scores stay comparable. */
export const RUBRIC_VERSION = 1;

/** The fixed rubric: each criterion is scored 1 (never) to 5 (always). */
export const PERSONA_RUBRIC = {
  speaking_style: "speaks in the persona's speaking style",
  personality: "behaves as the persona's personality describes",
  goal: "pursues the persona's goal",
  background: "says nothing that contradicts the persona's background",
  in_character:
    "stays in character (never mentions being an AI or a model, never speaks for the other character)",
} as const;

const score = z.number().int().min(1).max(5);

/** What the judge model must answer (sent as the request's JSON schema). */
export const PersonaVerdict = z.object({
  speaking_style: score,
  personality: score,
  goal: score,
  background: score,
  in_character: score,
  /** One or two sentences citing the lines that decided the scores. */
  rationale: z.string().min(1).max(600),
});
/** What the judge model must answer. */
export type PersonaVerdict = z.infer<typeof PersonaVerdict>;

/** JSON schema of {@linkcode PersonaVerdict}, sent to the model. */
export const PERSONA_VERDICT_JSON_SCHEMA = generationSchema(
  z.toJSONSchema(PersonaVerdict) as Record<string, unknown>,
);

/** The judge's result for one agent; `scores` is null when every attempt failed. */
export const AgentJudgement = z.object({
  persona: z.string(),
  scores: PersonaVerdict.omit({ rationale: true }).nullable(),
  /** Mean of the five scores (1..5); null without scores. */
  mean: z.number().min(1).max(5).nullable(),
  rationale: z.string().nullable(),
  attempts: z.number().int().min(1),
  /** Why there are no scores, when there are none. */
  error: z.string().nullable(),
});
/** The judge's result for one agent. */
export type AgentJudgement = z.infer<typeof AgentJudgement>;

/** The `persona_judge` section of the analysis (null when not requested). */
export const PersonaJudgement = z.object({
  /** Always "model": these scores are a model's opinion, not a measurement. */
  judged_by: z.literal("model"),
  model: z.string(),
  rubric_version: z.literal(RUBRIC_VERSION),
  scale: z.object({ min: z.literal(1), max: z.literal(5) }),
  agents: z.object({ "1": AgentJudgement, "2": AgentJudgement }),
});
/** The `persona_judge` section of the analysis. */
export type PersonaJudgement = z.infer<typeof PersonaJudgement>;

/** Options of {@linkcode judgePersonas}. */
export interface JudgePersonasOptions {
  /** The judge model. */
  model: string;
  /** @default {3} */
  maxAttempts?: number;
  /**
   * Characters of an agent's lines shown to the judge; longer runs are
   * judged on their first lines up to this budget.
   *
   * @default {12000}
   */
  maxChars?: number;
  /** Context window for the judge, in tokens. */
  contextTokens?: number;
  signal?: AbortSignal;
}

/**
 * Scores each agent's adherence to its persona with a judge model.
 * A reply that is not valid JSON for {@linkcode PersonaVerdict} is retried
 * up to `maxAttempts` times in all; an agent whose attempts all fail gets
 * `scores: null` and the last problem in `error`.
 *
 * @throws {DialogueError} `not_found` when the run stored no scenario, and
 * whatever the backend throws for a missing model or unreachable host.
 */
export async function judgePersonas(
  backend: LlmBackend,
  scenario: Scenario | undefined,
  responses: readonly DialogMessage[],
  options: JudgePersonasOptions,
): Promise<PersonaJudgement> {
  if (!scenario) {
    throw new DialogueError(
      ErrorCode.NotFound,
      "Cannot judge personas as this run stored no scenario: drop --judge-model",
    );
  }
  const judge = async (agent: AgentId): Promise<AgentJudgement> => {
    const persona = scenario.personas[agent - 1] ?? scenario.personas[0];
    const lines = responses.filter((r) =>
      (r.metadata.agent_id ?? agentForTurn(r.metadata.sequence_number)) === agent
    );
    const prompt = judgePrompt(scenario, agent, lines, options.maxChars ?? 12_000);
    const attempts = options.maxAttempts ?? 3;
    let problem = "";
    for (let attempt = 1; attempt <= attempts; attempt++) {
      let content: string;
      let doneReason: string;
      try {
        const result = await backend.chat({
          model: options.model,
          messages: [{ role: "system", content: JUDGE_SYSTEM }, { role: "user", content: prompt }],
          schema: PERSONA_VERDICT_JSON_SCHEMA,
          temperature: 0,
          seed: attempt,
          ...(options.contextTokens === undefined ? {} : { contextTokens: options.contextTokens }),
        }, options.signal ? { signal: options.signal } : {});
        ({ content, doneReason } = result);
      } catch (error) {
        if (!(error instanceof DialogueError) || error.code !== ErrorCode.LlmTransient) throw error;
        problem = error.message;
        continue;
      }
      const verdict = parseVerdict(content, doneReason);
      if (verdict.ok) {
        const { rationale, ...scores } = verdict.value;
        return {
          persona: persona?.name ?? `agent ${agent}`,
          scores,
          mean: round(mean(Object.values(scores)), 2),
          rationale,
          attempts: attempt,
          error: null,
        };
      }
      problem = verdict.problem;
    }
    return {
      persona: persona?.name ?? `agent ${agent}`,
      scores: null,
      mean: null,
      rationale: null,
      attempts,
      error: `no valid verdict in ${attempts} attempts (last: ${problem})`,
    };
  };
  return {
    judged_by: "model",
    model: options.model,
    rubric_version: RUBRIC_VERSION,
    scale: { min: 1, max: 5 },
    agents: { "1": await judge(1), "2": await judge(2) },
  };
}

const JUDGE_SYSTEM =
  "You evaluate role-play. You read one character's lines from a conversation and score how " +
  "consistently they follow that character's persona. Be strict and use the whole scale. " +
  "Answer only with JSON matching the given schema.";

/**
 * The judge's prompt for one agent: persona, story, rubric and the agent's
 * lines (numbered by turn), cut to `maxChars` characters of lines.
 */
export function judgePrompt(
  scenario: Scenario,
  agent: AgentId,
  lines: readonly DialogMessage[],
  maxChars: number,
): string {
  const p = scenario.personas[agent - 1] ?? scenario.personas[0];
  let budget = maxChars;
  const shown: string[] = [];
  for (const line of lines) {
    const text = `[turn ${line.metadata.sequence_number}] ${line.content.trim()}`;
    if (text.length > budget) break;
    shown.push(text);
    budget -= text.length;
  }
  const cut = shown.length < lines.length
    ? `\n(${lines.length - shown.length} later lines not shown)`
    : "";
  const rubric = Object.entries(PERSONA_RUBRIC).map(([key, what]) => `- ${key}: ${what}`);
  return [
    `Story: ${scenario.story.setting}`,
    "",
    `Persona of the character to evaluate (${p?.name}):`,
    `- background: ${p?.background}`,
    `- personality: ${p?.personality}`,
    `- speaking style: ${p?.speaking_style}`,
    `- goal: ${p?.goal}`,
    "",
    "Score each criterion from 1 (never) to 5 (always): the character…",
    ...rubric,
    "Then give a short rationale citing turns.",
    "",
    `Lines of ${p?.name}:`,
    ...shown,
  ].join("\n") + cut;
}

/** Validates a judge reply, checking truncation before parsing. */
export function parseVerdict(
  content: string,
  doneReason: string,
): { ok: true; value: PersonaVerdict } | { ok: false; problem: string } {
  return parseStructuredReply(PersonaVerdict, content, doneReason);
}
