/**
 * The generation settings a run was made with, read from its stored
 * configuration (`meta.config`, the effective config with secrets removed):
 * what it takes to make the run again. Every field is null when the record
 * does not hold it (runs from older versions, hand-made metadata).
 *
 * @module
 */
import { z } from "zod";
import type { ConversationMeta } from "../model/conversation_meta.ts";

const BackendName = z.enum(["ollama", "openai", "embedded"]);

const agentSettings = z.object({
  model: z.string(),
  /** The backend the agent used (`ollama` for runs recorded before backends were chosen). */
  backend: BackendName,
  /** The agent's own temperature, else the run's. */
  temperature: z.number().nullable(),
  /**
   * Where its model ran (credentials hidden): the Ollama host, the
   * OpenAI-compatible base URL, or the embedded model's file.
   */
  host: z.string().nullable(),
});

/** What a run was generated with. */
export const RunSettings = z.object({
  /** The agents' backend, or `mixed` when the two used different ones. */
  backend: z.enum(["ollama", "openai", "embedded", "mixed"]),
  temperature: z.number().nullable(),
  seed: z.number().int().nullable(),
  num_ctx: z.number().int().nullable(),
  max_reply_tokens: z.number().int().nullable(),
  /** The theme the manager was given for the story. */
  topic: z.string().nullable(),
  /** `json` (structured replies) or `text`. */
  output: z.string().nullable(),
  keep_alive: z.string().nullable(),
  history_messages: z.number().int().nullable(),
  history_chars: z.number().int().nullable(),
  manager: z.object({ model: z.string(), backend: BackendName, host: z.string().nullable() }),
  agents: z.object({ "1": agentSettings, "2": agentSettings }),
  /**
   * Versions of DialogueLLM and Deno that made the run, when the record
   * holds them (`meta.config.versions`); null otherwise.
   */
  versions: z.object({ dialogue_llm: z.string().nullable(), deno: z.string().nullable() }),
});
/** What a run was generated with. */
export type RunSettings = z.infer<typeof RunSettings>;

/**
 * The settings of a run from its metadata.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { runSettings } from "./run_settings.ts";
 * const s = runSettings({
 *   models: { manager: "m", agent1: "a", agent2: "b" },
 *   config: { generation: { temperature: 0.8, seed: 7 }, agents: { agent2: { temperature: 0.2 } } },
 * });
 * strictEqual(s.seed, 7);
 * strictEqual(s.agents["1"].temperature, 0.8);
 * strictEqual(s.agents["2"].temperature, 0.2);
 * strictEqual(s.num_ctx, null);
 * ```
 */
export function runSettings(
  meta: Pick<ConversationMeta, "models" | "config" | "backends">,
): RunSettings {
  const c = meta.config;
  const num = (...path: string[]) => {
    const v = _at(c, path);
    return typeof v === "number" && Number.isFinite(v) ? v : null;
  };
  const int = (...path: string[]) => {
    const v = num(...path);
    return v !== null && Number.isInteger(v) ? v : null;
  };
  const str = (...path: string[]) => {
    const v = _at(c, path);
    return typeof v === "string" ? v : null;
  };
  const temperature = num("generation", "temperature");
  const host = str("ollama", "host");
  const where = (backend: z.infer<typeof BackendName>, ollamaHost: string | null) =>
    backend === "ollama"
      ? ollamaHost
      : backend === "openai"
      ? str("openai", "base_url")
      : str("embedded", "model");
  const agent = (k: 1 | 2) => {
    const backend = meta.backends?.[`agent${k}`] ?? "ollama";
    return {
      model: meta.models[`agent${k}`],
      backend,
      temperature: num("agents", `agent${k}`, "temperature") ?? temperature,
      host: where(backend, str("agents", `agent${k}`, "host") ?? host),
    };
  };
  const agents = { "1": agent(1), "2": agent(2) };
  const managerBackend = meta.backends?.manager ?? "ollama";
  return {
    backend: agents["1"].backend === agents["2"].backend ? agents["1"].backend : "mixed",
    temperature,
    seed: int("generation", "seed"),
    num_ctx: int("generation", "num_ctx"),
    max_reply_tokens: int("conversation", "max_reply_tokens"),
    topic: str("manager", "topic"),
    output: str("agents", "output"),
    keep_alive: str("ollama", "keep_alive"),
    history_messages: int("conversation", "history_messages"),
    history_chars: int("conversation", "history_chars"),
    manager: {
      model: meta.models.manager,
      backend: managerBackend,
      host: where(managerBackend, str("manager", "host") ?? host),
    },
    agents,
    versions: {
      dialogue_llm: str("versions", "dialogue_llm"),
      deno: str("versions", "deno"),
    },
  };
}

function _at(value: unknown, path: string[]): unknown {
  let v = value;
  for (const key of path) {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}
