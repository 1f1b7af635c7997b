import { afterEach, describe, expect, it } from 'vitest';
import type { FakeWooCommerce, Stall } from '../../fakes/woocommerce/fake-woocommerce.js';
import { openAlerts } from '../../src/alerts.js';
import { retryDelivery } from '../../src/fulfillment/delivery-decisions.js';
import { ordersStatus } from '../../src/fulfillment/orders-report.js';
import { auditDeliveries } from '../helpers/delivery-audit.js';
import { type FulfillmentWorld, startFulfillmentWorld } from '../helpers/fulfillment-world.js';
import { withDb } from '../helpers/sqlite-peek.js';

/**
 * Deliveries run in the background, across passes (issue 13): one order whose shop requests hang
 * holds one lane of its store, never the passes. Real HTTP to the strict fake WooCommerce, which
 * holds the chosen requests unanswered until released, and the sandbox supplier; the passes are
 * kicked as the daemon's worker tick kicks them (never awaited).
 */

let w: FulfillmentWorld | undefined;
let stall: Stall | undefined;
afterEach(async () => {
  // A held request must be let go first: closing waits for the delivery that sent it.
  stall?.release();
  stall = undefined;
  await w?.close();
  w = undefined;
});

/** A world whose shop requests may hang far longer than the test runs (the client's timeout is a minute). */
async function patientWorld(): Promise<{ world: FulfillmentWorld; woo: FakeWooCommerce }> {
  w = await startFulfillmentWorld({ withWooCommerce: true, wooTimeoutMs: 60_000 });
  return { world: w, woo: w.woo as FakeWooCommerce };
}

/** Passes until the shop holds this order's delivery note, sent and unanswered. */
async function noteHanging(world: FulfillmentWorld, woo: FakeWooCommerce, orderId: number): Promise<Stall> {
  stall = woo.stall({ method: 'POST', route: 'orders/:id/notes', orderId });
  const held = stall;
  await world.ticking(() => held.waiting === 1, 'the slow order’s note held by the shop');
  return held;
}

const deliveryOf = (world: FulfillmentWorld, orderId: number) =>
  world.runtime.db
    .prepare('SELECT state, may_have_written AS mayHaveWritten FROM deliveries WHERE order_id = ?')
    .get(String(orderId)) as { state: string; mayHaveWritten: number } | undefined;

/** Every delivery's point, read from the file (after the runtime closed it). */
const deliveryStates = (file: string) =>
  withDb(file, (db) =>
    (db.prepare('SELECT state FROM deliveries').all() as { state: string }[]).map((r) => r.state),
  );

describe('one slow order never blocks the rest', () => {
  it('while its note hangs in the shop, other orders are bought (a new bulk order) and delivered; it is delivered once in the end', async () => {
    const { world, woo } = await patientWorld();
    const skus = world.skus;
    const slow = woo.placeOrder({ lines: [{ sku: skus[0] as string, quantity: 1 }], paid: true });
    const held = await noteHanging(world, woo, slow.id);
    const bulkBefore = world.supplier.ledger().orders.length;
    const others = [1, 2, 3].map((i) =>
      woo.placeOrder({ lines: [{ sku: skus[i] as string, quantity: 1 + (i % 2) }], paid: true }),
    );
    await world.ticking(
      () => others.every((o) => woo.orderStatus(o.id) === 'completed'),
      'the other orders delivered while the slow one hangs',
      20_000,
    );
    // All of it happened while the slow order's write was still unanswered.
    expect(held.waiting).toBe(1);
    expect(deliveryOf(world, slow.id)?.state).toBe('pending');
    expect(world.supplier.ledger().orders.length).toBeGreaterThan(bulkBefore);
    held.release();
    await world.ticking(() => woo.orderStatus(slow.id) === 'completed', 'the slow order delivered');
    await world.settle();
    const audit = auditDeliveries(woo, [slow, ...others], world.supplier.ledger());
    expect(audit.problems).toEqual([]);
    expect(audit.notes).toBe(4);
    expect(ordersStatus(world.runtime.db).orders.delivered).toBe(4);
  }, 60_000);
});

describe('the refund guard with deliveries in the background', () => {
  it('a refund taken in while the delivery’s note is in the shop’s hands: codes never pooled, nothing more written, delivery failed', async () => {
    const { world, woo } = await patientWorld();
    const { db } = world.runtime;
    const slow = woo.placeOrder({ lines: [{ sku: world.skus[0] as string, quantity: 2 }], paid: true });
    const held = await noteHanging(world, woo, slow.id);
    expect(deliveryOf(world, slow.id)).toEqual({ state: 'pending', mayHaveWritten: 1 });
    woo.cancel(slow.id);
    // The next passes' intake sees the cancellation while the note is still unanswered.
    await world.ticking(() => deliveryOf(world, slow.id)?.state === 'failed', 'the cancellation taken in');
    expect(held.waiting).toBe(1);
    expect(ordersStatus(db).orders.pooledCodes).toBe(0);
    // The note lands; the delivery goes no further: no meta, the order is not set completed.
    held.release();
    await world.ticking(() => woo.notesOf(slow.id, { customer: true }).length === 1, 'the held note landed');
    await world.settle();
    expect(woo.orderStatus(slow.id)).toBe('cancelled');
    expect(woo.orderMeta(slow.id, '_psnb2b_delivery')).toBeUndefined();
    expect(deliveryOf(world, slow.id)?.state).toBe('failed');
    expect(ordersStatus(db).orders.pooledCodes).toBe(0);
    const alert = openAlerts(db).find((a) => a.kind === 'delivery-failed');
    expect(alert?.detail).toMatch(/refunded or cancelled/);
  }, 60_000);
});

