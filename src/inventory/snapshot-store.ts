import type { Db } from '../db/open.js';
import { entryKey } from '../sku.js';
import type { SnapshotEntry } from './plan-stock-pushes.js';

/** One catalogue line as pulled from the supplier (money already in cents). */
export interface PulledEntry {
  region: string;
  denomination: number;
  currency: string;
  priceCents: number;
  qty: number;
}

export interface SnapshotRow extends SnapshotEntry {
  priceCents: number;
  listed: boolean;
}

export function loadSnapshot(db: Db): SnapshotRow[] {
  const rows = db
    .prepare(
      'SELECT region, denomination, currency, price_cents AS priceCents, qty, listed FROM supplier_entries ORDER BY entry_key',
    )
    .all() as (Omit<SnapshotRow, 'listed'> & { listed: number })[];
  return rows.map((r) => ({ ...r, listed: r.listed === 1 }));
}

/** The entries a pull lists, plus every earlier entry it no longer lists as discontinued (qty 0). */
export function mergePull(previous: readonly SnapshotRow[], pulled: readonly PulledEntry[]): SnapshotRow[] {
  const byKey = new Map<string, SnapshotRow>();
  for (const p of previous) byKey.set(entryKey(p), { ...p, qty: 0, listed: false });
  for (const e of pulled) byKey.set(entryKey(e), { ...e, listed: true });
  return [...byKey.values()];
}

export function countChanges(previous: readonly SnapshotRow[], next: readonly SnapshotRow[]): number {
  const before = new Map(previous.map((p) => [entryKey(p), p]));
  let n = 0;
  for (const e of next) {
    const p = before.get(entryKey(e));
    if (!p || p.qty !== e.qty || p.listed !== e.listed || p.priceCents !== e.priceCents) n++;
  }
  return n;
}

/** Writes the accepted snapshot. Call inside a transaction. */
export function saveSnapshot(db: Db, rows: readonly SnapshotRow[], now: number): void {
  const upsert = db.prepare(
    `INSERT INTO supplier_entries (entry_key, region, denomination, currency, price_cents, qty, listed, updated_at)
     VALUES (@key, @region, @denomination, @currency, @priceCents, @qty, @listed, @now)
     ON CONFLICT (entry_key) DO UPDATE SET currency = excluded.currency, price_cents = excluded.price_cents,
       qty = excluded.qty, listed = excluded.listed,
       updated_at = CASE WHEN qty != excluded.qty OR listed != excluded.listed OR price_cents != excluded.price_cents
                         THEN excluded.updated_at ELSE updated_at END`,
  );
  for (const r of rows) {
    upsert.run({ ...r, key: entryKey(r), listed: r.listed ? 1 : 0, now });
  }
}
