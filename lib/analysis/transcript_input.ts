/**
 * `analyze --input FILE`: transcripts from anywhere, read into the shape the
 * analysis takes. Three formats, told apart by their fields:
 *
 * - ours, `analyze --export jsonl`: a line per turn (`conversation_id`,
 *   `turn`, `agent`, `content`, `metadata` with the generation figures);
 *   lines of several runs are grouped by `conversation_id`;
 * - ShareGPT: `{"conversations": [{"from": "human"|"gpt", "value"}…]}`, an
 *   optional `system` (a field, or a `system` turn) holding a persona;
 * - OpenAI-style: `{"messages": [{"role": "user"|"assistant", "content"}…]}`.
 *
 * A file is one JSON value (an object, or an array of them) or JSON Lines of
 * such objects. The user / human side is agent 1 and the assistant / gpt
 * side agent 2, as our exports write them. What a format does not carry is
 * named in {@linkcode InputTranscript.absent} so the reports show it as
 * absent, not as 0.
 *
 * @module
 */
import { DialogMessage } from "../model/dialog_message.ts";
import { ConversationMeta } from "../model/conversation_meta.ts";
import { usageError } from "../base/dialogue_error.ts";
import type { Transcript } from "./run_analysis.ts";
import type { PersonaText } from "./persona_break.ts";
import { ABSENT_GENERATION, ABSENT_RUN, ABSENT_TIMING } from "./input_source.ts";

/** The formats `--input` reads. */
export type InputFormat = "dialoguellm_jsonl" | "sharegpt" | "openai";

/** One conversation read from a file. */
export interface InputTranscript {
  transcript: Transcript;
  format: InputFormat;
  /** 1-based position of the conversation in the file. */
  index: number;
  /** Fields of the analysis the file does not carry (see `input_source.ts`). */
  absent: readonly string[];
  /** Agent 1's and agent 2's persona, as far as the file names them; null when it does not. */
  personas: [PersonaText, PersonaText] | null;
  /** A system prompt to measure topic drift against; null without one. */
  story: string | null;
}

const AGENT_1_ROLES = new Set(["human", "user"]);
const AGENT_2_ROLES = new Set(["gpt", "assistant", "model", "bot"]);

/**
 * Reads every conversation in `text` (the content of the file `name`).
 *
 * @throws {DialogueError} `usage` when the text is not JSON or JSON Lines of
 * a known format, naming the file, the line and what was expected.
 *
 * @example A ShareGPT record
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { readTranscripts } from "./transcript_input.ts";
 * const [c] = readTranscripts(JSON.stringify({ conversations: [
 *   { from: "human", value: "Hello?" }, { from: "gpt", value: "Hi!" },
 * ] }), "chat.json");
 * strictEqual(c?.format, "sharegpt");
 * strictEqual(c?.transcript.responses.length, 2);
 * ```
 */
export function readTranscripts(text: string, name: string): InputTranscript[] {
  const records = _records(text, name);
  if (records.length === 0) {
    throw usageError(`Cannot analyse ${name} as it holds no conversation (check --input)`);
  }
  const ours = records.filter(({ value }) => _isTurnLine(value));
  if (ours.length > 0) {
    if (ours.length !== records.length) {
      const other = records.find(({ value }) => !_isTurnLine(value))!;
      throw usageError(
        `Cannot analyse ${name} as line ${other.line} is not a turn like the other lines of an analyze --export jsonl file`,
      );
    }
    return _ours(ours, name);
  }
  return records.map(({ value, line }, i) => _conversation(value, name, line, i + 1));
}

interface _Record {
  value: unknown;
  line: number;
}

function _records(text: string, name: string): _Record[] {
  const trimmed = text.trim();
  try {
    const value = JSON.parse(trimmed);
    return Array.isArray(value) ? value.map((v, i) => ({ value: v, line: i + 1 })) : [{
      value,
      line: 1,
    }];
  } catch {
    // Not one JSON value: JSON Lines.
  }
  const out: _Record[] = [];
  text.split("\n").forEach((raw, i) => {
    if (raw.trim() === "") return;
    try {
      out.push({ value: JSON.parse(raw), line: i + 1 });
    } catch (error) {
      throw usageError(
        `Cannot analyse ${name} as line ${i + 1} is not JSON (${
          (error as Error).message
        }): expected one JSON value or JSON Lines`,
      );
    }
  });
  return out;
}

function _isTurnLine(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && "conversation_id" in v && "turn" in v &&
    "content" in v;
}

