/**
 * The step of an incremental detector: what checking one turn found, and how
 * to keep the turn in the detector's state. Checking is split from
 * committing so that a turn checked but then refused leaves no trace.
 *
 * @module
 */

/** What checking one turn found, and how to keep the turn in the state. */
export interface TrackerStep<F> {
  finding: F;
  /** Records the checked turn as part of the conversation. */
  commit(): void;
}
