/**
 * What `deno task analyze` does once its flags are parsed: report on one
 * run (text, JSON, Markdown or HTML, with optional embedding-based drift and
 * a persona judge), compare several runs, or export transcripts as dataset
 * lines. It only reads from Redis.
 *
 * @module
 */
import { join, resolve } from "node:path";
import type { Redis } from "ioredis";
import type { Config } from "../config/config.ts";
import type { ConversationMeta, ConversationStatus } from "../model/conversation_meta.ts";
import type { Flag } from "./analysis_flags.ts";
import type { ConversationStore } from "../bus/conversation_store.ts";
import { DialogueError, ErrorCode, usageError } from "../base/dialogue_error.ts";
import { analyzeRun, type RunAnalysis, storyText, type Transcript } from "./run_analysis.ts";
import { formatAnalysisMarkdown, formatAnalysisText } from "./report/analysis_report.ts";
import { formatAnalysisHtml } from "./report/html_report.ts";
import { compareRuns, formatComparisonMarkdown, formatComparisonText } from "./run_comparison.ts";
import { type ExportFormat, exportTranscript } from "./transcript_export.ts";
import { dataHome } from "../base/data_home.ts";
import { datasetFilter } from "./dataset_filter.ts";
import { modelPasses } from "./model_passes.ts";
import { runSettings } from "./run_settings.ts";
import { compareBatch } from "./batch_comparison.ts";
import { formatBatchMarkdown, formatBatchText } from "./report/batch_report.ts";
import { formatBatchHtml } from "./report/batch_report_html.ts";
import { readBatchTranscripts } from "../batch/batch_runs.ts";
import { batchProvenance } from "../batch/batch_provenance.ts";

/** Parsed `analyze` flags. */
export interface AnalyzeCommandOptions {
  /** Conversation ids given as arguments. */
  ids: string[];
  format: "text" | "json" | "markdown" | "html";
  /** Write the report here instead of stdout. */
  out?: string | undefined;
  /** One table across the runs in `ids`. */
  compare?: boolean;
  /** Every run (newest first), or those created within `sinceMs`. */
  all?: boolean;
  sinceMs?: number | undefined;
  /** Most runs `all` takes. @default {100} */
  limit?: number;
  export?: ExportFormat | undefined;
  /** `--batch ID`: the batch's comparison, or with `--export` its runs as a dataset. */
  batch?: string | undefined;
  /** The client `--batch` reads the batch record with (the store's own). */
  redis?: Redis | undefined;
  /**
   * `--export`: keep only runs with one of these statuses. Unset: `completed`
   * with `--all`, any status for runs named by id.
   */
  statuses?: ConversationStatus[] | undefined;
  /**
   * `--export`: leave out runs with any of these flags (a run the loop
   * detector stopped counts as `loop`). Unset: `loop` with `--all`, none for
   * runs named by id.
   */
  excludeFlags?: Flag["code"][] | undefined;
  /** Ollama embedding model for topic drift. */
  embedModel?: string | undefined;
  /** Judge model for persona consistency. */
  judgeModel?: string | undefined;
  /** ANSI colours in the text report. @default {false} */
  color?: boolean;
  signal?: AbortSignal;
  /** For tests. @default {Date.now()} */
  now?: number;
  /** Environment lookup, for the default reports folder. @default Deno.env.get */
  env?: (name: string) => string | undefined;
}

/** What to print: the report itself, or the path of the file it went to. */
export interface AnalyzeOutput {
  text: string;
  /** Set when a file was written. */
  file?: string;
  /** A line for stderr: how many runs `--export` left out and why. */
  notice?: string;
}

/**
 * Runs the analyze command.
 *
 * @throws {DialogueError} `usage` for flags that do not go together,
 * `not_found` for an unknown id or an empty Redis, and the model errors of
 * the embedding and judge passes.
 */
