import { afterEach, describe, expect, it } from 'vitest';
import { getLine } from '../../src/fulfillment/fulfillment-ledger.js';
import { intakeContext, pollIntake, takeInOrder } from '../../src/fulfillment/intake.js';
import { type FulfillmentWorld, startFulfillmentWorld } from '../helpers/fulfillment-world.js';

/**
 * One intake, in the shop's own order: what a shop says about an order is applied only if it is
 * at least as new (the shop's `updatedAt`) as what was applied before.
 */

let w: FulfillmentWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

async function orderOfTwo() {
  // A batch window nobody reaches: the sale is taken in, not bought.
  w = await startFulfillmentWorld({ batchWindowSeconds: 3600 });
  const world = w;
  const placed = world.shop.placeOrder({ lines: [{ sku: world.skus[0] as string, quantity: 2 }] });
  await world.pass();
  const shop = world.f.ctx.stores.get('shop-s');
  if (!shop) throw new Error('no shop');
  return { world, placed, shop };
}

describe('intake order', () => {
  it('an older snapshot read before a refund never undoes it', async () => {
    const { world, placed, shop } = await orderOfTwo();
    const before = await shop.orders.getOrder(placed.orderId);
    if (!before) throw new Error('order not read');
    world.shop.refund(placed.orderId, { [placed.lineIds[0] as string]: 1 });
    await world.pass();
    const line = () => getLine(world.runtime.db, 'shop-s', placed.orderId, placed.lineIds[0] as string);
    expect(line()?.units).toBe(1);
    // The listing that was in flight during the refund arrives late: it still says 2 owed.
    const result = takeInOrder(intakeContext(world.f.ctx), 'shop-s', before);
    expect(result.stale).toBe(true);
    expect(line()?.units).toBe(1);
  });

  it('the inventory job and the fulfillment pass share one poll: a poll in flight is joined', async () => {
    const { world } = await orderOfTwo();
    const reads = () => world.shop.stats.requests;
    const start = reads();
    const [a, b] = [pollIntake(world.f.ctx), pollIntake(world.f.ctx)];
    expect(a).toBe(b);
    await Promise.all([a, b]);
    const one = reads() - start;
    await pollIntake(world.f.ctx);
    expect(reads() - start).toBe(2 * one);
  });
});
