import type { Db } from '../db/open.js';
import { isHolderGone, type LockHolder, type LockOwner } from '../db/run-lock.js';

/** The outcome of a run whose process died mid-run (kill -9, a crash, power loss). */
export const INTERRUPTED = 'interrupted';

/**
 * A holder taken over for its silence learns it at its next heartbeat (5 s) and stops, finishing
 * at most the step in flight. After this its runs are closed out too: one still finishing keeps
 * that outcome (its own finish only warns), so an early close costs a record, not a write.
 */
export const TAKEN_OVER_GRACE_MS = 60_000;

/**
 * Which runs the new holder of the run lock closes out, and when. Left open they would look
 * running forever (the dashboard, `sync_runs`) and uncounted. Only the holder writes runs, so the
 * runs open at taking the lock (`upToId`) are no one's at once when the lock was free or its
 * holder is surely dead, and after `TAKEN_OVER_GRACE_MS` when it may still be running: on another
 * host, or this one seen from a restarted container (a new pid namespace).
 */
export function interruptedRunsPlan(
  db: Db,
  lock: { owner: LockOwner; tookOverFrom?: LockHolder },
): { upToId: number; afterMs: number } {
  const upToId = (db.prepare('SELECT COALESCE(MAX(id), 0) AS id FROM sync_runs').get() as { id: number }).id;
  const afterMs = lock.tookOverFrom && !isHolderGone(lock.tookOverFrom, lock.owner) ? TAKEN_OVER_GRACE_MS : 0;
  return { upToId, afterMs };
}

/** Closes the runs still open up to `upToId` as interrupted, ending now: the real end is unknown. */
export function closeInterruptedRuns(db: Db, now: number, upToId: number): number {
  return db
    .prepare('UPDATE sync_runs SET finished_at = ?, outcome = ? WHERE finished_at IS NULL AND id <= ?')
    .run(now, INTERRUPTED, upToId).changes;
}
