import { afterEach, describe, expect, it } from 'vitest';
import { formatSku } from '../../config/sku-template.js';
import type { SandboxEntry } from '../../fakes/psnb2b/sandbox-catalog.js';
import { openAlerts } from '../../src/alerts.js';
import { setKv } from '../../src/db/open.js';
import { linesInState } from '../../src/fulfillment/fulfillment-ledger.js';
import { approveOrder } from '../../src/fulfillment/order-review.js';
import { ordersStatus } from '../../src/fulfillment/orders-report.js';
import { BALANCE_KV } from '../../src/fulfillment/purchasing.js';
import { loadSnapshot } from '../../src/inventory/snapshot-store.js';
import { entryKey } from '../../src/sku.js';
import { type FulfillmentWorld, startFulfillmentWorld } from '../helpers/fulfillment-world.js';

/**
 * One test per hold reason's release rule (design-notes "Holds, and what releases each one"),
 * over real HTTP: the sandbox supplier, the fake shop, a real SQLite file.
 */

let w: FulfillmentWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const MINUTE = 60_000;
const skuOf = (e: SandboxEntry) => formatSku('PSN-{region}-{denomination}', e);
const codeLines = (text: string | null) => (text ?? '').split('\n').filter((l) => l.startsWith('PSN '));
/** POST /orders the supplier answered with anything but a new order (here: 409s). */
const refusedPosts = (world: FulfillmentWorld) => {
  const l = world.supplier.ledger();
  return l.requests['POST /orders'] - l.orders.length;
};
const unitsBoughtOf = (world: FulfillmentWorld, e: SandboxEntry) =>
  world.supplier
    .ledger()
    .orders.filter((o) => o.status !== 'failed')
    .flatMap((o) => o.items)
    .filter((i) => i.region === e.region && i.denomination === e.denomination)
    .reduce((s, i) => s + i.qty, 0);
const alertKinds = (world: FulfillmentWorld) => openAlerts(world.runtime.db).map((a) => a.kind);
const heldReasons = (world: FulfillmentWorld) =>
  linesInState(world.runtime.db, 'held').map((l) => l.holdReason);

/** The fulfillment clock, moved forward by `skew` (the supplier and the shops keep real time). */
function shiftableClock(world: FulfillmentWorld): { advance: (ms: number) => void; reapply: () => void } {
  let skew = 0;
  const reapply = () => {
    world.f.ctx.now = () => Date.now() + skew;
  };
  reapply();
  return {
    advance: (ms) => {
      skew += ms;
    },
    reapply,
  };
}

describe('out-of-stock: a feed that lags its order desk', () => {
  it('at most 4 refused POST /orders per entry per rolling hour (across a restart), other sales flow, all delivered once restocked', async () => {
    w = await startFulfillmentWorld();
    const world = w;
    const [a, b] = world.supplier.catalog() as [SandboxEntry, SandboxEntry];
    world.supplier.setQty(a.region, a.denomination, 2);
    world.supplier.setFeedQty(a.region, a.denomination, 40);
    world.supplier.setQty(b.region, b.denomination, 500);
    await world.runtime.job.run({});
    const clock = shiftableClock(world);
    let minute = 0;
    const refusals: number[] = [];
    const note = (before: number) => {
      for (let i = before; i < refusedPosts(world); i++) refusals.push(minute);
    };

    const first = world.shop.placeOrder({ lines: [{ sku: skuOf(a), quantity: 3 }] });
    let before = refusedPosts(world);
    await world.until(
      () => linesInState(world.runtime.db, 'held').length === 1 && unitsBoughtOf(world, a) === 2,
      'two bought, one held for stock',
    );
    note(before);
    expect(heldReasons(world)).toEqual(['out-of-stock']);

    const others: string[] = [];
    for (minute = 1; minute <= 65; minute++) {
      clock.advance(MINUTE);
      if (minute % 5 === 0)
        others.push(world.shop.placeOrder({ lines: [{ sku: skuOf(b), quantity: 1 }] }).orderId);
      if (minute === 30) {
        await world.restart();
        clock.reapply();
      }
      before = refusedPosts(world);
      if (minute % 3 === 0) await world.runtime.job.run({}); // the feed still says 40
      await world.pass();
      await world.pass();
      note(before);
    }
    // Every rolling hour holds at most 4 refusals of the entry.
    for (const start of refusals) {
      expect(refusals.filter((t) => t >= start && t < start + 60).length).toBeLessThanOrEqual(4);
    }
    expect(refusals.length).toBeGreaterThanOrEqual(2); // the backoff retries did happen
    // Sales of another entry kept flowing meanwhile.
    await world.until(
      () => others.every((id) => world.shop.fulfillments(id).length === 1),
      'other entries delivered',
    );
    expect(unitsBoughtOf(world, b)).toBe(others.length);

    // Restocked: the feed changes, and everything owed is delivered, bought once.
    world.supplier.setQty(a.region, a.denomination, 50);
    world.supplier.setFeedQty(a.region, a.denomination, null);
    await world.runtime.job.run({});
    await world.until(
      () => codeLines(world.shop.orderMetafield(first.orderId)).length === 3,
      'all 3 delivered',
    );
    expect(unitsBoughtOf(world, a)).toBe(3);
    expect(linesInState(world.runtime.db, 'held')).toHaveLength(0);
  }, 120_000);

  it('a 409 lowers the snapshot quantity at once, and the next push publishes less', async () => {
    w = await startFulfillmentWorld();
    const world = w;
    const [a] = world.supplier.catalog() as [SandboxEntry];
    world.supplier.setQty(a.region, a.denomination, 2);
    world.supplier.setFeedQty(a.region, a.denomination, 40);
    await world.runtime.job.run({});
    expect(world.shop.quantity(skuOf(a))).toBe(40);
    world.shop.placeOrder({ lines: [{ sku: skuOf(a), quantity: 3 }] });
    await world.until(
      () => linesInState(world.runtime.db, 'held').length === 1 && unitsBoughtOf(world, a) === 2,
      'two bought, one held',
    );
    const snap = loadSnapshot(world.runtime.db).find((r) => entryKey(r) === entryKey(a));
    expect(snap?.qty).toBe(0);
    await world.runtime.job.run({}); // the lagging feed still lists 40
    expect(world.shop.quantity(skuOf(a))).toBe(0);
  });
});

