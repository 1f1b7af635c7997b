import { afterEach, describe, expect, it } from 'vitest';
import type { FakeWooCommerce } from '../../fakes/woocommerce/fake-woocommerce.js';
import { runDeliveries } from '../../src/fulfillment/delivering.js';
import { catalogView } from '../../src/fulfillment/fulfillment-job.js';
import { intentsIn } from '../../src/fulfillment/fulfillment-ledger.js';
import { knownEntriesOf } from '../../src/fulfillment/intake.js';
import { ordersStatus } from '../../src/fulfillment/orders-report.js';
import { followOrders } from '../../src/fulfillment/supplier-follow.js';
import { type FulfillmentWorld, startFulfillmentWorld } from '../helpers/fulfillment-world.js';
import { waitUntil } from '../helpers/wait-until.js';

/**
 * Fulfillment at a real shop's pace (issue 13): the fewest shop calls per order, each still a
 * named recovery point. Real HTTP to the strict fake WooCommerce.
 */

let w: FulfillmentWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

/** The shop calls that name one order (the listing is shared by every order it carries). */
const perOrderCalls = (world: FulfillmentWorld) =>
  (world.woo?.requests ?? [])
    .filter((r) => r.route.startsWith('orders/:id'))
    .map((r) => `${r.method} ${r.route}`);

describe('the fewest WooCommerce calls per order', () => {
  it('listing → bought → delivered → completed: one read before delivering, one note, one PUT', async () => {
    w = await startFulfillmentWorld({ withWooCommerce: true });
    const world = w;
    const woo = world.woo;
    if (!woo) throw new Error('no WooCommerce store');
    const o = woo.placeOrder({ lines: [{ sku: world.skus[0] as string, quantity: 2 }], paid: true });
    woo.resetCounters();
    await world.until(() => woo.orderStatus(o.id) === 'completed', 'the order completed');
    // The listing read seconds ago is the read before buying; the read before delivering is
    // the read-back of the PUT; a first attempt has written nothing, so no notes read-back.
    expect(perOrderCalls(world)).toEqual(['GET orders/:id', 'POST orders/:id/notes', 'PUT orders/:id']);
    expect(woo.count({ method: 'GET', route: 'orders' })).toBeGreaterThan(0);
    expect(woo.notesOf(o.id, { customer: true })).toHaveLength(1);
    expect(ordersStatus(world.runtime.db).orders.delivered).toBe(1);
  }, 30_000);
});

/** Every order got exactly its units of codes, in one note, and no code went out twice. */
function expectExactlyOnce(woo: FakeWooCommerce, placed: { id: number; units: number }[]): void {
  const seen = new Set<string>();
  for (const p of placed) {
    const notes = woo.notesOf(p.id, { customer: true }).filter((n) => n.note.includes('[psnb2b:'));
    expect(notes).toHaveLength(1);
    const codes = (notes[0]?.note ?? '').split('\n').filter((l) => l.startsWith('PSN '));
    expect(codes).toHaveLength(p.units);
    for (const c of codes) {
      expect(seen.has(c)).toBe(false);
      seen.add(c);
    }
    expect(woo.orderStatus(p.id)).toBe('completed');
  }
}

/** Paid orders of 1–2 units in the WooCommerce store. */
function placeOrders(world: FulfillmentWorld, woo: FakeWooCommerce, n: number) {
  return Array.from({ length: n }, (_, i) => {
    const units = 1 + (i % 2);
    const o = woo.placeOrder({
      lines: [{ sku: world.skus[i % world.skus.length] as string, quantity: units }],
      paid: true,
    });
    return { id: o.id, units };
  });
}

/** `n` orders bought and their codes stored, nothing delivered yet: the deliveries alone then meet the shop. */
async function boughtNotDelivered(n: number) {
  w = await startFulfillmentWorld({ withWooCommerce: true, supplier: { deliveredAfterMs: 300 } });
  const world = w;
  const woo = world.woo as FakeWooCommerce;
  const placed = placeOrders(world, woo, n);
  const { db } = world.runtime;
  await world.until(() => intentsIn(db, 'ordered').length > 0, 'ordered');
  await waitUntil(
    async () => {
      await followOrders(world.f.ctx, catalogView(world.f.ctx));
      return intentsIn(db, 'ordered').length === 0;
    },
    { what: 'codes stored', timeoutMs: 10_000, intervalMs: 100 },
  );
  return { world, woo, placed };
}

describe('deliveries side by side per store', () => {
  it('a slow shop with 4 workers gets several orders in flight at once; each delivered exactly once', async () => {
    const { world, woo, placed } = await boughtNotDelivered(8);
    woo.latencyMs = 40;
    woo.workers = 4;
    woo.resetCounters();
    await world.until(
      () => placed.every((p) => woo.orderStatus(p.id) === 'completed'),
      'all completed',
      30_000,
    );
    expect(woo.maxInFlight).toBeGreaterThanOrEqual(2);
    expectExactlyOnce(woo, placed);
  }, 60_000);

  it('a 429 from the shop holds the whole lane for its Retry-After; every order still delivered exactly once', async () => {
    const { world, woo, placed } = await boughtNotDelivered(6);
    woo.resetCounters();
    woo.throttleFor(1_500);
    await world.until(
      () => placed.every((p) => woo.orderStatus(p.id) === 'completed'),
      'all completed',
      30_000,
    );
    // Only what was already on its way when the store said "wait" is refused: nothing new is sent
    // into the pause (at most the lane width of requests).
    expect(woo.count().valueOf()).toBeGreaterThan(0);
    expect(woo.requests.filter((r) => r.status === 429).length).toBeLessThanOrEqual(4);
    expectExactlyOnce(woo, placed);
  }, 60_000);

  it('the same deliveries offered by two passes at once run once: each order read, noted and completed once', async () => {
    const { world, woo, placed } = await boughtNotDelivered(3);
    const { ctx } = world.f;
    const known = knownEntriesOf(world.runtime.db);
    woo.resetCounters();
    const [first, second] = await Promise.all([runDeliveries(ctx, known), runDeliveries(ctx, known)]);
    expect(first.done + second.done).toBe(3);
    expect(woo.count({ method: 'GET', route: 'orders/:id' })).toBe(3);
    expect(woo.count({ method: 'POST', route: 'orders/:id/notes' })).toBe(3);
    expectExactlyOnce(woo, placed);
  }, 60_000);
});
