/**
 * The version of DialogueLLM, recorded with every run (with Deno's) so a
 * run can be reproduced from its record.
 *
 * @module
 */

/** DialogueLLM's version (bumped with each release of the engine). */
export const DIALOGUE_LLM_VERSION = "0.4.0";

/** The versions recorded with a run. */
export function runVersions(): { dialogue_llm: string; deno: string } {
  return { dialogue_llm: DIALOGUE_LLM_VERSION, deno: Deno.version.deno };
}
