import { type Db, immediate } from '../db/open.js';
import type { Storefront } from '../storefront.js';

/**
 * The counters of `/metrics` no other table keeps: supplier and shop calls (here), and finished
 * inventory runs (a trigger on `sync_runs`, whose rows the reaper deletes). They live in
 * `metric_counts`, so they survive restarts and reaping. Increments gather in memory and are
 * added by `flush()` (a timer, each scrape, and at close): a crash loses at most the increments
 * since the last flush, and a counter never goes down.
 */

export const SUPPLIER_REQUESTS = 'psnb2b_supplier_requests_total';
export const SHOP_REQUESTS = 'psnb2b_shop_requests_total';
/** Counted by a trigger on `sync_runs` (migration 6), whose rows the reaper deletes. */
export const INVENTORY_RUNS = 'psnb2b_inventory_runs_total';

export type Labels = Record<string, string>;

/** Labels as one stable key: sorted names, so `{a,b}` and `{b,a}` are one series. */
function labelKey(labels: Labels): string {
  return JSON.stringify(Object.fromEntries(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b))));
}

export interface SupplierAnswer {
  endpoint: string;
  status: string;
  at: number;
}

export class RequestTally {
  private readonly pending = new Map<string, { metric: string; key: string; n: number }>();
  /** Per store, the adapter's call totals already counted. */
  private readonly seenShop = new Map<string, { reads: number; writes: number }>();
  /** The supplier's answer to the latest call, for `/readyz`. */
  lastSupplier: SupplierAnswer | undefined;

  constructor(
    private readonly db: Db,
    private readonly stores: () => readonly Storefront[],
    private readonly now: () => number = Date.now,
  ) {}

  add(metric: string, labels: Labels, n = 1): void {
    if (n <= 0) return;
    const key = labelKey(labels);
    const id = `${metric}\u0000${key}`;
    const row = this.pending.get(id) ?? { metric, key, n: 0 };
    row.n += n;
    this.pending.set(id, row);
  }

  /** The supplier client's `onAttempt` hook. */
  readonly supplierAttempt = (endpoint: string, status: string): void => {
    this.add(SUPPLIER_REQUESTS, { endpoint, status });
    this.lastSupplier = { endpoint, status, at: this.now() };
  };

  /** The shops' calls since the last look (the adapters count every attempt). */
  private sampleShops(): void {
    for (const s of this.stores()) {
      const seen = this.seenShop.get(s.name) ?? { reads: 0, writes: 0 };
      const { reads, writes } = s.requests;
      this.add(SHOP_REQUESTS, { store: s.name, kind: 'read' }, reads - seen.reads);
      this.add(SHOP_REQUESTS, { store: s.name, kind: 'write' }, writes - seen.writes);
      this.seenShop.set(s.name, { reads, writes });
    }
  }

  flush(): void {
    this.sampleShops();
    if (this.pending.size === 0) return;
    const rows = [...this.pending.values()];
    this.pending.clear();
    const upsert = this.db.prepare(
      `INSERT INTO metric_counts (metric, labels, n) VALUES (?, ?, ?)
       ON CONFLICT (metric, labels) DO UPDATE SET n = n + excluded.n`,
    );
    try {
      immediate(this.db, () => {
        for (const r of rows) upsert.run(r.metric, r.key, r.n);
      });
    } catch (e) {
      // Not written: counted again at the next flush.
      for (const r of rows) this.add(r.metric, JSON.parse(r.key) as Labels, r.n);
      throw e;
    }
  }

  /** Every series of one metric, as of now (flushes first). */
  read(metric: string): { labels: Labels; n: number }[] {
    this.flush();
    return (
      this.db.prepare('SELECT labels, n FROM metric_counts WHERE metric = ?').all(metric) as {
        labels: string;
        n: number;
      }[]
    ).map((r) => ({ labels: JSON.parse(r.labels) as Labels, n: r.n }));
  }
}
