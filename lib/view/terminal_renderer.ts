/**
 * The one module that writes a conversation to a terminal, used by the
 * observer and by `main.ts`'s inline live view. Every string that came from a
 * model (story, personas, tokens, message content, references, errors) is
 * sanitized before it is written; tokens go through one
 * {@linkcode StreamSanitizer} per turn so a sequence split across tokens is
 * removed too.
 *
 * Colour comes from {@linkcode paint} in terminal.ts: plain when NO_COLOR is
 * set, stdout is not a terminal, or the environment cannot be read. The text
 * itself comes from pure helpers ({@linkcode headerBlock},
 * {@linkcode turnHeading}, {@linkcode turnFigures}); this module keeps the
 * live-turn state and the writes.
 *
 * @module
 */
import { colorByDefault, type Paint, paint, terminalWidth, writeStdout } from "./terminal.ts";
import type { ConversationMeta } from "../model/conversation_meta.ts";
import type { AgentId, DialogMessage } from "../model/dialog_message.ts";
import { sanitizeText, StreamSanitizer } from "../base/sanitize.ts";
import { formatClock, formatDuration } from "./format_duration.ts";
import { headerBlock } from "./header_block.ts";
import { formatCount, oneLine, turnFigures, turnHeading } from "./turn_lines.ts";
import { WordWrapper, wrapText } from "./word_wrap.ts";

/** Where rendered text goes; tests inject one that collects it. */
export interface TextWriter {
  /** Writes `text` completely before returning. */
  write(text: string): void;
}

/** Options for {@linkcode TerminalRenderer}. */
export interface RendererOptions {
  /** Use ANSI colours. @default {stdout is a terminal and `NO_COLOR` unset} */
  color?: boolean;
  /** Destination of all output. @default {synchronous writes to stdout} */
  writer?: TextWriter;
  /**
   * Column at which text (the header's story and personas, every turn, live
   * or replayed) is word-wrapped. @default {the terminal's width when stdout
   * is a terminal (read again at each turn, so a resize counts), else 100}
   */
  width?: number;
  /**
   * Whether a word of a live turn that outgrows its line may be rubbed out
   * with backspaces and moved down (see {@linkcode WordWrapper}); without
   * it, such a word finishes on its line. @default {writing to stdout, and
   * stdout is a terminal}
   */
  erase?: boolean;
}

/** Totals for {@linkcode TerminalRenderer.prototype.footer}. */
export interface RunSummary {
  turns: number;
  tokens: number;
  meanTokensPerSecond: number;
  durationMs: number;
}

/**
 * Writes the conversation: a header, each turn live as tokens arrive (or
 * whole on replay), figures per turn, and a footer.
 *
 * @example Capturing output in a test
 * ```ts
 * import { ok } from "node:assert/strict";
 * import { TerminalRenderer } from "./terminal_renderer.ts";
 *
 * let out = "";
 * const r = new TerminalRenderer({ color: false, writer: { write: (s) => out += s } });
 * r.turnStart(1, 1, "Alice", "llama3.2");
 * r.token(1, "Hi \x1b[2Jthere");
 * ok(out.endsWith("[1] Alice (llama3.2)\nHi there"));
 * ```
 */
export class TerminalRenderer {
  #paint: Paint;
  #writer: TextWriter;
  #width: number | undefined;
  #erase: boolean;
  #atLineStart = true;
  #live?: { seq: number; sanitizer: StreamSanitizer; wrapper: WordWrapper; shown: boolean };

  /**
   * Creates a renderer.
   *
   * @throws {RangeError} If `width` is not a number of at least 20.
   */
  constructor(opts: RendererOptions = {}) {
    const width = opts.width;
    if (width !== undefined && !(width >= 20)) {
      throw new RangeError(
        `Cannot create a renderer as width must be at least 20: current value is ${width}`,
      );
    }
    this.#width = width === undefined ? undefined : Math.floor(width);
    this.#writer = opts.writer ?? { write: writeStdout };
    this.#erase = opts.erase ?? (opts.writer === undefined && _stdoutIsTerminal());
    const color = opts.color ?? colorByDefault();
    this.#paint = paint(color);
  }

