/**
 * Where the embedded model's GGUF file comes from (`embedded.model`,
 * `--model-file`): a path, or `hf:OWNER/REPO/FILE.gguf` (optionally
 * `#sha256=HEX`) downloaded once from Hugging Face into the data folder
 * (`<data folder>/models/OWNER/REPO/FILE.gguf`) and used from there without
 * network afterwards.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { dirname, join } from "node:path";
import { dataHome } from "../../base/data_home.ts";
import { DialogueError, ErrorCode } from "../../base/dialogue_error.ts";

/**
 * The model used when none is named: Qwen2.5 0.5B Instruct, Q4_K_M (491 MB),
 * from Qwen's own GGUF repository; small enough for a laptop's CPU, and
 * instruction-tuned for JSON. The checksum pins the file this was chosen with.
 */
export const DEFAULT_EMBEDDED_MODEL =
  "hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q4_k_m.gguf#sha256=74a4da8c9fdbcd15bd1f6d01d621410d31c6fc00986f5eb687824e7b93d7a9db";

/** An environment lookup (`Deno.env.get`, or a test's map). */
export type EnvLookup = (name: string) => string | undefined;

/** A parsed `embedded.model`. */
export type ModelSource =
  | { kind: "file"; path: string }
  | { kind: "hf"; owner: string; repo: string; file: string; sha256?: string };

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const SHA256 = /^[0-9a-f]{64}$/;

/**
 * Parses a model reference: `hf:OWNER/REPO/FILE.gguf[#sha256=HEX]` or a path.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { parseModelSource } from "./model_source.ts";
 * deepStrictEqual(parseModelSource("hf:a/b/c.gguf"), { kind: "hf", owner: "a", repo: "b", file: "c.gguf" });
 * deepStrictEqual(parseModelSource("./m.gguf"), { kind: "file", path: "./m.gguf" });
 * ```
 *
 * @throws {DialogueError} `usage` for a malformed `hf:` reference.
 */
export function parseModelSource(reference: string): ModelSource {
  if (!reference.startsWith("hf:")) return { kind: "file", path: reference };
  const [body = "", fragment] = reference.slice(3).split("#", 2);
  const parts = body.split("/");
  const bad = (why: string) =>
    new DialogueError(
      ErrorCode.Usage,
      `Cannot use the model reference '${reference}' as ${why}: write hf:OWNER/REPO/FILE.gguf (optionally #sha256=HEX), or pass --model-file PATH`,
    );
  if (parts.length < 3 || !parts.every((p) => SEGMENT.test(p) && p !== "..")) {
    throw bad("it is not OWNER/REPO/FILE with plain names");
  }
  if (!body.toLowerCase().endsWith(".gguf")) throw bad("the file is not a .gguf");
  let sha256: string | undefined;
  if (fragment !== undefined) {
    const hex = fragment.startsWith("sha256=") ? fragment.slice(7).toLowerCase() : "";
    if (!SHA256.test(hex)) throw bad("its #sha256= is not 64 hex digits");
    sha256 = hex;
  }
  const [owner, repo, ...file] = parts as [string, string, ...string[]];
  return { kind: "hf", owner, repo, file: file.join("/"), ...(sha256 ? { sha256 } : {}) };
}

/**
 * The local path of a model reference: the path itself, or where an `hf:`
 * file is (or will be) cached in the data folder (pure apart from `env`).
 *
 * @throws {DialogueError} `usage` for a malformed reference or no data folder.
 */
export function cachedModelPath(reference: string, env: EnvLookup): string {
  const source = parseModelSource(reference);
  if (source.kind === "file") return source.path;
  return join(dataHome(env), "models", source.owner, source.repo, ...source.file.split("/"));
}

/**
 * Whether the model is on disk already (a regular file at
 * {@linkcode cachedModelPath}), so it can be used without network.
 */
