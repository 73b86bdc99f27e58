/**
 * The batch file of `deno task batch FILE` (JSON or JSONC): the matrix of an
 * experiment — agent models, backends, topics or story files, prompt
 * variants, temperatures, seeds and repeats — and its limits per run.
 * Validated with one zod schema; every problem is one line naming the field.
 *
 * @module
 */
import { z } from "zod";
import { usageError } from "../base/dialogue_error.ts";
import { readUserFile } from "../base/user_file.ts";
import { parseJsonc } from "../config/jsonc.ts";
import { joinProblems, problemLines } from "../config/config_problems.ts";
import { coerceSeconds, isPlainObject } from "../config/config_layer.ts";
import { checkTemplate, type TemplateName } from "../config/prompt_template.ts";
import { PROMPT_MAX_CHARS } from "../config/config_files.ts";
import { readScenarioFile } from "../manager/scenario_writer.ts";
import { Scenario } from "../model/story.ts";

const model = z.string().min(1).max(200);
const list = <T extends z.ZodType>(item: T) => z.array(item).min(1).max(1000);
const template = z.union([
  z.string().min(1).max(PROMPT_MAX_CHARS),
  z.strictObject({ file: z.string().min(1) }),
]);

/** One prompt variant: the templates it replaces (see `prompts.*` in the config). */
export const PromptVariant = z.strictObject({
  scenario: template.optional(),
  agent_system: template.optional(),
  first_turn: template.optional(),
});
/** One prompt variant. */
export type PromptVariant = z.infer<typeof PromptVariant>;

/** The batch file as written. */
export const BatchFile = z.strictObject({
  /** Models for both agents: each model talks with itself. */
  models: list(model).optional(),
  /** Agent 1's model of each pair (with `agent2_models`, same length). */
  agent1_models: list(model).optional(),
  agent2_models: list(model).optional(),
  /** Backends every role uses in turn (`auto`, `ollama`, `openai`, `embedded`). */
  backends: list(z.enum(["auto", "ollama", "openai", "embedded"])).optional(),
  /** Themes for the manager's story. */
  topics: list(z.string().min(1).max(2000)).optional(),
  /** Story and persona files (shape: tests/fixtures/story.json) instead of topics. */
  story_files: list(z.string().min(1)).optional(),
  /** Named prompt variants: name → templates. */
  prompts: z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,40}$/), PromptVariant).optional(),
  temperatures: list(z.number().min(0).max(2)).optional(),
  seeds: list(z.number().int().min(0).max(2 ** 31 - 1)).refine(
    (seeds) => new Set(seeds).size === seeds.length,
    "each seed once",
  ).optional(),
  /** Runs of each cell and seed. @default 1 */
  repeats: z.number().int().min(1).max(1000).default(1),
  /** Turn limit of each run (`conversation.max_turns`). */
  max_turns: z.number().int().min(1).max(10_000).optional(),
  /** Time limit of each run: seconds, or `90s`, `10m`, `1h`. */
  duration: z.preprocess(coerceSeconds, z.number().positive().max(7 * 86_400)).optional(),
  /** Runs in flight at once. @default 4 */
  max_parallel: z.number().int().min(1).max(10_000).default(4),
}).superRefine((file, ctx) => {
  const pairs = file.agent1_models !== undefined || file.agent2_models !== undefined;
  if (file.models && pairs) {
    ctx.addIssue({
      code: "custom",
      path: ["models"],
      message: "give models, or agent1_models with agent2_models, not both",
    });
  } else if (!file.models && !pairs) {
    ctx.addIssue({
      code: "custom",
      path: ["models"],
      message: "required: a list of models, or agent1_models with agent2_models",
    });
  } else if (pairs && file.agent1_models?.length !== file.agent2_models?.length) {
    ctx.addIssue({
      code: "custom",
      path: [file.agent1_models ? "agent2_models" : "agent1_models"],
      message: `pairs with the other list: expected ${
        (file.agent1_models ?? file.agent2_models)!.length
      } models, got ${(file.agent2_models ?? file.agent1_models ?? []).length}`,
    });
  }
  if (file.topics && file.story_files) {
    ctx.addIssue({
      code: "custom",
      path: ["story_files"],
      message: "give topics or story_files, not both",
    });
  }
});
/** The batch file as written. */
export type BatchFile = z.infer<typeof BatchFile>;

/** A prompt variant with its templates read (files resolved to text). */
export type ResolvedPrompts = Partial<Record<TemplateName, string>>;

