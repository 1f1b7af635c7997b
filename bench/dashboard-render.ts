import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { renderDashboard } from '../src/dashboard/dashboard-page.js';
import { readDashboard } from '../src/dashboard/dashboard-view.js';
import { immediate, migrate, openDb } from '../src/db/open.js';
import { entryKey, skuKey } from '../src/sku.js';
import { readStatus } from '../src/status.js';
import { benchCatalog, SKU_TEMPLATE } from './bench-support.js';

/**
 * The dashboard's server time (read the database + render the page) at N SKUs and two stores,
 * on a real SQLite file: what `GET /` costs the daemon, without the network.
 */

export interface DashboardRenderResult {
  skus: number;
  stores: number;
  medianMs: number;
  firstMs: number;
  pageBytes: number;
  /** The same with a catalogue filter (a region), the slowest query shape. */
  filteredMedianMs: number;
}

export function benchDashboardRender(n: number, runs = 9): DashboardRenderResult {
  const dir = mkdtempSync(path.join(tmpdir(), 'psnb2b-bench-dash-'));
  const db = openDb(path.join(dir, 'bench.db'));
  try {
    migrate(db);
    const { entries, skus } = benchCatalog(n);
    const stores = ['shop-woo', 'shop-shopify'];
    const now = Date.now();
    immediate(db, () => {
      const entry = db.prepare(
        `INSERT INTO supplier_entries (entry_key, region, denomination, currency, price_cents, qty, listed, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, 1, ?)`,
      );
      const ack = db.prepare(
        'INSERT INTO store_checkpoints (store, sku_key, sku, qty, acked_at) VALUES (?, ?, ?, ?, ?)',
      );
      const cache = db.prepare(
        'INSERT INTO sku_cache (store, sku_key, sku, state, checked_at) VALUES (?, ?, ?, ?, ?)',
      );
      entries.forEach((e, i) => {
        entry.run(entryKey(e), e.region, e.denomination, e.currency, e.priceCents, e.qty, now);
        const sku = skus[i] as string;
        for (const s of stores) {
          // One SKU in a hundred is missing from each shop, as in a real catalogue under way.
          const missing = i % 100 === 7;
          cache.run(s, skuKey(sku), sku, missing ? 'missing' : 'matched', now);
          if (!missing) ack.run(s, skuKey(sku), sku, e.qty, now);
        }
      });
      const bal = db.prepare('INSERT INTO balance_history (at, cents) VALUES (?, ?)');
      for (let i = 0; i < 2016; i++) bal.run(now - i * 300_000, 500_000 - i * 100);
    });
    const source = {
      db,
      mapping: { template: SKU_TEMPLATE, overrides: {} },
      storeNames: stores,
      fulfillment: true,
      status: () =>
        readStatus(
          db,
          stores.map((name) => ({ name, type: 'woocommerce' })),
        ),
    };
    const time = (filter: string) => {
      const times: number[] = [];
      let pageBytes = 0;
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        const page = renderDashboard(readDashboard(source, { page: 3, filter }), { csrf: 'c', nonce: 'n' });
        times.push(performance.now() - t0);
        pageBytes = Buffer.byteLength(page);
      }
      const sorted = [...times].sort((a, b) => a - b);
      return {
        median: sorted[Math.floor(sorted.length / 2)] as number,
        first: times[0] as number,
        pageBytes,
      };
    };
    const all = time('');
    const filtered = time(`${entries[0]?.region ?? 'US'}:`);
    return {
      skus: n,
      stores: stores.length,
      medianMs: all.median,
      firstMs: all.first,
      pageBytes: all.pageBytes,
      filteredMedianMs: filtered.median,
    };
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