  /** Writes the run's id, models and limits, then the scenario if present. */
  header(meta: ConversationMeta): void {
    for (const line of headerBlock(meta, { paint: this.#paint, width: this.#currentWidth() })) {
      this.#line(line);
    }
  }

  /** Starts a live turn: writes `[seq] Speaker (model)` on its own line. */
  turnStart(seq: number, agent: AgentId, speaker: string, model: string): void {
    this.#endLive();
    this.#turnLine(seq, agent, speaker, model);
    this.#live = { seq, sanitizer: new StreamSanitizer(), wrapper: this.#wrapper(), shown: false };
  }

  /**
   * Writes a token of the live turn at once, word-wrapped: a word that would
   * pass the width starts a new line (see {@linkcode WordWrapper}). Tokens
   * of a turn whose start was not seen
   * (an observer attached late) are skipped; `turnEnd` then prints the whole
   * message instead of a tail.
   */
  token(seq: number, text: string): void {
    const live = this.#live;
    if (live?.seq !== seq) return;
    const safe = live.sanitizer.push(text);
    if (safe !== "") live.shown = true;
    this.#out(live.wrapper.push(safe));
  }

  /**
   * Ends a turn with its figures line, references and error. When nothing of
   * the turn was shown live (replay, late attach) it first prints the turn
   * line and the full content.
   */
  turnEnd(msg: DialogMessage, speaker: string): void {
    const md = msg.metadata;
    const live = this.#live?.seq === md.sequence_number ? this.#live : undefined;
    if (live?.shown) this.#endLive();
    else {
      // Started but nothing shown: its heading is there already.
      if (live) this.#live = undefined;
      else {
        this.#endLive();
        this.#turnLine(md.sequence_number, md.agent_id ?? 1, speaker, md.model);
      }
      this.#out(wrapText(sanitizeText(msg.content), this.#currentWidth()));
    }
    for (const line of turnFigures(this.#paint, md, this.#currentWidth())) this.#line(line);
  }

  /** Marks the partial output of turn `seq` as abandoned (e.g. a retry). */
  abandoned(seq: number, reason: string): void {
    if (this.#live?.seq === seq) this.#endLive();
    this.#line(
      this.#paint.yellow(`  ✗ turn ${seq} abandoned: ${oneLine(reason)}`),
    );
  }

  /**
   * Returns a plain one-line status such as `turn 3/50 · 4:12 left`; the
   * caller decides where to show it. Time left is always `m:ss`.
   */
  status(
    line: { turn: number; maxTurns: number; secondsLeft?: number },
  ): string {
    let text = `turn ${line.turn}/${line.maxTurns}`;
    if (line.secondsLeft !== undefined) {
      text += ` · ${formatClock(Math.max(0, Math.ceil(line.secondsLeft)))} left`;
    }
    return text;
  }

  /** Writes a notice about the run (e.g. a detected loop) as a yellow line. */
  notice(text: string): void {
    this.#line(this.#paint.yellow(`  ! ${oneLine(text)}`));
  }

  /** Writes the {@linkcode status} text as a dim line of its own. */
  statusLine(line: { turn: number; maxTurns: number; secondsLeft?: number }): void {
    this.#line(this.#paint.dim(`  ${this.status(line)}`));
  }

  /**
   * Writes how the run ended, e.g. `Run ended: completed (max_turns) after 6
   * turns in 12.3 s`, the totals when given, and `meta.error` in red.
   * Without a summary, turns and duration come from `meta`.
   */
  footer(meta: ConversationMeta, summary?: RunSummary): void {
    const p = this.#paint;
    this.#endLive();
    const turns = summary?.turns ?? meta.turns;
    const durationMs = summary?.durationMs ??
      (meta.started_at !== undefined && meta.ended_at !== undefined
        ? meta.ended_at - meta.started_at
        : undefined);
    let text = `Run ended: ${meta.status}`;
    // `interrupted (interrupted)` would say it twice.
    if (meta.stop_reason && meta.stop_reason !== meta.status) text += ` (${meta.stop_reason})`;
    text += ` after ${formatCount(turns, "turn")}`;
    if (durationMs !== undefined) text += ` in ${formatDuration(durationMs)}`;
    const tone = { completed: p.green, failed: p.red }[meta.status as string] ??
      p.yellow;
    this.#line("");
    this.#line(tone(p.bold(text)));
    if (summary) {
      const rate = summary.meanTokensPerSecond.toFixed(1);
      this.#line(
        p.dim(`  ${formatCount(summary.tokens, "token")} · ${rate} tok/s mean`),
      );
    }
    if (meta.error) this.#line(p.red(`  ${oneLine(meta.error)}`));
  }

  /**
   * Says that the watcher stopped while the run goes on, e.g. `Stopped
   * watching; conversation abc is still running (turn 3/50)`.
   */
  stoppedWatching(meta: ConversationMeta): void {
    this.#endLive();
    this.#line("");
    this.#line(this.#paint.yellow(
      `Stopped watching; conversation ${oneLine(meta.id)} is still ${meta.status} ` +
        `(turn ${meta.turns}/${meta.max_turns})`,
    ));
  }

  /**
   * Says that the view waits for the next conversation (none is running),
   * and how to replay `newestFinished`, the newest one, when there is one.
   */
  waitingForConversation(newestFinished?: string): void {
    const replay = newestFinished === undefined
      ? "start one with 'deno task chat'"
      : `the newest, ${oneLine(newestFinished)}, has ended: replay it with --conversation ${
        oneLine(newestFinished)
      }`;
    this.#line(this.#paint.dim(`waiting for a conversation … (${replay})`));
  }

  /** Says that Redis is unreachable and the view waits for it (up to `limitSeconds`). */
  redisWaiting(limitSeconds: number): void {
    this.#line(this.#paint.yellow(
      `  … Redis is unreachable: waiting for it to come back (up to ${limitSeconds} s)`,
    ));
  }

  /** Says that Redis answers again after being away for `downMs`. */
  redisBack(downMs: number): void {
    this.#line(this.#paint.green(
      `  ✓ Redis is back after ${formatDuration(downMs)}; following the run again`,
    ));
  }

  /** Writes what the live turn still holds back and ends it. */
  #endLive(): void {
    const live = this.#live;
    this.#live = undefined;
    if (live?.shown) this.#out(live.wrapper.push(live.sanitizer.flush()) + live.wrapper.flush());
  }

  #currentWidth(): number {
    return this.#width ?? terminalWidth();
  }

  #wrapper(): WordWrapper {
    return new WordWrapper(this.#currentWidth(), { erase: this.#erase });
  }

  #turnLine(seq: number, agent: AgentId, speaker: string, model?: string) {
    this.#line("");
    this.#line(turnHeading(this.#paint, { seq, agent, speaker, model }));
  }

  /**
   * Writes `text` as a line of its own. Inside a live turn (a notice while
   * tokens stream) the held-back word is written first, and wrapping starts
   * again at the line after.
   */
  #line(text: string): void {
    const live = this.#live;
    if (live) this.#out(live.wrapper.flush());
    this.#out(this.#atLineStart ? `${text}\n` : `\n${text}\n`);
    if (live) live.wrapper = this.#wrapper();
  }

  #out(text: string): void {
    if (text === "") return;
    this.#writer.write(text);
    this.#atLineStart = text.endsWith("\n");
  }
}

function _stdoutIsTerminal(): boolean {
  try {
    return Deno.stdout.isTerminal();
  } catch {
    return false;
  }
}
