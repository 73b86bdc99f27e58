/**
 * Row (h) of the backend bench: aggregate tokens/s with K = 1, 2, 4
 * parallel sequences of one EmbeddedBackend (K = 1, 2, 4 in turn, twice),
 * then through the pipeline with K conversations and agent concurrency K,
 * each against K = 1.
 *
 * @module
 */
import { aggregateRate, median, tokensPerSecond } from "./backend_figures.ts";
import {
  type BackendRow,
  type BenchPart,
  rateRange,
  sequencesRow,
  skippedRow,
  tokRate,
} from "./backend_report.ts";
import { ms, ratio } from "./bench_stats.ts";
import {
  MODEL_FILE,
  pipelineCommand,
  type PipelineConversation,
  type PipelineRunner,
} from "./embedded_pipeline.ts";
import { measureSequences, type SequencesResult } from "./parallel_sequences.ts";
import { replayCalls } from "./pipeline_replay.ts";

/** Parallel sequences, generations timed at each K, and rounds of K = 1, 2, 4. */
const SEQUENCES = [1, 2, 4] as const;
const SEQUENCE_GENERATIONS = 12;
const SEQUENCE_ROUNDS = 2;
/** Through the pipeline: conversations (= agent concurrency) and turns each. */
const PIPELINE_PAIRS = [
  { pairs: 1, maxTurns: 17 },
  { pairs: 2, maxTurns: 9 },
  { pairs: 4, maxTurns: 5 },
] as const;

const _log = (text: string) => console.error(`backend bench: ${text}`);
const _root = new URL("..", import.meta.url).pathname;

/**
 * (h): K sequences of one EmbeddedBackend, then the pipeline with K
 * conversations; `singles` are (g)'s runs, whose prompts are replayed.
 */
export async function sequencesPart(
  pipeline: PipelineRunner,
  flush: () => Promise<unknown>,
  singles: readonly PipelineConversation[],
): Promise<BenchPart> {
  const rows: BackendRow[] = [];
  const notes: string[] = [];
  const { settings } = singles[0]!;
  const replay = replayCalls(singles[0]!).slice(1);
  // K = 1, 2, 4, then again: each K's row is the median of its rounds,
  // its ratio the median of the ratios to K = 1 of the same round.
  const measured: SequencesResult[][] = [];
  for (let round = 1; round <= SEQUENCE_ROUNDS; round++) {
    const results: SequencesResult[] = [];
    for (const sequences of SEQUENCES) {
      _log(`(h) round ${round}/${SEQUENCE_ROUNDS}: EmbeddedBackend, ${sequences} sequence(s)`);
      results.push(
        await measureSequences({
          modelFile: `${_root}${MODEL_FILE}`,
          threads: settings.embedded.threads,
          contextTokens: settings.embedded.context_tokens ?? settings.generation.num_ctx,
          sequences,
          calls: replay,
          generations: SEQUENCE_GENERATIONS,
        }),
      );
    }
    measured.push(results);
  }
  const rate = (m: SequencesResult) => tokensPerSecond(m.tokens, m.wallMs);
  SEQUENCES.forEach((sequences, k) => {
    const rates = measured.map((results) => rate(results[k]!));
    const ratios = measured.map((results) => rate(results[k]!) / rate(results[0]!));
    rows.push({
      row: `(h) K=${sequences}`,
      what: `EmbeddedBackend, ${sequences} sequence(s), ${sequences} in flight`,
      rate: tokRate(median(rates)),
      range: rateRange(rates),
      n: `${measured.length}×${SEQUENCE_GENERATIONS}`,
      ratio: `${ratio(median(ratios))} K=1`,
    });
  });
  notes.push(
    `(h) K=…: one EmbeddedBackend with sequences K, K chat() calls in flight until ` +
      `${SEQUENCE_GENERATIONS} generations are done (round 1's prompts in turn order), ` +
      `K = ${SEQUENCES.join(", ")} in turn, ${SEQUENCE_ROUNDS} times; aggregate = Σ tokens / ` +
      `(first call → last reply); median call ${
        SEQUENCES.map((sequences, k) =>
          `K=${sequences} ${ms(median(measured.flatMap((results) => results[k]!.callMs)))}`
        ).join(", ")
      }`,
  );
  // K = 1 again through the pipeline, right before K = 2 and 4.
  let single = NaN;
  for (const { pairs, maxTurns } of PIPELINE_PAIRS) {
    _log(`(h) the pipeline, ${pairs} conversation(s) × ${maxTurns} turns, concurrency ${pairs}`);
    const run = await pipeline(pairs, maxTurns);
    await flush();
    const what = `pipeline aggregate, ${pairs} conversation(s), concurrency ${pairs}`;
    if (!run.available) {
      rows.push(skippedRow(`(h) chat K=${pairs}`, what, run.why));
      continue;
    }
    const turns = run.conversations.flatMap((c) => c.turns.slice(1));
    const rate = aggregateRate(turns);
    if (pairs === 1) single = rate;
    rows.push(sequencesRow(`(h) chat K=${pairs}`, what, rate, single, `${turns.length}`));
    notes.push(`(h) chat K=${pairs}: ${pipelineCommand({ pairs, maxTurns })}`);
  }
  notes.push(
    "(h) chat: Σ tokens_generated of each conversation's turns 2.. / (first of their " +
      "requests enqueued → last response enqueued), so the manager's time between turns " +
      "counts; one run each, K = 1, 2, 4 in turn",
  );
  return { rows, notes };
}
