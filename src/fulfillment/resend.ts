import { immediate } from '../db/open.js';
import { UsageError } from '../errors.js';
import { buildDelivery } from './delivering.js';
import type { FulfillmentContext } from './fulfillment-context.js';

/**
 * `orders resend --store NAME --order ID`: the codes already delivered into a shop order, in front
 * of the buyer again. Nothing is bought and no new delivery is made: each finished delivery of the
 * order goes to the shop again under its own id (WooCommerce: a new customer note with the same
 * marker; Shopify: what the merchant can do, since its API cannot resend the email). Every
 * request is recorded in `code_resends`, with the outcome; the codes never leave memory.
 */

export async function resendCodes(ctx: FulfillmentContext, store: string, orderId: string): Promise<string> {
  const { db } = ctx;
  const shop = ctx.stores.get(store);
  if (!shop) throw new UsageError(`no store named "${store}"`);
  const done = db
    .prepare(
      `SELECT id, order_id AS orderId, completes, created_at AS createdAt FROM deliveries
       WHERE store = ? AND order_id = ? AND state = 'done' ORDER BY created_at`,
    )
    .all(store, orderId) as { id: string; orderId: string; completes: number; createdAt: number }[];
  if (done.length === 0)
    throw new UsageError(`order ${orderId} in ${store} has no delivered codes to send again`);
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
          'INSERT INTO code_resends (store, order_id, delivery_id, codes, outcome, requested_at) VALUES (?, ?, ?, ?, ?, ?)',
        )
        .run(store, orderId, d.id, n, outcome.kind, ctx.now()),
    );
    out.push(outcome.kind === 'resent' ? outcome.how : outcome.what);
  }
  const what = [...new Set(out)].join('; ');
  return `order ${orderId} in ${store}: ${codes} code(s) of ${done.length} delivery(ies), nothing bought — ${what}`;
}
