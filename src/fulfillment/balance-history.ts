import type { Db } from '../db/open.js';

/**
 * The supplier balance as read over time (every read, at most one row per millisecond), for the
 * dashboard's chart. Rows older than the chart's reach are reaped as new ones are written, so
 * the table stays bounded without a job of its own.
 */

export const BALANCE_HISTORY_MS = 30 * 24 * 3_600_000;

export function recordBalance(db: Db, cents: number, at: number): void {
  db.prepare('INSERT OR REPLACE INTO balance_history (at, cents) VALUES (?, ?)').run(at, cents);
  db.prepare('DELETE FROM balance_history WHERE at < ?').run(at - BALANCE_HISTORY_MS);
}

export function balanceHistory(db: Db, since: number): { at: number; cents: number }[] {
  return db.prepare('SELECT at, cents FROM balance_history WHERE at >= ? ORDER BY at').all(since) as {
    at: number;
    cents: number;
  }[];
}
