import type { Db } from '../db/open.js';
import { isHolderGone, type LockHolder, type LockOwner } from '../db/run-lock.js';

/** The outcome of a run whose process died mid-run (kill -9, a crash, power loss). */
export const INTERRUPTED = 'interrupted';

/**
 * Closes out the runs a dead process left open; left open, they would look running forever (the
 * dashboard, `sync_runs`) and uncounted. Only the holder of the run lock writes runs, so they are
 * no one's when the lock was free or its holder is surely dead. A holder on another host taken
 * over for a stale heartbeat may still be running: its runs are left for it to finish (or for the
 * next start after a clean release). Closed when found: the real end is unknown.
 */
export function closeInterruptedRuns(
  db: Db,
  now: number,
  lock: { owner: LockOwner; tookOverFrom?: LockHolder },
): number {
  if (lock.tookOverFrom && !isHolderGone(lock.tookOverFrom, lock.owner)) return 0;
  return db
    .prepare('UPDATE sync_runs SET finished_at = ?, outcome = ? WHERE finished_at IS NULL')
    .run(now, INTERRUPTED).changes;
}
