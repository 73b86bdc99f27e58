/**
 * The manager's live quality checks: each accepted turn is fed to the
 * incremental loop, staleness, echo and collapse trackers; depending on
 * `conversation.loop_action` / `stale_action` / `echo_action` /
 * `collapse_action` a finding is ignored, reported to observers once as a
 * notice, or ends the run (recorded as `loop` for a loop or a stale run,
 * `echo`, `collapse`). Each check costs work in proportion to the turn's own
 * length. No I/O: the caller publishes the notices (in its pipeline).
 *
 * @module
 */
import type { Config } from "../config/config.ts";
import type { LiveEvent } from "../model/live_event.ts";
import { agentForTurn } from "../model/dialog_message.ts";
import { LoopTracker, StaleTracker, type TrackerStep } from "./incremental_detectors.ts";
import { EchoTracker } from "../analysis/echo_detector.ts";
import { CollapseTracker } from "../analysis/collapse_detector.ts";
import type { LoopResult } from "../analysis/loop_detector.ts";
import type { DetectorStop } from "./response_decision.ts";

/** A notice for observers. */
export type NoticeEvent = Extract<LiveEvent, { type: "notice" }>;

/** Outcome of checking one turn with {@linkcode LiveDetectors.check}. */
export interface LiveCheck {
  /** The run must end after this turn (as `reason`). */
  stop: boolean;
  /** The stop reason, when `stop`: the first detector (loop, stale, echo, collapse) that stops. */
  reason?: DetectorStop;
  /** Log line saying why, when `stop`. */
  why?: string;
  /** Notices to publish (each kind once per run). */
  notices: NoticeEvent[];
  /** Keeps the turn in the detectors' state; call once the turn is accepted. */
  commit(): void;
}

type _Kind = "loop" | "stale" | "echo" | "collapse";

const NOTICES: Record<_Kind, string> = {
  loop: "The agents are repeating each other",
  stale: "The conversation has gone stale (little new in recent turns)",
  echo: "An agent is echoing its partner (restating instead of answering)",
  collapse: "The conversation is collapsing (diversity falling, the agents converging)",
};

/** Both end as `loop`: the agents stopped saying anything new. */
const REASONS: Record<_Kind, DetectorStop> = {
  loop: "loop",
  stale: "loop",
  echo: "echo",
  collapse: "collapse",
};

/** Runs the detectors turn by turn over one conversation's replies. */
export class LiveDetectors {
  readonly #conversation: Config["conversation"];
  readonly #loop = new LoopTracker();
  readonly #stale = new StaleTracker();
  readonly #echo = new EchoTracker();
  readonly #collapse = new CollapseTracker();
  readonly #warned = new Set<_Kind>();

  constructor(conversation: Config["conversation"]) {
    this.#conversation = conversation;
  }

  /** Checks the reply of turn `seq`, the turn after the last committed one. */
  check(text: string, seq: number): LiveCheck {
    const c = this.#conversation;
    const checks: { kind: _Kind; action: "off" | "warn" | "stop"; peek: () => TrackerStep }[] = [
      { kind: "loop", action: c.loop_action, peek: () => this.#loop.peek(text, seq) },
      { kind: "stale", action: c.stale_action, peek: () => this.#stale.peek(text, seq) },
      { kind: "echo", action: c.echo_action, peek: () => this.#echoStep(text, seq) },
      { kind: "collapse", action: c.collapse_action, peek: () => this.#collapseStep(text, seq) },
    ];
    const steps: TrackerStep[] = [];
    const notices: NoticeEvent[] = [];
    const warned: _Kind[] = [];
    let why: string | undefined;
    let reason: DetectorStop | undefined;
    for (const { kind, action, peek } of checks) {
      if (action === "off") continue;
      const step = peek();
      steps.push(step);
      const found = step.finding;
      if (!found.detected) continue;
      if (action === "stop") {
        reason ??= REASONS[kind];
        why ??= `${kind} from turn ${found.from_turn} (${found.evidence})`;
        continue;
      }
      if (this.#warned.has(kind)) continue;
      warned.push(kind);
      notices.push({
        type: "notice",
        text: `${NOTICES[kind]}${found.evidence ? `: ${found.evidence}` : ""}`.slice(0, 2000),
        ...(found.from_turn ? { turn: found.from_turn } : {}),
      });
    }
    return {
      stop: why !== undefined,
      ...(why ? { why } : {}),
      ...(reason ? { reason } : {}),
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

  #echoStep(text: string, seq: number): TrackerStep {
    const step = this.#echo.peek(agentForTurn(seq), text, seq);
    const f = step.finding;
    return {
      finding: _finding(f.run_from, f.evidence),
      commit: step.commit,
    };
  }

  #collapseStep(text: string, seq: number): TrackerStep {
    const step = this.#collapse.peek(agentForTurn(seq), text, seq);
    const f = step.finding;
    return { finding: _finding(f.from_turn, f.evidence), commit: step.commit };
  }
}

function _finding(from: number | undefined, evidence: string | undefined): LoopResult {
  if (from === undefined) return { detected: false };
  return { detected: true, from_turn: from, ...(evidence ? { evidence } : {}) };
}
