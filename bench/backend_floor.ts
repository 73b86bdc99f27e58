/**
 * Row (g) of the backend bench: the pipeline (`deno task chat --backend
 * embedded`) and the direct replay of the prompts its agents sent, in
 * turn: pipeline, direct, pipeline, direct, … (the machine is small and
 * shared, so each pair runs close together), plus one diagnostic replay
 * with a sequence kept per agent.
 *
 * @module
 */
import { type RoundFigures, roundFigures, tokensPerSecond } from "./backend_figures.ts";
import {
  type BenchPart,
  cpuNote,
  type CpuWindow,
  floorNotes,
  floorRows,
  settingsNote,
  skippedRow,
} from "./backend_report.ts";
import {
  type DirectCall,
  type DirectGeneration,
  type DirectJob,
  type DirectResult,
  runDirect,
} from "./direct_run.ts";
import {
  MODEL_FILE,
  pipelineCommand,
  type PipelineConversation,
  type PipelineRun,
  type PipelineRunner,
} from "./embedded_pipeline.ts";
import { replayCalls } from "./pipeline_replay.ts";

/** Pipeline runs, each followed by the direct replay of its prompts. */
const ROUNDS = 4;
/** Turns per pipeline run (turn 1, which loads the model, is left out of the figures). */
const TURNS = 13;

const _log = (text: string) => console.error(`backend bench: ${text}`);
const _root = new URL("..", import.meta.url).pathname;

/** What (g) measured, and the runs (h) builds on: the single conversations, or why none. */
export interface FloorPart extends BenchPart {
  singles: PipelineConversation[];
  failure: string;
}

/** (g): pipeline and direct replay, alternating, `ROUNDS` times; `flush` empties Redis after each run. */
export async function floorPart(
  pipeline: PipelineRunner,
  flush: () => Promise<unknown>,
): Promise<FloorPart> {
  const rounds: RoundFigures[] = [];
  const singles: PipelineConversation[] = [];
  const cpu: CpuWindow[] = [];
  const notes: string[] = [];
  let failure = "";
  let perAgent: { rate: number; base: number } | undefined;
  for (let round = 1; round <= ROUNDS; round++) {
    _log(`(g) round ${round}/${ROUNDS}: the pipeline, ${TURNS} turns`);
    const run = await pipeline(1, TURNS);
    await flush();
    const conversation = _single(run);
    if (typeof conversation === "string") {
      failure = conversation;
      continue;
    }
    singles.push(conversation);
    const measured = conversation.turns.slice(1);
    const shares = run.available
      ? run.cpu.between(measured[0]!.enqueuedAt, measured.at(-1)!.answeredAt)
      : undefined;
    if (shares) {
      cpu.push({ shares, turnMs: measured.reduce((n, t) => n + t.wallMs, 0) / measured.length });
    }
    const calls = replayCalls(conversation);
    _log(`(g) round ${round}/${ROUNDS}: the same ${calls.length - 1} prompts, direct`);
    // The floor keeps a sequence per agent, as the model host does.
    const direct = await _direct(conversation, calls, "per-agent");
    const figures = roundFigures(measured, direct.generations);
    rounds.push(figures);
    if (round === 1) {
      notes.push(
        settingsNote(conversation.id, direct, pipelineCommand({ pairs: 1, maxTurns: TURNS })),
      );
      _log("(g) diagnostic: the same prompts, direct, one sequence for every generation");
      const kept = (await _direct(conversation, calls, "one")).generations;
      perAgent = { rate: _rate(kept), base: figures.directRate };
    }
  }
  if (rounds.length === 0) {
    return {
      rows: [skippedRow("(g)", "pipeline vs node-llama-cpp direct", failure, "≥ 95% direct")],
      notes,
      singles,
      failure,
    };
  }
  notes.push(...floorNotes(rounds), cpuNote(cpu));
  return { rows: floorRows(rounds, perAgent), notes, singles, failure };
}

/** The one conversation of a single run, or why there is none. */
function _single(run: PipelineRun): PipelineConversation | string {
  if (!run.available) return run.why;
  const conversation = run.conversations[0];
  if (!conversation || conversation.turns.length < 2) return "the run recorded no second turn";
  return conversation;
}

function _direct(
  conversation: PipelineConversation,
  calls: DirectCall[],
  sequences: DirectJob["sequences"] = "one",
): Promise<DirectResult> {
  const { settings } = conversation;
  return runDirect({
    modelFile: `${_root}${MODEL_FILE}`,
    threads: settings.embedded.threads,
    contextTokens: settings.embedded.context_tokens ?? settings.generation.num_ctx,
    sequences,
    warmup: calls[0]!,
    calls: calls.slice(1),
  });
}

function _rate(generations: readonly DirectGeneration[]): number {
  const sum = (f: (g: DirectGeneration) => number) => generations.reduce((n, g) => n + f(g), 0);
  return tokensPerSecond(sum((g) => g.generatedTokens), sum((g) => g.wallMs));
}