/** Our own `--export jsonl`: every generation figure is there. */
function _ours(records: _Record[], name: string): InputTranscript[] {
  const runs = new Map<string, _Record[]>();
  for (const r of records) {
    const id = String((r.value as Record<string, unknown>).conversation_id);
    runs.set(id, [...(runs.get(id) ?? []), r]);
  }
  return [...runs.entries()].map(([id, lines], i) => {
    const names: Record<number, string> = {};
    const models: Record<number, string> = {};
    const responses = lines.map(({ value, line }) => {
      const v = value as Record<string, unknown>;
      const agent = v.agent === 2 ? 2 : 1;
      if (typeof v.speaker === "string") names[agent] = v.speaker;
      if (typeof v.model === "string") models[agent] = v.model;
      const at = typeof v.created_at === "string" ? Date.parse(v.created_at) : NaN;
      const parsed = DialogMessage.safeParse({
        queue_timestamp: Number.isFinite(at) ? at : 0,
        message_id: `${id}-${v.turn}`,
        role: "assistant",
        content: v.content,
        metadata: {
          ...(typeof v.metadata === "object" && v.metadata !== null ? v.metadata : {}),
          conversation_id: id,
          sequence_number: v.turn,
          agent_id: agent,
          ...(typeof v.model === "string" ? { model: v.model } : {}),
        },
      });
      if (!parsed.success) {
        throw usageError(
          `Cannot analyse ${name} as line ${line} is not a valid turn: ${
            parsed.error.issues[0]?.message ?? "invalid"
          } at ${parsed.error.issues[0]?.path.join(".") ?? "?"}`,
        );
      }
      return parsed.data;
    });
    const personas: [PersonaText, PersonaText] | null = names[1] && names[2]
      ? [{ name: names[1] }, { name: names[2] }]
      : null;
    return {
      transcript: _transcript(id, responses, models),
      format: "dialoguellm_jsonl" as const,
      index: i + 1,
      absent: ABSENT_RUN,
      personas,
      story: null,
    };
  });
}

/** A ShareGPT or OpenAI-style conversation: text only. */
function _conversation(value: unknown, name: string, line: number, index: number): InputTranscript {
  const v = (typeof value === "object" && value !== null ? value : {}) as Record<string, unknown>;
  const sharegpt = Array.isArray(v.conversations);
  const list = sharegpt ? v.conversations : v.messages;
  if (!Array.isArray(list)) {
    throw usageError(
      `Cannot analyse ${name} as conversation ${line} has neither "conversations" (ShareGPT) nor "messages" (OpenAI): expected one of them, or analyze --export jsonl lines`,
    );
  }
  const id = typeof v.id === "string" && v.id !== ""
    ? v.id.slice(0, 128)
    : `${_base(name)}#${index}`;
  let system = typeof v.system === "string" ? v.system : "";
  const responses: DialogMessage[] = [];
  list.forEach((entry, k) => {
    const e = (typeof entry === "object" && entry !== null ? entry : {}) as Record<string, unknown>;
    const role = String((sharegpt ? e.from : e.role) ?? "").toLowerCase();
    const content = sharegpt ? e.value : e.content;
    if (typeof content !== "string") {
      throw usageError(
        `Cannot analyse ${name} as message ${k + 1} of conversation ${line} has no text ${
          sharegpt ? '"value"' : '"content"'
        }`,
      );
    }
    if (role === "system") {
      system = system === "" ? content : `${system}\n${content}`;
      return;
    }
    const agent = AGENT_1_ROLES.has(role) ? 1 : AGENT_2_ROLES.has(role) ? 2 : undefined;
    if (agent === undefined) {
      throw usageError(
        `Cannot analyse ${name} as message ${k + 1} of conversation ${line} has role ${
          JSON.stringify(role)
        }: expected human/user, gpt/assistant or system`,
      );
    }
    responses.push(DialogMessage.parse({
      queue_timestamp: 0,
      message_id: `${id}-${responses.length + 1}`,
      role: "assistant",
      content,
      metadata: { conversation_id: id, sequence_number: responses.length + 1, agent_id: agent },
    }));
  });
  return {
    transcript: _transcript(id, responses, {}),
    format: sharegpt ? "sharegpt" : "openai",
    index,
    absent: [...ABSENT_RUN, ...ABSENT_GENERATION, ...ABSENT_TIMING],
    personas: _systemPersonas(system),
    story: system === "" ? null : system,
  };
}

/**
 * Personas from a system prompt written like our exports' ("You are NAME.
 * …", "You are talking with NAME."): agent 2 is the one addressed, agent 1
 * the partner named. Names only, since one side has no persona text.
 */
function _systemPersonas(system: string): [PersonaText, PersonaText] | null {
  const self = /^\s*You are ([^.\n]{1,100})\./u.exec(system)?.[1]?.trim();
  const partner = /You are talking with ([^.\n]{1,100})\./u.exec(system)?.[1]?.trim();
  return self && partner ? [{ name: partner }, { name: self }] : null;
}

function _transcript(
  id: string,
  responses: DialogMessage[],
  models: Record<number, string>,
): Transcript {
  const meta = ConversationMeta.parse({
    id,
    status: "completed",
    created_at: 0,
    turns: responses.length,
    max_turns: Math.max(1, responses.length),
    // Not in the file: shown as absent (input_source.ts).
    duration_seconds: 1,
    models: { manager: "unknown", agent1: models[1] ?? "unknown", agent2: models[2] ?? "unknown" },
    config: {},
  });
  return { meta, responses, requests: [] };
}

function _base(name: string): string {
  return (name.split(/[\\/]/).at(-1) ?? name).slice(0, 100) || "input";
}
