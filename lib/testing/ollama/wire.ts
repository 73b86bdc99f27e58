/**
 * The envelope of Ollama's HTTP API as the test double speaks it: JSON and
 * NDJSON responses, `{"error"}` bodies with their status, and request bodies
 * decoded the way Ollama's Go JSON binding reports failures.
 *
 * @module
 */

/** `Content-Type` of a whole JSON reply. */
export const JSON_TYPE = "application/json; charset=utf-8";
/** `Content-Type` of a streamed reply, one JSON object per `\n`-ended line. */
export const NDJSON_TYPE = "application/x-ndjson";

const _encoder = new TextEncoder();

/** A JSON reply. */
export function jsonResponse(value: unknown, status = 200): Response {
  return new Response(JSON.stringify(value), {
    status,
    headers: { "content-type": JSON_TYPE },
  });
}

/** An error before any output: the status and `{"error": message}`. */
export function errorResponse(status: number, message: string): Response {
  return jsonResponse({ error: message }, status);
}

/** One NDJSON line, encoded. */
export function ndjsonLine(value: unknown): Uint8Array {
  return _encoder.encode(JSON.stringify(value) + "\n");
}

/** Go type of each request field whose JS type the double checks. */
const _FIELD_TYPES: Record<string, [js: string, go: string]> = {
  model: ["string", "string"],
  name: ["string", "string"],
  stream: ["boolean", "*bool"],
  messages: ["array", "[]api.Message"],
  options: ["object", "map[string]interface {}"],
};

/**
 * Parses a request body; a 400 response with Go's wording when it is empty,
 * not JSON, not an object, or a known field has the wrong JSON type.
 *
 * @param goType Ollama's request type, e.g. `ChatRequest`, named in the errors.
 */
export function decodeRequest(
  raw: string,
  goType: string,
): Record<string, unknown> | Response {
  if (raw.trim() === "") return errorResponse(400, "missing request body");
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    return errorResponse(400, _goSyntaxError(raw, error));
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return errorResponse(
      400,
      `json: cannot unmarshal ${_goKind(value)} into Go value of type api.${goType}`,
    );
  }
  const record = value as Record<string, unknown>;
  for (const [field, [js, go]] of Object.entries(_FIELD_TYPES)) {
    const actual = record[field];
    if (actual === undefined || actual === null) continue;
    const kind = Array.isArray(actual) ? "array" : typeof actual;
    if (kind !== js) {
      return errorResponse(
        400,
        `json: cannot unmarshal ${
          _goKind(actual)
        } into Go struct field ${goType}.${field} of type ${go}`,
      );
    }
  }
  return record;
}

/** `value` when it is a plain object, else `{}`. */
export function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? value as Record<string, unknown>
    : {};
}

function _goKind(value: unknown): string {
  if (Array.isArray(value)) return "array";
  if (typeof value === "boolean") return "bool";
  return typeof value === "object" ? "object" : typeof value;
}

function _goSyntaxError(raw: string, error: unknown): string {
  const message = error instanceof Error ? error.message : "";
  if (/end of JSON input|Unterminated/i.test(message)) return "unexpected EOF";
  const position = Number(/position (\d+)/.exec(message)?.[1] ?? raw.search(/\S/));
  const char = raw[position] ?? raw.trim()[0] ?? "?";
  return `invalid character '${char}' looking for beginning of value`;
}

/**
 * The answer to `"stream": false`: the double streams only, as the product
 * always asks it to, and says so instead of answering in another shape.
 */
export function streamOnlyResponse(path: string): Response {
  return errorResponse(
    400,
    `OllamaDouble answers ${path} only as a stream: send "stream": true or leave it out`,
  );
}
