import { afterEach, describe, expect, it } from 'vitest';
import { ordersStatus } from '../../src/fulfillment/orders-report.js';
import { type FulfillmentWorld, startFulfillmentWorld } from '../helpers/fulfillment-world.js';

/**
 * The fewest Shopify calls per order (issue 13): through the core, the real adapter and the real
 * `@shopify/shopify-api` client over HTTP to the strict fake, counted from the fake's own log of
 * executed operations. The intake listing is shared by every order it carries: counted apart.
 */

let w: FulfillmentWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const LISTING = 'OrderIntake';

/** Executed operations by name, the listing left out. */
function perOrderOperations(world: FulfillmentWorld): Record<string, number> {
  const out: Record<string, number> = {};
  for (const op of world.shop.stats.operations) {
    const name = op.name ?? '(anonymous)';
    if (name !== LISTING) out[name] = (out[name] ?? 0) + 1;
  }
  return out;
}

describe('the fewest Shopify calls per order', () => {
  it('a first attempt: the read before delivering, one metafieldsSet, one fulfillmentCreate — 3 an order', async () => {
    w = await startFulfillmentWorld();
    const world = w;
    const n = 4;
    const placed = Array.from({ length: n }, (_, i) =>
      world.shop.placeOrder({
        lines: [{ sku: world.skus[i % world.skus.length] as string, quantity: 1 + (i % 2) }],
      }),
    );
    world.shop.resetStats();
    await world.until(
      () => placed.every((p) => world.shop.fulfillments(p.orderId).length > 0),
      'every order fulfilled',
    );
    // Deliveries run in the background: their records are in once the runner is idle.
    await world.settle();
    expect(perOrderOperations(world)).toEqual({ OrderRead: n, DeliveryMetafieldsSet: n, DeliveryFulfill: n });
    expect(world.shop.stats.operations.some((op) => op.name === LISTING)).toBe(true);
    for (const [i, p] of placed.entries()) {
      // Exactly the delivered units, fulfilled once, one shipping confirmation each.
      expect(world.shop.fulfillments(p.orderId).map((f) => f.lines)).toEqual([
        [{ lineItemId: p.lineIds[0], quantity: 1 + (i % 2) }],
      ]);
      expect(world.shop.outbox.filter((m) => m.orderId === p.orderId)).toHaveLength(1);
    }
    expect(ordersStatus(world.runtime.db).orders.delivered).toBe(n);
  }, 30_000);

  it('a metafieldsSet whose answer was lost after it committed: the next attempt reads back and writes nothing twice', async () => {
    w = await startFulfillmentWorld();
    const world = w;
    const { shop } = world;
    shop.loseAnswerAfterCommit('metafieldsSet');
    const o = shop.placeOrder({ lines: [{ sku: world.skus[0] as string, quantity: 2 }] });
    await world.until(
      () => shop.stats.applied.metafieldsSet === 1 || null,
      'the codes written, the answer lost',
    );
    await world.settle();
    expect(shop.fulfillments(o.orderId)).toHaveLength(0);

    // The retry comes due: the delivery may have written, so it reads back before each step.
    world.runtime.db.prepare('UPDATE deliveries SET next_try_at = 0').run();
    shop.resetStats();
    await world.until(() => shop.fulfillments(o.orderId).length > 0 || null, 'the order fulfilled');
    await world.settle();
    expect(perOrderOperations(world)).toEqual({
      OrderRead: 1,
      DeliveryMetafields: 1,
      DeliveryFulfilled: 1,
      OrderFulfillmentOrders: 1,
      DeliveryFulfill: 1,
    });
    expect(shop.stats.applied.metafieldsSet).toBeUndefined();
    const text = shop.orderMetafield(o.orderId) ?? '';
    expect(text.split('\n').filter((l) => l.startsWith('PSN '))).toHaveLength(2);
    expect(text.match(/\[psnb2b:/g)).toHaveLength(1);
    expect(shop.fulfillments(o.orderId).map((f) => f.lines)).toEqual([
      [{ lineItemId: o.lineIds[0], quantity: 2 }],
    ]);
    expect(shop.outbox.filter((m) => m.orderId === o.orderId)).toHaveLength(1);
    expect(ordersStatus(world.runtime.db).orders.delivered).toBe(1);
  }, 30_000);
});
