import { type Db, immediate } from '../db/open.js';
import { describeSafeError, type SafeError, UsageError } from '../errors.js';
import {
  type DeliveryRow,
  resolveDeliveryAlerts,
  unsettledDeliveries,
  unsettledDeliveryOf,
} from './delivery-ledger.js';
import { orderWorkKey } from './delivery-runner.js';
import type { FulfillmentContext } from './fulfillment-context.js';
import { isOwed, lineById, moveLine } from './fulfillment-ledger.js';
import { advance } from './recovery-points.js';

/**
 * What an operator decides for a `failed` delivery (`orders retry-delivery` / `orders
 * abandon-delivery`), and how `orders` shows deliveries that have not ended. Each decision is
 * checked inside the transaction that acts on it.
 */

export interface DeliveryListing {
  id: string;
  store: string;
  orderId: string;
  state: DeliveryRow['state'];
  /** The last shop write done (null: none yet). */
  step: string | null;
  attempts: number;
  codes: number;
  /** A write may have reached the shop: abandoning keeps its codes out of the pool. */
  mayHaveWritten: boolean;
  lastError: string | null;
}

function codesOf(db: Db, deliveryId: string): number {
  return (
    db
      .prepare('SELECT COUNT(*) AS n FROM codes WHERE delivery_id = ? AND delivered_at IS NULL')
      .get(deliveryId) as { n: number }
  ).n;
}

export function deliveryListing(db: Db): DeliveryListing[] {
  return unsettledDeliveries(db).map((d) => ({
    id: d.id,
    store: d.store,
    orderId: d.orderId,
    state: d.state,
    step: d.step,
    attempts: d.attempts,
    codes: codesOf(db, d.id),
    mayHaveWritten: d.mayHaveWritten === 1,
    lastError: d.lastError ? describeSafeError(JSON.parse(d.lastError) as SafeError) : null,
  }));
}

function failedDeliveryOf(db: Db, store: string, orderId: string): DeliveryRow {
  const d = unsettledDeliveryOf(db, store, orderId);
  if (d?.state !== 'failed') {
    throw new UsageError(
      `order ${orderId} in ${store} has no failed delivery${d ? ` (its delivery is ${d.state})` : ''}`,
    );
  }
  return d;
}

/** `orders retry-delivery`: the failed delivery goes again from where it stopped, with fresh attempts. */
export async function retryDelivery(
  ctx: FulfillmentContext,
  store: string,
  orderId: string,
): Promise<string> {
  const { db } = ctx;
  // A refund can fail a delivery while its task is still writing: revived now, that task would
  // write on into the refunded order without reading it again. It ends first.
  await ctx.deliveries.whenFree(orderWorkKey(store, orderId));
  const d = immediate(db, () => {
    const failed = failedDeliveryOf(db, store, orderId);
    advance(db, 'delivery', failed.id, 'failed', 'pending', ctx.now());
    db.prepare('UPDATE deliveries SET attempts = 0, next_try_at = 0 WHERE id = ?').run(failed.id);
    return failed;
  });
  return `delivery ${d.id} into ${store} order ${orderId} will be tried again (${codesOf(db, d.id)} code(s))`;
}

/**
 * `orders abandon-delivery`: the delivery ends. Its codes go to the pool if none of its writes can
 * have reached the shop; otherwise the buyer may hold them, so they are kept out of the pool. Its
 * lines are held for the operator (`abandoned`), never bought or delivered again by themselves.
 */
export async function abandonDelivery(
  ctx: FulfillmentContext,
  store: string,
  orderId: string,
): Promise<string> {
  const { db } = ctx;
  // Whether its writes can have reached the shop is known only once no task is writing it.
  await ctx.deliveries.whenFree(orderWorkKey(store, orderId));
  return immediate(db, () => {
    const d = failedDeliveryOf(db, store, orderId);
    const now = ctx.now();
    advance(db, 'delivery', d.id, 'failed', 'abandoned', now);
    const lineIds = (
      db.prepare('SELECT DISTINCT line FROM codes WHERE delivery_id = ? AND line IS NOT NULL').all(d.id) as {
        line: number;
      }[]
    ).map((r) => r.line);
    const codes = codesOf(db, d.id);
    if (!d.mayHaveWritten) {
      db.prepare(
        'UPDATE codes SET line = NULL, unit_index = NULL, delivery_id = NULL WHERE delivery_id = ? AND delivered_at IS NULL',
      ).run(d.id);
    }
    for (const id of lineIds) {
      const line = lineById(db, id);
      if (line && isOwed(line)) moveLine(db, line, 'held', now, { holdReason: 'abandoned' });
    }
    resolveDeliveryAlerts(db, d.id, now);
    return d.mayHaveWritten
      ? `delivery ${d.id} abandoned; a write of it may have reached the order, so its ${codes} code(s) are kept out of the pool; its line(s) are held for you`
      : `delivery ${d.id} abandoned; its ${codes} code(s) went to the pool; its line(s) are held for you`;
  });
}
