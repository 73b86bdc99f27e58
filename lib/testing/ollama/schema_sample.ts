/**
 * JSON values that conform to a JSON schema (and valid JSON that breaks one):
 * what the Ollama test double answers when a request carries a `format`
 * (structured output). Seeded through {@linkcode Prose}, so deterministic.
 *
 * @module
 */
import { hashSeed, Prose } from "./prose.ts";

/** How {@linkcode sampleSchema} fills in strings. */
export interface SampleOptions {
  /** Source of randomness and words. */
  prose: Prose;
  /**
   * Approximate length in words of a field named `message`; other string
   * fields get about half.
   *
   * @default {12}
   */
  messageWords?: number;
}

type _Schema = Record<string, unknown>;

/**
 * A value that conforms to `schema`: every property (required and optional),
 * strings within their length limits, numbers within their bounds, one enum
 * member, arrays of `minItems` up to two items, the first `anyOf`/`oneOf`
 * branch, and local `$ref`s resolved. `pattern` is not honoured.
 *
 * @example Sample a small object schema
 * ```ts
 * import { Prose } from "./prose.ts";
 * const value = sampleSchema(
 *   { type: "object", properties: { message: { type: "string" } }, required: ["message"] },
 *   { prose: new Prose(1) },
 * );
 * ```
 */
export function sampleSchema(schema: unknown, options: SampleOptions): unknown {
  const sampler = new _Sampler(schema, options);
  return sampler.value(schema, "", 0);
}

/**
 * Valid JSON that breaks `schema`: the sample minus its first required
 * property, or the sample wrapped in an array when nothing is required.
 */
export function violateSchema(
  schema: unknown,
  options: SampleOptions,
): unknown {
  const sampler = new _Sampler(schema, options);
  const root = sampler.resolve(schema, 0);
  const value = sampler.value(root, "", 0);
  const required = Array.isArray(root.required) ? root.required : [];
  if (_isRecord(value) && typeof required[0] === "string") {
    delete value[required[0]];
    return value;
  }
  return [value];
}

function _isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function _number(schema: _Schema, key: string): number | undefined {
  const value = schema[key];
  return typeof value === "number" ? value : undefined;
}

const _MAX_DEPTH = 12;

class _Sampler {
  #root: unknown;
  #prose: Prose;
  #messageWords: number;

  constructor(root: unknown, options: SampleOptions) {
    this.#root = root;
    this.#prose = options.prose;
    this.#messageWords = options.messageWords ?? 12;
  }

  /** Follows `$ref`s and merges `allOf` so the result is one plain schema. */
  resolve(schema: unknown, depth: number): _Schema {
    if (!_isRecord(schema) || depth > _MAX_DEPTH) return {};
    let current = schema;
    if (typeof current.$ref === "string") {
      const { $ref, ...rest } = current;
      current = { ...this.resolve(this.#pointer($ref), depth + 1), ...rest };
    }
    if (Array.isArray(current.allOf)) {
      const { allOf, ...rest } = current;
      let merged: _Schema = {};
      for (const part of allOf) {
        const resolved = this.resolve(part, depth + 1);
        merged = {
          ...merged,
          ...resolved,
          properties: {
            ..._asRecord(merged.properties),
            ..._asRecord(resolved.properties),
          },
          required: [
            ..._asArray(merged.required),
            ..._asArray(resolved.required),
          ],
        };
      }
      current = { ...merged, ...rest };
    }
    return current;
  }

  value(input: unknown, key: string, depth: number): unknown {
    const schema = this.resolve(input, depth);
    if ("const" in schema) return schema.const;
    if (Array.isArray(schema.enum) && schema.enum.length > 0) {
      return this.#prose.pick(schema.enum);
    }
    const branches = schema.anyOf ?? schema.oneOf;
    if (Array.isArray(branches) && branches.length > 0) {
      return this.value(branches[0], key, depth + 1);
    }
    switch (this.#type(schema)) {
      case "object":
        return this.#object(schema, depth);
      case "array":
        return this.#array(schema, key, depth);
      case "integer":
        return this.#integer(schema);
      case "number":
        return this.#float(schema);
      case "boolean":
        return this.#prose.random() < 0.5;
      case "null":
        return null;
      default:
        return this.#string(schema, key, depth);
    }
  }

  #pointer(ref: string): unknown {
    if (!ref.startsWith("#")) return {};
    let node: unknown = this.#root;
    for (const raw of ref.slice(1).split("/").filter((part) => part !== "")) {
      const part = decodeURIComponent(raw).replaceAll("~1", "/")
        .replaceAll("~0", "~");
      node = _isRecord(node) ? node[part] : undefined;
    }
    return node ?? {};
  }

  #type(schema: _Schema): string {
    const type = schema.type;
    if (typeof type === "string") return type;
    if (Array.isArray(type)) {
      return type.find((t) => t !== "null") ?? type[0] ?? "string";
    }
    if (_isRecord(schema.properties)) return "object";
    if ("items" in schema || "prefixItems" in schema) return "array";
    if ("minimum" in schema || "maximum" in schema) return "number";
    return "string";
  }

