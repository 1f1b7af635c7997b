import { Counter, Gauge, Registry } from 'prom-client';
import type { Db } from '../db/open.js';
import { ordersStatus } from '../fulfillment/orders-report.js';
import { INVENTORY_RUNS, type RequestTally, SHOP_REQUESTS, SUPPLIER_REQUESTS } from './request-tally.js';

/**
 * `/metrics`: one prom-client registry per daemon (never the global default, so tests can run
 * several). Every figure is read at scrape time from what the daemon already records: the
 * database (inventory runs, lines, codes, balance, alerts) and the request tally. So counters
 * survive restarts, and `/metrics` can never disagree with `status`. Labels carry store names,
 * endpoints with `{id}`, states and kinds — never an id, a code or a secret.
 */

type Row = Record<string, string | number | null>;

function rows(db: Db, sql: string): Row[] {
  return db.prepare(sql).all() as Row[];
}

/**
 * A metric whose value is a figure the daemon keeps (a table, the tally): reset and filled at
 * each scrape. For a gauge that is its value; for a counter, its total so far.
 */
function storedMetric(
  registry: Registry,
  Metric: typeof Counter | typeof Gauge,
  name: string,
  help: string,
  labelNames: string[],
  read: () => { labels: Record<string, string>; n: number }[],
): void {
  new Metric({
    name,
    help,
    labelNames,
    registers: [registry],
    collect(this: { reset(): void; inc(labels: Record<string, string>, n: number): void }) {
      this.reset();
      for (const r of read()) this.inc(r.labels, r.n);
    },
  });
}

const grouped = (db: Db, sql: string, label: string) =>
  rows(db, sql).map((r) => ({ labels: { [label]: String(r.k) }, n: Number(r.n) }));

export function metricsRegistry(db: Db, tally: RequestTally): Registry {
  const registry = new Registry();
  storedMetric(
    registry,
    Counter,
    SUPPLIER_REQUESTS,
    'HTTP requests sent to the supplier, by endpoint and answer (refused, network: no HTTP status)',
    ['endpoint', 'status'],
    () => tally.read(SUPPLIER_REQUESTS),
  );
  storedMetric(
    registry,
    Counter,
    SHOP_REQUESTS,
    'HTTP requests sent to each shop, retries included',
    ['store', 'kind'],
    () => tally.read(SHOP_REQUESTS),
  );
  storedMetric(registry, Counter, INVENTORY_RUNS, 'Inventory runs finished, by outcome', ['outcome'], () =>
    tally.read(INVENTORY_RUNS),
  );
  storedMetric(
    registry,
    Counter,
    'psnb2b_codes_delivered_total',
    'Codes delivered into shop orders',
    ['store'],
    () =>
      grouped(
        db,
        `SELECT l.store AS k, COUNT(*) AS n FROM codes c JOIN shop_lines l ON l.id = c.line
       WHERE c.delivered_at IS NOT NULL GROUP BY l.store`,
        'store',
      ),
  );
  storedMetric(registry, Gauge, 'psnb2b_order_lines', 'Shop order lines, by state', ['state'], () =>
    grouped(db, 'SELECT state AS k, COUNT(*) AS n FROM shop_lines GROUP BY state', 'state'),
  );
  storedMetric(registry, Gauge, 'psnb2b_alerts_open', 'Open alerts, by kind', ['kind'], () =>
    grouped(
      db,
      'SELECT kind AS k, COUNT(*) AS n FROM alerts WHERE resolved_at IS NULL GROUP BY kind',
      'kind',
    ),
  );
  storedMetric(
    registry,
    Gauge,
    'psnb2b_balance_usd',
    'The supplier balance as last read (absent until read)',
    [],
    () => {
      const usd = ordersStatus(db).balance.usd;
      return usd === null ? [] : [{ labels: {}, n: usd }];
    },
  );
  storedMetric(
    registry,
    Gauge,
    'psnb2b_oldest_waiting_seconds',
    'Age of the oldest paid line not yet delivered',
    [],
    () => [{ labels: {}, n: ordersStatus(db).orders.oldestWaitingSeconds }],
  );
  return registry;
}
