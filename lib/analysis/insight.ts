/**
 * The failures peculiar to two LLMs talking, and how they adapt to each
 * other: echo, persona break, collapse and linguistic coordination, measured
 * together for the analysis report (`insight` in the `--json` output).
 *
 * @module
 */
import { z } from "zod";
import { detectEcho, EchoResult, type SpokenTurn } from "./echo_detector.ts";
import { CollapseResult, detectCollapse } from "./collapse_detector.ts";
import { Coordination, measureCoordination } from "./coordination.ts";
import {
  detectPersonaBreak,
  PersonaBreak,
  type PersonaBreakOptions,
  type PersonaText,
} from "./persona_break.ts";

/** The insight measures of a run. */
export const Insight = z.object({
  echo: EchoResult,
  /** Null when the transcript carries no persona for one of the speakers. */
  persona_break: PersonaBreak.nullable(),
  collapse: CollapseResult,
  coordination: Coordination,
});
/** The insight measures of a run. */
export type Insight = z.infer<typeof Insight>;

/**
 * Measures a run's turns; `personas` (agent 1's, agent 2's) when known.
 *
 * @throws {RangeError} When persona embeddings do not cover every turn.
 */
export function measureInsight(
  turns: readonly SpokenTurn[],
  personas: readonly [PersonaText, PersonaText] | null,
  embeddings?: PersonaBreakOptions["embeddings"],
): Insight {
  return {
    echo: detectEcho(turns),
    persona_break: personas ? detectPersonaBreak(turns, personas, { embeddings }) : null,
    collapse: detectCollapse(turns),
    coordination: measureCoordination(turns),
  };
}
