import type { Db } from '../db/open.js';
import { skuKey } from '../sku.js';
import type { StockTarget } from '../storefront.js';

/**
 * A store's checkpoint: the quantity it last acknowledged per SKU. It advances only for what
 * the store confirmed, in the same transaction that records the acknowledgement, so a store
 * that was down is diffed against what it really shows and catches up exactly.
 */

export function loadCheckpoint(db: Db, store: string): Map<string, number> {
  const rows = db.prepare('SELECT sku_key AS k, qty FROM store_checkpoints WHERE store = ?').all(store) as {
    k: string;
    qty: number;
  }[];
  return new Map(rows.map((r) => [r.k, r.qty]));
}

/** skuKey → the price text this store last acknowledged (catalog.pricing). */
export function loadPriceCheckpoint(db: Db, store: string): Map<string, string> {
  const rows = db.prepare('SELECT sku_key AS k, price FROM store_prices WHERE store = ?').all(store) as {
    k: string;
    price: string;
  }[];
  return new Map(rows.map((r) => [r.k, r.price]));
}

/** Call inside a transaction. A target's price, when it carried one, advances with its quantity. */
export function advanceCheckpoint(db: Db, store: string, acked: readonly StockTarget[], now: number): void {
  const upsert = db.prepare(
    `INSERT INTO store_checkpoints (store, sku_key, sku, qty, acked_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (store, sku_key) DO UPDATE SET qty = excluded.qty, acked_at = excluded.acked_at`,
  );
  const price = db.prepare(
    `INSERT INTO store_prices (store, sku_key, price, acked_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (store, sku_key) DO UPDATE SET price = excluded.price, acked_at = excluded.acked_at`,
  );
  for (const t of acked) {
    upsert.run(store, skuKey(t.sku), t.sku, t.quantity, now);
    if (t.price !== undefined) price.run(store, skuKey(t.sku), t.price, now);
  }
}
