import { openAlerts } from './alerts.js';
import type { Db } from './db/open.js';
import { currentHolder } from './db/run-lock.js';
import { skuCounts, skusInState } from './db/sku-cache-table.js';
import { type OrdersStatus, ordersStatus } from './fulfillment/orders-report.js';
import { INTERRUPTED } from './inventory/interrupted-runs.js';

/** The `status --json` object (shape fixed in design-notes: other tools read it). */
export interface Status extends OrdersStatus {
  inventory: { lastRunAt: string | null; entries: number; lastChanges: number; lastOutcome: string | null };
  storefronts: {
    name: string;
    type: string;
    lastAckAt: string | null;
    skus: number;
    unmatched: number;
    missing: number;
    /** The SKUs behind `missing` and `unmatched`, by name. */
    missingSkus: string[];
    duplicateSkus: string[];
    lastError: string | null;
  }[];
  alerts: { kind: string; since: string; detail: string; subject: string }[];
  daemon: { running: boolean; pid: number | null; heartbeatAt: string | null };
}

const iso = (ms: number | null | undefined) => (ms ? new Date(ms).toISOString() : null);

export function emptyStatus(stores: readonly { name: string; type: string }[]): Status {
  return {
    inventory: { lastRunAt: null, entries: 0, lastChanges: 0, lastOutcome: null },
    storefronts: stores.map((s) => ({
      name: s.name,
      type: s.type,
      lastAckAt: null,
      skus: 0,
      unmatched: 0,
      missing: 0,
      missingSkus: [],
      duplicateSkus: [],
      lastError: null,
    })),
    alerts: [],
    daemon: { running: false, pid: null, heartbeatAt: null },
    orders: {
      received: 0,
      inFlight: 0,
      delivered: 0,
      parked: 0,
      onHold: 0,
      pooledCodes: 0,
      oldestWaitingSeconds: 0,
    },
    balance: { usd: null, at: null },
    claims: { open: 0, closingWithin24h: 0 },
  };
}

/** A store whose last push failed is what the operator must see first. */
function failingFirst<T extends { lastError: string | null }>(stores: T[]): T[] {
  return [...stores.filter((s) => s.lastError !== null), ...stores.filter((s) => s.lastError === null)];
}

export function readStatus(db: Db, stores: readonly { name: string; type: string }[]): Status {
  const last = db
    .prepare(
      `SELECT finished_at AS at, changes, outcome FROM sync_runs
       WHERE kind IN ('inventory', 'resync') AND finished_at IS NOT NULL AND outcome IS NOT ? ORDER BY id DESC LIMIT 1`,
    )
    // An interrupted run did not finish its work: readiness must not count it as a fresh run.
    .get(INTERRUPTED) as { at: number; changes: number | null; outcome: string } | undefined;
  const entries = (
    db.prepare('SELECT COUNT(*) AS n FROM supplier_entries WHERE listed = 1').get() as { n: number }
  ).n;
  const states = new Map(
    (
      db
        .prepare('SELECT store, last_ack_at AS lastAckAt, last_error AS lastError FROM store_state')
        .all() as {
        store: string;
        lastAckAt: number | null;
        lastError: string | null;
      }[]
    ).map((r) => [r.store, r]),
  );
  const holder = currentHolder(db);
  return {
    inventory: {
      lastRunAt: iso(last?.at),
      entries,
      lastChanges: last?.changes ?? 0,
      lastOutcome: last?.outcome ?? null,
    },
    storefronts: failingFirst(
      stores.map((s) => {
        const st = states.get(s.name);
        const counts = skuCounts(db, s.name);
        const err = st?.lastError ? (JSON.parse(st.lastError) as { message: string }).message : null;
        return {
          name: s.name,
          type: s.type,
          lastAckAt: iso(st?.lastAckAt),
          skus: counts.matched,
          unmatched: counts.duplicate,
          missing: counts.missing,
          missingSkus: skusInState(db, s.name, 'missing'),
          duplicateSkus: skusInState(db, s.name, 'duplicate'),
          lastError: err,
        };
      }),
    ),
    alerts: openAlerts(db).map((a) => ({
      kind: a.kind,
      since: new Date(a.since).toISOString(),
      detail: a.detail,
      subject: a.subject,
    })),
    daemon: {
      running: holder !== undefined,
      pid: holder?.pid ?? null,
      heartbeatAt: iso(holder?.heartbeatAt),
    },
    ...ordersStatus(db),
  };
}

/** Names, a handful per line's worth; the JSON form has them all. */
export function skuLine(what: string, skus: readonly string[], max = 20): string[] {
  if (skus.length === 0) return [];
  const more = skus.length > max ? ` … and ${skus.length - max} more (status --json lists all)` : '';
  return [`    ${what}: ${skus.slice(0, max).join(', ')}${more}`];
}

export function formatStatus(s: Status): string {
  const lines = [
    `daemon:    ${s.daemon.running ? `running (pid ${s.daemon.pid})` : 'not running'}`,
    `inventory: ${s.inventory.entries} entries, last run ${s.inventory.lastRunAt ?? 'never'} (${s.inventory.lastOutcome ?? '-'}, ${s.inventory.lastChanges} changes)`,
    'stores:',
    ...s.storefronts.flatMap((f) => [
      `  ${f.name} (${f.type}): ${f.lastError ? 'FAILING, ' : ''}${f.skus} SKUs matched, ${f.unmatched} unmatched, ${f.missing} not in shop; last ack ${f.lastAckAt ?? 'never'}${f.lastError ? `; last error: ${f.lastError}` : ''}`,
      ...skuLine('not in shop (add these products; the daemon never creates one)', f.missingSkus),
      ...skuLine('on more than one product (never published until only one carries it)', f.duplicateSkus),
    ]),
    `orders:    ${s.orders.received} line(s) received, ${s.orders.inFlight} in flight, ${s.orders.delivered} delivered, ${s.orders.onHold} on hold, ${s.orders.parked} parked intent(s), ${s.orders.pooledCodes} pooled code(s); oldest waiting ${s.orders.oldestWaitingSeconds} s`,
    `balance:   ${s.balance.usd === null ? 'unknown' : `${s.balance.usd} USD at ${s.balance.at}`}`,
    `claims:    ${s.claims.open} open; ${s.claims.closingWithin24h} delivered code(s) whose claim window closes within 24 h`,
    `alerts:    ${s.alerts.length === 0 ? 'none' : ''}`,
    ...s.alerts.map((a) => `  [${a.kind}${a.subject ? ` ${a.subject}` : ''}] since ${a.since}: ${a.detail}`),
  ];
  return lines.join('\n');
}
