/**
 * The backend settings of the configuration: which backend each role uses
 * (`backend`, `manager.backend`, `agents.backend`, `agents.agentN.backend`),
 * the OpenAI-compatible server (`openai`) and the embedded model
 * (`embedded`). The most specific setting wins: an agent's own, then
 * `agents.backend` (or `manager.backend`), then the top-level `backend`.
 *
 * @module
 */
import { basename } from "node:path";
import { z } from "zod";

/** A role's backend as configured: `auto` picks one when the run starts. */
export const BackendChoice = z.enum(["auto", "ollama", "openai", "embedded"], {
  error: 'expected one of "auto", "ollama", "openai", "embedded"',
});
/** One of {@linkcode BackendChoice}'s values. */
export type BackendChoice = z.infer<typeof BackendChoice>;

/** The three roles of a run. */
export type Role = "manager" | "agent1" | "agent2";
/** Every role, in the order tools show them. */
export const ROLES: readonly Role[] = ["manager", "agent1", "agent2"];

/** `openai`: an OpenAI-compatible server (vLLM, llama.cpp's server, LM Studio, …). */
export const OpenAiSettings = z.strictObject({
  /** e.g. `http://127.0.0.1:8000/v1` (with or without `/v1`); env OPENAI_BASE_URL. */
  base_url: z.url({ protocol: /^https?$/, error: "expected an http:// or https:// URL" })
    .optional(),
  /** Sent as a bearer token; env OPENAI_API_KEY. Never logged, never stored. */
  api_key: z.string().min(1).max(4096).optional(),
  /** A generation that takes longer than this is cancelled. */
  request_timeout_ms: z.number().int().positive().default(300_000),
  /** Extra HTTP headers (e.g. for a proxy); never logged. */
  headers: z.record(z.string(), z.string()).optional(),
});

/** Default thread count of the embedded model: half the cores (the rest run Redis and us). */
export function defaultThreads(cores = navigator.hardwareConcurrency || 2): number {
  return Math.max(1, Math.floor(cores / 2));
}

/** `embedded`: a GGUF model run in-process by llama.cpp (node-llama-cpp). */
export const EmbeddedSettings = z.strictObject({
  /**
   * A GGUF file path, or `hf:OWNER/REPO/FILE.gguf` downloaded once into the
   * data folder; env DIALOGUE_MODEL_FILE, flag --model-file.
   */
  model: z.string().min(1).max(4096).optional(),
  /**
   * CPU threads. Always explicit: llama.cpp's own default oversubscribes a
   * small machine by orders of magnitude. @default half the cores, at least 1
   */
  threads: z.number().int().min(1).max(256).default(() => defaultThreads()),
  /** `auto` uses a GPU when llama.cpp finds one; `off` forces the CPU. */
  gpu: z.enum(["auto", "off"]).default("auto"),
  /** Context per sequence in tokens; unset: `generation.num_ctx`, capped at the model's own. */
  context_tokens: z.number().int().min(64).max(1_048_576).optional(),
});

/** The slice of the configuration these helpers read. */
export interface BackendFields {
  backend: BackendChoice;
  manager: { backend?: BackendChoice | undefined; model: string };
  agents: {
    backend?: BackendChoice | undefined;
    model: string;
    agent1: { backend?: BackendChoice | undefined; model?: string | undefined };
    agent2: { backend?: BackendChoice | undefined; model?: string | undefined };
  };
  embedded: { model?: string | undefined };
}

/**
 * The backend a role is configured with, the most specific setting first.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { roleBackend } from "./backend_config.ts";
 * const config = {
 *   backend: "ollama", manager: { model: "m" }, embedded: {},
 *   agents: { model: "m", agent1: { backend: "embedded" }, agent2: {} },
 * } as const;
 * strictEqual(roleBackend(config, "agent1"), "embedded");
 * strictEqual(roleBackend(config, "agent2"), "ollama");
 * ```
 */
export function roleBackend(config: BackendFields, role: Role): BackendChoice {
  if (role === "manager") return config.manager.backend ?? config.backend;
  return config.agents[role].backend ?? config.agents.backend ?? config.backend;
}

/**
 * The concrete backend a role uses once `auto` has been resolved. A process
 * that skipped resolution (a hand-started worker with the default config)
 * talks to Ollama, as every version before backends did.
 */
export function concreteBackend(
  config: BackendFields,
  role: Role,
): "ollama" | "openai" | "embedded" {
  const choice = roleBackend(config, role);
  return choice === "auto" ? "ollama" : choice;
}

/**
 * The model name a role records and routes by: its configured model, or,
 * on the embedded backend, the model file's name without `.gguf`.
 */
export function roleModel(config: BackendFields, role: Role): string {
  if (roleBackend(config, role) === "embedded" && config.embedded.model) {
    return embeddedModelName(config.embedded.model);
  }
  if (role === "manager") return config.manager.model;
  return config.agents[role].model ?? config.agents.model;
}

/**
 * The name shown and recorded for an embedded model: `stories260K` for
 * `../models/stories260K.gguf` or `hf:owner/repo/stories260K.gguf`.
 */
export function embeddedModelName(model: string): string {
  const file = basename(model.replace(/^hf:/, "").replace(/#.*$/, ""));
  return file.replace(/\.gguf$/i, "") || file;
}