export function isModelCached(reference: string, env: EnvLookup): boolean {
  try {
    return Deno.statSync(cachedModelPath(reference, env)).isFile;
  } catch {
    return false;
  }
}

/** Options of {@linkcode resolveModelSource}. */
export interface ResolveModelOptions {
  /** Environment for the data folder, `HF_ENDPOINT` and `HF_TOKEN`. @default Deno.env.get */
  env?: EnvLookup;
  /** Download an `hf:` model that is not cached. @default false */
  pull?: boolean;
  /** Download progress: bytes so far, and the total when the server said. */
  onProgress?: (bytes: number, total: number | undefined) => void;
  /** Cancels the download (the partial file is removed). */
  signal?: AbortSignal;
  /** The fetch to download with. @default globalThis.fetch */
  fetch?: typeof fetch;
}

/**
 * The path of a checked GGUF file for `reference`: a path is checked as it
 * is; an `hf:` reference is used from the cache, or downloaded when `pull`
 * is set (streamed to a `.part` file, its sha256 checked against the
 * reference's or the server's, then renamed into place).
 *
 * @throws {DialogueError} `model_not_found` with one line naming what is
 * wrong and `--model-file`: missing or not GGUF, not downloaded, download
 * failed or checksum mismatch.
 */
export async function resolveModelSource(
  reference: string,
  options: ResolveModelOptions = {},
): Promise<string> {
  const env = options.env ?? ((name: string) => Deno.env.get(name));
  const source = parseModelSource(reference);
  const path = cachedModelPath(reference, env);
  if (source.kind === "hf" && !isModelCached(reference, env)) {
    if (!options.pull) {
      throw new DialogueError(
        ErrorCode.ModelNotFound,
        `Model ${
          reference.split("#")[0]
        } is not downloaded yet (it goes to ${path}): pass --pull to download it, or --model-file PATH for a GGUF file you have`,
      );
    }
    await _download(source, path, env, options);
  }
  await checkGgufFile(path);
  return path;
}

/**
 * Checks that `path` is a regular file starting with the GGUF magic bytes
 * (reads 4 bytes, never the whole file).
 *
 * @throws {DialogueError} `model_not_found` naming the path and `--model-file`.
 */
export async function checkGgufFile(path: string): Promise<void> {
  const fail = (why: string, cause?: unknown) =>
    new DialogueError(
      ErrorCode.ModelNotFound,
      `Cannot use the model file ${path} as ${why}: pass --model-file PATH with a GGUF model`,
      { cause },
    );
  let file: Deno.FsFile;
  try {
    if (!(await Deno.stat(path)).isFile) throw fail("it is not a regular file");
    file = await Deno.open(path, { read: true });
  } catch (error) {
    if (error instanceof DialogueError) throw error;
    if (error instanceof Deno.errors.NotFound) throw fail("it does not exist", error);
    throw fail(`it cannot be read (${_firstLine(error)})`, error);
  }
  try {
    const head = new Uint8Array(4);
    const read = await file.read(head);
    const magic = new TextDecoder().decode(head.subarray(0, read ?? 0));
    if (magic !== "GGUF") {
      throw fail(`it is not a GGUF file (it starts with ${JSON.stringify(magic)}, not "GGUF")`);
    }
  } finally {
    file.close();
  }
}

