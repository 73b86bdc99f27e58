/**
 * The live view of `deno task chat --pairs N`: one compact line per
 * conversation (turn n/max, tok/s, the last words), fed by progress events.
 * On a terminal the block is redrawn in place (at most a screenful; the rest
 * is summed up in one line); elsewhere one line is printed as each run ends,
 * so logs stay readable.
 *
 * @module
 */
import type { ConversationStatus, StopReason } from "../model/conversation_meta.ts";
import type { ProgressEvent } from "../model/progress_event.ts";
import { sanitizeText } from "../base/sanitize.ts";
import type { Paint } from "./terminal.ts";
import type { TextWriter } from "./terminal_renderer.ts";

/** What the board knows of one conversation. */
export interface PairState {
  id: string;
  turns: number;
  maxTurns: number;
  status: ConversationStatus;
  stopReason?: StopReason;
  tokensPerSecond?: number;
  last?: string;
}

/**
 * One conversation as one line of at most `width` columns.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { formatPairLine } from "./pairs_board.ts";
 * strictEqual(
 *   formatPairLine({ id: "c1", turns: 3, maxTurns: 8, status: "running", tokensPerSecond: 41.2, last: "so be it" }, 60),
 *   "c1  running     3/8   41.2 tok/s  …so be it",
 * );
 * ```
 */
export function formatPairLine(state: PairState, width: number): string {
  const status = state.stopReason ? `${state.status} (${state.stopReason})` : state.status;
  const speed = state.tokensPerSecond === undefined
    ? "".padStart(10)
    : `${state.tokensPerSecond.toFixed(1).padStart(6)} tok/s`;
  const head = `${state.id}  ${status.padEnd(9)} ${
    `${state.turns}/${state.maxTurns}`.padStart(5)
  } ${speed}`;
  const room = width - head.length - 3;
  const last = state.last ? sanitizeText(state.last, { keepNewlines: false }).trim() : "";
  if (room < 8 || !last) return head.trimEnd();
  const tail = last.length > room ? last.slice(last.length - room + 1) : last;
  return `${head}  …${tail}`;
}

/**
 * Time left for the runs still open, from the pace so far: turns to go at
 * the turns per millisecond seen since `startedAt`. Undefined until a turn
 * is done (nothing to go on). A run ended early (a loop, an error) has no
 * turns to go.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { estimateRemainingMs } from "./pairs_board.ts";
 * const states = [
 *   { id: "a", turns: 4, maxTurns: 8, status: "running" as const },
 *   { id: "b", turns: 4, maxTurns: 8, status: "running" as const },
 * ];
 * strictEqual(estimateRemainingMs(states, 0, 8000), 8000);
 * ```
 */
export function estimateRemainingMs(
  states: readonly PairState[],
  startedAt: number,
  now: number,
): number | undefined {
  let done = 0;
  let left = 0;
  for (const s of states) {
    done += s.turns;
    if (!s.stopReason) left += Math.max(0, s.maxTurns - s.turns);
  }
  if (done === 0 || now <= startedAt) return undefined;
  return (left * (now - startedAt)) / done;
}

/** Options of a {@linkcode PairsBoard}. */
export interface PairsBoardOptions {
  writer: TextWriter;
  /** Redraw in place (a terminal). */
  live: boolean;
  /** Columns and rows available. */
  width: number;
  height: number;
  paint: Paint;
  /** Clock, for the estimate of the time left. @default Date.now */
  now?: () => number;
}

/** Keeps the state of many conversations and draws it. */
export class PairsBoard {
  readonly #opts: PairsBoardOptions;
  readonly #states = new Map<string, PairState>();
  #drawnLines = 0;
  readonly #startedAt: number;
  #dirty = false;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(ids: readonly string[], maxTurns: number, options: PairsBoardOptions) {
    this.#opts = options;
    this.#startedAt = (options.now ?? Date.now)();
    for (const id of ids) this.#states.set(id, { id, turns: 0, maxTurns, status: "pending" });
  }

  /** Applies one event; returns true when it ended a run. */
  apply(event: ProgressEvent): boolean {
    const state = this.#states.get(event.id);
    if (!state) return false;
    if (event.type === "progress") {
      if (state.stopReason) return false;
      state.turns = Math.max(state.turns, event.turns);
      state.maxTurns = event.max_turns || state.maxTurns;
      state.status = event.status;
      if (event.tokens_per_second !== undefined) state.tokensPerSecond = event.tokens_per_second;
      if (event.last !== undefined) state.last = event.last;
      this.#schedule();
      return false;
    }
    return this.end(event.id, event.status, event.stop_reason, event.turns);
  }

  /** Records the end of a run (from an event or read back from Redis); true the first time. */
  end(
    id: string,
    status: ConversationStatus,
    reason: StopReason | undefined,
    turns: number,
  ): boolean {
    const state = this.#states.get(id);
    if (!state || state.stopReason || status === "running" || status === "pending") return false;
    state.status = status;
    if (reason) state.stopReason = reason;
    state.turns = Math.max(state.turns, turns);
    if (this.#opts.live) this.#schedule();
    else this.#opts.writer.write(`${this.#counter()} ${formatPairLine(state, this.#opts.width)}\n`);
    return true;
  }

  /** Conversations not yet ended. */
  open(): string[] {
    return [...this.#states.values()].filter((s) => !s.stopReason).map((s) => s.id);
  }

  /** States, in the order the ids were given. */
  states(): PairState[] {
    return [...this.#states.values()];
  }

  /** Draws the final state once more and stops redrawing. */
  close(): void {
    clearTimeout(this.#timer);
    if (this.#opts.live) this.#draw();
  }

  #counter(): string {
    const done = this.states().filter((s) => s.stopReason).length;
    return `[${done}/${this.#states.size}]`;
  }

  #schedule(): void {
    if (!this.#opts.live) return;
    this.#dirty = true;
    // At most ten redraws a second, however many turns land.
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      if (this.#dirty) this.#draw();
    }, 100);
  }

  #draw(): void {
    this.#dirty = false;
    const { width, height, paint } = this.#opts;
    const states = this.states();
    const rows = Math.max(1, height - 2);
    // Running ones first, so what moves stays on screen.
    const shown = [...states].sort((a, b) => Number(!!a.stopReason) - Number(!!b.stopReason))
      .slice(0, states.length > rows ? rows - 1 : rows);
    const lines = shown.map((s) => {
      const line = formatPairLine(s, width);
      return s.status === "failed" ? paint.red(line) : s.stopReason ? paint.dim(line) : line;
    });
    if (shown.length < states.length) {
      lines.push(paint.dim(`… and ${states.length - shown.length} more`));
    }
    const left = estimateRemainingMs(states, this.#startedAt, (this.#opts.now ?? Date.now)());
    const turns = states.reduce((sum, st) => sum + st.turns, 0);
    lines.push(
      `${this.#counter()} ended · ${turns} turns` +
        (left !== undefined && this.open().length > 0 ? ` · about ${_seconds(left)} left` : ""),
    );
    const up = this.#drawnLines > 0 ? `\x1b[${this.#drawnLines}A` : "";
    this.#opts.writer.write(up + lines.map((l) => `\r\x1b[2K${l}\n`).join(""));
    this.#drawnLines = lines.length;
  }
}

function _seconds(ms: number): string {
  const s = Math.ceil(ms / 1000);
  return s < 120 ? `${s} s` : `${Math.ceil(s / 60)} min`;
}
