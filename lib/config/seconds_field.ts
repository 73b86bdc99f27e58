/**
 * Config fields holding a span of time in seconds, which flags, the
 * environment and files may also write with a unit (`90s`, `10m`, `1h`).
 *
 * @module
 */
import { z } from "zod";
import { coerceSeconds } from "./config_layer.ts";

/**
 * A span of time in seconds: a number, or text with a unit as `analyze
 * --since` takes it (`90s`, `10m`, `1h`, `2d`), so flags, the environment and
 * files can all say `10m`.
 */
export function seconds(schema: z.ZodNumber) {
  return z.preprocess(coerceSeconds, schema);
}

/** The expected form, for a value that is neither a number nor a duration. */
export function secondsForm(issue: { code: string }): string | undefined {
  return issue.code === "invalid_type"
    ? "expected a number of seconds or a duration such as 90s, 10m or 1h"
    : undefined;
}
