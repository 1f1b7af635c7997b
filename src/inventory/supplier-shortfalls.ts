import type { Db } from '../db/open.js';
import { entryKey } from '../sku.js';

/**
 * Refused purchases, per supplier entry. A supplier's `/inventory` can be a cached feed that lags
 * its order desk by minutes, so a 409 is believed over the feed: the entry's snapshot quantity
 * drops at once to what the 409 said is available and stays capped there until the feed's own
 * quantity changes. Meanwhile a retry comes due after 1, 2, 4 … 30 minutes, and at most
 * `REFUSALS_PER_HOUR` refused `POST /orders` per entry go out in any rolling hour, whatever the
 * feed says. Both tables live in SQLite, so a restart resets neither.
 */

export const REFUSALS_PER_HOUR = 4;
const HOUR_MS = 3_600_000;
const MAX_RETRY_MS = 30 * 60_000;

export interface Shortfall {
  entryKey: string;
  /** What the feed listed when the supplier first refused: a different figure means it moved. */
  feedQty: number;
  /** What the last 409 said the order desk has, less what we bought since. */
  available: number;
  /** Refusals in a row (the backoff doubles with each). */
  refusals: number;
  /** A retry comes due then, even if the feed has not moved. */
  retryAt: number;
}

/** 1, 2, 4, 8, 16, 30, 30 … minutes after the n-th refusal in a row. */
export function retryDelayMs(refusals: number): number {
  return Math.min(MAX_RETRY_MS, 2 ** Math.max(0, refusals - 1) * 60_000);
}

export function shortfalls(db: Db): Map<string, Shortfall> {
  const rows = db
    .prepare(
      'SELECT entry_key AS entryKey, feed_qty AS feedQty, available, refusals, retry_at AS retryAt FROM entry_shortfalls',
    )
    .all() as Shortfall[];
  return new Map(rows.map((r) => [r.entryKey, r]));
}

/** entryKey → refused `POST /orders` in the hour before `now`. */
export function recentRefusals(db: Db, now: number): Map<string, number> {
  const rows = db
    .prepare('SELECT entry_key AS k, COUNT(*) AS n FROM purchase_refusals WHERE at > ? GROUP BY entry_key')
    .all(now - HOUR_MS) as { k: string; n: number }[];
  return new Map(rows.map((r) => [r.k, r.n]));
}

/**
 * One refused `POST /orders` for an entry, with what the 409 said is available: counted, the
 * retry pushed back, and the snapshot lowered so the shops are published less at once. Call
 * inside a transaction. Returns the refusals of the last hour, this one included.
 */
export function recordRefusal(db: Db, key: string, available: number, now: number): number {
  const prev = shortfalls(db).get(key);
  const snapshot = db.prepare('SELECT qty FROM supplier_entries WHERE entry_key = ?').get(key) as
    | { qty: number }
    | undefined;
  const refusals = (prev?.refusals ?? 0) + 1;
  db.prepare(
    `INSERT INTO entry_shortfalls (entry_key, feed_qty, available, refusals, retry_at, refused_at)
     VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (entry_key) DO UPDATE SET available = excluded.available, refusals = excluded.refusals,
       retry_at = excluded.retry_at, refused_at = excluded.refused_at`,
  ).run(key, prev?.feedQty ?? snapshot?.qty ?? 0, available, refusals, now + retryDelayMs(refusals), now);
  db.prepare('DELETE FROM purchase_refusals WHERE at <= ?').run(now - HOUR_MS);
  db.prepare('INSERT INTO purchase_refusals (entry_key, at) VALUES (?, ?)').run(key, now);
  db.prepare('UPDATE supplier_entries SET qty = MIN(qty, ?) WHERE entry_key = ?').run(available, key);
  return recentRefusals(db, now).get(key) ?? 0;
}

/**
 * The supplier accepted `units` of a short entry: the cap shrinks by them. More than it said it
 * had means the desk was restocked, and the cap goes. Call inside a transaction.
 */
export function recordBought(db: Db, key: string, units: number): void {
  const s = shortfalls(db).get(key);
  if (!s) return;
  if (units > s.available) {
    db.prepare('DELETE FROM entry_shortfalls WHERE entry_key = ?').run(key);
    return;
  }
  db.prepare('UPDATE entry_shortfalls SET available = available - ? WHERE entry_key = ?').run(units, key);
  db.prepare('UPDATE supplier_entries SET qty = MAX(0, qty - ?) WHERE entry_key = ?').run(units, key);
}

/**
 * A pull, with every short entry whose feed has not moved capped at what the supplier said it has;
 * `moved` lists the short entries whose feed quantity changed (their cap is lifted).
 */
export function capPull<T extends { region: string; denomination: number; qty: number }>(
  pulled: readonly T[],
  caps: ReadonlyMap<string, Shortfall>,
): { rows: T[]; moved: string[] } {
  const moved: string[] = [];
  const rows = pulled.map((p) => {
    const cap = caps.get(entryKey(p));
    if (!cap) return p;
    if (p.qty !== cap.feedQty) {
      moved.push(cap.entryKey);
      return p;
    }
    return { ...p, qty: Math.min(p.qty, cap.available) };
  });
  return { rows, moved };
}

/** The feed moved for these entries: their caps are lifted. Call inside a transaction. */
export function liftShortfalls(db: Db, keys: readonly string[]): void {
  const del = db.prepare('DELETE FROM entry_shortfalls WHERE entry_key = ?');
  for (const k of keys) del.run(k);
}

/**
 * What may be ordered of each entry now: nothing once the hour's refusals are spent; the feed's
 * own figure when a backoff retry is due (a probe of the order desk); else the snapshot, capped.
 */
export function buyableQty(
  snapshotQty: ReadonlyMap<string, number>,
  caps: ReadonlyMap<string, Shortfall>,
  recent: ReadonlyMap<string, number>,
  now: number,
): Map<string, number> {
  const out = new Map<string, number>();
  for (const [k, qty] of snapshotQty) {
    const cap = caps.get(k);
    if ((recent.get(k) ?? 0) >= REFUSALS_PER_HOUR) out.set(k, 0);
    else if (cap && now >= cap.retryAt) out.set(k, cap.feedQty);
    else out.set(k, qty);
  }
  return out;
}
