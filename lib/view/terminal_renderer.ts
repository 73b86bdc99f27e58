/**
 * The one module that writes a conversation to a terminal, used by the
 * observer and by `main.ts`'s inline live view. Every string that came from a
 * model (story, personas, tokens, message content, references, errors) is
 * sanitized before it is written; tokens go through one
 * {@linkcode StreamSanitizer} per turn so a sequence split across tokens is
 * removed too.
 *
 * Colour comes from {@linkcode paint} in terminal.ts: plain when NO_COLOR is
 * set, stdout is not a terminal, or the environment cannot be read.
 *
 * @module
 */
import { colorByDefault, type Paint, paint, writeStdout } from "./terminal.ts";
import type { ConversationMeta } from "../model/conversation_meta.ts";
import type { AgentId, DialogMessage } from "../model/dialog_message.ts";
import { sanitizeText, StreamSanitizer } from "../base/sanitize.ts";

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
   * Column at which the header's story and persona text is word-wrapped;
   * turns are not wrapped (the terminal does it). @default {100}
   */
  width?: number;
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
  #width: number;
  #atLineStart = true;
  #live?: { seq: number; sanitizer: StreamSanitizer; shown: boolean };

  /**
   * Creates a renderer.
   *
   * @throws {RangeError} If `width` is not a number of at least 20.
   */
  constructor(opts: RendererOptions = {}) {
    const width = opts.width ?? 100;
    if (!(width >= 20)) {
      throw new RangeError(
        `Cannot create a renderer as width must be at least 20: current value is ${width}`,
      );
    }
    this.#width = Math.floor(width);
    this.#writer = opts.writer ?? { write: writeStdout };
    const color = opts.color ?? colorByDefault();
    this.#paint = paint(color);
  }

  /** Writes the run's id, models and limits, then the scenario if present. */
  header(meta: ConversationMeta): void {
    const p = this.#paint;
    const m = meta.models;
    const [a1, a2, mgr] = [m.agent1, m.agent2, m.manager].map(_clean);
    const limit = formatDuration(meta.duration_seconds * 1000);
    this.#line(p.bold(`Conversation ${_clean(meta.id)}`));
    this.#line(
      p.dim(`  models: agent 1 ${a1} · agent 2 ${a2} · manager ${mgr}`),
    );
    this.#line(p.dim(`  limits: ${meta.max_turns} turns · ${limit}`));
    const scenario = meta.scenario;
    if (!scenario) return;
    const { story, personas } = scenario;
    this.#line("");
    this.#line(p.bold("Story"));
    this.#wrapped("  Setting: ", story.setting, "    ");
    this.#wrapped("  Characters: ", story.characters.join(", "), "    ");
    this.#wrapped("  Situation: ", story.initial_situation, "    ");
    this.#line(p.bold("Personas"));
    personas.forEach((persona, i) => {
      const agent = (i + 1) as AgentId;
      const model = agent === 1 ? m.agent1 : m.agent2;
      this.#line(
        `  ${this.#agentColor(agent)(_clean(persona.name))}` +
          p.dim(` (agent ${agent}, ${_clean(model)})`),
      );
      this.#wrapped("    Personality: ", persona.personality, "      ");
      this.#wrapped("    Style: ", persona.speaking_style, "      ");
      this.#wrapped("    Goal: ", persona.goal, "      ");
    });
  }

  /** Starts a live turn: writes `[seq] Speaker (model)` on its own line. */
  turnStart(seq: number, agent: AgentId, speaker: string, model: string): void {
    this.#live = { seq, sanitizer: new StreamSanitizer(), shown: false };
    this.#turnLine(seq, agent, speaker, model);
  }

  /**
   * Writes a token of the live turn at once. Tokens of a turn whose start
   * was not seen (an observer attached late) are skipped; `turnEnd` then
   * prints the whole message instead of a tail.
   */
  token(seq: number, text: string): void {
    const live = this.#live;
    if (live?.seq !== seq) return;
    const safe = live.sanitizer.push(text);
    if (safe !== "") live.shown = true;
    this.#out(safe);
  }

  /**
   * Ends a turn with its figures line, references and error. When nothing of
   * the turn was shown live (replay, late attach) it first prints the turn
   * line and the full content.
   */
  turnEnd(msg: DialogMessage, speaker: string): void {
    const md = msg.metadata;
    const live = this.#live?.seq === md.sequence_number ? this.#live : undefined;
    this.#live = undefined;
    if (live?.shown) this.#out(live.sanitizer.flush());
    else {
      if (!live) {
        this.#turnLine(md.sequence_number, md.agent_id ?? 1, speaker, md.model);
      }
      this.#out(sanitizeText(msg.content));
    }
    const p = this.#paint;
    const figures = [
      _count(md.tokens_generated, "token"),
      md.tokens_per_second > 0 && `${md.tokens_per_second.toFixed(1)} tok/s`,
      md.generation_time_ms > 0 && `${_int(md.generation_time_ms)} ms`,
      md.time_to_first_token_ms > 0 &&
      `ttft ${_int(md.time_to_first_token_ms)} ms`,
      md.sentiment && _clean(md.sentiment),
    ];
    this.#line(p.dim(`  ↳ ${figures.filter(Boolean).join(" · ")}`));
    const refs = (md.references ?? []).map(_clean).join(" · ");
    if (refs) this.#line(p.dim(`  ↳ references: ${refs}`));
    if (md.error) this.#line(p.red(`  ✗ ${_clean(md.error)}`));
  }

  /** Marks the partial output of turn `seq` as abandoned (e.g. a retry). */
  abandoned(seq: number, reason: string): void {
    if (this.#live?.seq === seq) this.#live = undefined;
    this.#line(
      this.#paint.yellow(`  ✗ turn ${seq} abandoned: ${_clean(reason)}`),
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
      text += ` · ${_clock(Math.max(0, Math.ceil(line.secondsLeft)))} left`;
    }
    return text;
  }

  /** Writes a notice about the run (e.g. a detected loop) as a yellow line. */
  notice(text: string): void {
    this.#line(this.#paint.yellow(`  ! ${_clean(text)}`));
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
    this.#live = undefined;
    const turns = summary?.turns ?? meta.turns;
    const durationMs = summary?.durationMs ??
      (meta.started_at !== undefined && meta.ended_at !== undefined
        ? meta.ended_at - meta.started_at
        : undefined);
    let text = `Run ended: ${meta.status}`;
    if (meta.stop_reason) text += ` (${meta.stop_reason})`;
    text += ` after ${_count(turns, "turn")}`;
    if (durationMs !== undefined) text += ` in ${formatDuration(durationMs)}`;
    const tone = { completed: p.green, failed: p.red }[meta.status as string] ??
      p.yellow;
    this.#line("");
    this.#line(tone(p.bold(text)));
    if (summary) {
      const rate = summary.meanTokensPerSecond.toFixed(1);
      this.#line(
        p.dim(`  ${_count(summary.tokens, "token")} · ${rate} tok/s mean`),
      );
    }
    if (meta.error) this.#line(p.red(`  ${_clean(meta.error)}`));
  }

  #agentColor(agent: AgentId): (s: string) => string {
    return agent === 1 ? this.#paint.cyan : this.#paint.magenta;
  }

  #turnLine(seq: number, agent: AgentId, speaker: string, model?: string) {
    const name = this.#agentColor(agent)(
      this.#paint.bold(`[${seq}] ${_clean(speaker)}`),
    );
    this.#line("");
    this.#line(
      model ? `${name}${this.#paint.dim(` (${_clean(model)})`)}` : name,
    );
  }

  /** Writes `label` + `text` word-wrapped at the width, `indent` after. */
  #wrapped(label: string, text: string, indent: string): void {
    let line = label;
    let empty = true;
    for (const word of _clean(text).split(" ")) {
      if (word === "") continue;
      if (!empty && line.length + 1 + word.length > this.#width) {
        this.#line(line);
        line = indent + word;
      } else line += (empty ? "" : " ") + word;
      empty = false;
    }
    this.#line(line);
  }

  /** Writes `text` as a line of its own. */
  #line(text: string): void {
    this.#out(this.#atLineStart ? `${text}\n` : `\n${text}\n`);
  }

  #out(text: string): void {
    if (text === "") return;
    this.#writer.write(text);
    this.#atLineStart = text.endsWith("\n");
  }
}

