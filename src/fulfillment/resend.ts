import { type Db, immediate } from '../db/open.js';
import { UsageError } from '../errors.js';
import { buildDelivery } from './delivering.js';
import type { DeliveryRow } from './delivery-ledger.js';
import type { FulfillmentContext } from './fulfillment-context.js';

/**
 * `orders resend --store NAME --order ID`: the codes already delivered into a shop order, in front
 * of the buyer again. Nothing is bought and no new delivery is made: each finished delivery of the
 * order goes to the shop again under its own id (WooCommerce: a new customer note with the same
 * marker; Shopify: what the merchant can do, since its API cannot resend the email). Every
 * request is recorded in `code_resends` (who, when, how many codes, never the codes), and shown
 * by `orders`; the codes never leave memory except in the shop write.
 */

export async function resendCodes(
  ctx: FulfillmentContext,
  store: string,
  orderId: string,
  by = 'cli',
): Promise<string> {
  const { db } = ctx;
  const shop = ctx.stores.get(store);
  if (!shop) throw new UsageError(`no store named "${store}" (have: ${[...ctx.stores.keys()].join(', ')})`);
  const deliveries = db
    .prepare(
      `SELECT id, order_id AS orderId, completes, created_at AS createdAt, state FROM deliveries
       WHERE store = ? AND order_id = ? ORDER BY created_at`,
    )
    .all(store, orderId) as Pick<DeliveryRow, 'id' | 'orderId' | 'completes' | 'createdAt' | 'state'>[];
  const done = deliveries.filter((d) => d.state === 'done');
  if (done.length === 0) {
    throw new UsageError(
      nothingToResend(
        store,
        orderId,
        deliveries.map((d) => d.state),
      ),
    );
  }
  const out: string[] = [];
  let codes = 0;
  for (const d of done) {
    const delivery = buildDelivery(ctx, d);
    const outcome = await shop.orders.resendDelivery(delivery);
    const n = delivery.lines.reduce((s, l) => s + l.codes.length, 0);
    codes += n;
    immediate(db, () =>
      db
        .prepare(
          `INSERT INTO code_resends (store, order_id, delivery_id, codes, outcome, requested_by, requested_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(store, orderId, d.id, n, outcome.kind, by, ctx.now()),
    );
    out.push(outcome.kind === 'resent' ? outcome.how : outcome.what);
  }
  const what = [...new Set(out)].join('; ');
  return `order ${orderId} in ${store}: ${codes} code(s) of ${done.length} delivery(ies), nothing bought — ${what}`;
}

/** Why an order has no finished delivery to send again, by what became of its deliveries. */
export function nothingToResend(
  store: string,
  orderId: string,
  states: readonly DeliveryRow['state'][],
): string {
  const order = `order ${orderId} in ${store}`;
  if (states.includes('failed'))
    return `${order}: its delivery failed and never finished; decide it first with \`orders retry-delivery\` or \`orders abandon-delivery\``;
  if (states.includes('pending'))
    return `${order}: its delivery is still being written into the order; it reaches the buyer by itself`;
  if (states.includes('abandoned'))
    return `${order}: its delivery was abandoned: no codes of ours reached the buyer through it, nothing to send again`;
  if (states.includes('cancelled'))
    return `${order}: its delivery was cancelled (the order was refunded before any write), nothing to send again`;
  return `${order}: we never delivered codes into it, nothing to send again`;
}

export interface ResendRecord {
  store: string;
  orderId: string;
  deliveryId: string;
  codes: number;
  outcome: 'resent' | 'merchant';
  by: string;
  at: number;
}

/** The latest `orders resend` requests, newest first (for `orders` and the admin API). */
export function recentResends(db: Db, limit = 10): ResendRecord[] {
  return db
    .prepare(
      `SELECT store, order_id AS orderId, delivery_id AS deliveryId, codes, outcome, requested_by AS by,
              requested_at AS at
       FROM code_resends ORDER BY requested_at DESC, id DESC LIMIT ?`,
    )
    .all(limit) as ResendRecord[];
}
