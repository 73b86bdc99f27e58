/**
 * The terminal itself: whether to use colour, the colour functions, and
 * writing to stdout. picocolors reads NO_COLOR, FORCE_COLOR, TERM and CI
 * when it loads, so it is loaded only when those are readable; otherwise
 * output is plain (never a permission prompt or a crash).
 *
 * @module
 */
import type pc from "picocolors";

const STYLES = ["bold", "dim", "red", "green", "yellow", "cyan", "magenta"] as const;

/** Colour functions; identity functions when colour is off. */
export type Paint = Record<(typeof STYLES)[number], (text: string) => string>;

const _picocolors = await _loadPicocolors();
const _encoder = new TextEncoder();
const _plain = Object.fromEntries(STYLES.map((k) => [k, (text: string) => text])) as Paint;

/** Colour functions, coloured only when `enabled` (and picocolors could load). */
export function paint(enabled: boolean): Paint {
  return enabled && _picocolors ? _picocolors.createColors(true) : _plain;
}

/** Whether stdout should get colour: a terminal, and NO_COLOR unset. */
export function colorByDefault(): boolean {
  try {
    if (!Deno.stdout.isTerminal()) return false;
    const env = Deno.permissions.querySync({ name: "env", variable: "NO_COLOR" });
    // Deno.noColor reflects NO_COLOR at startup and needs no permission.
    return env.state === "granted" ? !Deno.env.get("NO_COLOR") : !Deno.noColor;
  } catch {
    return false;
  }
}

/**
 * The width text is wrapped at: the terminal's columns when stdout is a
 * terminal (at least 20), else `fallback`.
 *
 * @default {fallback 100}
 */
export function terminalWidth(fallback = 100): number {
  try {
    if (!Deno.stdout.isTerminal()) return fallback;
    return Math.max(20, Deno.consoleSize().columns);
  } catch {
    // No console size to read (e.g. a pipe that claims to be a terminal).
    return fallback;
  }
}

/** Writes all of `text` to stdout (one writeSync may write only part). */
export function writeStdout(text: string): void {
  let bytes = _encoder.encode(text);
  while (bytes.length > 0) bytes = bytes.subarray(Deno.stdout.writeSync(bytes));
}

async function _loadPicocolors(): Promise<typeof pc | undefined> {
  try {
    const readable = ["NO_COLOR", "FORCE_COLOR", "TERM", "CI"].every((variable) =>
      Deno.permissions.querySync({ name: "env", variable }).state === "granted"
    );
    return readable ? (await import("picocolors")).default : undefined;
  } catch {
    // No permissions API here (e.g. a worker without it): stay plain.
    return undefined;
  }
}
