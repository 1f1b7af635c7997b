import { afterEach, describe, expect, it } from 'vitest';
import { catalogView } from '../../src/fulfillment/fulfillment-job.js';
import { intentsIn } from '../../src/fulfillment/fulfillment-ledger.js';
import { followOrders } from '../../src/fulfillment/supplier-follow.js';
import { Pacer } from '../../src/supplier/pacer.js';
import { type FulfillmentWorld, startFulfillmentWorld } from '../helpers/fulfillment-world.js';

let w: FulfillmentWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const statusPolls = (world: FulfillmentWorld) => world.supplier.ledger().requests['GET /orders/{id}'];

/**
 * A supplier order placed and still undelivered, due for a status poll at `dueAt`, while the
 * general bucket is held for `heldMs` (a 429's Retry-After, or a bucket the other calls fill).
 */
async function orderDueWithBucketHeld(heldMs: number, dueAt: number) {
  w = await startFulfillmentWorld({ supplier: { deliveredAfterMs: 60_000 } });
  const world = w;
  const { db } = world.runtime;
  world.shop.placeOrder({ lines: [{ sku: world.skus[0] as string, quantity: 1 }] });
  await world.until(() => intentsIn(db, 'ordered').length > 0, 'a supplier order placed');
  new Pacer({ db, limits: { general: 600, bulk: 120 } }).blockUntil('general', Date.now() + heldMs);
  db.prepare("UPDATE purchase_intents SET next_check_at = ? WHERE state = 'ordered'").run(dueAt);
  return { world, db, before: statusPolls(world) };
}

describe('status polls never queue in the pacer', () => {
  it('skips the pass while the general bucket is held (a 429 Retry-After), leaving the order due', async () => {
    // The supplier said "retry after a minute": every general call would wait that long.
    const dueAt = Date.now();
    const { world, db, before } = await orderDueWithBucketHeld(60_000, dueAt);

    // A poll is optional work: the pass goes on (intake, buying, deliveries) and polls later.
    const followed = await followOrders(world.f.ctx, catalogView(world.f.ctx));
    expect(followed.stored).toBe(0);
    expect(statusPolls(world)).toBe(before);
    expect(intentsIn(db, 'ordered').map((i) => i.nextCheckAt)).toEqual([dueAt]);
  }, 20_000);

  it('polls anyway, waiting its turn, once the order is a minute overdue: a bucket always full cannot starve it', async () => {
    const { world, db, before } = await orderDueWithBucketHeld(1_500, Date.now() - 61_000);

    await followOrders(world.f.ctx, catalogView(world.f.ctx));
    expect(statusPolls(world)).toBe(before + 1);
    expect(intentsIn(db, 'ordered').every((i) => i.nextCheckAt > Date.now())).toBe(true);
  }, 20_000);
});
