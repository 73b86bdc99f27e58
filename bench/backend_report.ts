/**
 * The table the backend bench prints: (g) the embedded tiny model through
 * the whole pipeline against the same model driven directly, and (h)
 * aggregate tokens/s with K parallel sequences against K = 1.
 *
 * @module
 */
import { ms, ratio, table, verdict } from "./bench_stats.ts";
import { median, type RoundFigure, type RoundFigures } from "./backend_figures.ts";
import type { DirectResult } from "./direct_run.ts";
import type { ProcessRole } from "./tree_cpu.ts";

/** The share of a core each role of a pipeline run used while its turns ran, and its mean turn. */
export interface CpuWindow {
  shares: Partial<Record<ProcessRole, number>>;
  turnMs: number;
}

/** One row; absent cells print empty. */
export interface BackendRow {
  row: string;
  what: string;
  rate?: string;
  range?: string;
  n?: string;
  ratio?: string;
  target?: string;
  status?: string;
}

/** A part of the bench: its rows and the notes that say how they were measured. */
export interface BenchPart {
  rows: BackendRow[];
  notes: string[];
}

/** Tokens/s as `512 tok/s`. */
export function tokRate(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(0)} tok/s` : "–";
}

/** A percentage as `97.3%`. */
export function percent(value: number): string {
  return Number.isFinite(value) ? `${(value * 100).toFixed(1)}%` : "–";
}

/** `min–max` of rates; empty for fewer than two. */
export function rateRange(values: readonly number[]): string {
  const finite = values.filter(Number.isFinite);
  if (finite.length < 2) return "";
  return `${Math.min(...finite).toFixed(0)}–${Math.max(...finite).toFixed(0)}`;
}

/** A row that could not be measured, saying why. */
export function skippedRow(row: string, what: string, why: string, target?: string): BackendRow {
  return { row, what, rate: `skipped: ${why}`, ...(target ? { target, status: "–" } : {}) };
}

/**
 * The (g) rows from the rounds: direct, pipeline (wall), agent side, in-run
 * share (medians); then, when measured, the direct run with one sequence for
 * every generation (no prompt kept evaluated) against the floor of the same
 * round.
 */
export function floorRows(
  rounds: readonly RoundFigures[],
  perAgent?: { rate: number; base: number },
): BackendRow[] {
  const n = `${rounds.length}×${rounds[0]?.turns ?? 0}`;
  const pick = (key: RoundFigure) => rounds.map((r) => r[key]);
  const ratioMedian = median(rounds.flatMap((r) => r.turnRatios));
  const rows: BackendRow[] = [
    {
      row: "(g) direct",
      what: "node-llama-cpp direct, the same prompts, a sequence per agent (floor)",
      rate: tokRate(median(pick("directRate"))),
      range: rateRange(pick("directRate")),
      n,
    },
    {
      row: "(g) pipeline",
      what: "chat --backend embedded: Σ tokens / Σ wall_time_ms",
      rate: tokRate(median(pick("pipelineRate"))),
      range: rateRange(pick("pipelineRate")),
      n,
      ratio: `${percent(ratioMedian)} direct`,
      target: "≥ 95% direct",
      status: verdict(ratioMedian >= 0.95),
    },
    {
      row: "(g) agent",
      what: "same runs, agent side: Σ tokens / Σ llm_ms",
      rate: tokRate(median(pick("agentRate"))),
      range: rateRange(pick("agentRate")),
      n,
      ratio: `${percent(median(rounds.flatMap((r) => r.agentTurnRatios)))} direct`,
    },
    {
      row: "(g) in-run",
      what: "model's share of wall_time_ms vs of the direct call",
      rate: `${percent(median(pick("pipelineShare")))} vs ${percent(median(pick("directShare")))}`,
      n,
      ratio: `${percent(median(rounds.map((r) => r.pipelineShare / r.directShare)))} direct`,
      target: "≥ 95% direct",
      status: verdict(median(rounds.map((r) => r.pipelineShare / r.directShare)) >= 0.95),
    },
  ];
  if (perAgent) {
    rows.push({
      row: "(g) one seq",
      what: "diagnostic: direct, one sequence for every generation",
      rate: tokRate(perAgent.rate),
      n: `1×${rounds[0]?.turns ?? 0}`,
      ratio: `${percent(perAgent.rate / perAgent.base)} direct`,
    });
  }
  return rows;
}

/** An (h) row: aggregate tokens/s at K against K = 1. */
export function sequencesRow(
  row: string,
  what: string,
  rate: number,
  base: number,
  n: string,
): BackendRow {
  return { row, what, rate: tokRate(rate), n, ratio: `${ratio(rate / base)} K=1` };
}

/** How round 1's prompts were made and replayed, and the command that made them. */
export function settingsNote(conversation: string, direct: DirectResult, command: string): string {
  return `(g) prompts: the agents' own (lib/agent/agent_chat.ts: persona system prompt + ` +
    `growing history) rebuilt from Redis, fitted to the ${direct.contextTokens}-token context ` +
    `as the host fits them (${direct.chatWrapper} template); ${command}; ` +
    `conversation ${conversation}`;
}

