import { afterEach, describe, expect, it } from 'vitest';
import { formatSku } from '../../config/sku-template.js';
import type { SandboxEntry } from '../../fakes/psnb2b/sandbox-catalog.js';
import { abandonDelivery } from '../../src/fulfillment/delivery-decisions.js';
import { RESENT_LINE } from '../../src/fulfillment/delivery-text.js';
import { intentsIn } from '../../src/fulfillment/fulfillment-ledger.js';
import { formatOrdersListing, ordersListing, ordersStatus } from '../../src/fulfillment/orders-report.js';
import { resendCodes } from '../../src/fulfillment/resend.js';
import { type FulfillmentWorld, startFulfillmentWorld } from '../helpers/fulfillment-world.js';

/**
 * `orders resend`: the same codes in front of the buyer again; never a new purchase, never a
 * second delivery; recorded. Real HTTP to the sandbox supplier and the strict fake shops.
 */

let w: FulfillmentWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const skuOf = (e: SandboxEntry) => formatSku('PSN-{region}-{denomination}', e);
const posts = (world: FulfillmentWorld) => world.supplier.ledger().requests['POST /orders'] ?? 0;
const resends = (world: FulfillmentWorld) =>
  world.runtime.db.prepare('SELECT store, order_id AS orderId, codes, outcome FROM code_resends').all();
const deliveryStates = (world: FulfillmentWorld) =>
  (world.runtime.db.prepare('SELECT state FROM deliveries').all() as { state: string }[]).map((d) => d.state);

/** A WooCommerce order of `quantity` codes, bought and delivered (its status `completed`). */
async function deliveredWooOrder(quantity: number) {
  w = await startFulfillmentWorld({ withWooCommerce: true });
  const world = w;
  const woo = world.woo;
  if (!woo) throw new Error('no WooCommerce store');
  const e = world.supplier.catalog()[0] as SandboxEntry;
  world.supplier.setQty(e.region, e.denomination, 100);
  await world.runtime.job.run({});
  const order = woo.placeOrder({ lines: [{ sku: skuOf(e), quantity }], paid: true });
  await world.until(() => woo.orderStatus(order.id) === 'completed', 'delivered');
  return { world, woo, order };
}

