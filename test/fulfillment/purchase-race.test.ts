import { afterEach, describe, expect, it } from 'vitest';
import { immediate } from '../../src/db/open.js';
import { catalogView } from '../../src/fulfillment/fulfillment-job.js';
import { createIntent, intentsIn, linesInState } from '../../src/fulfillment/fulfillment-ledger.js';
import { pollIntake } from '../../src/fulfillment/intake.js';
import { purchase } from '../../src/fulfillment/purchasing.js';
import { type FulfillmentWorld, startFulfillmentWorld } from '../helpers/fulfillment-world.js';

/**
 * What a line still needs is decided inside the transaction that creates its intent: two buyers
 * that planned from the same moment (two passes, two daemons) never buy one line twice.
 */

let w: FulfillmentWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

async function takenIn() {
  w = await startFulfillmentWorld();
  const world = w;
  world.shop.placeOrder({ lines: [{ sku: world.skus[0] as string, quantity: 2 }] });
  await pollIntake(world.f.ctx);
  const [line] = linesInState(world.runtime.db, 'open');
  if (!line) throw new Error('no open line');
  return { world, line };
}

describe('createIntent re-checks what a line still needs', () => {
  it('a second intent for the same allocation, planned before the first committed, buys nothing', async () => {
    const { world, line } = await takenIn();
    const { db } = world.runtime;
    const allocations = [{ line: line.id, entryKey: line.entryKey, units: 2 }];
    const priceCents = catalogView(world.f.ctx).priceCents;
    const first = immediate(db, () => createIntent(db, { allocations, priceCents }, Date.now()));
    const second = immediate(db, () => createIntent(db, { allocations, priceCents }, Date.now()));
    expect(first?.items[0]?.qty).toBe(2);
    expect(second).toBeNull();
    expect(intentsIn(db, 'created')).toHaveLength(1);
  });

  it('two purchases racing over the same open line place one supplier order', async () => {
    const { world } = await takenIn();
    const ctx = world.f.ctx;
    await Promise.all([purchase(ctx, catalogView(ctx)), purchase(ctx, catalogView(ctx))]);
    const orders = world.supplier.ledger().orders;
    expect(orders).toHaveLength(1);
    expect(orders[0]?.items.reduce((s, i) => s + i.qty, 0)).toBe(2);
  });
});
