/**
 * Where an OpenAI-compatible server lives, from the base URL a user gives.
 *
 * @module
 */
import { redactUrl } from "../../config/redaction.ts";

/**
 * `baseUrl` without trailing slashes and without a last `/v1` segment, so
 * `http://h:8000`, `http://h:8000/` and `http://h:8000/v1/` are one server.
 * The root is kept rather than the `/v1` URL because llama.cpp and vLLM
 * serve `/tokenize` beside `/v1`, not under it; a path prefix before `/v1`
 * (a proxy's `/openai/v1`) is kept.
 *
 * @throws {TypeError} When `baseUrl` is not an http(s) URL, or has a query
 * or fragment (they would be lost between endpoints).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { serverRoot } from "./server_root.ts";
 *
 * strictEqual(serverRoot("http://127.0.0.1:8000/v1/"), "http://127.0.0.1:8000");
 * strictEqual(serverRoot("https://proxy.example/openai/v1"), "https://proxy.example/openai");
 * ```
 */
export function serverRoot(baseUrl: string): string {
  let url: URL;
  try {
    url = new URL(baseUrl.trim());
  } catch {
    throw new TypeError(
      `Cannot use '${redactUrl(baseUrl)}' as the OpenAI base URL as it is not a URL: ` +
        "give e.g. http://127.0.0.1:8000/v1",
    );
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.search || url.hash) {
    throw new TypeError(
      `Cannot use '${redactUrl(baseUrl)}' as the OpenAI base URL as it is not http(s) ` +
        "without a query or fragment: give e.g. http://127.0.0.1:8000/v1",
    );
  }
  url.pathname = url.pathname.replace(/\/+$/, "").replace(/\/v1$/, "") || "/";
  return url.href.replace(/\/+$/, "");
}
