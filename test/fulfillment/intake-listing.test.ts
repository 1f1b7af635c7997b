import { afterEach, describe, expect, it } from 'vitest';
import type { FakeWooCommerce } from '../../fakes/woocommerce/fake-woocommerce.js';
import { linesOfOrder } from '../../src/fulfillment/fulfillment-ledger.js';
import { pollIntake, salesFlowing } from '../../src/fulfillment/intake.js';
import { type FulfillmentWorld, startFulfillmentWorld } from '../helpers/fulfillment-world.js';

/**
 * What order listings cost and when they run (issue 13), through the runtime's real WooCommerce client against the
 * strict fake over HTTP: polls within a minute look back a few seconds, so each order is carried
 * a bounded number of times, while the minute's sweep still takes in an order stamped well
 * behind the cursor (a late commit).
 */

let w: FulfillmentWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

async function wooWorld() {
  // A batch window nobody reaches: orders are taken in, not bought.
  w = await startFulfillmentWorld({ withWooCommerce: true, batchWindowSeconds: 3600 });
  const world = w;
  const woo = world.woo as FakeWooCommerce;
  // Our clock and the shop's move on together, without waiting.
  let skipped = 0;
  world.f.ctx.now = () => Date.now() + skipped;
  const advance = (ms: number) => {
    skipped += ms;
    woo.clockSkewMs = skipped;
  };
  const sku = world.skus[0] as string;
  const place = (committedLateMs = 0) => woo.placeOrder({ lines: [{ sku, quantity: 1 }], committedLateMs });
  const takenIn = (id: number) => linesOfOrder(world.runtime.db, 'shop-w', String(id)).length > 0;
  const start = woo.requests.length;
  /** How many orders each listing carried. */
  const carried = () =>
    woo.requests
      .slice(start)
      .filter((r) => r.method === 'GET' && r.route === 'orders')
      .map((r) => r.items ?? 0);
  return { world, advance, place, takenIn, carried };
}

describe('order listings', () => {
  it('a minute of polls every 10 s carries each order at most 3 times, and takes every one in', async () => {
    const { world, advance, place, takenIn, carried } = await wooWorld();
    const ids: number[] = [];
    for (let round = 0; round < 6; round++) {
      for (let i = 0; i < 5; i++) ids.push(place().id);
      await pollIntake(world.f.ctx);
      advance(10_000);
    }
    expect(ids.filter(takenIn)).toHaveLength(30);
    // A poll carries its own round and those within the 10 s overlap (the cursor's second is
    // re-read too): the full two-minute overlap on every poll carried 5, 10, … 30 (105 in all).
    const listings = carried();
    expect(Math.max(...listings)).toBeLessThanOrEqual(15);
    expect(listings.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(3 * ids.length);
  });

  it('an order stamped 115 s behind the cursor is taken in by the next sweep, within the minute', async () => {
    const { world, advance, place, takenIn } = await wooWorld();
    place();
    await pollIntake(world.f.ctx); // the first listing of the process: a sweep
    advance(50_000);
    place();
    await pollIntake(world.f.ctx);
    const late = place(115_000).id;
    advance(8_000);
    place();
    await pollIntake(world.f.ctx);
    // A poll within the minute looks back seconds, not minutes: that is the saving.
    expect(takenIn(late)).toBe(false);
    advance(2_000);
    await pollIntake(world.f.ctx);
    // The cursor is 123 s past its stamp now, beyond even the full overlap: the sweep reaches back
    // from the cursor the last sweep started from.
    expect(takenIn(late)).toBe(true);
  });

  it('while polls keep finding sales the tick polls too, as often as about 5 are due; a poll that finds none ends it', async () => {
    const { world, advance, place } = await wooWorld();
    advance(10_000);
    for (let i = 0; i < 10; i++) place();
    await pollIntake(world.f.ctx); // 10 sales in the 10 s since the world's first poll
    advance(4_000);
    expect(salesFlowing(world.f.ctx)).toBe(false);
    advance(4_000); // 5 more due after about 5 s (the world's first poll was a moment before the 10 s)
    expect(salesFlowing(world.f.ctx)).toBe(true);
    await pollIntake(world.f.ctx);
    advance(60_000);
    expect(salesFlowing(world.f.ctx)).toBe(false);
  });
});