export async function runAnalyzeCommand(
  store: ConversationStore,
  config: Config,
  options: AnalyzeCommandOptions,
): Promise<AnalyzeOutput> {
  _validate(options);
  if (options.batch !== undefined) return await _batch(options.batch, config, options);
  if (options.export) {
    const all = await _transcripts(store, await _selectIds(store, options));
    const { kept, notice } = datasetFilter(all, options);
    const lines = kept.flatMap((t) => exportTranscript(t, options.export!));
    const output = await _emit(lines.length === 0 ? "" : lines.join("\n") + "\n", options.out);
    return notice ? { ...output, notice } : output;
  }
  if (options.compare || options.all) {
    const ids = await _selectIds(store, options);
    const analyses = (await _transcripts(store, ids)).map((t) => analyzeRun(t));
    const comparison = compareRuns(analyses);
    const text = options.format === "json"
      ? JSON.stringify(comparison, null, 2) + "\n"
      : options.format === "markdown"
      ? formatComparisonMarkdown(comparison)
      : formatComparisonText(comparison);
    return await _emit(text, options.out);
  }
  const [id] = await _selectIds(store, options);
  const t = await store.transcript(id!);
  const analysis = await _analyze(t, config, options);
  switch (options.format) {
    case "json":
      return await _emit(JSON.stringify(analysis, null, 2) + "\n", options.out);
    case "markdown":
      return await _emit(formatAnalysisMarkdown(analysis), options.out);
    case "html": {
      const page = formatAnalysisHtml(analysis, t);
      if (options.out !== undefined) return await _emit(page, options.out);
      const dir = reportsDir(config, options.env ?? ((name) => Deno.env.get(name)));
      try {
        await Deno.mkdir(dir, { recursive: true });
      } catch (error) {
        throw usageError(
          `Cannot create the reports folder ${dir}: ${
            (error as Error).message
          } (set reports.dir in the config, or give --out)`,
        );
      }
      return await _emit(page, join(dir, htmlFileName(t.meta.id)));
    }
    default:
      return await _emit(
        formatAnalysisText(analysis, { color: options.color ?? false }),
        options.out,
      );
  }
}

/**
 * Where `--html` writes when `--out` is not given: config `reports.dir`, else
 * `reports` in the local store's data folder (`$DIALOGUE_HOME`, else
 * `$XDG_DATA_HOME/dialogue-llm`, else `~/.local/share/dialogue-llm`) — the
 * user's own folder, so reports never land as untracked files in whatever
 * folder (often the repository) the command was run from.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { parseConfig } from "../config/config.ts";
 * import { reportsDir } from "./analyze_command.ts";
 * const env = (name: string) => name === "DIALOGUE_HOME" ? "/data/d" : undefined;
 * strictEqual(reportsDir(parseConfig({}), env), "/data/d/reports");
 * strictEqual(reportsDir(parseConfig({ reports: { dir: "/r" } }), env), "/r");
 * ```
 */
export function reportsDir(config: Config, env: (name: string) => string | undefined): string {
  return resolve(config.reports.dir ?? join(dataHome(env), "reports"));
}

/**
 * The default `--html` file name for a run, `dialogue-<id>.html`, with any
 * character unsafe in a file name replaced by `_`.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { htmlFileName } from "./analyze_command.ts";
 * strictEqual(htmlFileName("20261125-233528-c16485bd"), "dialogue-20261125-233528-c16485bd.html");
 * ```
 */
export function htmlFileName(id: string): string {
  return `dialogue-${id.replace(/[^A-Za-z0-9._-]/g, "_")}.html`;
}

/** `--batch ID`: the comparison (text, JSON, Markdown, HTML), or `--export` of its runs. */
async function _batch(
  batchId: string,
  config: Config,
  o: AnalyzeCommandOptions,
): Promise<AnalyzeOutput> {
  if (!o.redis) throw new TypeError("Cannot read a batch as no Redis client was given: pass redis");
  const { runs } = await readBatchTranscripts(o.redis, batchId);
  if (o.export) {
    const byId = new Map(runs.map(({ run, transcript }) => [transcript.meta.id, run]));
    // A batch is a dataset like --all: the same defaults (completed, no loop).
    const { kept, notice } = datasetFilter(runs.map((r) => r.transcript), { ...o, all: true });
    const lines = kept.flatMap((t) =>
      exportTranscript(t, o.export!, {
        provenance: {
          batch: batchProvenance(batchId, byId.get(t.meta.id)!),
          settings: runSettings(t.meta),
        },
      })
    );
    const output = await _emit(lines.length === 0 ? "" : lines.join("\n") + "\n", o.out);
    return notice ? { ...output, notice } : output;
  }
  const comparison = compareBatch(
    batchId,
    runs.map(({ run, transcript }) => ({ run, analysis: analyzeRun(transcript) })),
  );
  switch (o.format) {
    case "json":
      return await _emit(JSON.stringify(comparison, null, 2) + "\n", o.out);
    case "markdown":
      return await _emit(formatBatchMarkdown(comparison), o.out);
    case "html": {
      const page = formatBatchHtml(comparison);
      if (o.out !== undefined) return await _emit(page, o.out);
      const dir = reportsDir(config, o.env ?? ((name) => Deno.env.get(name)));
      await Deno.mkdir(dir, { recursive: true }).catch((error) => {
        throw usageError(
          `Cannot create the reports folder ${dir}: ${
            (error as Error).message
          } (set reports.dir in the config, or give --out)`,
        );
      });
      return await _emit(page, join(dir, htmlFileName(`batch-${batchId}`)));
    }
    default:
      return await _emit(formatBatchText(comparison), o.out);
  }
}

