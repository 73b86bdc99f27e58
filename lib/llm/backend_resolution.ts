/**
 * Before a run: every role's backend made concrete (`auto` resolved by
 * {@linkcode chooseBackend} from what answers here), and an `hf:` embedded
 * model downloaded once into the data folder, so the children a chat starts
 * get a configuration that needs no second guess.
 *
 * @module
 */
import type { Config } from "../config/config.ts";
import { type Role, roleBackend, ROLES } from "../config/backend_config.ts";
import { redactUrl } from "../config/redaction.ts";
import { DialogueError, ErrorCode } from "../base/dialogue_error.ts";
import { log } from "../base/logger.ts";
import { chooseBackend } from "./backend_choice.ts";
import type { BackendKind } from "./llm_backend.ts";
import {
  cachedModelPath,
  DEFAULT_EMBEDDED_MODEL,
  isModelCached,
  resolveModelSource,
} from "./embedded/model_source.ts";

/** Options of {@linkcode resolveBackends}. */
export interface ResolveBackendsOptions {
  /** Roles that will generate (the manager only writes a scenario when none is given). @default every role */
  roles?: readonly Role[];
  /** Whether Ollama answers at `host` (one line why not). @default a GET /api/tags with a 2 s bound */
  probeOllama?: (host: string) => Promise<string | undefined>;
  /** Environment lookup (data folder). @default Deno.env.get */
  env?: (name: string) => string | undefined;
  /** Download an `hf:` embedded model that is not cached (`--pull`). @default false */
  pull?: boolean;
  /** Download progress of an `hf:` model. @default a bar on stderr */
  onProgress?: (received: number, total: number | undefined) => void;
  signal?: AbortSignal;
}

/** The resolved configuration and, per role, its backend and why. */
export interface ResolvedBackends {
  config: Config;
  choices: Record<Role, { kind: BackendKind; reason: string }>;
}

/**
 * Resolves every role's backend and the embedded model file.
 *
 * @throws {DialogueError} `llm_unavailable` listing the ways forward when
 * `auto` finds nothing; `model_not_found` when an `hf:` model cannot be
 * downloaded.
 */
export async function resolveBackends(
  input: Config,
  options: ResolveBackendsOptions = {},
): Promise<ResolvedBackends> {
  const config = structuredClone(input);
  const env = options.env ?? ((name: string) => Deno.env.get(name));
  const probe = options.probeOllama ?? probeOllama;
  const answers = new Map<string, Promise<string | undefined>>();
  const choices = {} as ResolvedBackends["choices"];
  for (const role of ROLES) {
    const choice = roleBackend(config, role);
    if (choice !== "auto") {
      choices[role] = { kind: choice, reason: `configured (${choice})` };
      continue;
    }
    const host = _host(config, role);
    if (!answers.has(host)) answers.set(host, probe(host));
    const problem = await answers.get(host)!;
    const decision = chooseBackend({
      openaiBaseUrl: config.openai.base_url ? redactUrl(config.openai.base_url) : undefined,
      ollamaAnswers: problem === undefined,
      ollamaHost: redactUrl(host),
      ollamaProblem: problem,
      embeddedModel: config.embedded.model,
      cachedDefaultModel: isModelCached(DEFAULT_EMBEDDED_MODEL, env)
        ? cachedModelPath(DEFAULT_EMBEDDED_MODEL, env)
        : undefined,
      defaultModelRef: DEFAULT_EMBEDDED_MODEL,
    });
    const generates = (options.roles ?? ROLES).includes(role);
    if (!decision.ok) {
      if (!generates) {
        // A role with nothing to generate (the manager given a story file).
        choices[role] = { kind: "ollama", reason: "not used in this run" };
        _set(config, role, "ollama");
        continue;
      }
      // Not a mistake in what was typed but nothing to talk to: exit 1, as an
      // unreachable Ollama always was.
      throw new DialogueError(ErrorCode.LlmUnavailable, decision.problem);
    }
    if (decision.modelFile) config.embedded.model = decision.modelFile;
    choices[role] = { kind: decision.kind, reason: decision.reason };
    _set(config, role, decision.kind);
  }
  const embedded = ROLES.some((r) => choices[r].kind === "embedded");
  if (embedded) {
    const ref = config.embedded.model ?? DEFAULT_EMBEDDED_MODEL;
    config.embedded.model = await resolveModelSource(ref, {
      env,
      pull: options.pull ?? false,
      onProgress: options.onProgress ?? _progressBar(ref),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }
  for (const role of ROLES) {
    log("chat").debug("Backend of {role}: {kind} ({reason})", { role, ...choices[role] });
  }
  return { config, choices };
}

/**
 * Whether Ollama answers at `host`: undefined when it does, else one line
 * saying why not. Bounded at 2 s: an address that swallows packets must not
 * hold the start.
 */
export async function probeOllama(host: string): Promise<string | undefined> {
  try {
    const response = await fetch(new URL("/api/tags", host), {
      signal: AbortSignal.timeout(2000),
    });
    await response.body?.cancel();
    return response.ok ? undefined : `it answered ${response.status}`;
  } catch (error) {
    const err = error as Error;
    if (err.name === "TimeoutError") return "no answer within 2 s";
    return /refused/i.test(`${err.message} ${String(err.cause ?? "")}`)
      ? "connection refused"
      : err.message.slice(0, 120);
  }
}

function _host(config: Config, role: Role): string {
  if (role === "manager") return config.manager.host ?? config.ollama.host;
  return config.agents[role].host ?? config.ollama.host;
}

function _set(config: Config, role: Role, kind: BackendKind): void {
  if (role === "manager") config.manager.backend = kind;
  else config.agents[role].backend = kind;
}

function _progressBar(ref: string) {
  let last = "";
  return (received: number, total: number | undefined) => {
    const mb = (n: number) => (n / 1e6).toFixed(1);
    const bar = total
      ? `${"█".repeat(Math.round(received / total * 30)).padEnd(30, "░")} ${
        (received / total * 100).toFixed(0)
      }% of ${mb(total)} MB`
      : `${mb(received)} MB`;
    const line = `downloading ${ref}: ${bar}`;
    if (line === last) return;
    last = line;
    Deno.stderr.writeSync(new TextEncoder().encode(`\r${line.padEnd(70)}`));
    if (total && received >= total) Deno.stderr.writeSync(new TextEncoder().encode("\n"));
  };
}

/**
 * One line naming each role's backend and why `auto` chose it, e.g.
 * `backends: manager embedded · agent 1 embedded · agent 2 ollama (configured)`.
 */
export function backendsLine(choices: ResolvedBackends["choices"]): string {
  const label: Record<Role, string> = { manager: "manager", agent1: "agent 1", agent2: "agent 2" };
  const kinds = ROLES.map((role) => `${label[role]} ${choices[role].kind}`).join(" · ");
  const reasons = [...new Set(ROLES.map((role) => choices[role].reason))];
  return `backends: ${kinds} (${reasons.join("; ")})`;
}
