/**
 * `analyze --export`: a run's transcript in the dataset formats people use
 * for synthetic dialogue data, as JSON Lines.
 *
 * - `jsonl`: one line per turn, with the speaker, the model and the turn's
 *   metadata (tokens, speed, the agent's own sentiment label, …).
 * - `sharegpt`: one line per conversation,
 *   `{"id", "conversations": [{"from", "value"}…], "metadata"}`.
 * - `openai`: one line per conversation, `{"messages": [{"role",
 *   "content"}…], "metadata"}` (the chat fine-tuning shape).
 *
 * Roles: agent 1 speaks as the user (`user` / `human`) and agent 2 as the
 * assistant (`assistant` / `gpt`), so a model trained on the data learns to
 * play agent 2's persona; the system message holds agent 2's persona and the
 * story. Agent 1 opens, so the turns alternate starting with the user, as
 * trainers expect. In `sharegpt` and `openai`, replies that failed (with an
 * `error`) or are empty are left out; `jsonl` keeps every turn.
 *
 * @module
 */
import { agentForTurn, type DialogMessage } from "../model/dialog_message.ts";
import type { Transcript } from "./run_analysis.ts";

/** The `--export` formats. */
export const EXPORT_FORMATS = ["jsonl", "sharegpt", "openai"] as const;
/** One of {@linkcode EXPORT_FORMATS}. */
export type ExportFormat = typeof EXPORT_FORMATS[number];

/** Options of {@linkcode exportTranscript}. */
export interface ExportOptions {
  /**
   * Fields added to every line (`jsonl`) or to each run's `metadata`
   * (`sharegpt`, `openai`): a batch run's `batch` and `settings`. @default none
   */
  provenance?: Record<string, unknown>;
}

const ROLES = {
  openai: { 1: "user", 2: "assistant", system: "system" },
  sharegpt: { 1: "human", 2: "gpt", system: "system" },
} as const;

/**
 * The transcript as JSON lines (without newlines) in `format`.
 *
 * @example ShareGPT roles
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { exportTranscript } from "./transcript_export.ts";
 * const reply = (seq: number, content: string) => ({
 *   queue_timestamp: seq, message_id: `m${seq}`, role: "assistant" as const, content,
 *   metadata: {
 *     conversation_id: "c1", sequence_number: seq, tokens_generated: 3, generation_time_ms: 1,
 *     prompt_tokens: 0, tokens_per_second: 0, prompt_tokens_per_second: 0,
 *     time_to_first_token_ms: 0, load_duration_ms: 0, prompt_eval_duration_ms: 0,
 *     total_duration_ms: 0, wall_time_ms: 0, llm_ms: 0,
 *   },
 * });
 * const [line = ""] = exportTranscript({
 *   meta: {
 *     id: "c1", status: "completed", created_at: 0, turns: 2, max_turns: 2,
 *     duration_seconds: 60, models: { manager: "m", agent1: "a", agent2: "b" }, config: {},
 *   },
 *   responses: [reply(1, "Hello?"), reply(2, "Hi!")],
 *   requests: [],
 * }, "sharegpt");
 * strictEqual(JSON.parse(line).conversations[1].from, "gpt");
 * ```
 */
export function exportTranscript(
  t: Transcript,
  format: ExportFormat,
  options: ExportOptions = {},
): string[] {
  const extra = options.provenance ?? {};
  const responses = [...t.responses].sort(
    (a, b) => a.metadata.sequence_number - b.metadata.sequence_number,
  );
  if (format === "jsonl") {
    return responses.map((r) => JSON.stringify({ ..._turnRecord(t, r), ...extra }));
  }
  const roles = ROLES[format];
  const system = _systemPrompt(t);
  const turns = responses.filter((r) => !r.metadata.error && r.content.trim() !== "");
  const metadata = { ..._runMetadata(t), ...extra };
  if (format === "sharegpt") {
    const conversations = [
      ...(system ? [{ from: roles.system, value: system }] : []),
      ...turns.map((r) => ({ from: roles[_agent(r)], value: r.content })),
    ];
    return [JSON.stringify({ id: t.meta.id, conversations, metadata })];
  }
  const messages = [
    ...(system ? [{ role: roles.system, content: system }] : []),
    ...turns.map((r) => ({ role: roles[_agent(r)], content: r.content })),
  ];
  return [JSON.stringify({ messages, metadata })];
}

function _agent(r: DialogMessage): 1 | 2 {
  return r.metadata.agent_id ?? agentForTurn(r.metadata.sequence_number);
}

function _turnRecord(t: Transcript, r: DialogMessage) {
  const agent = _agent(r);
  const { conversation_id: _id, sequence_number: _seq, agent_id: _a, model, ...metadata } =
    r.metadata;
  return {
    conversation_id: t.meta.id,
    turn: r.metadata.sequence_number,
    agent,
    speaker: t.meta.scenario?.personas[agent - 1]?.name ?? `agent ${agent}`,
    role: ROLES.openai[agent],
    model: model ?? (agent === 1 ? t.meta.models.agent1 : t.meta.models.agent2),
    content: r.content,
    created_at: new Date(r.queue_timestamp).toISOString(),
    metadata,
  };
}

/** Agent 2's persona and the story, as the assistant's instructions. */
function _systemPrompt(t: Transcript): string | undefined {
  const s = t.meta.scenario;
  const p = s?.personas[1];
  if (!s || !p) return undefined;
  const partner = s.personas[0]?.name;
  return [
    `You are ${p.name}. ${p.background}`,
    `Personality: ${p.personality}`,
    `Speaking style: ${p.speaking_style}`,
    `Goal: ${p.goal}`,
    `Setting: ${s.story.setting}`,
    `Situation: ${s.story.initial_situation}`,
    ...(partner ? [`You are talking with ${partner}.`] : []),
  ].join("\n");
}

function _runMetadata(t: Transcript) {
  const { meta } = t;
  const manager = meta.config.manager as { topic?: unknown } | undefined;
  return {
    source: "DialogueLLM",
    conversation_id: meta.id,
    status: meta.status,
    stop_reason: meta.stop_reason ?? null,
    turns: meta.turns,
    max_turns: meta.max_turns,
    models: meta.models,
    personas: meta.scenario?.personas.map((p) => p.name) ?? null,
    topic: typeof manager?.topic === "string" ? manager.topic : null,
    created_at: new Date(meta.created_at).toISOString(),
    roles: { agent1: "user", agent2: "assistant" },
  };
}
