import { afterEach, describe, expect, it } from 'vitest';
import { formatSku } from '../../config/sku-template.js';
import type { SandboxEntry } from '../../fakes/psnb2b/sandbox-catalog.js';
import {
  CSV_HEADER,
  costReport,
  reportCsv,
  reportRange,
  reportTable,
} from '../../src/fulfillment/cost-report.js';
import { catalogView } from '../../src/fulfillment/fulfillment-job.js';
import { ordersStatus } from '../../src/fulfillment/orders-report.js';
import { resolveIntent } from '../../src/fulfillment/resolve-intent.js';
import { type FulfillmentWorld, startFulfillmentWorld } from '../helpers/fulfillment-world.js';
import { parkedPurchase } from '../helpers/parked-purchase.js';

/**
 * `report`: per supplier order its cost, the revenue it served, margin; the CSV adds up to what
 * the sandbox supplier charged (its balance debits). Real HTTP, real SQLite.
 */

let w: FulfillmentWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const skuOf = (e: SandboxEntry) => formatSku('PSN-{region}-{denomination}', e);
const STARTING_BALANCE = 500_000;
const cents = (usd: string) => Math.round(Number(usd) * 100);

describe('report', () => {
  it('--csv adds up to the supplier balance debits; revenue is what buyers paid (coupon included)', async () => {
    w = await startFulfillmentWorld({
      withWooCommerce: true,
      supplier: { startingBalanceCents: STARTING_BALANCE },
    });
    const world = w;
    const woo = world.woo;
    if (!woo) throw new Error('no WooCommerce store');
    const [a, b] = world.supplier.catalog() as [SandboxEntry, SandboxEntry];
    for (const e of [a, b]) world.supplier.setQty(e.region, e.denomination, 100);
    world.supplier.setPriceCents(a.region, a.denomination, 700);
    world.supplier.setPriceCents(b.region, b.denomination, 400);
    await world.runtime.job.run({});
    const orders = [
      woo.placeOrder({ lines: [{ sku: skuOf(a), quantity: 2 }], paid: true }),
      woo.placeOrder({
        lines: [
          { sku: skuOf(a), quantity: 1 },
          { sku: skuOf(b), quantity: 3 },
        ],
        paid: true,
      }),
      woo.placeOrder({
        lines: [{ sku: skuOf(b), quantity: 1 }],
        paid: true,
        coupon: { code: 'HALF', percent: 50 },
      }),
    ];
    await world.until(() => orders.every((o) => woo.orderStatus(o.id) === 'completed'), 'all delivered');

    const debits = STARTING_BALANCE - world.supplier.ledger().balanceCents;
    expect(debits).toBe(3 * 700 + 4 * 400);
    const report = costReport(world.runtime.db, {
      from: 0,
      to: Number.MAX_SAFE_INTEGER,
      by: 'order',
      fxRates: {},
      skuTemplate: 'PSN-{region}-{denomination}',
    });
    const csv = reportCsv(report, 'order').trim().split('\n');
    const header = (csv[0] as string).split(',');
    const col = (name: string) => header.indexOf(name);
    const rows = csv.slice(1, -1).map((r) => r.split(','));
    const total = (csv.at(-1) as string).split(',');
    expect(total[0]).toBe('total');
    expect(rows.reduce((s, r) => s + cents(r[col('cost_usd')] as string), 0)).toBe(debits);
    expect(cents(total[col('cost_usd')] as string)).toBe(debits);
    expect(new Set(rows.map((r) => r[0])).size).toBe(rows.length);
    expect(
      world.supplier
        .ledger()
        .orders.map((o) => o.id)
        .sort(),
    ).toEqual(rows.map((r) => r[0]).sort());
    // Revenue: $10 a unit in the fake shop, $5 with the coupon: 6 × 10 + 5.
    expect(report.totals).toMatchObject({
      units: 7,
      revenueCents: 6_500,
      marginCents: 6_500 - debits,
      pooled: 0,
    });
    expect(total[col('margin_percent')]).toBe(((100 * (6_500 - debits)) / 6_500).toFixed(2));

    const bySku = costReport(world.runtime.db, {
      from: 0,
      to: Number.MAX_SAFE_INTEGER,
      by: 'sku',
      fxRates: {},
      skuTemplate: 'PSN-{region}-{denomination}',
    });
    expect(bySku.rows.map((r) => [r.key, r.units, r.costCents])).toEqual(
      expect.arrayContaining([
        [skuOf(a), 3, 2_100],
        [skuOf(b), 4, 1_600],
      ]),
    );
    const tomorrow = Date.now() + 86_400_000;
    expect(
      costReport(world.runtime.db, {
        from: tomorrow,
        to: tomorrow * 2,
        by: 'day',
        fxRates: {},
        skuTemplate: 'PSN-{region}-{denomination}',
      }).rows,
    ).toEqual([]);
  });

  it('a supplier order that failed once paid (its debit credited back) is not in the report; the CSV still adds up to the debits', async () => {
    w = await startFulfillmentWorld({ supplier: { startingBalanceCents: STARTING_BALANCE } });
    const world = w;
    world.supplier.failNextOrders(1, 'paid');
    world.shop.placeOrder({ lines: [{ sku: world.skus[0] as string, quantity: 2 }] });
    await world.until(() => world.supplier.ledger().orders.some((o) => o.status === 'failed'), 'one failed');
    await world.until(
      () => ordersStatus(world.runtime.db).orders.delivered === 1,
      'bought again and delivered',
    );
    const debits = STARTING_BALANCE - world.supplier.ledger().balanceCents;
    const csv = csvOf(world);
    expect(csv.rows).toHaveLength(1);
    expect(csv.sum('cost_usd')).toBe(debits);
    expect(csv.total('units')).toBe('2');
  });

  it('an order settled by `orders resolve --supplier-order` is costed as the supplier charged it', async () => {
    w = await startFulfillmentWorld({
      honoursIdempotencyKeys: false,
      supplier: { startingBalanceCents: STARTING_BALANCE },
    });
    const world = w;
    const { intent, supplierOrderId } = await parkedPurchase(world, 1);
    await resolveIntent(
      world.f.ctx,
      intent.id,
      { kind: 'supplier-order', supplierOrderId },
      catalogView(world.f.ctx),
    );
    await world.until(() => ordersStatus(world.runtime.db).orders.delivered === 1, 'delivered');
    const debits = STARTING_BALANCE - world.supplier.ledger().balanceCents;
    expect(debits).toBeGreaterThan(0);
    expect(csvOf(world).sum('cost_usd')).toBe(debits);
  });

  it('prints money with its currency; the CSV header is stable', async () => {
    w = await startFulfillmentWorld({ supplier: { startingBalanceCents: STARTING_BALANCE } });
    const world = w;
    world.shop.placeOrder({ lines: [{ sku: world.skus[0] as string, quantity: 1 }] });
    await world.until(() => ordersStatus(world.runtime.db).orders.delivered === 1, 'delivered');
    const report = costReport(world.runtime.db, { ...ALL, by: 'day' });
    expect(reportCsv(report, 'day').split('\n')[0]).toBe(
      'day,orders,units,cost_usd,revenue_usd,margin_usd,margin_percent,pooled,pooled_cost_usd,unpriced',
    );
    expect(CSV_HEADER.slice(1)).toEqual(reportCsv(report, 'order').split('\n')[0]?.split(',').slice(1));
    const table = reportTable(report, 'day');
    const cost = (STARTING_BALANCE - world.supplier.ledger().balanceCents) / 100;
    expect(table).toContain(`${cost.toFixed(2)} USD`);
  });
});