describe('an operator’s decision and a delivery still writing', () => {
  it('retry-delivery on a delivery a refund failed mid-write waits for its task: nothing more is written into the refunded order', async () => {
    const { world, woo } = await patientWorld();
    const slow = woo.placeOrder({ lines: [{ sku: world.skus[0] as string, quantity: 1 }], paid: true });
    const held = await noteHanging(world, woo, slow.id);
    woo.cancel(slow.id);
    await world.ticking(() => deliveryOf(world, slow.id)?.state === 'failed', 'the cancellation taken in');
    let decided = false;
    const retry = retryDelivery(world.f.ctx, 'shop-w', String(slow.id)).then((m) => {
      decided = true;
      return m;
    });
    await world.ticking(() => held.waiting === 1 && !decided, 'a few passes with the note still held');
    expect(deliveryOf(world, slow.id)?.state).toBe('failed');
    held.release();
    await retry;
    await world.settle();
    // The revived delivery read the order again: it is cancelled, so nothing was completed or recorded.
    expect(woo.orderStatus(slow.id)).toBe('cancelled');
    expect(woo.orderMeta(slow.id, '_psnb2b_delivery')).toBeUndefined();
    expect(woo.notesOf(slow.id, { customer: true })).toHaveLength(1);
  }, 60_000);
});

describe('closing with a delivery in flight', () => {
  it('the runtime’s close waits for the delivery whose note hangs, then closes the database: the delivery is recorded done', async () => {
    const { world, woo } = await patientWorld();
    const slow = woo.placeOrder({ lines: [{ sku: world.skus[0] as string, quantity: 1 }], paid: true });
    const held = await noteHanging(world, woo, slow.id);
    let closed = false;
    const closing = world.runtime.close().then(() => {
      closed = true;
    });
    await world.f.job.idle();
    await new Promise((resolve) => setImmediate(resolve));
    expect(closed).toBe(false);
    expect(world.runtime.db.open).toBe(true);
    held.release();
    await closing;
    expect(world.runtime.db.open).toBe(false);
    expect(deliveryStates(world.dbFile)).toEqual(['done']);
    expect(auditDeliveries(woo, [slow], world.supplier.ledger()).problems).toEqual([]);
  }, 60_000);
});

/**
 * A store whose every delivery lane hangs still takes stock pushes and order listings: deliveries
 * never hold its last request slot (4, the default `concurrency`). The fake holds every delivery note.
 */
const LANES = 4;

const takenIn = (world: FulfillmentWorld, orderId: number) =>
  world.runtime.db
    .prepare('SELECT count(*) AS n FROM shop_lines WHERE store = ? AND order_id = ?')
    .get('shop-w', String(orderId)) as { n: number };

describe('every delivery lane of a store hangs', () => {
  it('a sold-out push and a new order still reach the shop while the notes are held; all delivered once after', async () => {
    const { world, woo } = await patientWorld();
    woo.latencyMs = 5;
    const [soldOut, ...ordered] = world.skus;
    const entry = world.supplier.catalog()[0];
    if (!soldOut || !entry) throw new Error('the sandbox catalogue is empty');
    expect(woo.productBySku(soldOut)?.stock_quantity).toBeGreaterThan(0);

    stall = woo.stall({ method: 'POST', route: 'orders/:id/notes' });
    const held = stall;
    const slow = ordered
      .slice(0, LANES)
      .map((sku) => woo.placeOrder({ lines: [{ sku, quantity: 1 }], paid: true }));
    // Every lane busy, each with its note in the shop's hands or waiting for a request slot.
    await world.ticking(
      () => world.f.ctx.deliveries.inFlight === LANES && held.waiting >= LANES - 1,
      'every lane delivering, the notes held by the shop',
      20_000,
    );

    // Sold out at the supplier: the push to zero must reach the shop now, not after the hung notes.
    world.supplier.setQty(entry.region, entry.denomination, 0);
    const pushed = world.runtime.job.run({});
    await world.ticking(
      () => woo.productBySku(soldOut)?.stock_quantity === 0,
      'the sold-out stock pushed to the shop while the notes hang',
    );
    await pushed;
    const late = woo.placeOrder({ lines: [{ sku: ordered[LANES] as string, quantity: 1 }], paid: true });
    await world.ticking(() => takenIn(world, late.id).n > 0, 'the new order listed and taken in');
    // The fourth lane's requests wait for a slot: the store never had more than N − 1 delivery writes.
    expect(held.waiting).toBe(LANES - 1);
    expect(slow.every((o) => woo.orderStatus(o.id) === 'processing')).toBe(true);

    held.release();
    const all = [...slow, late];
    await world.ticking(
      () => all.every((o) => woo.orderStatus(o.id) === 'completed'),
      'every order delivered after the release',
      20_000,
    );
    await world.settle();
    const audit = auditDeliveries(woo, all, world.supplier.ledger());
    expect(audit.problems).toEqual([]);
    expect(audit.notes).toBe(all.length);
    expect(ordersStatus(world.runtime.db).orders.delivered).toBe(all.length);
  }, 90_000);
});
