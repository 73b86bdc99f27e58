/**
 * Precision and recall of the insight detectors (and the loop detector) on
 * the hand-labelled transcripts of tests/fixtures/insight/. The labels were
 * written from what each conversation does before any detector ran on it.
 *
 * The `held_out` batch was written after the detectors, and its first run
 * gave: echo precision 1.00 / recall 0.67 (a two-word refrain is below
 * ECHO_MIN_WORDS), persona_break 0.50 / 1.00 (a baker's "How can I help you
 * today?" taken for an assistant's voice; "the clock or the bread?" taken
 * for leaning to the partner on two words), collapse 1.00 / 1.00, loop
 * 0.50 / 1.00. The two persona rules were then narrowed (ASSISTANT_VOICE,
 * PARTNER_MIN_HITS 2 → 3), so for persona breaks that batch is no longer
 * unseen; the figures printed now are after that change.
 */
import assert from "node:assert/strict";
import { detectEcho } from "../../lib/analysis/echo_detector.ts";
import { detectCollapse } from "../../lib/analysis/collapse_detector.ts";
import { detectPersonaBreak, type PersonaText } from "../../lib/analysis/persona_break.ts";
import { detectLoop } from "../../lib/analysis/loop_detector.ts";

type Label = "echo" | "persona_break" | "collapse" | "loop";
interface Labelled {
  id: string;
  /** `first` (written while the detectors were built) or `held_out` (written after, run once). */
  batch: "first" | "held_out";
  personas: string;
  labels: Record<Label, boolean>;
  turns: string[];
}

const dir = new URL("../fixtures/insight/", import.meta.url);
const SET: Labelled[] = JSON.parse(await Deno.readTextFile(new URL("labelled_set.json", dir)))
  .transcripts;
const PERSONAS: Record<string, [PersonaText, PersonaText]> = JSON.parse(
  await Deno.readTextFile(new URL("personas.json", dir)),
);

/** What each detector says about a transcript. */
function predict(t: Labelled): Record<Label, boolean> {
  const turns = t.turns.map((text, i) => ({ agent: (i % 2 + 1) as 1 | 2, text }));
  const personas = PERSONAS[t.personas];
  if (!personas) throw new Error(`Cannot score ${t.id} as persona pair ${t.personas} is unknown`);
  return {
    echo: detectEcho(turns).detected,
    persona_break: detectPersonaBreak(turns, personas).detected,
    collapse: detectCollapse(turns).detected,
    loop: detectLoop(t.turns).detected,
  };
}

/** Precision and recall of one detector over the set, and the transcripts it got wrong. */
function score(label: Label, set: readonly Labelled[] = SET) {
  let tp = 0, fp = 0, fn = 0;
  const wrong: string[] = [];
  for (const t of set) {
    const said = predict(t)[label];
    const truth = t.labels[label];
    if (said && truth) tp++;
    if (said && !truth) (fp++, wrong.push(`${t.id} (false positive)`));
    if (!said && truth) (fn++, wrong.push(`${t.id} (missed)`));
  }
  return {
    precision: tp + fp === 0 ? 1 : tp / (tp + fp),
    recall: tp + fn === 0 ? 1 : tp / (tp + fn),
    positives: tp + fn,
    wrong,
  };
}

/** Floors a change to a detector must keep; the figures reached are printed with the test. */
const FLOORS: Record<Label, { precision: number; recall: number }> = {
  echo: { precision: 0.8, recall: 0.8 },
  persona_break: { precision: 0.8, recall: 0.8 },
  collapse: { precision: 0.66, recall: 0.66 },
  // The loop detector (not an insight one) also fires on mutual echoing, which this set labels echo only.
  loop: { precision: 0.5, recall: 1 },
};

for (const label of Object.keys(FLOORS) as Label[]) {
  Deno.test(`the ${label} detector keeps its precision and recall on the labelled set`, () => {
    const s = score(label);
    for (const batch of ["first", "held_out"] as const) {
      const part = SET.filter((t) => t.batch === batch);
      const b = score(label, part);
      console.log(
        `${label} [${batch}]: precision ${b.precision.toFixed(2)}, recall ${
          b.recall.toFixed(2)
        } (${b.positives} positive of ${part.length}); wrong: ${b.wrong.join(", ") || "none"}`,
      );
    }
    console.log(
      `${label} [all]: precision ${s.precision.toFixed(2)}, recall ${s.recall.toFixed(2)} ` +
        `(${s.positives} positive of ${SET.length})`,
    );
    assert.ok(s.precision >= FLOORS[label].precision, `precision ${s.precision}`);
    assert.ok(s.recall >= FLOORS[label].recall, `recall ${s.recall}`);
  });
}

Deno.test("the labelled set holds 20–40 transcripts with positives of every kind", () => {
  assert.ok(SET.length >= 20 && SET.length <= 40);
  for (const label of Object.keys(FLOORS) as Label[]) {
    assert.ok(SET.some((t) => t.labels[label]), label);
    assert.ok(SET.some((t) => !t.labels[label]), label);
  }
});
