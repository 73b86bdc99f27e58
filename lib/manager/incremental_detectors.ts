/**
 * The loop and staleness detectors of `lib/analysis/loop_detector.ts`, fed
 * one turn at a time: each tracker keeps what the next turn is compared with
 * (the last two turns' word and trigram sets, the words said so far, the
 * current run of echoing or stale turns), so a turn costs work in proportion
 * to its own length, not to the history. The first finding is the one
 * {@linkcode detectLoop} / {@linkcode detectStale} report on the same turns.
 *
 * Checking is split from committing ({@linkcode LoopTracker.peek} then
 * `commit()`), so a response that is checked but then refused (not the one
 * recorded for its turn) leaves no trace in the state.
 *
 * @module
 */
import { IDENTICAL_RUN, type LoopResult } from "../analysis/loop_detector.ts";
import {
  contentWords,
  jaccard,
  ngrams,
  overlapShare,
  tokenize,
} from "../analysis/text_similarity.ts";

/** What checking one turn found, and how to keep the turn in the state. */
export interface TrackerStep {
  finding: LoopResult;
  /** Records the checked turn as part of the conversation. */
  commit(): void;
}

/** Same thresholds as `detectLoop`. */
const ECHO_TRIGRAM_SHARE = 0.5;
const ECHO_JACCARD = 0.6;

interface _LoopTurn {
  index: number;
  seq: number;
  text: string;
  words: Set<string>;
  trigrams: Set<string>;
  /** Index of the turn it echoes, if it does. */
  source: number | undefined;
  /** Its words, joined: equal for turns that say the same. */
  same: string;
}

/**
 * {@linkcode detectLoop}, one turn at a time.
 *
 * @example Thanks and farewells
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { LoopTracker } from "./incremental_detectors.ts";
 * const tracker = new LoopTracker();
 * const turns = ["Shall we meet at noon?", "Yes, at the old mill.",
 *   "Thank you!", "You're welcome!", "Thank you!", "You're welcome!",
 *   "Thank you!", "You're welcome!"];
 * let found;
 * turns.forEach((text, i) => {
 *   const step = tracker.peek(text, i + 1);
 *   step.commit();
 *   found ??= step.finding.detected ? step.finding.from_turn : undefined;
 * });
 * strictEqual(found, 5);
 * ```
 */
export class LoopTracker {
  readonly #window: number;
  #recent: _LoopTurn[] = [];
  #count = 0;
  #run = 0;
  /** Consecutive turns, up to the last, with the same words. */
  #identical = 0;

  /** @param window consecutive echoing turns that make a loop @default 4 */
  constructor(window = 4) {
    if (!Number.isInteger(window) || window < 2) {
      throw new RangeError(
        `Cannot track loops as the window must be an integer of at least 2: current value is ${window}`,
      );
    }
    this.#window = window;
  }

  /** Checks turn `seq` (the next one) without recording it. */
  peek(text: string, seq: number): TrackerStep {
    const words = tokenize(text);
    const turn: _LoopTurn = {
      index: this.#count,
      seq,
      text,
      words: new Set(words),
      trigrams: new Set(ngrams(words, 3)),
      source: undefined,
      same: "",
    };
    turn.source = [turn.index - 2, turn.index - 1].find((j) => {
      const other = this.#turn(j);
      return other !== undefined && _echoes(turn, other);
    });
    const run = turn.index >= 1 && turn.source !== undefined ? this.#run + 1 : 0;
    const same = words.join(" ");
    const previous = this.#turn(turn.index - 1);
    const identical = same !== "" && previous !== undefined && previous.same === same
      ? this.#identical + 1
      : 1;
    turn.same = same;
    const commit = () => {
      this.#recent.push(turn);
      if (this.#recent.length > this.#window + 2) this.#recent.shift();
      this.#count++;
      this.#run = run;
      this.#identical = identical;
    };
    if (run < this.#window) {
      if (identical < IDENTICAL_RUN) return { finding: { detected: false }, commit };
      // The state keeps at least the last window + 2 ≥ 4 turns, so the first is there.
      const first = this.#turn(turn.index - IDENTICAL_RUN + 1)?.seq ?? seq;
      return {
        finding: {
          detected: true,
          from_turn: first,
          evidence: `turns ${first}-${seq} say the same ${_quote(text)}`,
        },
        commit,
      };
    }
    const firstIndex = turn.index - this.#window + 1;
    const first = firstIndex === turn.index ? turn : this.#turn(firstIndex)!;
    const sourceIndex = first.source ?? firstIndex - 1;
    const source = this.#turn(sourceIndex);
    return {
      finding: {
        detected: true,
        from_turn: first.seq,
        evidence: `turns ${first.seq}-${seq} each repeat a recent turn; turn ${first.seq} ${
          _quote(first.text)
        } repeats turn ${source?.seq ?? sourceIndex + 1} ${_quote(source?.text ?? "")}`,
      },
      commit,
    };
  }

  #turn(index: number): _LoopTurn | undefined {
    if (index < 0) return undefined;
    return this.#recent.find((t) => t.index === index);
  }
}

function _echoes(turn: _LoopTurn, other: _LoopTurn): boolean {
  return (turn.trigrams.size > 0 &&
    overlapShare(turn.trigrams, other.trigrams) >= ECHO_TRIGRAM_SHARE) ||
    jaccard(turn.words, other.words) >= ECHO_JACCARD;
}

/**
 * {@linkcode detectStale}, one turn at a time. Keeps the set of content words
 * said so far (bounded by the conversation's vocabulary, not its length).
 */
export class StaleTracker {
  readonly #window: number;
  readonly #minNovelty: number;
  readonly #said = new Set<string>();
  /** Novelty and turn number of the last `window` turns. */
  #recent: { novelty: number; seq: number }[] = [];
  #count = 0;
  #run = 0;

  /**
   * @param window consecutive stale turns that make a stale conversation @default 6
   * @param minNovelty share of new content words below which a turn is stale @default 0.2
   */
  constructor(window = 6, minNovelty = 0.2) {
    if (!Number.isInteger(window) || window < 2) {
      throw new RangeError(
        `Cannot track staleness as the window must be an integer of at least 2: current value is ${window}`,
      );
    }
    this.#window = window;
    this.#minNovelty = minNovelty;
  }

  /** Checks turn `seq` (the next one) without recording it. */
  peek(text: string, seq: number): TrackerStep {
    const words = new Set(contentWords(text));
    const novelty = words.size === 0 ? 0 : 1 - overlapShare(words, this.#said);
    const run = this.#count > 0 && novelty < this.#minNovelty ? this.#run + 1 : 0;
    const recent = [...this.#recent, { novelty, seq }].slice(-this.#window);
    const commit = () => {
      for (const w of words) this.#said.add(w);
      this.#recent = recent;
      this.#count++;
      this.#run = run;
    };
    if (run < this.#window) return { finding: { detected: false }, commit };
    const mean = recent.reduce((sum, t) => sum + t.novelty, 0) / this.#window;
    const first = recent[0]!.seq;
    return {
      finding: {
        detected: true,
        from_turn: first,
        evidence: `turns ${first}-${seq} each brought less than ${
          Math.round(this.#minNovelty * 100)
        }% new words (mean ${Math.round(mean * 100)}%)`,
      },
      commit,
    };
  }
}

function _quote(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return JSON.stringify(flat.length > 60 ? `${flat.slice(0, 57)}...` : flat);
}
