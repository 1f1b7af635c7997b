import type { Db } from '../db/open.js';

/** The outcome of a run whose process died mid-run (kill -9, a crash, power loss). */
export const INTERRUPTED = 'interrupted';

/**
 * Closes out the runs a dead process left open. Only the holder of the run lock writes runs, so
 * at taking the lock an open one belongs to no one; left open, it would look running forever
 * (the dashboard, `sync_runs`) and uncounted. It is closed when found: its real end is unknown.
 */
export function closeInterruptedRuns(db: Db, now: number): number {
  return db
    .prepare('UPDATE sync_runs SET finished_at = ?, outcome = ? WHERE finished_at IS NULL')
    .run(now, INTERRUPTED).changes;
}
