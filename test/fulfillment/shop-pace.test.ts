import { afterEach, describe, expect, it } from 'vitest';
import { ordersStatus } from '../../src/fulfillment/orders-report.js';
import { type FulfillmentWorld, startFulfillmentWorld } from '../helpers/fulfillment-world.js';

/**
 * Fulfillment at a real shop's pace (issue 13): the fewest shop calls per order, each still a
 * named recovery point. Real HTTP to the strict fake WooCommerce.
 */

let w: FulfillmentWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

/** The shop calls that name one order (the listing is shared by every order it carries). */
const perOrderCalls = (world: FulfillmentWorld) =>
  (world.woo?.requests ?? [])
    .filter((r) => r.route.startsWith('orders/:id'))
    .map((r) => `${r.method} ${r.route}`);

describe('the fewest WooCommerce calls per order', () => {
  it('listing → bought → delivered → completed: one read before delivering, one note, one PUT', async () => {
    w = await startFulfillmentWorld({ withWooCommerce: true });
    const world = w;
    const woo = world.woo;
    if (!woo) throw new Error('no WooCommerce store');
    const o = woo.placeOrder({ lines: [{ sku: world.skus[0] as string, quantity: 2 }], paid: true });
    woo.resetCounters();
    await world.until(() => woo.orderStatus(o.id) === 'completed', 'the order completed');
    // The listing read seconds ago is the read before buying; the read before delivering is
    // the read-back of the PUT; a first attempt has written nothing, so no notes read-back.
    expect(perOrderCalls(world)).toEqual(['GET orders/:id', 'POST orders/:id/notes', 'PUT orders/:id']);
    expect(woo.count({ method: 'GET', route: 'orders' })).toBeGreaterThan(0);
    expect(woo.notesOf(o.id, { customer: true })).toHaveLength(1);
    expect(ordersStatus(world.runtime.db).orders.delivered).toBe(1);
  }, 30_000);
});
