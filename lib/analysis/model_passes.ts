/**
 * The analysis passes that need a model: topic drift and persona breaks by
 * embeddings (`--embed-model`), persona consistency by a judge
 * (`--judge-model`). They run on the manager role's backend over HTTP
 * (analyze runs no program but the local Redis), for runs read from Redis
 * and transcripts read from files alike.
 *
 * @module
 */
import type { Config } from "../config/config.ts";
import { concreteBackend } from "../config/backend_config.ts";
import { DialogueError, ErrorCode } from "../base/dialogue_error.ts";
import { createBackend } from "../llm/backend_factory.ts";
import type { DialogMessage } from "../model/dialog_message.ts";
import type { Scenario } from "../model/story.ts";
import { embedTurns, type TurnEmbeddings } from "./topic_drift.ts";
import { judgePersonas, type PersonaJudgement } from "./persona_judge.ts";
import { type PersonaText, personaText } from "./persona_break.ts";

/** What {@linkcode modelPasses} works on and with. */
export interface ModelPassesOptions {
  /** Embedding model: drift and persona breaks by embeddings. */
  embedModel?: string | undefined;
  /** Judge model: persona consistency (needs `scenario`). */
  judgeModel?: string | undefined;
  /** The text turns are compared with for drift (the story), or null. */
  story: string | null;
  /** The two personas, embedded when both carry text beyond a name. */
  personas?: readonly PersonaText[] | null | undefined;
  /** The scenario the judge reads. */
  scenario?: Scenario | undefined;
  signal?: AbortSignal | undefined;
}

/** The model-made extras of an analysis; each absent when its model was not asked for. */
export interface ModelExtras {
  embeddings?: TurnEmbeddings;
  personaJudge?: PersonaJudgement;
  personaEmbeddings?: [number[], number[]];
}

/**
 * Runs the passes asked for on `responses`.
 *
 * @throws {DialogueError} `usage` when the backend is the embedded one; the
 * backend's errors (unreachable, model missing) as they are.
 */
export async function modelPasses(
  responses: readonly DialogMessage[],
  config: Config,
  o: ModelPassesOptions,
): Promise<ModelExtras> {
  if (!o.embedModel && !o.judgeModel) return {};
  // The judge and the embedder are models like the manager's: its backend.
  const kind = concreteBackend(config, "manager");
  if (kind === "embedded") {
    throw new DialogueError(
      ErrorCode.Usage,
      "Cannot use --embed-model or --judge-model with the embedded backend: pass --backend ollama (with --ollama-host) or --backend openai (with --openai-base-url)",
    );
  }
  const backend = createBackend(config, kind);
  const signal = o.signal ? { signal: o.signal } : {};
  try {
    const out: ModelExtras = {};
    if (o.embedModel) {
      const embed = { backend, model: o.embedModel, ...signal };
      out.embeddings = await embedTurns(o.story, responses.map((r) => r.content), embed);
      // Persona texts beyond names: embedded too, so persona breaks are judged by embeddings.
      const [a, b] = o.personas ?? [];
      if (a && b && personaText(a) !== "" && personaText(b) !== "") {
        const { turns } = await embedTurns(null, [personaText(a), personaText(b)], embed);
        out.personaEmbeddings = turns as [number[], number[]];
      }
    }
    if (o.judgeModel) {
      out.personaJudge = await judgePersonas(backend, o.scenario, responses, {
        model: o.judgeModel,
        contextTokens: config.generation.num_ctx,
        maxChars: config.generation.num_ctx * 3,
        ...signal,
      });
    }
    return out;
  } finally {
    await backend.close();
  }
}
