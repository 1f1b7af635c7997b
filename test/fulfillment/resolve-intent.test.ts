import { afterEach, describe, expect, it } from 'vitest';
import { catalogView } from '../../src/fulfillment/fulfillment-job.js';
import { getIntent } from '../../src/fulfillment/fulfillment-ledger.js';
import { resolveIntent } from '../../src/fulfillment/resolve-intent.js';
import { type FulfillmentWorld, startFulfillmentWorld } from '../helpers/fulfillment-world.js';
import { parkedPurchase } from '../helpers/parked-purchase.js';

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
    const { intent, supplierOrderId } = await parkedPurchase(world, 1);
    const id = intent.id;
    const catalog = catalogView(world.f.ctx);
    // The supplier answers slowly; meanwhile a second operator abandons the intent.
    world.supplier.latencyMs = 300;
    const follow = resolveIntent(world.f.ctx, id, { kind: 'supplier-order', supplierOrderId }, catalog);
    await new Promise((r) => setTimeout(r, 50));
    await resolveIntent(world.f.ctx, id, { kind: 'abandon' }, catalog);
    await expect(follow).rejects.toThrow(/abandoned, not parked/);
    const after = getIntent(world.runtime.db, id);
    expect(after?.state).toBe('abandoned');
    expect(after?.supplierOrderId).toBeNull();
  });
});
