/**
 * Configuration problems as the user reads them: one line per invalid
 * field, naming it, its value (unless secret) and the expected form, every
 * problem of the merged layers at once.
 *
 * @module
 */
import type { z } from "zod";
import { type ConfigLayer, isPlainObject } from "./config_layer.ts";

/** Most problem lines shown; the rest are counted. */
const MAX_LINES = 20;

/** One line per schema issue of `layer`, in the schema's order. */
export function problemLines(
  schema: z.ZodType,
  layer: ConfigLayer,
  issues: readonly z.core.$ZodIssue[],
): string[] {
  return issues.map((issue) => _issueLine(schema, layer, issue));
}

/** Problems one a line, each once, at most 20 of them. */
export function joinProblems(lines: string[]): string {
  const unique = [...new Set(lines)];
  const shown = unique.slice(0, MAX_LINES);
  if (unique.length > shown.length) shown.push(`… and ${unique.length - shown.length} more`);
  return shown.join("\n");
}

function _issueLine(schema: z.ZodType, layer: ConfigLayer, issue: z.core.$ZodIssue): string {
  const field = issue.path.join(".") || "(root)";
  if (issue.code === "unrecognized_keys") {
    const names = issue.keys.map((k) => JSON.stringify(k)).join(", ");
    const where = field === "(root)" ? "at the top level" : `in ${field}`;
    const known = _knownKeys(schema, issue.path);
    return `Unknown configuration field ${names} ${where}: expected one of ${known.join(", ")}`;
  }
  const value = _valueAt(layer, issue.path);
  const shown = value === undefined || _isSecretPath(issue.path) || isPlainObject(value)
    ? ""
    : `: got ${JSON.stringify(value)}`;
  return `Invalid configuration field ${field}${shown} (${issue.message})`;
}

/** Fields whose values are never echoed in messages. */
function _isSecretPath(path: PropertyKey[]): boolean {
  return path.some((p) => p === "password" || p === "url" || p === "headers" || p === "host");
}

function _valueAt(layer: unknown, path: PropertyKey[]): unknown {
  let cur = layer;
  for (const key of path) {
    if (!isPlainObject(cur)) return undefined;
    cur = cur[key as string];
  }
  return cur;
}

/** Field names the schema allows at `path` (for "did you mean" help). */
function _knownKeys(root: z.ZodType, path: PropertyKey[]): string[] {
  // deno-lint-ignore no-explicit-any
  let schema: any = root;
  const unwrap = () => {
    while (schema && !schema.shape && schema._zod?.def?.innerType) {
      schema = schema._zod.def.innerType;
    }
  };
  unwrap();
  for (const key of path) {
    schema = schema?.shape?.[key as string];
    unwrap();
  }
  return Object.keys(schema?.shape ?? {});
}
