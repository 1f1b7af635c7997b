import type { Db } from '../db/open.js';
import { getKv } from '../db/open.js';
import { centsToUsd } from '../money.js';
import { CLAIM_MARGIN_MS, CLAIM_WINDOW_MS } from './claims.js';
import { type DeliveryListing, deliveryListing } from './delivery-decisions.js';
import {
  type IntentRow,
  intentAllocations,
  intentsIn,
  type LineRow,
  linesInState,
} from './fulfillment-ledger.js';
import { BALANCE_KV } from './purchasing.js';
import { type ResendRecord, recentResends } from './resend.js';

/** What `status` and `psnb2b-sync orders` show of the money path. Counts, never codes. */

export interface OrdersStatus {
  orders: {
    received: number;
    inFlight: number;
    delivered: number;
    parked: number;
    onHold: number;
    pooledCodes: number;
    oldestWaitingSeconds: number;
  };
  balance: { usd: number | null; at: string | null };
  claims: { open: number; closingWithin24h: number };
}

const count = (db: Db, sql: string, ...args: unknown[]) => (db.prepare(sql).get(...args) as { n: number }).n;

export function ordersStatus(db: Db, now = Date.now()): OrdersStatus {
  const oldest = db
    .prepare("SELECT MIN(received_at) AS t FROM shop_lines WHERE state IN ('open', 'held')")
    .get() as { t: number | null };
  const bal = getKv(db, BALANCE_KV);
  const balance = bal ? (JSON.parse(bal) as { cents: number; at: number }) : null;
  // Delivered codes whose claim window closes within a day: a claim for them must be filed now.
  const windowStart = now + 24 * 3_600_000 - CLAIM_WINDOW_MS + CLAIM_MARGIN_MS;
  return {
    orders: {
      received: count(db, 'SELECT COUNT(*) AS n FROM shop_lines'),
      inFlight: count(db, "SELECT COUNT(*) AS n FROM shop_lines WHERE state = 'open'"),
      delivered: count(db, "SELECT COUNT(*) AS n FROM shop_lines WHERE state = 'delivered'"),
      parked: count(db, "SELECT COUNT(*) AS n FROM purchase_intents WHERE state = 'parked'"),
      onHold: count(db, "SELECT COUNT(*) AS n FROM shop_lines WHERE state = 'held'"),
      pooledCodes: count(db, 'SELECT COUNT(*) AS n FROM codes WHERE line IS NULL'),
      oldestWaitingSeconds: oldest.t ? Math.max(0, Math.round((now - oldest.t) / 1000)) : 0,
    },
    balance: balance
      ? { usd: centsToUsd(balance.cents), at: new Date(balance.at).toISOString() }
      : { usd: null, at: null },
    claims: {
      open: count(db, "SELECT COUNT(*) AS n FROM claims WHERE state = 'open'"),
      closingWithin24h: count(
        db,
        `SELECT COUNT(*) AS n FROM codes c JOIN purchase_intents pi ON pi.id = c.intent_id
         WHERE c.delivered_at IS NOT NULL AND COALESCE(pi.supplier_delivered_at, c.delivered_at) BETWEEN ? AND ?
           AND NOT EXISTS (SELECT 1 FROM claims cl WHERE cl.code_id = c.id)`,
        now - CLAIM_WINDOW_MS + CLAIM_MARGIN_MS,
        windowStart,
      ),
    },
  };
}

export interface OrdersListing {
  parked: (IntentRow & { lines: number })[];
  inFlight: IntentRow[];
  held: LineRow[];
  /** Deliveries not yet ended: pending (being written) and failed (an operator decides). */
  deliveries: DeliveryListing[];
  /** The latest `orders resend` requests, newest first. */
  resends: ResendRecord[];
}

export function ordersListing(db: Db): OrdersListing {
  return {
    parked: intentsIn(db, 'parked').map((i) => ({ ...i, lines: intentAllocations(db, i.id).length })),
    inFlight: intentsIn(db, 'created', 'sending', 'ordered'),
    held: linesInState(db, 'held'),
    deliveries: deliveryListing(db),
    resends: recentResends(db),
  };
}

export function formatOrdersListing(l: OrdersListing): string {
  const t = (ms: number | null) => (ms ? new Date(ms).toISOString() : '-');
  const usd = (c: number | null) => (c === null ? '?' : `${centsToUsd(c)} USD`);
  const items = (i: IntentRow) => i.items.map((x) => `${x.qty}× ${x.entryKey}`).join(', ');
  const out: string[] = [];
  out.push(
    `parked (an operator decides; \`orders resolve <intentId> --supplier-order ID | --rebuy | --abandon\`): ${l.parked.length}`,
  );
  for (const i of l.parked) {
    out.push(
      `  ${i.id}  ${items(i)}  reference ${i.idempotencyKey}  sent ${t(i.sentAt)}  balance before ${usd(i.balanceBeforeCents)}, after ${usd(i.balanceAfterCents)}${i.lastError ? `  (${i.lastError.message})` : ''}`,
    );
  }
  out.push(`in flight: ${l.inFlight.length}`);
  for (const i of l.inFlight) {
    out.push(
      `  ${i.id}  ${i.state}${i.supplierOrderId ? ` ${i.supplierOrderId} (${i.supplierStatus})` : ''}  ${items(i)}`,
    );
  }
  out.push(`held lines: ${l.held.length}`);
  for (const h of l.held) {
    out.push(
      `  ${h.store} order ${h.orderNumber} line ${h.lineId} ${h.sku} ×${h.units}: ${h.holdReason}  since ${t(h.receivedAt)}`,
    );
  }
  const failed = l.deliveries.filter((d) => d.state === 'failed');
  out.push(
    `failed deliveries (an operator decides; \`orders retry-delivery | abandon-delivery --store NAME --order ID\`): ${failed.length}`,
  );
  for (const d of failed) {
    out.push(
      `  ${d.store} order ${d.orderId}  ${d.codes} code(s) kept  ${d.attempts} attempt(s), last write done: ${d.step ?? 'none'}${d.mayHaveWritten ? ' (a write may have reached the order)' : ''}${d.lastError ? `  (${d.lastError})` : ''}`,
    );
  }
  out.push(`deliveries being written: ${l.deliveries.length - failed.length}`);
  out.push(`codes sent again (\`orders resend\`), latest ${l.resends.length}:`);
  for (const r of l.resends) {
    out.push(
      `  ${r.store} order ${r.orderId}  ${r.codes} code(s)  ${r.outcome === 'resent' ? 'sent to the buyer' : 'the merchant resends from the shop admin'}  by ${r.by} at ${t(r.at)}`,
    );
  }
  return out.join('\n');
}
