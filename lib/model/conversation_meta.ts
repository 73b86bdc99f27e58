/**
 * A conversation's metadata as kept in Redis (a hash, objects JSON-encoded).
 *
 * @module
 */
import { z } from "zod";
import { Scenario } from "./story.ts";

/** Lifecycle of a conversation. */
export const ConversationStatus = z.enum([
  "pending",
  "running",
  "completed",
  "failed",
  "interrupted",
]);
/** Lifecycle of a conversation. */
export type ConversationStatus = z.infer<typeof ConversationStatus>;

/** Why a run ended. */
export const StopReason = z.enum([
  "max_turns",
  "duration",
  "error",
  "interrupted",
  "loop",
  /** The live echo check (`conversation.echo_action: stop`): an agent kept restating its partner. */
  "echo",
  /** The live collapse check (`conversation.collapse_action: stop`): the run converged. */
  "collapse",
]);
/** Why a run ended. */
export type StopReason = z.infer<typeof StopReason>;

/** Statuses after which nothing more happens in a conversation. */
export const FINISHED_STATUSES: readonly ConversationStatus[] = [
  "completed",
  "failed",
  "interrupted",
];

const epochMs = z.number().finite().nonnegative();

const BackendName = z.enum(["ollama", "openai", "embedded"]);

/** Everything a tool needs to know about a run without reading its streams. */
export const ConversationMeta = z.object({
  id: z.string().min(1).max(128),
  status: ConversationStatus,
  created_at: epochMs,
  started_at: epochMs.optional(),
  ended_at: epochMs.optional(),
  /** Last time an interrupted run was resumed (epoch ms). */
  resumed_at: epochMs.optional(),
  /** Time spent interrupted, summed over resumes: not part of any turn or of the run's duration. */
  paused_ms: epochMs.optional(),
  /** Epoch ms after which no generation may continue. */
  deadline: epochMs.optional(),
  turns: z.number().int().nonnegative().default(0),
  max_turns: z.number().int().positive(),
  duration_seconds: z.number().positive(),
  stop_reason: StopReason.optional(),
  /** Human-readable detail for a failed run. */
  error: z.string().max(4000).optional(),
  scenario: Scenario.optional(),
  models: z.object({
    manager: z.string(),
    agent1: z.string(),
    agent2: z.string(),
  }),
  /**
   * The backend each role uses (`ollama`, `openai`, `embedded`). Absent in
   * runs recorded before backends could be chosen: those used Ollama.
   */
  backends: z.object({
    manager: BackendName,
    agent1: BackendName,
    agent2: BackendName,
  }).optional(),
  /** The effective run configuration, secrets removed. */
  config: z.record(z.string(), z.unknown()),
});
/** A conversation's metadata. */
export type ConversationMeta = z.infer<typeof ConversationMeta>;
