/**
 * What `auto` means, as a pure decision: given what was found (does Ollama
 * answer, is an OpenAI-compatible server or an embedded model configured,
 * is the default embedded model cached), the backend a role uses and why,
 * or the ways forward when there is none.
 *
 * @module
 */
import type { BackendKind } from "./llm_backend.ts";

/** What was found before choosing. */
export interface BackendFindings {
  /** `openai.base_url`, when set: an explicit server wins. */
  openaiBaseUrl?: string | undefined;
  /** Whether Ollama answered at `ollamaHost`. */
  ollamaAnswers: boolean;
  /** The Ollama host asked, safe to show. */
  ollamaHost: string;
  /** Why Ollama did not answer, when it did not (one line). */
  ollamaProblem?: string | undefined;
  /** `embedded.model`, when set. */
  embeddedModel?: string | undefined;
  /** The default embedded model's file, when it is already downloaded. */
  cachedDefaultModel?: string | undefined;
  /** The default embedded model's `hf:` reference, for the advice. */
  defaultModelRef: string;
}

/** The outcome of {@linkcode chooseBackend}. */
export type BackendDecision =
  | {
    ok: true;
    kind: BackendKind;
    /** Why, for the log and the live view ("Ollama answered at …"). */
    reason: string;
    /** The embedded model file to use, when the choice is the cached default. */
    modelFile?: string;
  }
  | { ok: false; problem: string };

/**
 * Resolves `auto`: an OpenAI-compatible server when one is configured;
 * else Ollama when it answers; else the embedded backend when a model file
 * is configured or the default one is cached; else a message listing the
 * ways forward.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { chooseBackend } from "./backend_choice.ts";
 * const d = chooseBackend({
 *   ollamaAnswers: false, ollamaHost: "http://127.0.0.1:11434",
 *   embeddedModel: "m.gguf", defaultModelRef: "hf:a/b/c.gguf",
 * });
 * strictEqual(d.ok && d.kind, "embedded");
 * ```
 */
export function chooseBackend(found: BackendFindings): BackendDecision {
  if (found.openaiBaseUrl) {
    return { ok: true, kind: "openai", reason: `openai.base_url is set (${found.openaiBaseUrl})` };
  }
  if (found.ollamaAnswers) {
    return { ok: true, kind: "ollama", reason: `Ollama answered at ${found.ollamaHost}` };
  }
  const absent = `Ollama did not answer at ${found.ollamaHost}${
    found.ollamaProblem ? ` (${found.ollamaProblem})` : ""
  }`;
  if (found.embeddedModel) {
    return {
      ok: true,
      kind: "embedded",
      reason: `${absent}; using the embedded model ${found.embeddedModel}`,
    };
  }
  if (found.cachedDefaultModel) {
    return {
      ok: true,
      kind: "embedded",
      reason: `${absent}; using the cached embedded model ${found.cachedDefaultModel}`,
      modelFile: found.cachedDefaultModel,
    };
  }
  return {
    ok: false,
    problem: `Cannot choose a backend as ${absent} and no embedded model is configured: ` +
      `start Ollama ('ollama serve', or set OLLAMA_HOST / --ollama-host), or pass --model-file PATH (a GGUF file), ` +
      `or --openai-base-url URL, or --backend embedded --pull to download ${
        found.defaultModelRef.replace(/#.*$/, "")
      }`,
  };
}