/**
 * The batch as it runs and is stored with the batch: the file validated,
 * story files read into scenarios and prompt files into text, so that
 * `--resume` needs no file.
 */
export const BatchSpec = z.object({
  agent1_models: z.array(z.string()),
  agent2_models: z.array(z.string()),
  backends: z.array(z.string()).nullable(),
  topics: z.array(z.string()).nullable(),
  stories: z.array(z.object({ file: z.string(), scenario: Scenario })).nullable(),
  prompts: z.record(z.string(), z.record(z.string(), z.string())).nullable(),
  temperatures: z.array(z.number()).nullable(),
  seeds: z.array(z.number().int()).nullable(),
  repeats: z.number().int().min(1),
  max_turns: z.number().int().nullable(),
  duration_seconds: z.number().nullable(),
  max_parallel: z.number().int().min(1),
});
/** The batch as it runs. */
export type BatchSpec = z.infer<typeof BatchSpec>;

/**
 * Validates a parsed batch file; one line per problem.
 *
 * @throws {DialogueError} `usage`, every problem at once, each naming its field.
 *
 * @example The smallest file
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { parseBatchFile } from "./batch_file.ts";
 * const file = parseBatchFile({ models: ["a", "b"], topics: ["x", "y"], seeds: [1, 2] });
 * strictEqual(file.max_parallel, 4);
 * ```
 */
export function parseBatchFile(value: unknown): BatchFile {
  if (!isPlainObject(value)) throw usageError("A batch file must hold a JSON object");
  const result = BatchFile.safeParse(value);
  if (result.success) return result.data;
  const lines = problemLines(BatchFile, value, result.error.issues).map((line) =>
    line.replace("configuration field", "batch file field")
  );
  throw usageError(joinProblems(lines));
}

/**
 * Reads, validates and resolves a batch file: its story files and prompt
 * files are read (each through the capped user-file reader) and every
 * template's placeholders checked.
 *
 * @throws {DialogueError} `usage`: the file unreadable or not JSON, or one
 * line per invalid field, story or prompt file.
 */
export async function readBatchFile(path: string): Promise<BatchSpec> {
  const text = await readUserFile(path, { what: "batch file", source: "deno task batch FILE" });
  let value: unknown;
  try {
    value = parseJsonc(text);
  } catch (error) {
    throw usageError(
      `Cannot parse batch file ${path} as JSON: ${(error as Error).message.split("\n")[0]}`,
    );
  }
  return await resolveBatchFile(parseBatchFile(value));
}

/**
 * The spec of a valid batch file, with story and prompt files read.
 *
 * @throws {DialogueError} `usage`, one line per unreadable or invalid file or template.
 */
export async function resolveBatchFile(file: BatchFile): Promise<BatchSpec> {
  const problems: string[] = [];
  const stories: { file: string; scenario: Scenario }[] = [];
  for (const story of file.story_files ?? []) {
    try {
      stories.push({ file: story, scenario: await readScenarioFile(story) });
    } catch (error) {
      problems.push(`story_files: ${(error as Error).message}`);
    }
  }
  const prompts: Record<string, ResolvedPrompts> = {};
  for (const [name, variant] of Object.entries(file.prompts ?? {})) {
    const resolved: ResolvedPrompts = {};
    for (const key of ["scenario", "agent_system", "first_turn"] as const) {
      const source = variant[key];
      if (source === undefined) continue;
      try {
        const text = typeof source === "string" ? source : await readUserFile(source.file, {
          what: `prompt file`,
          source: `prompts.${name}.${key}.file`,
        });
        checkTemplate(key, text);
        resolved[key] = text;
      } catch (error) {
        problems.push(`prompts.${name}.${key}: ${(error as Error).message}`);
      }
    }
    prompts[name] = resolved;
  }
  if (problems.length > 0) throw usageError(joinProblems(problems));
  return {
    agent1_models: file.agent1_models ?? file.models!,
    agent2_models: file.agent2_models ?? file.models!,
    backends: file.backends ?? null,
    topics: file.topics ?? null,
    stories: file.story_files ? stories : null,
    prompts: file.prompts ? prompts : null,
    temperatures: file.temperatures ?? null,
    seeds: file.seeds ?? null,
    repeats: file.repeats,
    max_turns: file.max_turns ?? null,
    duration_seconds: file.duration ?? null,
    max_parallel: file.max_parallel,
  };
}