async function _download(
  source: Extract<ModelSource, { kind: "hf" }>,
  path: string,
  env: EnvLookup,
  options: ResolveModelOptions,
): Promise<void> {
  const endpoint = (env("HF_ENDPOINT") ?? "https://huggingface.co").replace(/\/+$/, "");
  const name = `${source.owner}/${source.repo}/${source.file}`;
  const fail = (why: string, cause?: unknown) =>
    new DialogueError(
      ErrorCode.ModelNotFound,
      `Cannot download the model ${name} from ${endpoint} as ${why}: retry when online, or download it yourself and pass --model-file PATH`,
      { cause },
    );
  const url = `${endpoint}/${source.owner}/${source.repo}/resolve/main/${
    source.file.split("/").map(encodeURIComponent).join("/")
  }`;
  const response = await _follow(url, env("HF_TOKEN"), options).catch((error) => {
    if (options.signal?.aborted) throw error;
    throw fail(`the server cannot be reached (${_firstLine(error)})`, error);
  });
  if (!response.ok || !response.body) {
    await response.body?.cancel();
    const what = response.status === 404
      ? "it does not exist there (404)"
      : `the server answered ${response.status}`;
    throw fail(what);
  }
  const expected = source.sha256 ?? response.serverSha256;
  await Deno.mkdir(dirname(path), { recursive: true });
  // A name of its own, so two processes downloading at once never share one.
  const part = `${path}.${crypto.randomUUID().slice(0, 8)}.part`;
  const total = Number(response.headers.get("content-length")) || undefined;
  const hash = createHash("sha256");
  const head = new Uint8Array(4);
  let bytes = 0;
  try {
    const file = await Deno.open(part, { write: true, createNew: true });
    const writer = file.writable.getWriter();
    try {
      for await (const chunk of response.body) {
        if (bytes < 4) {
          head.set(chunk.subarray(0, 4 - bytes), bytes);
          // An error page served as 200 is refused before it is all written.
          if (bytes + chunk.length >= 4 && new TextDecoder().decode(head) !== "GGUF") {
            throw fail("what it sent is not a GGUF file");
          }
        }
        hash.update(chunk);
        await writer.write(chunk);
        bytes += chunk.length;
        options.onProgress?.(bytes, total);
      }
      await writer.close();
    } catch (error) {
      await writer.abort().catch(() => {});
      throw error;
    }
    if (total !== undefined && bytes !== total) {
      throw fail(`the download stopped at ${bytes} of ${total} bytes`);
    }
    if (bytes < 4) throw fail("what it sent is not a GGUF file");
    const actual = hash.digest("hex");
    if (expected && actual !== expected) {
      throw fail(`its sha256 ${actual} is not the expected ${expected} (the file was not kept)`);
    }
    await Deno.rename(part, path);
  } catch (error) {
    await Deno.remove(part).catch(() => {});
    if (error instanceof DialogueError || options.signal?.aborted) throw error;
    throw fail(`the download failed (${_firstLine(error)})`, error);
  }
}

/**
 * GET `url`, following redirects by hand: Hugging Face names an LFS file's
 * sha256 in the `x-linked-etag` of its redirect to the CDN, which a followed
 * fetch would hide. The token goes to the first host only.
 */
async function _follow(
  url: string,
  token: string | undefined,
  options: ResolveModelOptions,
): Promise<Response & { serverSha256?: string }> {
  const doFetch = options.fetch ?? fetch;
  let sha: string | undefined;
  let current = new URL(url);
  const origin = current.origin;
  for (let hop = 0; hop < 10; hop++) {
    const response = await doFetch(current, {
      redirect: "manual",
      ...(options.signal ? { signal: options.signal } : {}),
      ...(token && current.origin === origin
        ? { headers: { authorization: `Bearer ${token}` } }
        : {}),
    });
    sha ??= _sha256Header(response.headers);
    const location = response.headers.get("location");
    if (response.status >= 300 && response.status < 400 && location) {
      await response.body?.cancel();
      current = new URL(location, current);
      continue;
    }
    return Object.assign(response, sha ? { serverSha256: sha } : {});
  }
  throw new Error("too many redirects");
}

function _sha256Header(headers: Headers): string | undefined {
  for (const name of ["x-linked-etag", "etag"]) {
    const match = headers.get(name)?.match(/^(?:W\/)?"?([0-9a-fA-F]{64})"?$/);
    if (match) return match[1]!.toLowerCase();
  }
  return undefined;
}

function _firstLine(error: unknown): string {
  return String((error as Error)?.message ?? error).split("\n")[0]!.slice(0, 300);
}
