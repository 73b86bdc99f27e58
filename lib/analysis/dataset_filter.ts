/**
 * Which runs go into a dataset (`analyze --export`): by status and by flag,
 * with defaults fit for training data when exporting `--all` (completed runs
 * that did not loop), and a line saying what was left out and why.
 *
 * @module
 */
import type { ConversationStatus } from "../model/conversation_meta.ts";
import type { Flag } from "./analysis_flags.ts";
import { analyzeRun, type Transcript } from "./run_analysis.ts";

/** `--export --all` keeps these statuses unless `--status` says otherwise. */
export const DEFAULT_EXPORT_STATUSES: readonly ConversationStatus[] = ["completed"];
/** `--export --all` leaves out runs with these flags unless `--exclude-flag` says otherwise. */
export const DEFAULT_EXPORT_EXCLUDED_FLAGS: readonly Flag["code"][] = ["loop"];

/** What a dataset export asked for. */
export interface DatasetChoice {
  /** Every recent run (`--all`): the defaults apply. */
  all?: boolean;
  /** `--status`: keep only these. */
  statuses?: readonly ConversationStatus[] | undefined;
  /** `--exclude-flag`: leave out runs with these flags. */
  excludeFlags?: readonly Flag["code"][] | undefined;
}

/** The runs a dataset keeps, and a line saying how many were left out and why. */
export function datasetFilter(
  transcripts: Transcript[],
  o: DatasetChoice,
): { kept: Transcript[]; notice?: string } {
  const statuses = o.statuses ?? (o.all ? DEFAULT_EXPORT_STATUSES : undefined);
  const excluded = o.excludeFlags ?? (o.all ? DEFAULT_EXPORT_EXCLUDED_FLAGS : []);
  const kept: Transcript[] = [];
  const byStatus = new Map<string, number>();
  const byFlag = new Map<string, number>();
  const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  for (const t of transcripts) {
    if (statuses && !statuses.includes(t.meta.status)) {
      bump(byStatus, t.meta.status);
      continue;
    }
    if (excluded.length > 0) {
      const codes = new Set<string>(analyzeRun(t).flags.map((f) => f.code));
      if (t.meta.stop_reason === "loop") codes.add("loop");
      const hit = excluded.find((code) => codes.has(code));
      if (hit) {
        bump(byFlag, hit);
        continue;
      }
    }
    kept.push(t);
  }
  const left = transcripts.length - kept.length;
  if (left === 0) return { kept };
  const parts = [
    ...[...byStatus].map(([status, n]) => `${n} ${status}`),
    ...[...byFlag].map(([code, n]) => `${n} flagged ${code}`),
  ];
  const settings = [
    ...(byStatus.size > 0 ? [`--status ${statuses!.join(",")}`] : []),
    ...(byFlag.size > 0 ? [`--exclude-flag ${excluded.join(",")}`] : []),
  ];
  return {
    kept,
    notice: `Exported ${kept.length} of ${transcripts.length} run(s); left out ${left}: ${
      parts.join(", ")
    } (${settings.join(", ")}; '--status any' and '--exclude-flag none' keep every run)`,
  };
}
