/**
 * `deno task analyze --input FILE`: the report on transcripts read from a
 * file instead of Redis (our `--export jsonl`, ShareGPT, OpenAI-style
 * messages; see `transcript_input.ts`). One report per conversation, then,
 * for several, the comparison table. Figures the file does not carry are
 * absent: `null` in JSON, a dash elsewhere.
 *
 * @module
 */
import { join, resolve } from "node:path";
import type { Config } from "../config/config.ts";
import { usageError } from "../base/dialogue_error.ts";
import { readUserFile } from "../base/user_file.ts";
import { analyzeRun, type RunAnalysis } from "./run_analysis.ts";
import { formatAnalysisMarkdown, formatAnalysisText } from "./report/analysis_report.ts";
import { formatAnalysisHtml } from "./report/html_report.ts";
import { compareRuns, formatComparisonMarkdown, formatComparisonText } from "./run_comparison.ts";
import { type InputTranscript, readTranscripts } from "./transcript_input.ts";
import { absentGroups, withAbsentAsNull } from "./input_source.ts";
import { modelPasses } from "./model_passes.ts";
import type { AnalyzeCommandOptions, AnalyzeOutput } from "./analyze_command.ts";
import { htmlFileName, reportsDir } from "./analyze_command.ts";

/**
 * Largest file `--input` reads: 64 MiB, not the 1 MiB of other user files.
 * Transcript datasets (ShareGPT dumps, our `--export … --all`) are often
 * tens of megabytes; the file is parsed whole, so the cap bounds memory to
 * a few hundred megabytes.
 */
export const INPUT_MAX_BYTES = 64 * 1024 * 1024;

/**
 * Reports on the conversations of `path`.
 *
 * @throws {DialogueError} `usage` for a file that cannot be read or parsed,
 * or flags that do not apply to a file, and the embedding model's errors.
 */
export async function runInputCommand(
  path: string,
  config: Config,
  options: AnalyzeCommandOptions,
): Promise<AnalyzeOutput> {
  _validate(options);
  const text = await readUserFile(path, {
    what: "transcript file",
    source: "--input",
    maxBytes: INPUT_MAX_BYTES,
  });
  const inputs = readTranscripts(text, path);
  const analyses: RunAnalysis[] = [];
  for (const input of inputs) analyses.push(await _analyze(input, path, config, options));
  const many = analyses.length > 1;
  switch (options.format) {
    case "json": {
      const reports = analyses.map((a) => withAbsentAsNull(a));
      const value = many
        ? {
          schema_version: 1,
          kind: "input",
          file: path,
          conversations: reports,
          comparison: _comparisonJson(analyses),
        }
        : reports[0];
      return await _emit(JSON.stringify(value, null, 2) + "\n", options.out);
    }
    case "markdown": {
      const parts = analyses.map((a) => formatAnalysisMarkdown(a));
      if (many) parts.push(`# Comparison\n\n${formatComparisonMarkdown(compareRuns(analyses))}`);
      return await _emit(parts.join("\n"), options.out);
    }
    case "html":
      return await _html(inputs, analyses, config, options);
    default: {
      const color = options.color ?? false;
      const parts = analyses.map((a) => formatAnalysisText(a, { color }));
      if (many) parts.push(formatComparisonText(compareRuns(analyses)));
      return await _emit(parts.join("\n"), options.out);
    }
  }
}

function _validate(o: AnalyzeCommandOptions): void {
  const other = [
    o.ids.length > 0 && "conversation ids",
    o.compare && "--compare",
    o.all && "--all",
    o.export && "--export",
    o.batch !== undefined && "--batch",
    o.statuses !== undefined && "--status",
    o.excludeFlags !== undefined && "--exclude-flag",
    o.judgeModel && "--judge-model (it needs the run's stored scenario)",
  ].filter(Boolean);
  if (other.length > 0) {
    throw usageError(
      `--input reads its conversations from the file: drop ${other.join(", ")}`,
    );
  }
}

async function _analyze(
  input: InputTranscript,
  path: string,
  config: Config,
  o: AnalyzeCommandOptions,
): Promise<RunAnalysis> {
  const extras = {
    personas: input.personas,
    story: input.story,
    source: { file: path, format: input.format, index: input.index, absent: [...input.absent] },
  };
  const passes = await modelPasses(input.transcript.responses, config, {
    embedModel: o.embedModel,
    story: input.story,
    personas: input.personas,
    signal: o.signal,
  });
  return analyzeRun(input.transcript, { ...extras, ...passes });
}

/** The comparison, with each file conversation's turn limit absent. */
function _comparisonJson(analyses: RunAnalysis[]): unknown {
  const comparison = compareRuns(analyses);
  return {
    ...comparison,
    runs: comparison.runs.map((row, i) =>
      absentGroups(analyses[i]?.source).has("limits") ? { ...row, max_turns: null } : row
    ),
  };
}

async function _html(
  inputs: InputTranscript[],
  analyses: RunAnalysis[],
  config: Config,
  o: AnalyzeCommandOptions,
): Promise<AnalyzeOutput> {
  if (o.out !== undefined) {
    if (analyses.length > 1) {
      throw usageError(
        `--html --out writes one page, but the file holds ${analyses.length} conversations: drop --out to get one page each in the reports folder`,
      );
    }
    return await _emit(formatAnalysisHtml(analyses[0]!, inputs[0]!.transcript), o.out);
  }
  const dir = reportsDir(config, o.env ?? ((name) => Deno.env.get(name)));
  await Deno.mkdir(dir, { recursive: true }).catch((error) => {
    throw usageError(
      `Cannot create the reports folder ${dir}: ${
        (error as Error).message
      } (set reports.dir in the config, or give --out)`,
    );
  });
  const written: string[] = [];
  for (const [i, a] of analyses.entries()) {
    const file = join(dir, htmlFileName(a.conversation.id));
    await _emit(formatAnalysisHtml(a, inputs[i]!.transcript), file);
    written.push(resolve(file));
  }
  return {
    text: written.map((f) => `Wrote ${f}\n`).join(""),
    ...(written.length === 1 ? { file: written[0]! } : {}),
  };
}

async function _emit(text: string, out: string | undefined): Promise<AnalyzeOutput> {
  if (out === undefined) return { text };
  try {
    await Deno.writeTextFile(out, text);
  } catch (error) {
    throw usageError(`Cannot write ${out}: ${(error as Error).message} (check --out)`);
  }
  const file = resolve(out);
  return { text: `Wrote ${file}\n`, file };
}
