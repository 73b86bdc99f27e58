/**
 * The scenario the manager writes before a run: a story and two personas.
 *
 * @module
 */
import { z } from "zod";

const text = (max: number) => z.string().trim().min(1).max(max);

/** The setting both agents share. */
export const StoryContent = z.object({
  setting: text(4000),
  characters: z.array(text(200)).min(2).max(8),
  initial_situation: text(4000),
});
/** The setting both agents share. */
export type StoryContent = z.infer<typeof StoryContent>;

/** Who an agent plays. */
export const Persona = z.object({
  name: text(100),
  background: text(2000),
  personality: text(1000),
  speaking_style: text(1000),
  goal: text(1000),
});
/** Who an agent plays. */
export type Persona = z.infer<typeof Persona>;

/**
 * The manager's structured output, and the shape of a `--story FILE`:
 * the story and exactly two personas (agent 1 first).
 */
export const Scenario = z.object({
  story: StoryContent,
  personas: z.array(Persona).length(2),
});
/** The story and the two personas. */
export type Scenario = z.infer<typeof Scenario>;