describe('orders resend', () => {
  it('WooCommerce: a new customer note with the same codes and marker plus a "resent" line; nothing bought; later passes add nothing', async () => {
    const { world, woo, order } = await deliveredWooOrder(2);
    const bought = posts(world);
    const [first] = woo.notesOf(order.id, { customer: true });
    if (!first) throw new Error('no delivery note');

    const message = await resendCodes(world.f.ctx, 'shop-w', String(order.id));
    expect(message).toContain('2 code(s)');
    expect(message).toContain('nothing bought');
    expect(message).not.toMatch(/[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}/);
    for (let i = 0; i < 3; i++) await world.pass();

    const notes = woo.notesOf(order.id, { customer: true }).filter((n) => n.note.includes('[psnb2b:'));
    expect(notes).toHaveLength(2);
    const again = notes.find((n) => n.note.startsWith(RESENT_LINE));
    expect(again?.note).toBe(`${RESENT_LINE}\n${first.note}`);
    expect(posts(world)).toBe(bought);
    expect(ordersStatus(world.runtime.db).orders.delivered).toBe(1);
    expect(resends(world)).toEqual([
      { store: 'shop-w', orderId: String(order.id), codes: 2, outcome: 'resent' },
    ]);
  });

  it('Shopify: says what the merchant can do (the API cannot resend the email); an order without a delivery is refused', async () => {
    w = await startFulfillmentWorld();
    const world = w;
    const e = world.supplier.catalog()[0] as SandboxEntry;
    world.supplier.setQty(e.region, e.denomination, 100);
    await world.runtime.job.run({});
    const placed = world.shop.placeOrder({ lines: [{ sku: skuOf(e), quantity: 1 }] });
    await world.until(() => ordersStatus(world.runtime.db).orders.delivered === 1, 'delivered');
    const emails = world.shop.outbox.length;
    const message = await resendCodes(world.f.ctx, 'shop-s', placed.orderId);
    expect(message).toContain('Resend email');
    expect(world.shop.outbox.length).toBe(emails);
    expect(resends(world)).toEqual([
      { store: 'shop-s', orderId: placed.orderId, codes: 1, outcome: 'merchant' },
    ]);
    await expect(resendCodes(world.f.ctx, 'shop-s', 'gid://shopify/Order/999999')).rejects.toThrow(
      /never delivered codes into it/,
    );
  });

  it('WooCommerce: a restart after a resend neither delivers again nor parks or holds; the resend shows in `orders` with who and when; no code in the logs', async () => {
    const { world, woo, order } = await deliveredWooOrder(2);
    const bought = posts(world);
    await resendCodes(world.f.ctx, 'shop-w', String(order.id), 'cli: alice');

    await world.restart();
    for (let i = 0; i < 3; i++) await world.pass();
    const marked = woo.notesOf(order.id, { customer: true }).filter((n) => n.note.includes('[psnb2b:'));
    expect(marked).toHaveLength(2);
    expect(posts(world)).toBe(bought);
    expect(deliveryStates(world)).toEqual(['done']);
    const status = ordersStatus(world.runtime.db);
    expect(status.orders).toMatchObject({ delivered: 1, parked: 0, onHold: 0, inFlight: 0 });
    expect(intentsIn(world.runtime.db, 'parked')).toHaveLength(0);
    expect(woo.orderStatus(order.id)).toBe('completed');

    const listing = ordersListing(world.runtime.db);
    expect(listing.resends).toEqual([
      expect.objectContaining({ store: 'shop-w', orderId: String(order.id), codes: 2, by: 'cli: alice' }),
    ]);
    const text = formatOrdersListing(listing);
    expect(text).toMatch(
      new RegExp(`shop-w order ${order.id} .*2 code\\(s\\).*by cli: alice at \\d{4}-\\d{2}-\\d{2}T`),
    );
    // The codes went into the buyer's note only: never into logs or the listing.
    const codes = (marked[0]?.note ?? '')
      .split('\n')
      .filter((l) => l.startsWith('PSN '))
      .map((l) => l.split(': ')[1] as string);
    expect(codes).toHaveLength(2);
    for (const c of codes) {
      expect(world.logs()).not.toContain(c);
      expect(text).not.toContain(c);
    }
  });

  it('refuses clearly: an unknown store (naming the configured ones), an order we never delivered, a failed and an abandoned delivery; nothing sent, nothing recorded', async () => {
    w = await startFulfillmentWorld({ withWooCommerce: true });
    const world = w;
    await expect(resendCodes(world.f.ctx, 'shop-x', '1')).rejects.toThrow(
      /no store named "shop-x" \(have: shop-s, shop-w\)/,
    );
    await expect(resendCodes(world.f.ctx, 'shop-s', 'gid://shopify/Order/999999')).rejects.toThrow(
      /never delivered codes into it/,
    );

    world.shop.refuseOperation('DeliveryMetafieldsSet');
    const placed = world.shop.placeOrder({ lines: [{ sku: world.skus[0] as string, quantity: 1 }] });
    await world.until(() => deliveryStates(world).includes('failed'), 'delivery failed');
    const writes = world.shop.stats.requests;
    await expect(resendCodes(world.f.ctx, 'shop-s', placed.orderId)).rejects.toThrow(
      /delivery failed.*orders retry-delivery.*orders abandon-delivery/,
    );
    await abandonDelivery(world.f.ctx, 'shop-s', placed.orderId);
    await expect(resendCodes(world.f.ctx, 'shop-s', placed.orderId)).rejects.toThrow(
      /abandoned: no codes of ours reached/,
    );
    expect(world.shop.stats.requests).toBe(writes);
    expect(resends(world)).toEqual([]);
  });
});
