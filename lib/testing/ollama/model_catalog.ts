/**
 * The models the test double has: names resolved as Ollama resolves them
 * (`llama3.2` is `llama3.2:latest`, case-insensitive), `/api/tags` entries,
 * and `/api/pull`, which streams progress and then adds the model.
 *
 * @module
 */
import { readableFrom, sleep } from "./abortable.ts";
import { hashSeed } from "./prose.ts";
import { errorResponse, jsonResponse, NDJSON_TYPE, ndjsonLine } from "./wire.ts";

/** Where a pull's progress goes and how fast. */
export interface PullOptions {
  /** Delay before each progress line. */
  delayMs: number;
  /** Ends the stream early (the double closes). */
  signal: AbortSignal;
  /** Aborted when the client cancels the body. */
  gone: AbortController;
}

/** A model whose name holds this is one the registry does not have. */
const _MISSING = "nonexistent";

/** The double's installed models, in the order they were added. */
export class ModelCatalog {
  #models = new Map<string, string>();

  /** Installs `names`, modified now. */
  constructor(names: readonly string[]) {
    for (const name of names) this.#models.set(canonicalModel(name), new Date().toISOString());
  }

  /** The installed canonical name, or the 400/404 response Ollama gives. */
  resolve(name: unknown): string | Response {
    if (typeof name !== "string" || name === "") return errorResponse(400, "model is required");
    const canonical = canonicalModel(name);
    return this.#models.has(canonical)
      ? canonical
      : errorResponse(404, `model '${name}' not found`);
  }

  /** The `GET /api/tags` reply. */
  tags(): Response {
    return jsonResponse({ models: [...this.#models].map(([name, at]) => _entry(name, at)) });
  }

  /**
   * The streamed `POST /api/pull` reply: manifest, byte progress, digest,
   * success, and the model is installed. A name holding `nonexistent` fails
   * inside the 200 stream, as the registry's answer does.
   */
  pull(body: Record<string, unknown>, options: PullOptions): Response {
    const name = body.name ?? body.model;
    if (typeof name !== "string" || name === "") return errorResponse(400, "model is required");
    const canonical = canonicalModel(name);
    const missing = name.includes(_MISSING);
    const digest = `sha256:${_hex64(canonical)}`;
    const total = _size(canonical);
    const lines: Record<string, unknown>[] = missing
      ? [{ status: "pulling manifest" }, { error: "pull model manifest: file does not exist" }]
      : [
        { status: "pulling manifest" },
        ...[0, Math.floor(total / 3), Math.floor(total / 2), total].map((completed) => ({
          status: `pulling ${digest.slice(7, 19)}`,
          digest,
          total,
          completed,
        })),
        { status: "verifying sha256 digest" },
        { status: "writing manifest" },
        { status: "success" },
      ];
    const models = this.#models;
    async function* paced(): AsyncGenerator<Uint8Array> {
      for (const line of lines) {
        if (!(await sleep(options.delayMs, options.signal))) return;
        if (line.status === "success") models.set(canonical, new Date().toISOString());
        yield ndjsonLine(line);
      }
    }
    return new Response(readableFrom(paced(), options.gone), {
      headers: { "content-type": NDJSON_TYPE },
    });
  }
}

/** `llama3.2` → `llama3.2:latest`; names compare case-insensitively. */
export function canonicalModel(name: string): string {
  const trimmed = name.trim().toLowerCase();
  const base = trimmed.slice(trimmed.lastIndexOf("/") + 1);
  return base.includes(":") ? trimmed : `${trimmed}:latest`;
}

function _entry(name: string, modifiedAt: string) {
  return {
    name,
    model: name,
    modified_at: modifiedAt,
    size: _size(name),
    digest: _hex64(name),
    details: {
      parent_model: "",
      format: "gguf",
      family: "llama",
      families: ["llama"],
      parameter_size: name.startsWith("tiny") ? "135M" : "3.2B",
      quantization_level: "Q4_K_M",
    },
  };
}

function _size(name: string): number {
  return 100_000_000 + (hashSeed(name) % 2_000_000_000);
}

function _hex64(text: string): string {
  let hex = "";
  for (let i = 0; i < 8; i++) hex += hashSeed(`${i}:${text}`).toString(16).padStart(8, "0");
  return hex;
}
