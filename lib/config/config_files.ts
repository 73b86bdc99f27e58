/**
 * The files a configuration comes from or names: the `--config` file
 * itself, `prompts.*.file` templates and `redis.ca_file`. Each is read
 * through {@linkcode readUserFile} (regular files only, 1 MiB at most), and
 * every problem with them is reported at once.
 *
 * @module
 */
import { usageError } from "../base/dialogue_error.ts";
import { readUserFile } from "../base/user_file.ts";
import type { Config } from "./config.ts";
import { type ConfigLayer, isPlainObject } from "./config_layer.ts";
import { parseJsonc } from "./jsonc.ts";
import { joinProblems } from "./config_problems.ts";
import { checkTemplate, type TemplateName } from "./prompt_template.ts";

/** Longest prompt template, inline or from a file, in characters. */
export const PROMPT_MAX_CHARS = 20_000;

/**
 * Reads a JSON/JSONC config file into a layer.
 *
 * @throws {DialogueError} `usage` naming the file: unreadable, not JSON, not an object.
 */
export async function readConfigFile(path: string): Promise<ConfigLayer> {
  const text = await readUserFile(path, { what: "config file", source: "--config" });
  let value: unknown;
  try {
    value = parseJsonc(text);
  } catch (error) {
    throw usageError(
      `Cannot parse config file ${path} as JSON: ${_oneLine((error as Error).message)}`,
    );
  }
  if (!isPlainObject(value)) {
    throw usageError(`Config file ${path} must hold a JSON object`);
  }
  return value;
}

/**
 * Reads the prompt files into `config` (in place) and checks every prompt's
 * placeholders and the CA file.
 *
 * @throws {DialogueError} `usage` with one line per problem, all of them at once.
 */
export async function readNamedFiles(config: Config): Promise<Config> {
  const problems: string[] = [];
  for (const key of ["scenario", "agent_system", "first_turn"] as const) {
    const source = config.prompts[key];
    if (source === undefined) continue;
    let text = source;
    if (typeof source !== "string") {
      try {
        text = await readUserFile(source.file, {
          what: `prompts.${key} file`,
          source: `prompts.${key}.file`,
        });
      } catch (error) {
        problems.push((error as Error).message);
        continue;
      }
      if (text.length > PROMPT_MAX_CHARS) {
        problems.push(
          `Cannot use prompts.${key} file ${source.file} as it holds ${text.length} characters, over the ${PROMPT_MAX_CHARS} limit of a prompt: shorten it`,
        );
        continue;
      }
      config.prompts[key] = text;
    }
    const problem = _templateProblem(key, text as string);
    if (problem) problems.push(problem);
  }
  if (config.redis.ca_file !== undefined) {
    // Checked here so that a missing CA is reported with the other problems,
    // before any connection; the Redis client reads it again when it connects.
    try {
      await readUserFile(config.redis.ca_file, { what: "CA file", source: "redis.ca_file" });
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  if (problems.length > 0) throw usageError(joinProblems(problems));
  return config;
}

function _templateProblem(key: TemplateName, text: string): string | undefined {
  try {
    checkTemplate(key, text);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/** An error message on one line (V8 quotes multi-line source in JSON errors). */
function _oneLine(message: string): string {
  return message.replace(/\s+/g, " ").trim().slice(0, 300);
}
