import { afterEach, describe, expect, it } from 'vitest';
import { catalogView } from '../../src/fulfillment/fulfillment-job.js';
import { getIntent, intentsIn } from '../../src/fulfillment/fulfillment-ledger.js';
import { resolveIntent } from '../../src/fulfillment/resolve-intent.js';
import { type FulfillmentWorld, startFulfillmentWorld } from '../helpers/fulfillment-world.js';

/** `orders resolve` re-checks the intent after every await: another decision may have landed meanwhile. */

let w: FulfillmentWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

describe('orders resolve', () => {
  it('--supplier-order refuses when the intent stopped being parked while the supplier was asked', async () => {
    w = await startFulfillmentWorld({ honoursIdempotencyKeys: false });
    const world = w;
    world.supplier.injectFault('commitThenReset', { count: 1 });
    world.shop.placeOrder({ lines: [{ sku: world.skus[0] as string, quantity: 1 }] });
    await world.until(() => intentsIn(world.runtime.db, 'parked').length === 1, 'parked');
    const [order] = world.supplier.ledger().orders;
    const [intent] = intentsIn(world.runtime.db, 'parked');
    const id = intent?.id as string;
    const catalog = catalogView(world.f.ctx);
    // The supplier answers slowly; meanwhile a second operator abandons the intent.
    world.supplier.latencyMs = 300;
    const follow = resolveIntent(
      world.f.ctx,
      id,
      { kind: 'supplier-order', supplierOrderId: order?.id as string },
      catalog,
    );
    await new Promise((r) => setTimeout(r, 50));
    await resolveIntent(world.f.ctx, id, { kind: 'abandon' }, catalog);
    await expect(follow).rejects.toThrow(/abandoned, not parked/);
    const after = getIntent(world.runtime.db, id);
    expect(after?.state).toBe('abandoned');
    expect(after?.supplierOrderId).toBeNull();
  });
});