describe('rejected: a refusal we cannot read', () => {
  it('a 409 whose items do not parse: one POST, held `rejected` with an alert, never re-bought by itself', async () => {
    w = await startFulfillmentWorld();
    const world = w;
    world.supplier.injectFault('badShortage', { count: 5 });
    world.shop.placeOrder({ lines: [{ sku: world.skus[0] as string, quantity: 2 }] });
    await world.until(() => linesInState(world.runtime.db, 'held').length === 1, 'held');
    expect(heldReasons(world)).toEqual(['rejected']);
    expect(alertKinds(world)).toContain('purchase-rejected');
    for (let i = 0; i < 5; i++) {
      await world.runtime.job.run({});
      await world.pass();
    }
    expect(world.supplier.ledger().requests['POST /orders']).toBe(1);
    expect(world.supplier.ledger().orders).toHaveLength(0);
    expect(heldReasons(world)).toEqual(['rejected']);
    expect(alertKinds(world)).toContain('purchase-rejected');
  });

  it('any other 4xx (a 422: the entry delisted at the supplier since our last pull): one POST, held, bought only after orders approve', async () => {
    w = await startFulfillmentWorld();
    const world = w;
    const [a] = world.supplier.catalog() as [SandboxEntry];
    world.supplier.setListed(a.region, a.denomination, false); // our snapshot still lists it
    const placed = world.shop.placeOrder({ lines: [{ sku: skuOf(a), quantity: 1 }] });
    await world.until(() => linesInState(world.runtime.db, 'held').length === 1, 'held');
    expect(heldReasons(world)).toEqual(['rejected']);
    world.supplier.setListed(a.region, a.denomination, true);
    for (let i = 0; i < 3; i++) {
      await world.runtime.job.run({});
      await world.pass();
    }
    // Listed again, yet never re-bought by itself: the refusal waits for an operator.
    expect(world.supplier.ledger().requests['POST /orders']).toBe(1);
    expect(alertKinds(world)).toContain('purchase-rejected');
    await approveOrder(world.f.ctx, 'shop-s', placed.orderId);
    await world.until(() => world.shop.fulfillments(placed.orderId).length === 1, 'delivered after approve');
    expect(world.supplier.ledger().orders).toHaveLength(1);
    expect(alertKinds(world)).not.toContain('purchase-rejected');
  });
});

