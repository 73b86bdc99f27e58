/**
 * The arithmetic of the backend bench: tokens/s of a set of generations,
 * and how a pipeline run's turns compare with the direct replay of the same
 * prompts, turn by turn.
 *
 * @module
 */
import type { DirectGeneration } from "./direct_run.ts";
import type { PipelineTurn } from "./embedded_pipeline.ts";

/** Σ tokens / Σ milliseconds, per second; NaN when nothing was timed. */
export function tokensPerSecond(tokens: number, ms: number): number {
  return ms > 0 ? (tokens / ms) * 1000 : NaN;
}

/** The median of `values` (the mean of the middle two for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length / 2;
  return Number.isInteger(middle)
    ? (sorted[middle - 1]! + sorted[middle]!) / 2
    : sorted[Math.floor(middle)]!;
}

/** One round: a pipeline run and the direct replay of its prompts. */
export interface RoundFigures {
  /** Turns compared (the pipeline's turns 2..N). */
  turns: number;
  /** Σ tokens_generated / Σ wall_time_ms. */
  pipelineRate: number;
  /** Σ tokens_generated / Σ llm_ms (the agent's LLM calls). */
  agentRate: number;
  /** Σ generated tokens / Σ generateResponse wall time of the replay. */
  directRate: number;
  /**
   * Share of the pipeline's wall time that is the model's own work (prompt
   * evaluation + token generation, timed in the host), and the same share
   * of the replay's: their ratio is the pipeline's cost measured inside one
   * run, so the machine's load shifting between runs does not enter it.
   */
  pipelineShare: number;
  directShare: number;
  /** Share of the replay's time spent evaluating the prompt (called → first token). */
  directPromptShare: number;
  /**
   * Per turn, the pipeline's tokens/s over the replay's for the same turn
   * (the same prompt, and with the same seed the same tokens): their median
   * over all rounds is the ratio that a load spike on either side moves least.
   */
  turnRatios: number[];
  /** The same with the agent's `llm_ms` in place of the wall time. */
  agentTurnRatios: number[];
  /** Turns whose reply the replay reproduced exactly. */
  sameText: number;
  /** Turns whose token count the replay reproduced exactly. */
  sameTokens: number;
  /** Per-turn medians (ms): the host outside prompt → last token, llm − host, wall − llm. */
  hostOutsideMs: number;
  protocolMs: number;
  busMs: number;
  /** The replay's generateResponse outside prompt → last token, per turn (median, ms). */
  directOutsideMs: number;
  /** Median generation per turn in the replay (ms), its tokens and prompt tokens. */
  directMs: number;
  tokensPerTurn: number;
  promptTokens: number;
}

/** The names of a {@linkcode RoundFigures}' single figures (not its lists). */
export type RoundFigure = {
  [K in keyof RoundFigures]: RoundFigures[K] extends number ? K : never;
}[keyof RoundFigures];

/** Compares a pipeline run's turns 2..N with the replay of their prompts. */
export function roundFigures(
  turns: readonly PipelineTurn[],
  direct: readonly DirectGeneration[],
): RoundFigures {
  const bySeq = new Map(direct.map((g) => [g.seq, g]));
  const paired = turns.flatMap((t) => {
    const g = bySeq.get(t.seq);
    return g ? [{ t, g }] : [];
  });
  const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
  const tokens = sum(turns.map((t) => t.tokens));
  const wall = sum(turns.map((t) => t.wallMs));
  const directWall = sum(direct.map((g) => g.wallMs));
  return {
    turns: turns.length,
    pipelineRate: tokensPerSecond(tokens, wall),
    agentRate: tokensPerSecond(tokens, sum(turns.map((t) => t.llmMs))),
    directRate: tokensPerSecond(sum(direct.map((g) => g.generatedTokens)), directWall),
    pipelineShare: sum(turns.map((t) => t.promptMs + t.streamMs)) / wall,
    directShare: sum(direct.map((g) => g.promptMs + g.streamMs)) / directWall,
    directPromptShare: sum(direct.map((g) => g.promptMs)) / directWall,
    turnRatios: paired.map(({ t, g }) =>
      tokensPerSecond(t.tokens, t.wallMs) / tokensPerSecond(g.generatedTokens, g.wallMs)
    ),
    agentTurnRatios: paired.map(({ t, g }) =>
      tokensPerSecond(t.tokens, t.llmMs) / tokensPerSecond(g.generatedTokens, g.wallMs)
    ),
    sameText: paired.filter(({ t, g }) => t.message.content === g.content.trim()).length,
    sameTokens: paired.filter(({ t, g }) => t.tokens === g.generatedTokens).length,
    hostOutsideMs: median(turns.map((t) => t.hostMs - t.promptMs - t.streamMs)),
    protocolMs: median(turns.map((t) => t.llmMs - t.hostMs)),
    busMs: median(turns.map((t) => t.wallMs - t.llmMs)),
    directOutsideMs: median(direct.map((g) => g.wallMs - g.promptMs - g.streamMs)),
    directMs: median(direct.map((g) => g.wallMs)),
    tokensPerTurn: median(direct.map((g) => g.generatedTokens)),
    promptTokens: median(direct.map((g) => g.promptTokens)),
  };
}

/**
 * Aggregate tokens/s of pipeline turns (each conversation's turns 2..N):
 * Σ tokens over the span from the first request enqueued to the last
 * response enqueued, so the time between turns counts too.
 */
export function aggregateRate(turns: readonly PipelineTurn[]): number {
  if (turns.length === 0) return NaN;
  const start = Math.min(...turns.map((t) => t.enqueuedAt));
  const end = Math.max(...turns.map((t) => t.answeredAt));
  return tokensPerSecond(turns.reduce((n, t) => n + t.tokens, 0), end - start);
}
