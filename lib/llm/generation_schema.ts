/**
 * The JSON schema sent to a model for structured output, derived from the
 * schema that validates the reply. The two differ on purpose: llama.cpp (which
 * Ollama and the embedded backend both use) turns a JSON schema into a
 * grammar whose string and array bounds become literal rule repetitions, and
 * it refuses a grammar once those repetitions pass its limits (a bound over
 * 2,000, or the repeated rules times the repetition over 2,000). Our
 * validation bounds run into the thousands; the grammar gets modest ones and
 * zod keeps the generous limits.
 *
 * @module
 */

/** Options of {@linkcode generationSchema}. */
export interface GenerationSchemaOptions {
  /**
   * Longest string the grammar allows (a smaller `maxLength` is kept). One
   * bound for every string also keeps the grammar small: llama.cpp shares a
   * string rule between fields with the same bounds.
   * @default {@linkcode DEFAULT_STRING_BOUND}
   */
  maxStringLength?: number;
  /** Most items of an array (a smaller `maxItems` is kept). @default {@linkcode DEFAULT_ITEMS_BOUND} */
  maxItems?: number;
}

/**
 * Default string bound of the grammar: room for the "few sentences" our
 * prompts ask of a field or a reply, far below where llama.cpp refuses a
 * grammar. Measured with node-llama-cpp 3.21 (tests/llm/embedded/
 * generation_schema_test.ts): the scenario schema compiles with bounds up to
 * 1,999 and fails with its own (4,000); the tiny test model gave a valid
 * scenario first try 10 times of 10 both at 80 and at 400 (it closes its
 * strings long before either), while 80 would cut a real model's reply of
 * four sentences mid-word.
 */
export const DEFAULT_STRING_BOUND = 400;

/** Default array bound of the grammar. */
export const DEFAULT_ITEMS_BOUND = 4;

/** String formats llama.cpp's JSON-schema grammars (node-llama-cpp's) can express. */
const GRAMMAR_FORMATS = new Set(["date", "time", "date-time"]);

/** Keywords that describe validation only and that a grammar cannot take. */
const DROPPED = new Set([
  "$schema",
  "$id",
  "pattern",
  "patternProperties",
  "propertyNames",
  "minimum",
  "maximum",
  "exclusiveMinimum",
  "exclusiveMaximum",
  "multipleOf",
  "uniqueItems",
  "contains",
  "default",
  "examples",
]);

/**
 * The grammar-sized copy of `jsonSchema` (pure: the input is not changed).
 * Every string's `maxLength` becomes at most `maxStringLength` (and strings
 * without one get it), every array's `maxItems` at most `maxItems`, objects
 * close with `additionalProperties: false`, `anyOf` becomes `oneOf` (the form
 * node-llama-cpp compiles), a small integer range becomes the `enum` of its
 * values, and patterns, unsupported formats and other numeric ranges are
 * dropped. Minimums are kept, and a bound never goes below its
 * minimum, so whatever the grammar allows can still validate.
 *
 * @example The reply schema's 32,000-character message becomes 400 characters
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { generationSchema } from "./generation_schema.ts";
 * const sent = generationSchema({
 *   type: "object",
 *   properties: { message: { type: "string", minLength: 1, maxLength: 32000 } },
 * });
 * strictEqual((sent.properties as any).message.maxLength, 400);
 * ```
 *
 * @throws {RangeError} when a bound is not a positive integer.
 */
export function generationSchema(
  jsonSchema: Record<string, unknown>,
  options: GenerationSchemaOptions = {},
): Record<string, unknown> {
  const bounds = {
    strings: _bound(options.maxStringLength ?? DEFAULT_STRING_BOUND, "maxStringLength"),
    items: _bound(options.maxItems ?? DEFAULT_ITEMS_BOUND, "maxItems"),
  };
  return _node(jsonSchema, bounds) as Record<string, unknown>;
}

interface _Bounds {
  strings: number;
  items: number;
}

function _bound(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(
      `Cannot size a generation schema as ${name} must be a positive integer: current value is ${value}`,
    );
  }
  return value;
}

function _node(value: unknown, bounds: _Bounds): unknown {
  if (Array.isArray(value)) return value.map((item) => _node(item, bounds));
  if (!_isObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    if (DROPPED.has(key)) continue;
    if (key === "format" && !(typeof child === "string" && GRAMMAR_FORMATS.has(child))) continue;
    if (key === "enum" || key === "const") {
      out[key] = child; // literals stay as they are
    } else if (key === "properties" || key === "$defs" || key === "definitions") {
      out[key] = _isObject(child)
        ? Object.fromEntries(Object.entries(child).map(([k, v]) => [k, _node(v, bounds)]))
        : child;
    } else {
      out[key === "anyOf" ? "oneOf" : key] = _node(child, bounds);
    }
  }
  if (_hasType(out, "string") && !("enum" in out) && !("const" in out) && !("format" in out)) {
    _cap(out, "minLength", "maxLength", bounds.strings);
  }
  if (_hasType(out, "array")) _cap(out, "minItems", "maxItems", bounds.items);
  if (out.type === "integer" && !("enum" in out) && !("const" in out)) _smallRange(value, out);
  if (_hasType(out, "object") && "properties" in out) out.additionalProperties = false;
  return out;
}

/** Most integers a range may hold to be sent as an `enum` of them. */
const ENUM_RANGE_LIMIT = 32;

/**
 * An integer range a grammar cannot express (it drops `minimum`/`maximum`)
 * becomes the `enum` of its values when it is small (a 1–5 score): the model
 * can then only write what validates.
 */
function _smallRange(source: Record<string, unknown>, node: Record<string, unknown>): void {
  const min = source.minimum;
  const max = source.maximum;
  if (typeof min !== "number" || typeof max !== "number") return;
  const [lo, hi] = [Math.ceil(min), Math.floor(max)];
  if (hi < lo || hi - lo + 1 > ENUM_RANGE_LIMIT) return;
  node.enum = Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
}

/**
 * Lowers `max` to `bound` (setting it when absent), never below `min`: a
 * grammar that only allows replies the validation rejects would be worse than
 * a large one.
 */
function _cap(node: Record<string, unknown>, min: string, max: string, bound: number): void {
  const current = typeof node[max] === "number" ? node[max] as number : Infinity;
  const lower = typeof node[min] === "number" ? node[min] as number : 0;
  node[max] = Math.max(Math.min(current, bound), lower);
}

function _hasType(node: Record<string, unknown>, type: string): boolean {
  const declared = node.type;
  return declared === type || (Array.isArray(declared) && declared.includes(type));
}

function _isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