function _validate(o: AnalyzeCommandOptions): void {
  if (o.batch !== undefined && (o.ids.length > 0 || o.compare || o.all)) {
    throw usageError("--batch chooses the runs itself: drop the ids, --compare and --all");
  }
  if (o.batch !== undefined && (o.embedModel || o.judgeModel)) {
    throw usageError("--embed-model and --judge-model apply to one run's report, not to --batch");
  }
  if ((o.statuses !== undefined || o.excludeFlags !== undefined) && !o.export) {
    throw usageError("--status and --exclude-flag choose the runs of --export: add --export");
  }
  const modes = [o.compare && "--compare", o.export && "--export"].filter(Boolean);
  if (modes.length > 1) throw usageError("Choose one of --compare and --export");
  if (o.compare && !o.all && o.ids.length < 2) {
    throw usageError(
      `--compare needs at least two conversation ids (or --all), got ${o.ids.length}`,
    );
  }
  if (o.all && o.ids.length > 0) throw usageError("Give conversation ids or --all, not both");
  if (o.sinceMs !== undefined && !o.all) throw usageError("--since goes with --all");
  if (!o.compare && !o.all && !o.export && o.ids.length > 1) {
    throw usageError(
      `Expected at most one conversation id, got ${o.ids.length}: use --compare to compare runs (see 'deno task analyze --help')`,
    );
  }
  const several = o.compare || (o.all && !o.export);
  if (several && o.format === "html") {
    throw usageError("--html reports on one run; drop --compare/--all");
  }
  if (o.export && o.format !== "text") {
    throw usageError("--export writes its own format; drop --json/--markdown/--html");
  }
  if ((o.embedModel || o.judgeModel) && (several || o.export)) {
    throw usageError(
      "--embed-model and --judge-model apply to one run's report, not to --compare, --all or --export",
    );
  }
}

async function _selectIds(store: ConversationStore, o: AnalyzeCommandOptions): Promise<string[]> {
  if (o.all) {
    const since = o.sinceMs === undefined ? -Infinity : (o.now ?? Date.now()) - o.sinceMs;
    const metas: ConversationMeta[] = [];
    for (const id of await store.ids(o.limit ?? 100)) {
      // Reading only: an index entry whose metadata expired is skipped, not removed.
      const meta = await store.get(id).catch(() => undefined);
      if (meta && meta.created_at >= since) metas.push(meta);
    }
    if (metas.length === 0) {
      throw new DialogueError(
        ErrorCode.NotFound,
        o.sinceMs === undefined
          ? "No conversations in Redis yet: start one with 'deno task chat' (or check --redis-url)"
          : "No conversations were created within --since: widen it or drop it",
      );
    }
    return metas.map((m) => m.id);
  }
  if (o.ids.length > 0) return o.ids;
  const latest = await store.latest();
  if (!latest) {
    throw new DialogueError(
      ErrorCode.NotFound,
      "No conversations in Redis yet: start one with 'deno task chat' (or check --redis-url)",
    );
  }
  return [latest];
}

async function _transcripts(store: ConversationStore, ids: string[]): Promise<Transcript[]> {
  const out: Transcript[] = [];
  for (const id of ids) out.push(await store.transcript(id));
  return out;
}

async function _analyze(
  t: Transcript,
  config: Config,
  o: AnalyzeCommandOptions,
): Promise<RunAnalysis> {
  const extras = await modelPasses(t.responses, config, {
    embedModel: o.embedModel,
    judgeModel: o.judgeModel,
    story: storyText(t.meta),
    personas: t.meta.scenario?.personas,
    scenario: t.meta.scenario,
    signal: o.signal,
  });
  return analyzeRun(t, extras);
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
