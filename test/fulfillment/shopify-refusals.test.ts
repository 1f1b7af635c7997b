import { afterEach, describe, expect, it } from 'vitest';
import { openAlerts } from '../../src/alerts.js';
import { checkStoreClocks } from '../../src/main.js';
import { type FulfillmentWorld, startFulfillmentWorld } from '../helpers/fulfillment-world.js';

/**
 * What the daemon does when the Shopify store refuses a document (its cost or its shape): the
 * delivery stops sending it and an alert names the query; and the store's clock is watched like
 * every other peer's.
 */

let w: FulfillmentWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const alertsOf = (world: FulfillmentWorld, kind: string) =>
  openAlerts(world.runtime.db).filter((a) => a.kind === kind);

describe('a Shopify document refused by the store', () => {
  it('is sent once: the delivery ends failed and its alert names the query', async () => {
    w = await startFulfillmentWorld();
    const world = w;
    // As if a document of the fulfill step had grown past the cost cap (issue 9 found its
    // read-back had); a first attempt sends no read-back, so it is the fulfillment itself here.
    world.shop.refuseOperation('DeliveryFulfill');
    const o = world.shop.placeOrder({ lines: [{ sku: world.skus[0] as string, quantity: 1 }] });
    const [alert] = await world.until(() => {
      const open = alertsOf(world, 'delivery-failed');
      return open.length > 0 ? open : null;
    }, 'an alert about the delivery');
    expect(alert?.detail).toMatch(/DeliveryFulfill: refused by Shopify \(MAX_COST_EXCEEDED\)/);
    // The codes are in the order (step 1); nothing was fulfilled.
    expect(world.shop.orderMetafield(o.orderId)?.split('\n')[0]).toMatch(/^PSN /);
    expect(world.shop.fulfillments(o.orderId)).toHaveLength(0);
    expect(world.shop.stats.rejected).toBe(1);

    // Even when the delivery comes due again, the refused document is not sent again.
    world.runtime.db.prepare('UPDATE deliveries SET next_try_at = 0').run();
    await world.pass();
    await world.pass();
    expect(world.shop.stats.rejected).toBe(1);
    // A non-retryable error ends the delivery `failed` (codes kept) until an operator decides.
    expect(alertsOf(world, 'delivery-failed')).toHaveLength(1);
    expect(world.runtime.db.prepare('SELECT state FROM deliveries').all()).toEqual([{ state: 'failed' }]);
  }, 30_000);
});

describe('the Shopify store clock', () => {
  it('is read from the Date header: over 5 minutes off raises clock-skew, back in line resolves it', async () => {
    w = await startFulfillmentWorld();
    const world = w;
    const store = world.runtime.stores.find((s) => s.name === 'shop-s');
    world.shop.clockSkewMs = 10 * 60_000;
    await world.pass();
    expect(store?.clockSkewMs).toBeGreaterThan(9 * 60_000);
    expect(store?.clockSkewMs).toBeLessThan(11 * 60_000);
    checkStoreClocks(world.runtime.db, world.runtime.stores);
    expect(alertsOf(world, 'clock-skew').map((a) => a.subject)).toEqual(['shop-s']);

    world.shop.clockSkewMs = 0;
    await world.pass();
    checkStoreClocks(world.runtime.db, world.runtime.stores);
    expect(alertsOf(world, 'clock-skew')).toEqual([]);
  }, 30_000);
});
