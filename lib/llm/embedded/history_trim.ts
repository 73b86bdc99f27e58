/**
 * Applying {@linkcode fitHistory} to real messages: counting them with the
 * model's tokenizer and chat template, cutting texts at token boundaries,
 * and checking the rendered prompt, since cut text re-tokenizes a little
 * differently and the template's share per message is an estimate. The
 * tokenizer is passed in, so this runs (and is tested) without llama.cpp.
 *
 * @module
 */
import { fitHistory } from "./history_fit.ts";
import type { HostMessage } from "./host_protocol.ts";

/** The model's tokenizer and chat template, as {@linkcode trimHistory} needs them. */
export interface PromptTokenizer {
  tokenize(text: string): readonly number[];
  detokenize(tokens: readonly number[]): string;
  /** Tokens of the whole prompt `messages` render to (template included, reply opening too). */
  promptTokens(messages: readonly HostMessage[]): number;
}

/** Options of {@linkcode trimHistory}. */
export interface TrimHistoryOptions {
  /** Tokens prompt and reply may take together. */
  budget: number;
  /** The reply's tokens; unset: a quarter of the budget is kept for it and it may fill the rest. */
  maxTokens?: number | undefined;
  tokenizer: PromptTokenizer;
}

/** What {@linkcode trimHistory} keeps. */
export interface TrimmedHistory {
  messages: HostMessage[];
  /** Tokens the reply may take. */
  maxTokens: number;
  /** Oldest turns left out. */
  droppedTurns: number;
  /** Whether the system text or the last turn was cut. */
  cut: boolean;
  /** Tokens of the kept prompt. */
  promptTokens: number;
}

/** Refits after checking the rendered prompt at most this many times. */
const ATTEMPTS = 6;

/**
 * `messages` (a leading system message, then turns) trimmed so that the
 * rendered prompt plus the reply fit `budget`: untouched when they fit.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { trimHistory } from "./history_trim.ts";
 * const words = (t: string) => t.split(" ").filter(Boolean).map(() => 1);
 * const tokenizer = {
 *   tokenize: words,
 *   detokenize: (t: readonly number[]) => "w ".repeat(t.length).trim(),
 *   promptTokens: (ms: readonly { content: string }[]) => ms.reduce((n, m) => n + words(m.content).length + 3, 2),
 * };
 * const turns = Array.from({ length: 10 }, () => ({ role: "user" as const, content: "a b c d e f g h" }));
 * const kept = trimHistory(turns, { budget: 60, maxTokens: 20, tokenizer });
 * strictEqual(kept.promptTokens + kept.maxTokens <= 60, true);
 * ```
 */
export function trimHistory(
  messages: readonly HostMessage[],
  options: TrimHistoryOptions,
): TrimmedHistory {
  const { budget, maxTokens, tokenizer } = options;
  const whole = tokenizer.promptTokens(messages);
  const reply = maxTokens ?? Math.max(1, Math.floor(budget / 4));
  if (whole + reply <= budget) {
    return {
      messages: [...messages],
      maxTokens: maxTokens ?? budget - whole,
      droppedTurns: 0,
      cut: false,
      promptTokens: whole,
    };
  }
  const hasSystem = messages[0]?.role === "system";
  const system = hasSystem ? messages[0]!.content : undefined;
  const turns = hasSystem ? messages.slice(1) : [...messages];
  const systemTokens = system === undefined ? [] : tokenizer.tokenize(system);
  const turnTokens = turns.map((m) => tokenizer.tokenize(m.content));
  const textTokens = systemTokens.length + turnTokens.reduce((sum, t) => sum + t.length, 0);
  // The template's tokens (role markers, the reply's opening), shared out per
  // message: dropping a turn drops its markers too.
  const share = Math.ceil(Math.max(0, whole - textTokens) / (messages.length + 1));
  let slack = share;
  let best: TrimmedHistory = {
    messages: [...messages],
    maxTokens: reply,
    droppedTurns: 0,
    cut: false,
    promptTokens: whole,
  };
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    let fit;
    try {
      fit = fitHistory({
        systemTokens: systemTokens.length && systemTokens.length + share,
        turnTokens: turnTokens.map((t) => t.length + share),
        overheadTokens: slack,
        replyTokens: reply,
        contextTokens: budget,
      });
    } catch {
      break; // a budget smaller than the template itself: nothing to trim
    }
    const kept = turns.slice(fit.droppedTurns);
    const last = kept.at(-1);
    const lastTokens = turnTokens.at(-1) ?? [];
    const lastKept = Math.max(1, fit.lastTurnTokens - share);
    if (last && lastKept < lastTokens.length) {
      // The end of the turn being answered is what it asks.
      kept[kept.length - 1] = {
        ...last,
        content: tokenizer.detokenize(lastTokens.slice(lastTokens.length - lastKept)),
      };
    }
    const systemKept = Math.max(0, fit.systemTokens - share);
    const cutSystem = system === undefined || systemKept === 0
      ? undefined
      : systemKept < systemTokens.length
      ? tokenizer.detokenize(systemTokens.slice(0, systemKept)) // who the model plays comes first
      : system;
    const trimmed: HostMessage[] = [
      ...(cutSystem === undefined ? [] : [{ role: "system" as const, content: cutSystem }]),
      ...kept,
    ];
    const prompt = tokenizer.promptTokens(trimmed);
    best = {
      messages: trimmed,
      maxTokens: maxTokens === undefined ? Math.max(1, budget - prompt) : fit.replyTokens,
      droppedTurns: fit.droppedTurns,
      cut: systemKept < systemTokens.length || lastKept < lastTokens.length,
      promptTokens: prompt,
    };
    const over = prompt + best.maxTokens - budget;
    if (over <= 0) break;
    slack += over;
  }
  return best;
}
