import { afterEach, describe, expect, it } from 'vitest';
import type { FakeOrderJson } from '../../fakes/woocommerce/fake-woocommerce-orders.js';
import { FulfillmentDaemonWorld } from '../helpers/fulfillment-daemon-world.js';
import { waitUntil } from '../helpers/wait-until.js';

/**
 * Polling while sales flow, in the daemon as it runs (issue 13): with no webhooks and both
 * schedules months away, the polls at start find a sale, and from then on the worker tick's own
 * polls take in the sales that keep coming.
 */

/** January 1st, 00:00:00: no scheduled run during the test. */
const NEVER = '0 0 0 1 1 *';

let w: FulfillmentDaemonWorld | undefined;
afterEach(async () => {
  await w?.stop();
  w = undefined;
});

describe('the daemon while sales flow', () => {
  it('takes in and delivers sales that arrive after its last scheduled poll', async () => {
    w = await FulfillmentDaemonWorld.start({
      honoursIdempotencyKeys: true,
      schedule: { inventory: NEVER, orders: NEVER },
    });
    const world = w;
    const sku = world.skus[0] as string;
    const orders: FakeOrderJson[] = [world.placeOrder([{ sku, quantity: 1 }])];
    await world.startDaemon();
    for (let i = 0; i < 12; i++) {
      await new Promise((r) => setTimeout(r, 300));
      orders.push(world.placeOrder([{ sku, quantity: 1 }]));
    }
    await waitUntil(() => orders.every((o) => world.shop.orderStatus(o.id) === 'completed'), {
      timeoutMs: 30_000,
      intervalMs: 100,
      what: 'every order completed',
    });
    expect(orders.filter((o) => world.shop.notesOf(o.id, { customer: true }).length === 1)).toHaveLength(13);
  }, 60_000);
});
