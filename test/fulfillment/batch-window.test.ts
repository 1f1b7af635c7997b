import { afterEach, describe, expect, it } from 'vitest';
import { ordersStatus } from '../../src/fulfillment/orders-report.js';
import { type FulfillmentWorld, startFulfillmentWorld } from '../helpers/fulfillment-world.js';

let w: FulfillmentWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const bulkOrders = (world: FulfillmentWorld) => world.supplier.ledger().orders.length;

describe('the batch window counts from the sale, as the shop timed it', () => {
  it('buys a sale the poll saw late at once, and still batches a fresh one', async () => {
    w = await startFulfillmentWorld({ withWooCommerce: true, batchWindowSeconds: 3 });
    const world = w;
    const woo = world.woo;
    if (!woo) throw new Error('no WooCommerce store');
    const sku = world.skus[0] as string;
    // Made 4 s before the poll that sees it (the shop's clock says so): its 3 s window is spent.
    woo.clockSkewMs = -4_000;
    woo.placeOrder({ lines: [{ sku, quantity: 1 }], paymentMethod: 'stripe', paid: true });
    await world.pass();
    expect(ordersStatus(world.runtime.db).orders.received).toBe(1);
    expect(bulkOrders(world)).toBe(1);

    // A sale made just now waits its window for others to join it.
    woo.clockSkewMs = 0;
    woo.placeOrder({ lines: [{ sku, quantity: 2 }], paymentMethod: 'stripe', paid: true });
    await world.pass();
    expect(bulkOrders(world)).toBe(1);
    await world.until(() => bulkOrders(world) === 2, 'the fresh sale bought after its window', 15_000);
    expect(world.supplier.ledger().orders[1]?.items.reduce((s, i) => s + i.qty, 0)).toBe(2);
  }, 60_000);
});