  #object(schema: _Schema, depth: number): Record<string, unknown> {
    const result: Record<string, unknown> = {};
    const properties = _asRecord(schema.properties);
    for (const [name, property] of Object.entries(properties)) {
      result[name] = this.value(property, name, depth + 1);
    }
    for (const name of _asArray(schema.required)) {
      if (typeof name === "string" && !(name in result)) {
        result[name] = this.value({}, name, depth + 1);
      }
    }
    return result;
  }

  #array(schema: _Schema, key: string, depth: number): unknown[] {
    const min = _number(schema, "minItems") ?? 0;
    const max = _number(schema, "maxItems") ?? Infinity;
    const upper = depth > _MAX_DEPTH ? min : Math.min(max, Math.max(min, 2));
    const count = this.#prose.int(min, Math.max(min, upper));
    const prefix = _asArray(schema.prefixItems);
    const items: unknown[] = [];
    for (let i = 0; i < count; i++) {
      const itemSchema = i < prefix.length ? prefix[i] : schema.items;
      items.push(this.value(itemSchema ?? {}, key, depth + 1));
    }
    return items;
  }

  #integer(schema: _Schema): number {
    const exMin = _number(schema, "exclusiveMinimum");
    const exMax = _number(schema, "exclusiveMaximum");
    let low = _number(schema, "minimum") ??
      (exMin === undefined ? undefined : Math.floor(exMin) + 1);
    let high = _number(schema, "maximum") ??
      (exMax === undefined ? undefined : Math.ceil(exMax) - 1);
    low = low === undefined ? (high === undefined ? 0 : high - 100) : low;
    high = high ?? low + 100;
    const step = _number(schema, "multipleOf") ?? 1;
    const first = Math.ceil(Math.ceil(low) / step) * step;
    const steps = Math.max(0, Math.floor((Math.floor(high) - first) / step));
    return first + this.#prose.int(0, steps) * step;
  }

  #float(schema: _Schema): number {
    if (_number(schema, "multipleOf") !== undefined) {
      return this.#integer(schema);
    }
    const low = _number(schema, "minimum") ??
      _number(schema, "exclusiveMinimum") ?? 0;
    const high = _number(schema, "maximum") ??
      _number(schema, "exclusiveMaximum") ?? low + 100;
    const value = Math.round((low + this.#prose.random() * (high - low)) * 100) /
      100;
    return value > low && value < high ? value : (low + high) / 2;
  }

  #string(schema: _Schema, key: string, depth: number): string {
    const special = this.#formatted(schema.format);
    if (special !== undefined) return special;
    const min = _number(schema, "minLength") ?? 0;
    const max = _number(schema, "maxLength") ?? Infinity;
    let text: string;
    if (/name|character/i.test(key)) text = this.#prose.name();
    else if (key === "message") text = this.#prose.text(this.#messageWords);
    else if (depth > 1 && /s$/.test(key)) text = this.#prose.sentence();
    else text = this.#prose.text(Math.max(4, this.#messageWords / 2));
    while ([...text].length < min) text += " " + this.#prose.sentence();
    return _fit(text, min, max);
  }

  #formatted(format: unknown): string | undefined {
    const n = this.#prose.int(1, 28);
    const day = `2025-0${(n % 9) + 1}-${String(n).padStart(2, "0")}`;
    switch (format) {
      case "date-time":
        return `${day}T12:${String(n + 10).padStart(2, "0")}:00Z`;
      case "date":
        return day;
      case "time":
        return `12:${String(n + 10).padStart(2, "0")}:00Z`;
      case "email":
        return `reader${n}@example.com`;
      case "uri":
      case "url":
        return `https://example.com/page/${n}`;
      case "uuid": {
        const hex = (hashSeed(day + n).toString(16) + "0".repeat(8)).slice(
          0,
          8,
        );
        return `${hex}-0000-4000-8000-${hex}0000`;
      }
      default:
        return undefined;
    }
  }
}

/**
 * Cuts `text` to at most `max` UTF-16 units, at a word when that keeps at
 * least `min` characters, and never inside a surrogate pair.
 */
function _fit(text: string, min: number, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max + 1);
  const atWord = cut.slice(0, Math.max(0, cut.lastIndexOf(" "))).trimEnd();
  if ([...atWord].length >= Math.max(min, 1)) return atWord;
  let result = "";
  for (const char of text) {
    if (result.length + char.length > max) break;
    result += char;
  }
  return result.trimEnd();
}

function _asRecord(value: unknown): Record<string, unknown> {
  return _isRecord(value) ? value : {};
}

function _asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
