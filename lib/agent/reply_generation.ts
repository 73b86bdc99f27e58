/**
 * Generating one turn's reply: the prompt from the scenario and the bounded
 * history, the streaming LLM call with retries and backoff for transient
 * failures and invalid replies, and what the outcome means for the turn
 * (a reply, an agent stopping, a run cancelled, or a fatal error).
 *
 * @module
 */
import { agentTemperature, type Config } from "../config/config.ts";
import type { AgentId, DialogMessage } from "../model/dialog_message.ts";
import type { Scenario } from "../model/story.ts";
import { DialogueError, ErrorCode } from "../base/dialogue_error.ts";
import type { ChatResult, LlmBackend } from "../llm/llm_backend.ts";
import { buildAgentChat } from "./agent_chat.ts";
import { JsonFieldStream } from "./json_field_stream.ts";
import { parseReply, REPLY_JSON_SCHEMA, replyMessage } from "./agent_reply.ts";
import { retryDelay, sleep } from "../base/backoff.ts";

/** How a generation ended. */
export type GenerationOutcome =
  | { kind: "reply"; message: DialogMessage }
  /** The agent process is shutting down: the turn is left for another. */
  | { kind: "stopping"; reason: string }
  /** The run ended (cancel) or its deadline passed. */
  | { kind: "cancelled"; reason: string }
  /** No valid reply can be had (model missing, host down, attempts used up): the run fails. */
  | { kind: "fatal"; reason: string };

/** Inputs of {@linkcode generateReply}. */
export interface GenerateReplyInput {
  config: Config;
  backend: LlmBackend;
  agent: AgentId;
  model: string;
  scenario: Scenario;
  /** Responses before the turn, oldest first. */
  history: DialogMessage[];
  request: DialogMessage;
  /** Epoch ms after which no generation may continue. */
  deadline?: number | undefined;
  /** Epoch ms the turn's wall time counts from. */
  since: number;
  /** Process shutdown. */
  shutdown: AbortSignal;
  /** The run ended (control channel). */
  cancel: AbortSignal;
  onText: (text: string) => void;
  onRetry: (reason: string) => void;
}

/** Generates the reply to `input.request`, retrying what is worth retrying. */
export async function generateReply(input: GenerateReplyInput): Promise<GenerationOutcome> {
  const { config, agent, request } = input;
  const seq = request.metadata.sequence_number;
  const messages = buildAgentChat({
    agent,
    scenario: input.scenario,
    history: input.history,
    unread: Math.max(0, seq - 1 - input.history.length),
    output: config.agents.output,
    maxMessages: config.conversation.history_messages,
    maxChars: config.conversation.history_chars,
    templates: {
      agent_system: config.prompts.agent_system as string | undefined,
      first_turn: config.prompts.first_turn as string | undefined,
    },
  });
  const deadlineMs = (input.deadline ?? Date.now() + 86_400_000) - Date.now();
  const signal = AbortSignal.any([
    input.shutdown,
    input.cancel,
    AbortSignal.timeout(Math.max(1, deadlineMs)),
  ]);
  const json = config.agents.output === "json";
  const attempts = config.agents.max_attempts;
  const started = performance.now();
  let problem = "";
  /** What the last failure was: the server (busy, cut, hung) or the model's output. */
  let blame: "server" | "model" = "model";
  let llmMs = 0;
  let received = 0;
  /** Says the failure of `attempt`; "retrying" only when another attempt follows. */
  const failed = async (attempt: number, text: string, retryAfterMs?: number): Promise<void> => {
    if (attempt >= attempts) return;
    input.onRetry(`attempt ${attempt}/${attempts} failed: ${text}; retrying`);
    await sleep(retryDelay(attempt, retryAfterMs), signal);
  };
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const field = json ? new JsonFieldStream("message") : undefined;
    let result: ChatResult;
    const callStarted = performance.now();
    received = 0;
    try {
      result = await input.backend.chat({
        model: input.model,
        messages,
        ...(json ? { schema: REPLY_JSON_SCHEMA } : {}),
        temperature: agentTemperature(config, agent),
        contextTokens: config.generation.num_ctx,
        maxTokens: config.conversation.max_reply_tokens,
        ...(config.generation.seed !== undefined
          ? { seed: config.generation.seed + seq * 10 + attempt }
          : {}),
      }, {
        signal,
        onToken: (piece) => {
          received += piece.length;
          const text = field ? field.push(piece) : piece;
          if (text) input.onText(text);
        },
      });
    } catch (error) {
      llmMs += performance.now() - callStarted;
      if (!(error instanceof DialogueError)) throw error;
      if (input.shutdown.aborted) return { kind: "stopping", reason: "agent stopping" };
      if (error.code === ErrorCode.Aborted || signal.aborted) {
        if (input.cancel.aborted) return { kind: "cancelled", reason: "run ended" };
        return { kind: "cancelled", reason: _cutReason(seq, started, attempt, received) };
      }
      if (error.code !== ErrorCode.LlmTransient && error.code !== ErrorCode.InvalidOutput) {
        return { kind: "fatal", reason: error.message };
      }
      problem = error.message;
      blame = error.code === ErrorCode.LlmTransient ? "server" : "model";
      await failed(attempt, problem, error.retryAfterMs);
      continue;
    }
    llmMs += result.wallMs;
    const reply = parseReply(result, json);
    if (reply.ok) {
      const message = replyMessage(request, {
        agent,
        model: input.model,
        backend: input.backend.kind,
        result,
        reply: reply.content,
        since: input.since,
        llmMs,
      });
      message.metadata.attempts = attempt;
      if (attempt > 1) message.metadata.last_error = problem.slice(0, LAST_ERROR_CHARS);
      return { kind: "reply", message };
    }
    problem = `invalid reply (${reply.problem})`;
    blame = "model";
    await failed(attempt, problem);
  }
  const head =
    `Agent ${agent} (${input.model}) gave no valid reply for turn ${seq} in ${attempts} attempts (last: ${problem})`;
  const advice = blame === "server"
    ? `the server (${input.backend.description}) is busy or unreachable: check it, or raise agents.max_attempts`
    : `try another model, set agents.output to "text", or raise agents.max_attempts`;
  return { kind: "fatal", reason: `${head}: ${advice}` };
}

/** Longest `metadata.last_error` recorded (the schema's bound). */
export const LAST_ERROR_CHARS = 500;

/** Why a generation stopped at the deadline, with what it had got so far. */
function _cutReason(seq: number, started: number, attempt: number, received: number): string {
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const got = received > 0 ? `${received} characters received` : "no reply from the model yet";
  return `turn ${seq} cut by the deadline after ${seconds} s (attempt ${attempt}, ${got})`;
}