describe('report --from / --to', () => {
  it('days are UTC and inclusive; a bad value names its flag', () => {
    expect(reportRange({ from: '2026-12-01', to: '2026-12-01' })).toEqual({
      from: Date.UTC(2026, 11, 1),
      to: Date.UTC(2026, 11, 2),
    });
    expect(reportRange({})).toEqual({ from: 0, to: Number.MAX_SAFE_INTEGER });
    expect(() => reportRange({ from: '2026-13-01' })).toThrow(/^--from: /);
    expect(() => reportRange({ from: '2026-02-30' })).toThrow(/^--from: .*YYYY-MM-DD/);
    expect(() => reportRange({ to: 'yesterday' })).toThrow(/^--to: /);
    expect(() => reportRange({ from: '2026-12-02', to: '2026-12-01' })).toThrow(/^--to: .*before --from/);
  });
});

const ALL = { from: 0, to: Number.MAX_SAFE_INTEGER, fxRates: {}, skuTemplate: 'PSN-{region}-{denomination}' };

/** `report --by order --csv` of the world, read as a spreadsheet would. */
function csvOf(world: FulfillmentWorld) {
  const lines = reportCsv(costReport(world.runtime.db, { ...ALL, by: 'order' }), 'order')
    .trim()
    .split('\n');
  const header = (lines[0] as string).split(',');
  const rows = lines.slice(1, -1).map((r) => r.split(','));
  const totals = (lines.at(-1) as string).split(',');
  const col = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`no column ${name} in ${header.join(',')}`);
    return i;
  };
  return {
    rows,
    sum: (name: string) => rows.reduce((s, r) => s + cents(r[col(name)] as string), 0),
    total: (name: string) => totals[col(name)],
  };
}
