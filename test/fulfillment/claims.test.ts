import { afterEach, describe, expect, it } from 'vitest';
import { CLAIM_WINDOW_MS, fileClaim, NOT_FILED } from '../../src/fulfillment/claims.js';
import { ordersStatus } from '../../src/fulfillment/orders-report.js';
import { type FulfillmentWorld, persistedText, startFulfillmentWorld } from '../helpers/fulfillment-world.js';

let w: FulfillmentWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

async function deliveredOrder() {
  w = await startFulfillmentWorld();
  const world = w;
  const placed = world.shop.placeOrder({ lines: [{ sku: world.skus[0] as string, quantity: 1 }] });
  await world.until(() => ordersStatus(world.runtime.db).orders.delivered === 1, 'delivered');
  const supplierOrder = world.supplier.ledger().orders[0];
  const code = world.supplier.codesIssued(supplierOrder?.id as string)[0]?.code as string;
  return { world, placed, code, lineId: placed.lineIds[0] as string };
}

describe('claims', () => {
  it('files a claim for a delivered code within the window, once, and shows it in status', async () => {
    const { world, placed, code, lineId } = await deliveredOrder();
    const req = { store: 'shop-s', orderId: placed.orderId, lineId, code, errorCode: 'WC-40371-7' };
    const first = await fileClaim(world.f.ctx, req);
    expect(first).toMatchObject({ kind: 'filed' });
    expect(world.supplier.ledger().claims).toHaveLength(1);
    const again = await fileClaim(world.f.ctx, req);
    expect(again).toMatchObject({ kind: 'already-filed' });
    expect(world.supplier.ledger().claims).toHaveLength(1);
    expect(ordersStatus(world.runtime.db).claims.open).toBe(1);
    expect(JSON.stringify(first)).not.toContain(code);
    expect(persistedText(world)).not.toContain(code);
  });

  it('refuses, clearly and without calling the supplier, once the 7-day window has closed', async () => {
    const { world, placed, code, lineId } = await deliveredOrder();
    world.runtime.db
      .prepare('UPDATE purchase_intents SET supplier_delivered_at = ?')
      .run(Date.now() - CLAIM_WINDOW_MS - 60_000);
    const out = await fileClaim(world.f.ctx, {
      store: 'shop-s',
      orderId: placed.orderId,
      lineId,
      code,
      errorCode: 'E-1',
    });
    expect(out.kind).toBe('refused');
    if (out.kind === 'refused') expect(out.reason).toMatch(/claim window for …[A-Z0-9]{4} closed at/);
    expect(world.supplier.ledger().claims).toHaveLength(0);
  });

  it('a description the supplier would refuse is rejected before anything is recorded', async () => {
    const { world, placed, code, lineId } = await deliveredOrder();
    const req = { store: 'shop-s', orderId: placed.orderId, lineId, code, errorCode: 'WC-40371-7' };
    await expect(fileClaim(world.f.ctx, { ...req, description: 'x'.repeat(2001) })).rejects.toThrow(
      /--description: at most 2000 characters/,
    );
    const rows = world.runtime.db.prepare('SELECT COUNT(*) AS n FROM claims').get() as { n: number };
    expect(rows.n).toBe(0);
    expect(world.supplier.ledger().claims).toHaveLength(0);
    // Nothing stuck: the same claim with a description that fits is filed.
    expect(await fileClaim(world.f.ctx, { ...req, description: 'no balance shown' })).toMatchObject({
      kind: 'filed',
    });
    expect(world.supplier.ledger().claims).toHaveLength(1);
  });

  it('refuses a code that was not delivered to that line', async () => {
    const { world, placed, lineId } = await deliveredOrder();
    const out = await fileClaim(world.f.ctx, {
      store: 'shop-s',
      orderId: placed.orderId,
      lineId,
      code: 'ZZZZ-YYYY-XXXX',
      errorCode: 'E-1',
    });
    // The same answer as a claim the supplier did not take: no oracle for guessed codes.
    expect(out).toEqual({ kind: 'failed', reason: NOT_FILED });
    expect(world.logs()).toContain('…XXXX was not delivered to that line');
    expect(world.supplier.ledger().claims).toHaveLength(0);
  });
});