/**
 * The display name of agent 1 or 2: its persona's name (sanitized), or
 * `Agent 1` / `Agent 2` when there is no scenario.
 */
export function speakerName(
  meta: Pick<ConversationMeta, "scenario"> | undefined,
  agent: AgentId,
): string {
  const name = _clean(meta?.scenario?.personas[agent - 1]?.name ?? "").trim();
  return name === "" ? `Agent ${agent}` : name;
}

/**
 * Formats a duration for people: below a second `850 ms`, below a minute
 * `12.3 s`, below an hour `4:12` (m:ss), then `1:02:03` (h:mm:ss).
 * Negative or non-finite input counts as 0.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { formatDuration } from "./terminal_renderer.ts";
 *
 * strictEqual(formatDuration(850), "850 ms");
 * strictEqual(formatDuration(12_345), "12.3 s");
 * strictEqual(formatDuration(252_000), "4:12");
 * ```
 */
export function formatDuration(ms: number): string {
  const t = Number.isFinite(ms) && ms > 0 ? ms : 0;
  if (t < 999.5) return `${Math.round(t)} ms`;
  if (t < 59_950) return `${(t / 1000).toFixed(1)} s`;
  return _clock(Math.round(t / 1000));
}

function _clock(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor(seconds / 60) % 60;
  const s = String(seconds % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

/** One-line safe text. */
function _clean(text: string): string {
  return sanitizeText(text, { keepNewlines: false });
}

function _int(n: number): string {
  return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

function _count(n: number, noun: string): string {
  return `${_int(n)} ${noun}${n === 1 ? "" : "s"}`;
}