/** How the (g) figures were taken, and where a turn's time goes. */
export function floorNotes(rounds: readonly RoundFigures[]): string[] {
  const m = (key: RoundFigure) => median(rounds.map((r) => r[key]));
  const each = (f: (r: RoundFigures) => string) => rounds.map(f).join(", ");
  return [
    `(g) order: pipeline, direct, × ${rounds.length}; tokens/s = median of the rounds' ` +
    `Σ tokens / Σ time; pipeline ratio = median over all turns of the turn's tokens/s ` +
    `through the pipeline / in the replay (per round, Σ over Σ: ` +
    `${each((r) => percent(r.pipelineRate / r.directRate))}); ` +
    `turn 1 (which loads the model) left out of both`,
    `(g) replay fidelity: same text ${each((r) => `${r.sameText}/${r.turns}`)}; ` +
    `same token count ${each((r) => `${r.sameTokens}/${r.turns}`)}`,
    `(g) per turn (medians): ${m("promptTokens").toFixed(0)} prompt tokens, ${
      m("tokensPerTurn").toFixed(0)
    } generated, direct ${ms(m("directMs"))}; outside prompt → last token: direct ` +
    `${ms(m("directOutsideMs"))}, host ${
      ms(m("hostOutsideMs"))
    } (fit history, choose a sequence); ` +
    `llm_ms − host ${ms(m("protocolMs"))} (process pipe); wall − llm_ms ${ms(m("busMs"))} ` +
    `(Redis, agent)`,
    `(g) in-run: Σ (prompt eval + first → last token) / Σ wall, pipeline (timed in the host) ` +
    `vs direct; per round ${each((r) => percent(r.pipelineShare / r.directShare))}`,
    `(g) prompt evaluation is ${percent(m("directPromptShare"))} of the direct time, with a ` +
    `sequence kept per agent (as the host keeps them) so what a prompt shares with the agent's ` +
    `previous one stays evaluated; one seq = round 1's prompts on one sequence for every ` +
    `generation (against round 1's floor)`,
  ];
}

/** CPU of the pipeline's processes while the turns ran (medians over the rounds). */
export function cpuNote(windows: readonly CpuWindow[]): string {
  if (windows.length === 0) return "(g) CPU: no sample fell within the turns";
  const roles: ProcessRole[] = ["model host", "agent pool", "chat", "manager pool"];
  const turnMs = median(windows.map((w) => w.turnMs));
  const parts = roles.map((role) => {
    const share = median(windows.map((w) => w.shares[role] ?? 0));
    return `${role} ${share.toFixed(2)} cores (${ms(share * turnMs)} per turn)`;
  });
  return `(g) CPU while the turns ran (ps %cpu × elapsed, median of ${windows.length} rounds): ` +
    `${parts.join(", ")}; on a machine with no spare core, the others' share is taken ` +
    `from the model`;
}

/** The whole report: heading, table, notes, command. */
export function formatBackendReport(
  heading: string,
  rows: readonly BackendRow[],
  notes: readonly string[],
  elapsedMs: number,
): string {
  const columns: (keyof BackendRow)[] = [
    "row",
    "what",
    "rate",
    "range",
    "n",
    "ratio",
    "target",
    "status",
  ];
  const header = ["row", "what", "tokens/s", "min–max", "n", "ratio", "target", "status"];
  return [
    heading,
    "",
    table(header, rows.map((r) => columns.map((c) => r[c] ?? ""))),
    ...(notes.length > 0 ? ["", "Notes:", ...notes.map((n) => `  ${n}`)] : []),
    "",
    `Reproduce: deno task bench   (this part: deno run … bench/backend_bench.ts, took ${
      (elapsedMs / 1000).toFixed(0)
    } s)`,
  ].join("\n");
}
