import { afterEach, describe, expect, it } from 'vitest';
import { ordersStatus } from '../../src/fulfillment/orders-report.js';
import { type FulfillmentWorld, persistedText, startFulfillmentWorld } from '../helpers/fulfillment-world.js';

let w: FulfillmentWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const codeLines = (text: string | null) => (text ?? '').split('\n').filter((l) => l.startsWith('PSN '));
const issuedCodes = (world: FulfillmentWorld) =>
  world.supplier.ledger().orders.flatMap((o) => world.supplier.codesIssued(o.id).map((c) => c.code));

describe('money path, end to end', () => {
  it('delivers exactly the sold units, bought once, into the shop order', async () => {
    w = await startFulfillmentWorld();
    const world = w;
    const [a, b] = world.skus as [string, string];
    const placed = world.shop.placeOrder({
      lines: [
        { sku: a, quantity: 2 },
        { sku: b, quantity: 1 },
        { sku: 'TSHIRT', quantity: 1 },
      ],
    });
    await world.until(() => ordersStatus(world.runtime.db).orders.delivered === 2, 'both lines delivered');
    const ledger = world.supplier.ledger();
    expect(ledger.orders).toHaveLength(1);
    expect(ledger.orders[0]?.items.reduce((s, i) => s + i.qty, 0)).toBe(3);
    const lines = codeLines(world.shop.orderMetafield(placed.orderId));
    expect(lines).toHaveLength(3);
    const issued = issuedCodes(world);
    for (const code of issued) expect(lines.some((l) => l.endsWith(`: ${code}`))).toBe(true);
    expect(world.shop.fulfillments(placed.orderId)).toHaveLength(1);
    // More passes change nothing: nothing is bought or delivered twice.
    await world.pass();
    await world.pass();
    expect(world.supplier.ledger().orders).toHaveLength(1);
    expect(codeLines(world.shop.orderMetafield(placed.orderId))).toHaveLength(3);
    // No code in the clear in logs, the database or its WAL.
    const text = persistedText(world);
    for (const code of issued) expect(text).not.toContain(code);
  });
});
