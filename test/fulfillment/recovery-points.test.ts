import { afterEach, describe, expect, it } from 'vitest';
import { parseSku } from '../../config/sku-template.js';
import { openAlerts } from '../../src/alerts.js';
import { immediate, setKv } from '../../src/db/open.js';
import { catalogView } from '../../src/fulfillment/fulfillment-job.js';
import {
  createIntent,
  intentsIn,
  linesInState,
  moveIntent,
} from '../../src/fulfillment/fulfillment-ledger.js';
import { ordersStatus } from '../../src/fulfillment/orders-report.js';
import { BALANCE_KV } from '../../src/fulfillment/purchasing.js';
import { RECOVERY_POINTS } from '../../src/fulfillment/recovery-points.js';
import { resolveIntent } from '../../src/fulfillment/resolve-intent.js';
import {
  type FulfillmentWorld,
  startFulfillmentWorld,
  type WorldOptions,
} from '../helpers/fulfillment-world.js';
import { parkedPurchase } from '../helpers/parked-purchase.js';

/**
 * One test per recovery point: a row is seeded *at* that point (as a crash would leave it), the
 * runtime is reopened on the same database, and the pipeline must finish right — every unit
 * bought exactly once and delivered exactly once.
 */

let w: FulfillmentWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const TEMPLATE = 'PSN-{region}-{denomination}';
const codeLines = (text: string | null) => (text ?? '').split('\n').filter((l) => l.startsWith('PSN '));
const unitsBought = (world: FulfillmentWorld) =>
  world.supplier
    .ledger()
    .orders.filter((o) => o.status !== 'failed')
    .reduce((s, o) => s + o.items.reduce((a, i) => a + i.qty, 0), 0);
const delivered = (world: FulfillmentWorld) => ordersStatus(world.runtime.db).orders.delivered;

/** A world whose lines are taken in but not bought (a batch window nobody reaches). */
async function receivedOnly(over: Partial<WorldOptions> = {}) {
  w = await startFulfillmentWorld({ batchWindowSeconds: 3600, ...over });
  const world = w;
  const [a, b] = world.skus as [string, string];
  const placed = world.shop.placeOrder({
    lines: [
      { sku: a, quantity: 2 },
      { sku: b, quantity: 1 },
    ],
  });
  await world.pass();
  expect(linesInState(world.runtime.db, 'open')).toHaveLength(2);
  return { world, placed };
}

/** Seeds an intent for every open line, then leaves it at `point`. */
function seedIntent(world: FulfillmentWorld, point: 'created' | 'sending') {
  const db = world.runtime.db;
  return immediate(db, () => {
    const allocations = linesInState(db, 'open').map((l) => ({
      line: l.id,
      entryKey: l.entryKey,
      units: l.units,
    }));
    const intent = createIntent(
      db,
      { allocations, priceCents: catalogView(world.f.ctx).priceCents },
      Date.now(),
    );
    if (!intent) throw new Error('the open lines needed nothing');
    if (point === 'sending')
      moveIntent(db, intent, 'sending', { attempts: 1, sentAt: Date.now() }, Date.now());
    return intent;
  });
}

