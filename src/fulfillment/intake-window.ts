/**
 * How far back each order listing looks (issue 13). Shops stamp an order when its save starts,
 * and a listing can show it only once the save is done (or, on Shopify, indexed), so an order can
 * appear with a time behind orders already listed: the cursor (the newest shop time seen) needs
 * an overlap. Looking back the full overlap on every poll re-lists every order of the last
 * minutes each time, so most polls look back a little and a sweep looks back the full overlap.
 */

/** Most polls: the cursor's own second plus writes that finish or index a few seconds late. */
export const SHORT_OVERLAP_MS = 10_000;
/** A sweep: clock skew and slow writes, up to this far behind the cursor. */
export const SWEEP_OVERLAP_MS = 2 * 60_000;
/** A sweep runs on the first poll at least this long after the last one. */
export const SWEEP_EVERY_MS = 60_000;

/** The last sweep that listed: when (our clock) and the cursor it started from. */
export interface SweepMark {
  at: number;
  cursor: string;
}

export interface IntakeWindow {
  /** List orders changed at or after this shop time; null = no cursor yet (the adapter's first read). */
  since: string | null;
  sweep: boolean;
}

const minus = (iso: string, ms: number) => new Date(Date.parse(iso) - ms).toISOString();

export function intakeWindow(
  cursor: string | null,
  lastSweep: SweepMark | undefined,
  now: number,
): IntakeWindow {
  if (cursor === null) return { since: null, sweep: true };
  if (lastSweep && now - lastSweep.at < SWEEP_EVERY_MS) {
    return { since: minus(cursor, SHORT_OVERLAP_MS), sweep: false };
  }
  // From the last sweep's cursor, not today's: an order that appeared after that sweep, stamped
  // up to the full overlap earlier, is behind it, however far the cursor has moved since.
  const from = lastSweep && Date.parse(lastSweep.cursor) < Date.parse(cursor) ? lastSweep.cursor : cursor;
  return { since: minus(from, SWEEP_OVERLAP_MS), sweep: true };
}
