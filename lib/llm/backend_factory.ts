/**
 * Building the backend a role uses from the configuration, and keeping one
 * instance per backend and host in a process: a pool's many conversations
 * share one HTTP client per server and one loaded embedded model (whose K
 * parallel sequences serve K turns at once).
 *
 * @module
 */
import { agentHost, type Config } from "../config/config.ts";
import { concreteBackend, type Role } from "../config/backend_config.ts";
import { DialogueError, ErrorCode } from "../base/dialogue_error.ts";
import type { BackendKind, LlmBackend } from "./llm_backend.ts";
import { ollamaBackendFor } from "./ollama/ollama_backend.ts";
import { openAiBackendFor } from "./openai/openai_backend.ts";
import { embeddedBackendFor } from "./embedded/embedded_backend.ts";
import { HostPool } from "./host_pool.ts";

/** Options of {@linkcode createBackend}. */
export interface CreateBackendOptions {
  /** Ollama host; unset: `ollama.host`. */
  host?: string;
  /**
   * Generations the embedded model runs at once (parallel sequences of one
   * context). @default 1
   */
  sequences?: number;
}

/**
 * A new backend of `kind` built from `config`.
 *
 * @throws {DialogueError} `usage` when `kind` needs a setting that is
 * missing (`openai.base_url`, `embedded.model`), saying which flag sets it.
 */
export function createBackend(
  config: Config,
  kind: BackendKind,
  options: CreateBackendOptions = {},
): LlmBackend {
  switch (kind) {
    case "ollama":
      return ollamaBackendFor(config.ollama, options.host ?? config.ollama.host);
    case "openai": {
      const { base_url } = config.openai;
      if (!base_url) {
        throw new DialogueError(
          ErrorCode.Usage,
          "Cannot use the openai backend as no server is set: pass --openai-base-url URL or set OPENAI_BASE_URL (or openai.base_url)",
        );
      }
      return openAiBackendFor({ ...config.openai, base_url });
    }
    case "embedded": {
      const model = config.embedded.model;
      if (!model) {
        throw new DialogueError(
          ErrorCode.Usage,
          "Cannot use the embedded backend as no model file is set: pass --model-file PATH (a GGUF file) or set embedded.model",
        );
      }
      return embeddedBackendFor({
        model_file: model,
        threads: config.embedded.threads,
        gpu: config.embedded.gpu,
        context_tokens: config.embedded.context_tokens ?? config.generation.num_ctx,
      }, options.sequences ?? 1);
    }
  }
}

/** Options of a {@linkcode BackendSet}. */
export interface BackendSetOptions {
  /** Parallel sequences of an embedded model. @default 1 */
  sequences?: number;
}

/**
 * The backends one process uses, built on first use and shared: one per
 * (kind, host). `close()` releases them all (the embedded model's process).
 */
export class BackendSet {
  readonly #config: Config;
  readonly #sequences: number;
  readonly #backends = new Map<string, LlmBackend>();

  constructor(config: Config, options: BackendSetOptions = {}) {
    this.#config = config;
    this.#sequences = options.sequences ?? 1;
  }

  /** The backend of `kind`, for an agent slot's host when it is Ollama. */
  get(kind: BackendKind, host?: string): LlmBackend {
    const where = kind === "ollama" ? host ?? this.#config.ollama.host : "";
    const key = `${kind}|${where}`;
    let backend = this.#backends.get(key);
    if (!backend) {
      const pool = this.#config.ollama.hosts;
      backend = kind === "ollama" && pool && where === this.#config.ollama.host
        // ollama.hosts: the default host is a pool of them (an agent slot's own host is not).
        ? new HostPool(pool, (url) => createBackend(this.#config, kind, { host: url }))
        : createBackend(this.#config, kind, {
          ...(where ? { host: where } : {}),
          sequences: this.#sequences,
        });
      this.#backends.set(key, backend);
    }
    return backend;
  }

  /** The backend of a role: recorded `kind` (the run's), else the role's configured one. */
  forRole(role: Role, kind?: BackendKind): LlmBackend {
    const chosen = kind ?? concreteBackend(this.#config, role);
    const host = role === "manager"
      ? this.#config.manager.host ?? this.#config.ollama.host
      : agentHost(this.#config, role === "agent1" ? 1 : 2);
    return this.get(chosen, host);
  }

  /** Closes every backend built, waiting for each. */
  async close(): Promise<void> {
    const all = [...this.#backends.values()];
    this.#backends.clear();
    await Promise.allSettled(all.map((b) => b.close()));
  }
}
