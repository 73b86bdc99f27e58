/** A batch's comparison: groups by cell and factor, intervals, differences, reports. */
import { assert, assertEquals, assertStringIncludes } from "../helpers/assert.ts";
import {
  BatchComparison,
  type BatchRunAnalysis,
  compareBatch,
  runFigure,
} from "../../lib/analysis/batch_comparison.ts";
import { formatBatchMarkdown, formatBatchText } from "../../lib/analysis/report/batch_report.ts";
import { formatBatchHtml } from "../../lib/analysis/report/batch_report_html.ts";
import { expandRuns } from "../../lib/batch/batch_matrix.ts";
import type { BatchSpec } from "../../lib/batch/batch_file.ts";
import type { RunAnalysis } from "../../lib/analysis/run_analysis.ts";

const SPEC: BatchSpec = {
  agent1_models: ["fast", "slow"],
  agent2_models: ["fast", "slow"],
  backends: null,
  topics: ["tea", "<b>coffee</b>"],
  stories: null,
  prompts: null,
  temperatures: null,
  seeds: [1, 2, 3, 4, 5],
  repeats: 1,
  max_turns: 4,
  duration_seconds: null,
  max_parallel: 2,
};

/** Just the parts of an analysis the comparison reads. */
function analysis(o: { tps: number; completed?: boolean; loop?: boolean; distinct2?: number }) {
  return {
    conversation: {
      turns: 4,
      status: o.completed === false ? "failed" : "completed",
      stop_reason: o.completed === false ? "error" : "max_turns",
    },
    overall: {
      tokens_per_second: { n: 4, mean: o.tps },
      time_to_first_token_ms: { n: 4, mean: 20 },
    },
    dialogue: {
      turns: 4,
      loop: { detected: o.loop ?? false },
      stale: { detected: false },
      diversity: { overall: { distinct_2: o.distinct2 ?? 0.8 } },
      repetition: { eligible_turns: 4, rate: 0.1 },
    },
    sentiment: { overall: { n: 4, mean: 0.1 } },
    topic_drift: { setting_similarity: { overall: 0.4 } },
  } as unknown as RunAnalysis;
}

/** The fast pair is ~2× the slow one in tok/s; topics do not matter. */
function runs(): BatchRunAnalysis[] {
  return expandRuns(SPEC).map((run, i) => ({
    run,
    analysis: analysis({
      tps: (run.cell.agent1_model === "fast" ? 100 : 50) + (i % 5) * 2,
      completed: !(run.cell.agent1_model === "slow" && run.seed === 5),
      distinct2: 0.8 + (i % 3) * 0.01,
    }),
  }));
}

Deno.test("runFigure() reads each key figure, null where a run has none", () => {
  const a = analysis({ tps: 42, completed: false, loop: true });
  assertEquals(runFigure(a, "tokens_per_second"), 42);
  assertEquals(runFigure(a, "completion_rate"), 0);
  assertEquals(runFigure(a, "loop_rate"), 1);
  assertEquals(runFigure(a, "drift"), 0.6);
  const none = { ...a, overall: { ...a.overall, tokens_per_second: { n: 0, mean: 0 } } };
  assertEquals(runFigure(none as RunAnalysis, "tokens_per_second"), null);
});

Deno.test("compareBatch() groups by cell and by each varying factor, with intervals", () => {
  const c = BatchComparison.parse(compareBatch("b1", runs()));
  assertEquals(c.runs, 20);
  assertEquals(c.factors, ["models", "topic"]);
  assertEquals(c.cells.map((cell) => [cell.cell, cell.runs]), [["c1", 5], ["c2", 5], ["c3", 5], [
    "c4",
    5,
  ]]);
  const fast = c.by_factor[0]!.levels.find((l) => l.level === "fast × fast")!;
  assertEquals(fast.runs, 10);
  const tps = fast.figures.tokens_per_second!;
  assert(tps.low! <= tps.mean && tps.mean <= tps.high!, JSON.stringify(tps));
  assertEquals(tps.mean, 104);
  const slow = c.by_factor[0]!.levels.find((l) => l.level === "slow × slow")!;
  assertEquals(slow.figures.completion_rate!.mean, 0.8);
});

Deno.test("compareBatch() marks a difference larger than its interval, and not one within the noise", () => {
  const c = compareBatch("b1", runs());
  const of = (factor: string, figure: string) =>
    c.differences.find((d) => d.factor === factor && d.figure === figure)!;
  const speed = of("models", "tokens_per_second");
  assertEquals([speed.a, speed.b], ["fast × fast", "slow × slow"]);
  assertEquals(speed.difference.mean, -50);
  assert(speed.difference.high! < 0);
  assertEquals(speed.larger_than_interval, true);
  assertEquals(speed.intervals_overlap, false);
  assertEquals(of("topic", "tokens_per_second").larger_than_interval, false);
  assertEquals(of("topic", "distinct_2").larger_than_interval, false);
  // A constant figure: the difference is exactly 0, its interval [0, 0] includes it.
  assertEquals(of("models", "turns").larger_than_interval, false);
});

Deno.test("compareBatch() is the same on every call (seeded) and changes with the seed", () => {
  assertEquals(compareBatch("b1", runs()), compareBatch("b1", runs()));
  const a = compareBatch("b1", runs());
  const b = compareBatch("b1", runs(), { seed: 2 });
  assertEquals(
    a.cells.map((c) => c.figures.tokens_per_second!.mean),
    b.cells.map((c) => c.figures.tokens_per_second!.mean),
  );
  assert(JSON.stringify(a.by_factor) !== JSON.stringify(b.by_factor), "other draws, other bounds");
});

Deno.test("the batch reports show intervals and the differences, and escape untrusted text", () => {
  const c = compareBatch("b1", runs());
  const text = formatBatchText(c);
  assertStringIncludes(text, "Batch b1");
  assertStringIncludes(text, "20 runs in 4 cells");
  assertStringIncludes(text, "By models");
  assertStringIncludes(text, "104.0 [");
  assertStringIncludes(text, "models: slow × slow vs fast × fast: tok/s -50.0 [");
  const md = formatBatchMarkdown(c);
  assertStringIncludes(md, "## By topic");
  assertStringIncludes(md, "| :--");
  const html = formatBatchHtml(c);
  assertStringIncludes(html, '<svg id="chart-tokens-per-second"');
  assertStringIncludes(html, "&lt;b&gt;coffee&lt;/b&gt;");
  assert(!html.includes("<b>coffee"), "topic text escaped");
  assertStringIncludes(html, '<ul id="differences">');
});

Deno.test("compareBatch() of one run per cell gives means without intervals and no differences", () => {
  const one = runs().filter((r) => r.run.seed === 1);
  const c = compareBatch("b1", one);
  assertEquals(c.cells[0]!.figures.tokens_per_second!.low, null);
  assertEquals(c.differences.every((d) => !d.larger_than_interval), true);
  assertStringIncludes(formatBatchText(c), "None of the");
});