describe('balance: released one line at a time, oldest first', () => {
  it('a line the balance covers is released though an older, bigger one is not; the alert stays open until the last', async () => {
    w = await startFulfillmentWorld();
    const world = w;
    const byPrice = [...world.supplier.catalog()].sort((x, y) => x.priceCents - y.priceCents);
    const cheap = byPrice[0] as SandboxEntry;
    const dear = byPrice[byPrice.length - 1] as SandboxEntry;
    world.supplier.setBalanceCents(0);
    const big = world.shop.placeOrder({ lines: [{ sku: skuOf(dear), quantity: 3 }] });
    await world.until(() => linesInState(world.runtime.db, 'held').length === 1, 'big held');
    const small = world.shop.placeOrder({ lines: [{ sku: skuOf(cheap), quantity: 1 }] });
    await world.until(() => linesInState(world.runtime.db, 'held').length === 2, 'small held');
    // Enough for the small line only.
    world.supplier.setBalanceCents(cheap.priceCents + 1);
    setKv(world.runtime.db, BALANCE_KV, JSON.stringify({ cents: 0, at: 0 }));
    await world.until(() => world.shop.fulfillments(small.orderId).length === 1, 'small delivered');
    expect(world.shop.fulfillments(big.orderId)).toHaveLength(0);
    expect(linesInState(world.runtime.db, 'held')).toHaveLength(1);
    expect(alertKinds(world).some((k) => k === 'balance' || k === 'min-balance')).toBe(true);
    world.supplier.setBalanceCents(1_000_000);
    setKv(world.runtime.db, BALANCE_KV, JSON.stringify({ cents: 0, at: 0 }));
    await world.until(() => world.shop.fulfillments(big.orderId).length === 1, 'big delivered');
    expect(unitsBoughtOf(world, dear)).toBe(3);
    expect(alertKinds(world)).not.toContain('balance');
    expect(alertKinds(world)).not.toContain('min-balance');
  });

  it('a huge order and a normal one in the same batch: the balance guard holds only the huge one', async () => {
    // Limits off, so only the balance guard stands between the huge order and the supplier.
    w = await startFulfillmentWorld({
      batchWindowSeconds: 1,
      limits: { maxOrderUsd: null, maxUnitsPerLine: null },
    });
    const world = w;
    const byPrice = [...world.supplier.catalog()].sort((x, y) => x.priceCents - y.priceCents);
    const cheap = byPrice[0] as SandboxEntry;
    const dear = byPrice[byPrice.length - 1] as SandboxEntry;
    world.supplier.setQty(dear.region, dear.denomination, 5_000);
    world.supplier.setBalanceCents(50_000);
    await world.runtime.job.run({});
    const huge = world.shop.placeOrder({ lines: [{ sku: skuOf(dear), quantity: 900 }] });
    const normal = world.shop.placeOrder({ lines: [{ sku: skuOf(cheap), quantity: 1 }] });
    await world.until(
      () => world.shop.fulfillments(normal.orderId).length === 1,
      'the normal order delivered',
    );
    expect(world.shop.fulfillments(huge.orderId)).toHaveLength(0);
    expect(heldReasons(world)).toEqual(['min-balance']);
    expect(unitsBoughtOf(world, dear)).toBe(0);
  });

  it('a balance alert is not closed by an unrelated purchase', async () => {
    w = await startFulfillmentWorld();
    const world = w;
    const byPrice = [...world.supplier.catalog()].sort((x, y) => x.priceCents - y.priceCents);
    const cheap = byPrice[0] as SandboxEntry;
    const dear = byPrice[byPrice.length - 1] as SandboxEntry;
    world.supplier.setBalanceCents(dear.priceCents * 2);
    world.shop.placeOrder({ lines: [{ sku: skuOf(dear), quantity: 5 }] });
    await world.until(() => linesInState(world.runtime.db, 'held').length === 1, 'held for balance');
    expect(alertKinds(world)).toContain('min-balance');
    const small = world.shop.placeOrder({ lines: [{ sku: skuOf(cheap), quantity: 1 }] });
    await world.until(() => world.shop.fulfillments(small.orderId).length === 1, 'small delivered');
    await world.pass();
    expect(heldReasons(world)).toEqual(['min-balance']);
    expect(alertKinds(world)).toContain('min-balance');
    expect(ordersStatus(world.runtime.db).orders.onHold).toBe(1);
  });
});

describe('unknown-entry: released when the cause is gone', () => {
  it('a sale of an entry the feed does not list is held with an alert, and bought once the feed lists it', async () => {
    w = await startFulfillmentWorld();
    const world = w;
    const entry = { region: 'XA', denomination: 10, currency: 'USD', priceCents: 900, qty: 50 };
    const placed = world.shop.placeOrder({
      lines: [{ sku: skuOf({ ...entry, listed: true }), quantity: 1 }],
    });
    await world.until(() => linesInState(world.runtime.db, 'held').length === 1, 'held');
    expect(heldReasons(world)).toEqual(['unknown-entry']);
    expect(alertKinds(world)).toContain('unknown-entry');
    expect(world.supplier.ledger().requests['POST /orders']).toBe(0);
    world.supplier.setListed(entry.region, entry.denomination, true, entry);
    await world.runtime.job.run({});
    await world.until(() => world.shop.fulfillments(placed.orderId).length === 1, 'delivered once listed');
    expect(alertKinds(world)).not.toContain('unknown-entry');
  });
});
