/** The JSON schema's documentation keeps up with the schema. */
import assert from "node:assert/strict";
import { RunAnalysis } from "../../lib/analysis/run_analysis.ts";
import { RunComparison } from "../../lib/analysis/run_comparison.ts";
import { Flag } from "../../lib/analysis/analysis_flags.ts";
import { COORDINATION_CATEGORIES } from "../../lib/analysis/coordination.ts";
import { BATCH_FIGURES, BatchComparison } from "../../lib/analysis/batch_comparison.ts";

Deno.test("docs/analysis-schema.md documents every field of the JSON output", async () => {
  const doc = await Deno.readTextFile(new URL("../../docs/analysis-schema.md", import.meta.url));
  const shape = RunAnalysis.shape;
  const keys = [
    ...Object.keys(shape),
    ...Object.keys(shape.conversation.shape),
    ...Object.keys(shape.overall.shape),
    ...Object.keys(shape.per_turn.element.shape),
    ...Object.keys(shape.sentiment.shape),
    ...Object.keys(shape.topic_drift.shape),
    ...Object.keys(shape.settings.shape),
    ...Object.keys(RunComparison.shape.runs.element.shape),
    ...Object.keys(BatchComparison.shape),
    ...Object.keys(BatchComparison.shape.cells.element.shape),
    ...Object.keys(BatchComparison.shape.by_factor.element.shape.levels.element.shape),
    ...Object.keys(BatchComparison.shape.differences.element.shape),
    ...BATCH_FIGURES,
  ];
  const missing = keys.filter((key) => !doc.includes(`\`${key}\``) && !doc.includes(`.${key}\``));
  assert.deepEqual(missing, []);
});

Deno.test("docs/analysis-schema.md documents every insight field and every flag code", async () => {
  const doc = await Deno.readTextFile(new URL("../../docs/analysis-schema.md", import.meta.url));
  const insight = RunAnalysis.shape.insight.shape;
  const keys = [
    ...Object.keys(insight),
    ...Object.keys(insight.echo.shape),
    ...Object.keys(insight.persona_break.unwrap().shape),
    ...Object.keys(insight.persona_break.unwrap().shape.per_turn.element.shape),
    ...Object.keys(insight.collapse.shape),
    ...Object.keys(insight.coordination.shape),
    ...Object.keys(insight.coordination.shape["1_to_2"].shape),
    ...Object.keys(COORDINATION_CATEGORIES),
    ...Object.keys(RunAnalysis.shape.source.unwrap().shape),
    ...Flag.shape.code.options,
  ];
  const missing = keys.filter((key) => !doc.includes(`\`${key}\``) && !doc.includes(`.${key}\``));
  assert.deepEqual(missing, []);
});
