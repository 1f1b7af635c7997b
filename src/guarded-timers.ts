import { raiseAlert, resolveAlert } from './alerts.js';
import type { Db } from './db/open.js';
import { describeSafeError, toSafeError } from './errors.js';
import type { Logger } from './log.js';

/**
 * Timers that never kill the daemon. A throw in a timer callback is an uncaught exception, and
 * a database error (`database is locked`, `SQLITE_FULL`) in the heartbeat used to end the
 * process. Every tick goes through `guardedTick`: a failure is logged, raises alert
 * `timer-failed` (subject: the timer's name) and the next tick is the retry; the first success
 * after it clears the alert. When the database itself is what fails, the alert cannot be written
 * either: it is tried again at every failing tick and the log says so meanwhile.
 */

export const TIMER_ALERT = 'timer-failed';
/** While a timer keeps failing, one log line per this long (a 1 s tick would flood the log). */
const LOG_EVERY_MS = 60_000;

export interface TimerDeps {
  db: Db;
  log: Logger;
  now?: () => number;
}

export function guardedTick(deps: TimerDeps, name: string, tick: () => unknown): () => void {
  const now = deps.now ?? Date.now;
  const meta = { component: 'daemon', timer: name };
  let failures = 0;
  let firstAt = 0;
  let loggedAt = 0;
  // True at first, so the first success also clears an alert a previous process left open.
  let alerted = true;

  const failed = (e: unknown) => {
    const t = now();
    if (failures === 0) firstAt = t;
    failures++;
    const why = describeSafeError(toSafeError(e));
    if (failures === 1 || t - loggedAt >= LOG_EVERY_MS) {
      loggedAt = t;
      deps.log.error(
        `${name} timer failed (${failures}× since ${new Date(firstAt).toISOString()}): ${why}; retrying at its next tick`,
        meta,
      );
    }
    try {
      raiseAlert(
        deps.db,
        TIMER_ALERT,
        name,
        `the ${name} timer has failed ${failures}× since ${new Date(firstAt).toISOString()}: ${why}`,
        firstAt,
      );
      alerted = true;
    } catch {
      // The database is what fails; the next failing tick tries again.
    }
  };
  const succeeded = () => {
    if (failures === 0 && !alerted) return;
    try {
      resolveAlert(deps.db, TIMER_ALERT, name, now());
    } catch {
      return; // not cleared yet: the next successful tick tries again
    }
    if (failures > 0) deps.log.info(`${name} timer recovered after ${failures} failure(s)`, meta);
    failures = 0;
    alerted = false;
  };

  return () => {
    try {
      const out = tick();
      if (out instanceof Promise) out.then(succeeded, failed);
      else succeeded();
    } catch (e) {
      failed(e);
    }
  };
}

/**
 * `setInterval` of a guarded tick, optionally run once at once too (sharing its failure state);
 * unref'd, so it never holds a stopping process open.
 */
export function every(
  deps: TimerDeps,
  name: string,
  ms: number,
  tick: () => unknown,
  opts: { atStart?: boolean } = {},
): NodeJS.Timeout {
  const guarded = guardedTick(deps, name, tick);
  const timer = setInterval(guarded, ms);
  timer.unref();
  if (opts.atStart) guarded();
  return timer;
}
