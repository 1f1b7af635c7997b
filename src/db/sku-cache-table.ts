import { skuKey } from '../sku.js';
import type { CachedSku, SkuCache, SkuState } from '../storefront.js';
import { type Db, immediate } from './open.js';

/** The SkuCache port backed by the `sku_cache` table, one namespace per store. */
export function sqliteSkuCache(db: Db, store: string): SkuCache {
  const get = db.prepare(
    'SELECT sku, state, ref, checked_at AS checkedAt FROM sku_cache WHERE store = ? AND sku_key = ?',
  );
  const put = db.prepare(
    `INSERT INTO sku_cache (store, sku_key, sku, state, ref, checked_at) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (store, sku_key) DO UPDATE SET sku = excluded.sku, state = excluded.state, ref = excluded.ref,
       checked_at = excluded.checked_at`,
  );
  const del = db.prepare('DELETE FROM sku_cache WHERE store = ? AND sku_key = ?');
  return {
    get(sku) {
      const row = get.get(store, skuKey(sku)) as
        | { sku: string; state: SkuState; ref: string | null; checkedAt: number }
        | undefined;
      if (!row) return undefined;
      return {
        sku: row.sku,
        state: row.state,
        ref: row.ref === null ? null : JSON.parse(row.ref),
        checkedAt: row.checkedAt,
      };
    },
    set(entries: CachedSku[]) {
      immediate(db, () => {
        for (const e of entries) {
          put.run(
            store,
            skuKey(e.sku),
            e.sku,
            e.state,
            e.ref === undefined ? null : JSON.stringify(e.ref),
            e.checkedAt,
          );
        }
      });
    },
    delete(sku) {
      del.run(store, skuKey(sku));
    },
  };
}

export function skuCounts(db: Db, store: string): Record<SkuState, number> {
  const rows = db
    .prepare('SELECT state, COUNT(*) AS n FROM sku_cache WHERE store = ? GROUP BY state')
    .all(store) as {
    state: SkuState;
    n: number;
  }[];
  const out: Record<SkuState, number> = { matched: 0, missing: 0, duplicate: 0 };
  for (const r of rows) out[r.state] = r.n;
  return out;
}

/** What the store's SKU cache knows of one SKU (undefined: never looked up). */
export function skuState(db: Db, store: string, sku: string): SkuState | undefined {
  const row = db
    .prepare('SELECT state FROM sku_cache WHERE store = ? AND sku_key = ?')
    .get(store, skuKey(sku)) as { state: SkuState } | undefined;
  return row?.state;
}

/** The SKUs of one state, as the shop spells them (sorted), for `status` to name them. */
export function skusInState(db: Db, store: string, state: SkuState): string[] {
  return (
    db.prepare('SELECT sku FROM sku_cache WHERE store = ? AND state = ? ORDER BY sku').all(store, state) as {
      sku: string;
    }[]
  ).map((r) => r.sku);
}
