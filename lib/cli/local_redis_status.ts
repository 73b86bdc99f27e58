/**
 * The text of `deno task redis status`.
 *
 * @module
 */
import type { LocalRedisStatus } from "./local_redis.ts";

/**
 * A few aligned lines: folder, address, pid, state and data size.
 *
 * @example
 * ```ts
 * import { formatLocalRedisStatus } from "./local_redis_status.ts";
 * formatLocalRedisStatus({ dir: "/d", running: false, dataBytes: 0 }).includes("stopped"); // true
 * ```
 */
export function formatLocalRedisStatus(status: LocalRedisStatus): string {
  const rows: [string, string][] = [
    ["folder", status.dir],
    ["address", status.url ?? "none yet (started by the first command that needs it)"],
    ["pid", status.pid === undefined ? "-" : String(status.pid)],
    ["state", status.running ? "running" : "stopped"],
    ["data", _bytes(status.dataBytes)],
  ];
  return rows.map(([label, value]) => `${label.padEnd(8)}${value}`).join("\n");
}

function _bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
