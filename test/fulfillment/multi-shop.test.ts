import { afterEach, describe, expect, it } from 'vitest';
import { ordersStatus } from '../../src/fulfillment/orders-report.js';
import { type FulfillmentWorld, startFulfillmentWorld } from '../helpers/fulfillment-world.js';

let w: FulfillmentWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

describe('one daemon, a WooCommerce and a Shopify store', () => {
  it('fulfils a sale in either, and one shop down does not stall the other', async () => {
    // A window long enough that the Shopify sale surely waits in it (it counts from the sale).
    w = await startFulfillmentWorld({ withWooCommerce: true, batchWindowSeconds: 3 });
    const world = w;
    const woo = world.woo;
    if (!woo) throw new Error('no WooCommerce store');
    const sku = world.skus[0] as string;
    const inShopify = world.shop.placeOrder({ lines: [{ sku, quantity: 1 }] });
    await world.pass(); // taken in, not yet bought (batch window)
    expect(ordersStatus(world.runtime.db).orders.received).toBe(1);
    // Down before its order can be read again for buying: only its own sale waits.
    world.shop.setDown(true);
    const inWoo = woo.placeOrder({ lines: [{ sku, quantity: 2 }], paymentMethod: 'stripe', paid: true });
    await world.until(
      () => woo.orderStatus(inWoo.id) === 'completed',
      'the WooCommerce order completed',
      30_000,
    );
    const note = woo
      .notesOf(inWoo.id, { customer: true })
      .map((n) => n.note)
      .join('\n');
    expect(note.split('\n').filter((l) => l.startsWith('PSN '))).toHaveLength(2);
    expect(world.shop.orderMetafield(inShopify.orderId)).toBeNull();
    world.shop.setDown(false);
    await world.until(
      () => ordersStatus(world.runtime.db).orders.delivered === 2,
      'the Shopify order delivered too',
      30_000,
    );
    expect(
      world.shop
        .orderMetafield(inShopify.orderId)
        ?.split('\n')
        .filter((l) => l.startsWith('PSN ')),
    ).toHaveLength(1);
    const units = world.supplier
      .ledger()
      .orders.reduce((s, o) => s + o.items.reduce((a, i) => a + i.qty, 0), 0);
    expect(units).toBe(3);
    // No document the adapter sent was refused (cost cap, schema).
    expect(world.shop.stats.rejected).toBe(0);
  }, 90_000);
});
