/**
 * Getting a scenario (story and two personas): from the manager's model
 * through structured output, or from a user's file. Both are validated by
 * the same schema; model output is retried a bounded number of times.
 *
 * @module
 */
import { z } from "zod";
import { DialogueError, ErrorCode, usageError } from "../base/dialogue_error.ts";
import type { LlmBackend } from "../llm/llm_backend.ts";
import { DEFAULT_TEMPLATES, renderTemplate } from "../config/prompt_template.ts";
import { Scenario } from "../model/story.ts";
import { parseStructuredReply } from "../llm/structured_reply.ts";
import { generationSchema } from "../llm/generation_schema.ts";
import { log } from "../base/logger.ts";
import { retryDelay, sleep } from "../base/backoff.ts";
import { readUserFile } from "../base/user_file.ts";

/** Options of {@linkcode writeScenario}. */
export interface WriteScenarioOptions {
  model: string;
  topic: string;
  /** Attempts before giving up. @default 3 */
  maxAttempts?: number;
  template?: string | undefined;
  temperature?: number;
  contextTokens?: number;
  seed?: number | undefined;
  signal?: AbortSignal;
  /**
   * Time for the whole writing, every attempt and pause included (ms): past
   * it the writing fails, saying so. The manager gives it one request
   * timeout (`ollama.request_timeout_ms`) in all, not one per attempt, so a
   * hanging server costs 5 minutes by default instead of 3 × 5.
   * @default no bound beyond the backend's own request timeout
   */
  budgetMs?: number;
  /** Progress for observers: each attempt as it starts, each failure before a retry. */
  onProgress?: (text: string) => void;
}

/**
 * JSON schema of the scenario as sent to the model: sized for a grammar
 * (llama.cpp's, which Ollama uses too, cannot compile string bounds in the
 * thousands); the zod schema still validates the reply with its own limits.
 */
export const SCENARIO_JSON_SCHEMA = generationSchema(
  z.toJSONSchema(Scenario) as Record<string, unknown>,
);

/**
 * Asks the model for a scenario until one validates.
 *
 * @throws {DialogueError} `invalid_output` after `maxAttempts` when the last
 * reply was invalid, `llm_transient` when the server was busy, cut or hung
 * on the last attempt or `budgetMs` ran out; each says what was wrong.
 */
export async function writeScenario(
  backend: LlmBackend,
  options: WriteScenarioOptions,
): Promise<Scenario> {
  const prompt = renderTemplate(
    "scenario",
    options.template ?? DEFAULT_TEMPLATES.scenario,
    {
      topic: options.topic,
    },
  );
  const attempts = options.maxAttempts ?? 3;
  const budget = options.budgetMs === undefined
    ? undefined
    : AbortSignal.timeout(Math.max(1, options.budgetMs));
  const signal = AbortSignal.any([
    ...(options.signal ? [options.signal] : []),
    ...(budget ? [budget] : []),
  ]);
  const started = Date.now();
  const progress = options.onProgress ?? (() => {});
  let problem = "";
  let blame: "server" | "model" = "model";
  for (let attempt = 1; attempt <= attempts; attempt++) {
    progress(
      `Writing the scenario with ${options.model}` +
        (attempt > 1 ? ` (attempt ${attempt}/${attempts})…` : "…"),
    );
    let result;
    try {
      result = await backend.chat({
        model: options.model,
        messages: [{ role: "user", content: prompt }],
        schema: SCENARIO_JSON_SCHEMA,
        ...(options.temperature !== undefined ? { temperature: options.temperature } : {}),
        ...(options.contextTokens !== undefined ? { contextTokens: options.contextTokens } : {}),
        ...(options.seed !== undefined ? { seed: options.seed + attempt - 1 } : {}),
      }, { signal });
    } catch (error) {
      if (budget?.aborted && !options.signal?.aborted) {
        throw _outOfTime(options, attempt, attempts, Date.now() - started, problem);
      }
      // Busy, 5xx, cut or hung: worth another attempt after a pause.
      const retryable = error instanceof DialogueError &&
        (error.code === ErrorCode.LlmTransient || error.code === ErrorCode.InvalidOutput);
      if (!retryable) throw error;
      problem = error.message;
      blame = error.code === ErrorCode.LlmTransient ? "server" : "model";
      log("manager").warn("Scenario attempt {attempt}/{attempts} failed: {problem}", {
        attempt,
        attempts,
        problem,
      });
      if (attempt < attempts) {
        progress(`Scenario attempt ${attempt}/${attempts} failed: ${problem}; retrying`);
        await sleep(retryDelay(attempt, error.retryAfterMs), signal);
      }
      continue;
    }
    const parsed = parseScenarioReply(result.content, result.doneReason);
    if (parsed.ok) return parsed.scenario;
    problem = parsed.problem;
    blame = "model";
    if (attempt < attempts) {
      progress(`Scenario attempt ${attempt}/${attempts} was invalid: ${problem}; retrying`);
    }
    log("manager").warn(
      "Scenario attempt {attempt}/{attempts} was invalid: {problem}",
      {
        attempt,
        attempts,
        problem,
      },
    );
  }
  if (blame === "server") {
    throw new DialogueError(
      ErrorCode.LlmTransient,
      `Model '${options.model}' gave no valid scenario in ${attempts} attempts (last: ${problem}): the server is busy or unreachable: check it, raise manager.max_attempts, or pass --story FILE`,
    );
  }
  throw new DialogueError(
    ErrorCode.InvalidOutput,
    `Model '${options.model}' gave no valid scenario in ${attempts} attempts (last: ${problem}): try a larger model, raise manager.max_attempts, or pass --story FILE`,
  );
}

function _outOfTime(
  options: WriteScenarioOptions,
  attempt: number,
  attempts: number,
  elapsedMs: number,
  problem: string,
): DialogueError {
  const last = problem ? `; last failure: ${problem}` : "; no reply from the model";
  return new DialogueError(
    ErrorCode.LlmTransient,
    `Cannot write the scenario with '${options.model}' as it did not finish within ${
      Math.round((options.budgetMs ?? elapsedMs) / 1000)
    } s (attempt ${attempt}/${attempts}${last}): check the server, raise ollama.request_timeout_ms, or pass --story FILE`,
  );
}

/** Outcome of validating a model's scenario reply. */
export type ScenarioReply =
  | { ok: true; scenario: Scenario }
  | { ok: false; problem: string };

/** Validates a model's reply, checking truncation before parsing. */
export function parseScenarioReply(content: string, doneReason: string): ScenarioReply {
  const reply = parseStructuredReply(Scenario, content, doneReason);
  return reply.ok ? { ok: true, scenario: reply.value } : reply;
}

/**
 * Reads a user's scenario file (JSON).
 *
 * @throws {DialogueError} `usage` naming the file and the invalid field.
 */
export async function readScenarioFile(path: string): Promise<Scenario> {
  const text = await readUserFile(path, { what: "story file", source: "--story" });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw usageError(
      `Story file ${path} is not JSON: ${
        (error as Error).message.replace(/\s+/g, " ").slice(0, 300)
      }`,
    );
  }
  const result = Scenario.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw usageError(
      `Story file ${path} is invalid at ${
        issue.path.join(".") || "(root)"
      }: ${issue.message} (expected {"story": {"setting", "characters", "initial_situation"}, "personas": [two of {"name", "background", "personality", "speaking_style", "goal"}]})`,
    );
  }
  return result.data;
}
