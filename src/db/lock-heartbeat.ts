import { every, type TimerDeps } from '../guarded-timers.js';
import { HEARTBEAT_MS, heartbeat, type LockOwner } from './run-lock.js';

/**
 * Keeps the run lock ours for as long as it is held: by the daemon until its runtime closes (its
 * drain included), and by the CLI's in-process runs, which can take minutes. A holder silent for
 * 30 s may be taken over, and two processes would then write at once. `onLost` (once): another
 * process took the lock. Returns the stop, for right before the lock is released.
 */
export function keepRunLock(deps: TimerDeps, owner: LockOwner, onLost: () => void): () => void {
  const timer = every(deps, 'heartbeat', HEARTBEAT_MS, () => {
    if (heartbeat(deps.db, owner)) return;
    clearInterval(timer);
    onLost();
  });
  return () => clearInterval(timer);
}
