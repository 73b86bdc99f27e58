/**
 * The manager's live quality checks: after each turn, the loop and staleness
 * detectors run on the replies so far; depending on
 * `conversation.loop_action` / `stale_action` a finding is ignored, reported
 * to observers once as a notice, or ends the run (recorded as `loop`).
 *
 * @module
 */
import type { Config } from "../config/config.ts";
import { detectLoop, detectStale } from "../analysis/loop_detector.ts";
import type { LiveEvent } from "../model/live_event.ts";
import { log } from "../base/logger.ts";

/** Reports a notice to observers. */
export type NoticeSink = (event: Extract<LiveEvent, { type: "notice" }>) => Promise<void>;

/** Runs the detectors turn by turn over one conversation's replies. */
export class LiveDetectors {
  readonly #conversation: Config["conversation"];
  readonly #notify: NoticeSink;
  readonly #warned = new Set<string>();

  constructor(conversation: Config["conversation"], notify: NoticeSink) {
    this.#conversation = conversation;
    this.#notify = notify;
  }

  /**
   * Checks the replies of turns 1..n (`texts`); true when the run must end
   * as `loop`.
   */
  async shouldStop(texts: readonly string[]): Promise<boolean> {
    const checks = [
      { kind: "loop", action: this.#conversation.loop_action, detect: detectLoop },
      { kind: "stale", action: this.#conversation.stale_action, detect: detectStale },
    ] as const;
    for (const { kind, action, detect } of checks) {
      if (action === "off") continue;
      const found = detect(texts);
      if (!found.detected) continue;
      if (action === "stop") {
        log("manager").info("Stopping after turn {seq}: {kind} from turn {turn} ({evidence})", {
          seq: texts.length,
          kind,
          turn: found.from_turn,
          evidence: found.evidence,
        });
        // Both end as `loop`: the agents stopped saying anything new.
        return true;
      }
      if (this.#warned.has(kind)) continue;
      this.#warned.add(kind);
      const what = kind === "loop"
        ? "The agents are repeating each other"
        : "The conversation has gone stale (little new in recent turns)";
      await this.#notify({
        type: "notice",
        text: `${what}${found.evidence ? `: ${found.evidence}` : ""}`,
        ...(found.from_turn ? { turn: found.from_turn } : {}),
      });
    }
    return false;
  }
}
