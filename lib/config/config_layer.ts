/**
 * Configuration layers: nested partial configs from one source each (a file,
 * the environment, flags), merged in order of precedence before validation.
 *
 * @module
 */
import { ageMs } from "../base/age.ts";

/** A nested partial configuration, as read from one source. */
export type ConfigLayer = Record<string, unknown>;

/** Environment variables read, and the config field each one sets. */
export const ENV_VARS: Readonly<Record<string, readonly string[]>> = {
  REDIS_URL: ["redis.url"],
  REDIS_CLUSTER_NODES: ["redis.cluster_nodes"],
  OLLAMA_HOST: ["ollama.host"],
  OLLAMA_HOSTS: ["ollama.hosts"],
  // Like --backend: every role but an agent that names its own.
  DIALOGUE_BACKEND: ["backend", "agents.backend", "manager.backend"],
  OPENAI_BASE_URL: ["openai.base_url"],
  OPENAI_API_KEY: ["openai.api_key"],
  DIALOGUE_MODEL_FILE: ["embedded.model"],
  // Like --model: manager and both agents; the more specific ones below win.
  DIALOGUE_MODEL: ["agents.model", "manager.model"],
  DIALOGUE_MANAGER_MODEL: ["manager.model"],
  DIALOGUE_AGENT1_MODEL: ["agents.agent1.model"],
  DIALOGUE_AGENT2_MODEL: ["agents.agent2.model"],
  DIALOGUE_MAX_TURNS: ["conversation.max_turns"],
  DIALOGUE_DURATION_SECONDS: ["conversation.duration_seconds"],
  DIALOGUE_LOG_LEVEL: ["logging.level"],
  DIALOGUE_LOG_FORMAT: ["logging.format"],
};

/** The config layer the environment defines (numbers parsed where expected). */
export function envLayer(
  env: (name: string) => string | undefined,
): ConfigLayer {
  let layer: ConfigLayer = {};
  for (const [name, paths] of Object.entries(ENV_VARS)) {
    const raw = env(name);
    if (raw === undefined || raw === "") continue;
    for (const path of paths) layer = mergeLayers(layer, setPath(path, coerceScalar(path, raw)));
  }
  return layer;
}

/** Deep-merges `over` onto `base`; arrays and scalars are replaced. */
export function mergeLayers(base: ConfigLayer, over: ConfigLayer): ConfigLayer {
  const out: ConfigLayer = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) continue;
    const prev = out[key];
    out[key] = isPlainObject(prev) && isPlainObject(value) ? mergeLayers(prev, value) : value;
  }
  return out;
}

/** `{a: {b: value}}` from `"a.b"`. */
export function setPath(path: string, value: unknown): ConfigLayer {
  const parts = path.split(".");
  let out: unknown = value;
  for (const part of parts.reverse()) out = { [part]: out };
  return out as ConfigLayer;
}

/** Turns a string from env or flags into a number where the field expects one. */
export function coerceScalar(path: string, raw: string): unknown {
  if (path === "redis.cluster_nodes") return raw.split(",").map((s) => s.trim()).filter(Boolean);
  if (path === "ollama.hosts") {
    return raw.split(",").map((s) => s.trim()).filter(Boolean).map(_poolHost);
  }
  const numeric =
    /(_seconds|_turns|_ms|\.port|\.db|temperature|num_ctx|seed|_messages|_chars|_tokens|_attempts)$/;
  if (!numeric.test(path)) return raw;
  const n = Number(raw);
  return raw.trim() !== "" && Number.isFinite(n) ? n : raw;
}

/** `URL[=CONCURRENCY]` as OLLAMA_HOSTS lists hosts. */
function _poolHost(text: string): { url: string; concurrency?: unknown } {
  const at = text.lastIndexOf("=");
  if (at < 0) return { url: text };
  const n = Number(text.slice(at + 1));
  return { url: text.slice(0, at), concurrency: Number.isFinite(n) ? n : text.slice(at + 1) };
}

/** Whether `value` is a plain object (not an array, not null). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * A number of seconds from text: a plain number, or a duration with a unit
 * as `analyze --since` reads it (`90s`, `10m`, `1h`, `2d`). Anything else is
 * returned unchanged for validation to report.
 */
export function coerceSeconds(value: unknown): unknown {
  if (typeof value !== "string") return value;
  const text = value.trim();
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  const ms = ageMs(text);
  return ms === undefined ? value : ms / 1000;
}

/** A log level as Python's logging writes it (`INFO`, `WARN`) in our spelling (`info`, `warning`). */
export function coerceLevelName(value: unknown): unknown {
  if (typeof value !== "string") return value;
  const name = value.trim().toLowerCase();
  return name === "warn" ? "warning" : name;
}
