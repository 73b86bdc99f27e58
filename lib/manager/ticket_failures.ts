/**
 * What the manager pool does when a ticket's handler throws: a Redis outage
 * is not the ticket's fault, so it is released to wait for Redis; any other
 * error is retried a few times (released after a growing pause), then the
 * run is failed and the ticket acknowledged, so one broken run cannot keep
 * a ticket circling for ever. A `DialogueError` is not retried: it says the
 * run itself cannot go on.
 *
 * @module
 */
import type { Redis } from "ioredis";
import type { ManagerTicket } from "../bus/dispatch.ts";
import type { HeldTicket, TicketOutcome } from "../bus/ticket_reader.ts";
import { isRedisOutage } from "../bus/redis_outage.ts";
import { sleep } from "../base/backoff.ts";
import { DialogueError } from "../base/dialogue_error.ts";
import { log } from "../base/logger.ts";
import { endRun } from "./run_ending.ts";

/** Failures of one ticket before the run is failed rather than retried. */
const MAX_TICKET_FAILURES = 5;

/** Options of {@linkcode TicketFailures}. */
export interface TicketFailuresOptions {
  /** How long a failed run's keys are kept (`retention.seconds`). @default kept for ever */
  retentionSeconds?: number | undefined;
  /** The pool's stop: a failure after it releases the ticket at once. */
  signal: AbortSignal;
}

/** Counts each held ticket's failures and decides what becomes of it. */
export class TicketFailures {
  readonly #redis: Redis;
  readonly #options: TicketFailuresOptions;
  readonly #counts = new Map<string, number>();

  constructor(redis: Redis, options: TicketFailuresOptions) {
    this.#redis = redis;
    this.#options = options;
  }

  /** Forgets the failures of ticket entry `id` (its handler succeeded). */
  forget(id: string): void {
    this.#counts.delete(id);
  }

  /**
   * A handler of `held` threw `error`: "release" to retry it (after a pause)
   * unless it keeps failing, then the run is failed and the ticket is
   * acknowledged ("ack").
   */
  async failed(held: HeldTicket<ManagerTicket>, error: unknown): Promise<TicketOutcome> {
    const { signal } = this.#options;
    const id = held.ticket.conversation_id;
    if (signal.aborted) return "release";
    if (isRedisOutage([this.#redis], error)) {
      // Not the ticket's fault: it waits, released, for Redis to come back.
      await sleep(500, signal);
      return "release";
    }
    const failures = (this.#counts.get(held.id) ?? 0) + 1;
    this.#counts.set(held.id, failures);
    const message = (error as Error)?.message ?? String(error);
    if (failures < MAX_TICKET_FAILURES && !(error instanceof DialogueError)) {
      log("manager").warn("Ticket {kind} of {id} failed ({error}); retrying", {
        kind: held.ticket.kind,
        id,
        error: message,
      });
      await new Promise((r) => setTimeout(r, 100 * failures));
      return "release";
    }
    this.#counts.delete(held.id);
    log("manager").error("Ticket {kind} of {id} failed for good: {error}", {
      kind: held.ticket.kind,
      id,
      error: message,
    });
    await endRun(this.#redis, id, {
      status: "failed",
      reason: "error",
      detail: `The manager could not handle the run: ${message}`,
      retentionSeconds: this.#options.retentionSeconds,
    }).catch(() => {});
    return "ack";
  }
}
