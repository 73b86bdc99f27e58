/**
 * The arithmetic of `deno task bench`: percentiles, steady-state throughput
 * and the figures' formatting.
 *
 * @module
 */

/** The `p`-th percentile (0–100) of `values`, nearest rank; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))]!;
}

/**
 * Turns per second between the 10th and 90th percentile of the completion
 * times (ms), so ramp-up and the tail of the last stragglers do not count.
 */
export function steadyThroughput(completions: readonly number[]): number {
  if (completions.length < 10) return NaN;
  const sorted = [...completions].sort((a, b) => a - b);
  const low = Math.floor(sorted.length * 0.1);
  const high = Math.ceil(sorted.length * 0.9) - 1;
  const span = sorted[high]! - sorted[low]!;
  return span > 0 ? ((high - low) / span) * 1000 : NaN;
}

/** Milliseconds with a precision that fits their size. */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return "–";
  if (value < 1) return `${value.toFixed(3)} ms`;
  if (value < 100) return `${value.toFixed(2)} ms`;
  return `${value.toFixed(0)} ms`;
}

/** A ratio as `2.31×`. */
export function ratio(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(2)}×` : "–";
}

/** Bytes as B, KB or MB (powers of 1024). */
export function bytes(value: number): string {
  if (!Number.isFinite(value)) return "–";
  if (value < 10_240) return `${value.toFixed(0)} B`;
  if (value < 10 * 1024 * 1024) return `${(value / 1024).toFixed(0)} KB`;
  return `${(value / 1024 / 1024).toFixed(0)} MB`;
}

/** A rate as `1234 turns/s`. */
export function rate(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(0)} turns/s` : "–";
}

/** `met` or `NOT met`, or `–` when a figure is missing. */
export function verdict(ok: boolean | undefined): string {
  return ok === undefined ? "–" : ok ? "met" : "NOT met";
}

/** Columns padded to their widest cell, with a rule under the header. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join(
    "\n",
  );
}
