/**
 * The manager's live quality checks: each accepted turn is fed to the
 * incremental loop and staleness trackers; depending on
 * `conversation.loop_action` / `stale_action` a finding is ignored, reported
 * to observers once as a notice, or ends the run (recorded as `loop`).
 * No I/O: the caller publishes the notices (in its pipeline).
 *
 * @module
 */
import type { Config } from "../config/config.ts";
import type { LiveEvent } from "../model/live_event.ts";
import { LoopTracker, StaleTracker, type TrackerStep } from "./incremental_detectors.ts";

/** A notice for observers. */
export type NoticeEvent = Extract<LiveEvent, { type: "notice" }>;

/** Outcome of checking one turn with {@linkcode LiveDetectors.check}. */
export interface LiveCheck {
  /** The run must end after this turn (as `loop`). */
  stop: boolean;
  /** Log line saying why, when `stop`. */
  why?: string;
  /** Notices to publish (each kind once per run). */
  notices: NoticeEvent[];
  /** Keeps the turn in the detectors' state; call once the turn is accepted. */
  commit(): void;
}

/** Runs the detectors turn by turn over one conversation's replies. */
export class LiveDetectors {
  readonly #conversation: Config["conversation"];
  readonly #loop = new LoopTracker();
  readonly #stale = new StaleTracker();
  readonly #warned = new Set<"loop" | "stale">();

  constructor(conversation: Config["conversation"]) {
    this.#conversation = conversation;
  }

  /** Checks the reply of turn `seq`, the turn after the last committed one. */
  check(text: string, seq: number): LiveCheck {
    const checks = [
      { kind: "loop", action: this.#conversation.loop_action, tracker: this.#loop },
      { kind: "stale", action: this.#conversation.stale_action, tracker: this.#stale },
    ] as const;
    const steps: TrackerStep[] = [];
    const notices: NoticeEvent[] = [];
    const warned: ("loop" | "stale")[] = [];
    let why: string | undefined;
    for (const { kind, action, tracker } of checks) {
      if (action === "off") continue;
      const step = tracker.peek(text, seq);
      steps.push(step);
      const found = step.finding;
      if (!found.detected) continue;
      if (action === "stop") {
        // Both end as `loop`: the agents stopped saying anything new.
        why ??= `${kind} from turn ${found.from_turn} (${found.evidence})`;
        continue;
      }
      if (this.#warned.has(kind)) continue;
      warned.push(kind);
      const what = kind === "loop"
        ? "The agents are repeating each other"
        : "The conversation has gone stale (little new in recent turns)";
      notices.push({
        type: "notice",
        text: `${what}${found.evidence ? `: ${found.evidence}` : ""}`.slice(0, 2000),
        ...(found.from_turn ? { turn: found.from_turn } : {}),
      });
    }
    return {
      stop: why !== undefined,
      ...(why ? { why } : {}),
      notices,
      commit: () => {
        for (const step of steps) step.commit();
        for (const kind of warned) this.#warned.add(kind);
      },
    };
  }

  /**
   * Feeds the replies of turns 1..n of a run taken over from another
   * process; findings among them count as already reported.
   */
  replay(texts: readonly string[]): void {
    texts.forEach((text, i) => this.check(text, i + 1).commit());
  }
}