describe('recovery points', () => {
  it('names every intent point the pipeline uses', () => {
    expect(Object.keys(RECOVERY_POINTS.intent).sort()).toEqual(
      ['abandoned', 'created', 'ordered', 'parked', 'rejected', 'sending', 'stored', 'superseded'].sort(),
    );
  });

  it('created (crashed before sending): sent once, delivered', async () => {
    const { world, placed } = await receivedOnly();
    seedIntent(world, 'created');
    await world.restart({ batchWindowSeconds: 3600 });
    await world.until(() => delivered(world) === 2, 'delivered');
    expect(world.supplier.ledger().orders).toHaveLength(1);
    expect(codeLines(world.shop.orderMetafield(placed.orderId))).toHaveLength(3);
  });

  it('sending, keys honoured: the same key goes again and the supplier sells once', async () => {
    const { world } = await receivedOnly();
    const intent = seedIntent(world, 'sending');
    await world.restart();
    await world.until(() => delivered(world) === 2, 'delivered');
    expect(world.supplier.ledger().orders).toHaveLength(1);
    expect(world.supplier.ledger().orders[0]?.reference).toBe(intent.idempotencyKey);
  });

  it('sending, keys not honoured: parked with evidence, never re-sent; --rebuy settles it', async () => {
    const { world, placed } = await receivedOnly({ honoursIdempotencyKeys: false });
    const intent = seedIntent(world, 'sending');
    await world.restart({ honoursIdempotencyKeys: false, batchWindowSeconds: 0 });
    await world.until(() => intentsIn(world.runtime.db, 'parked').length === 1, 'parked');
    await world.pass();
    expect(world.supplier.ledger().orders).toHaveLength(0);
    expect(ordersStatus(world.runtime.db).orders.parked).toBe(1);
    const parked = intentsIn(world.runtime.db, 'parked')[0];
    expect(parked?.balanceAfterCents).not.toBeNull();
    expect(openAlerts(world.runtime.db).map((a) => a.kind)).toContain('intent-parked');
    await resolveIntent(world.f.ctx, intent.id, { kind: 'rebuy' }, catalogView(world.f.ctx));
    await world.until(() => delivered(world) === 2, 'delivered after rebuy');
    expect(unitsBought(world)).toBe(3);
    expect(codeLines(world.shop.orderMetafield(placed.orderId))).toHaveLength(3);
    expect(openAlerts(world.runtime.db).map((a) => a.kind)).not.toContain('intent-parked');
  });

  it('unknown outcome where the supplier did commit: parked, then followed by --supplier-order, bought once', async () => {
    w = await startFulfillmentWorld({ honoursIdempotencyKeys: false });
    const world = w;
    const { intent, supplierOrderId, reference } = await parkedPurchase(world, 2);
    expect(reference).toBe(intent.idempotencyKey);
    await world.pass();
    expect(world.supplier.ledger().orders).toHaveLength(1);
    await resolveIntent(
      world.f.ctx,
      intent.id,
      { kind: 'supplier-order', supplierOrderId },
      catalogView(world.f.ctx),
    );
    await world.until(() => delivered(world) === 1, 'delivered');
    expect(world.supplier.ledger().orders).toHaveLength(1);
  });

  it('ordered (crashed after the 201): followed to delivered, codes fetched once', async () => {
    w = await startFulfillmentWorld({ supplier: { deliveredAfterMs: 400 } });
    const world = w;
    world.shop.placeOrder({ lines: [{ sku: world.skus[0] as string, quantity: 1 }] });
    await world.until(() => intentsIn(world.runtime.db, 'ordered').length === 1, 'ordered');
    await world.restart();
    await world.until(() => delivered(world) === 1, 'delivered');
    expect(world.supplier.ledger().orders).toHaveLength(1);
    expect(world.supplier.ledger().requests['GET /orders/{id}/codes']).toBe(1);
  });

  it('stored (codes committed, shop down at delivery): delivered later with exactly those codes', async () => {
    w = await startFulfillmentWorld();
    const world = w;
    const placed = world.shop.placeOrder({ lines: [{ sku: world.skus[1] as string, quantity: 2 }] });
    await world.pass();
    world.shop.setDown(true);
    await world.until(() => intentsIn(world.runtime.db, 'stored').length === 1, 'codes stored');
    expect(delivered(world)).toBe(0);
    await world.restart();
    world.shop.setDown(false);
    await world.until(() => delivered(world) === 1, 'delivered');
    const issued = world.supplier
      .codesIssued(world.supplier.ledger().orders[0]?.id as string)
      .map((c) => c.code);
    const lines = codeLines(world.shop.orderMetafield(placed.orderId));
    expect(lines.map((l) => l.split(': ')[1]).sort()).toEqual([...issued].sort());
  });

  it('delivery between its two shop writes: the buyer gets the codes once and one fulfilment', async () => {
    w = await startFulfillmentWorld();
    const world = w;
    world.shop.loseAnswerAfterCommit('fulfillmentCreate', 'http503');
    const placed = world.shop.placeOrder({ lines: [{ sku: world.skus[2] as string, quantity: 1 }] });
    await world.until(() => world.shop.fulfillments(placed.orderId).length === 1, 'fulfilment written');
    await world.restart();
    await world.until(() => delivered(world) === 1, 'delivery recorded');
    expect(world.shop.fulfillments(placed.orderId)).toHaveLength(1);
    expect(codeLines(world.shop.orderMetafield(placed.orderId))).toHaveLength(1);
  });

  it('402: the lines are held with an alert, and released by themselves when the balance is back', async () => {
    w = await startFulfillmentWorld();
    const world = w;
    world.supplier.setBalanceCents(0);
    world.shop.placeOrder({ lines: [{ sku: world.skus[0] as string, quantity: 1 }] });
    await world.until(() => linesInState(world.runtime.db, 'held').length === 1, 'held');
    expect(openAlerts(world.runtime.db).some((a) => a.kind === 'balance' || a.kind === 'min-balance')).toBe(
      true,
    );
    world.supplier.setBalanceCents(1_000_000);
    setKv(world.runtime.db, BALANCE_KV, JSON.stringify({ cents: 0, at: 0 }));
    await world.until(() => delivered(world) === 1, 'delivered after top-up');
    expect(openAlerts(world.runtime.db).map((a) => a.kind)).not.toContain('balance');
  });

  it('409: buys what the supplier has, the rest waits for stock; never a silent loss', async () => {
    w = await startFulfillmentWorld();
    const world = w;
    const sku = world.skus[3] as string;
    const entry = parseSku(TEMPLATE, sku);
    if (!entry) throw new Error('bad sku');
    world.supplier.setQty(entry.region, entry.denomination, 1); // the snapshot still says more
    const placed = world.shop.placeOrder({ lines: [{ sku, quantity: 3 }] });
    // What it has is bought under a new intent on the next pass; the rest is held for stock.
    await world.until(
      () => linesInState(world.runtime.db, 'held').length === 1 && unitsBought(world) === 1,
      'one bought, the rest held for stock',
    );
    await world.pass();
    expect(unitsBought(world)).toBe(1);
    world.supplier.setQty(entry.region, entry.denomination, 50);
    await world.runtime.job.run({});
    await world.until(() => delivered(world) === 1, 'delivered after restock');
    expect(unitsBought(world)).toBe(3);
    expect(codeLines(world.shop.orderMetafield(placed.orderId))).toHaveLength(3);
  });

  it('a supplier order that fails is bought again under a new intent; the failed one is superseded', async () => {
    w = await startFulfillmentWorld();
    const world = w;
    world.supplier.failNextOrders(1, 'paid');
    world.shop.placeOrder({ lines: [{ sku: world.skus[0] as string, quantity: 2 }] });
    await world.until(() => delivered(world) === 1, 'delivered');
    const orders = world.supplier.ledger().orders;
    expect(orders.map((o) => o.status).sort()).toEqual(['delivered', 'failed']);
    expect(intentsIn(world.runtime.db, 'superseded')).toHaveLength(1);
    expect(unitsBought(world)).toBe(2);
  });

  it('a supplier order that fails after its sale was cancelled is not bought again', async () => {
    w = await startFulfillmentWorld({ supplier: { paidAfterMs: 800 } });
    const world = w;
    const db = world.runtime.db;
    world.supplier.failNextOrders(1, 'paid');
    const placed = world.shop.placeOrder({ lines: [{ sku: world.skus[0] as string, quantity: 2 }] });
    await world.until(() => intentsIn(db, 'ordered').length === 1, 'ordered');
    world.shop.cancel(placed.orderId);
    await world.until(
      () => world.supplier.ledger().orders[0]?.status === 'failed' && intentsIn(db, 'ordered').length === 0,
      'the failure seen',
    );
    await world.pass();
    expect(world.supplier.ledger().orders).toHaveLength(1);
    expect(linesInState(db, 'dropped')).toHaveLength(1);
    expect(intentsIn(db, 'created', 'sending')).toHaveLength(0);
  });

  it('refunded before purchase: dropped, nothing bought', async () => {
    const { world, placed } = await receivedOnly();
    world.shop.cancel(placed.orderId);
    await world.restart({ batchWindowSeconds: 0 });
    await world.pass();
    await world.pass();
    expect(linesInState(world.runtime.db, 'dropped')).toHaveLength(2);
    expect(world.supplier.ledger().orders).toHaveLength(0);
  });

  it('refunded after purchase, before delivery: codes to the pool, and the next sale takes them', async () => {
    w = await startFulfillmentWorld({ supplier: { deliveredAfterMs: 500 } });
    const world = w;
    const sku = world.skus[0] as string;
    const first = world.shop.placeOrder({ lines: [{ sku, quantity: 2 }] });
    await world.until(() => intentsIn(world.runtime.db, 'ordered').length === 1, 'ordered');
    world.shop.cancel(first.orderId);
    await world.until(() => ordersStatus(world.runtime.db).orders.pooledCodes === 2, 'codes pooled');
    expect(world.shop.orderMetafield(first.orderId)).toBeNull();
    const second = world.shop.placeOrder({ lines: [{ sku, quantity: 2 }] });
    await world.until(() => delivered(world) === 1, 'second order delivered');
    expect(world.supplier.ledger().orders).toHaveLength(1);
    expect(ordersStatus(world.runtime.db).orders.pooledCodes).toBe(0);
    expect(codeLines(world.shop.orderMetafield(second.orderId))).toHaveLength(2);
  });
});

describe('unmatched SKUs', () => {
  it('a sale of a SKU on two products of the shop is held with an alert, never bought blind', async () => {
    w = await startFulfillmentWorld();
    const world = w;
    const sku = world.skus[5] as string;
    world.shop.addProduct({ title: 'copy', variants: [{ sku, quantity: 0 }] });
    await world.runtime.job.run({ full: true }); // the push learns the SKU is on two products
    world.shop.placeOrder({ lines: [{ sku, quantity: 1 }] });
    await world.until(() => linesInState(world.runtime.db, 'held').length === 1, 'held');
    expect(linesInState(world.runtime.db, 'held')[0]?.holdReason).toBe('duplicate-sku');
    expect(openAlerts(world.runtime.db).map((a) => a.kind)).toContain('duplicate-sku');
    await world.pass();
    expect(world.supplier.ledger().orders).toHaveLength(0);
  });
});
