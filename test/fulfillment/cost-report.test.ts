import { afterEach, describe, expect, it } from 'vitest';
import type { SandboxEntry } from '../../fakes/psnb2b/sandbox-catalog.js';
import { costReport, reportCsv } from '../../src/fulfillment/cost-report.js';
import { formatSku } from '../../src/sku.js';
import { type FulfillmentWorld, startFulfillmentWorld } from '../helpers/fulfillment-world.js';

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
    expect(rows.reduce((s, r) => s + cents(r[col('cost')] as string), 0)).toBe(debits);
    expect(cents(total[col('cost')] as string)).toBe(debits);
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
    expect(total[col('margin_%')]).toBe(((100 * (6_500 - debits)) / 6_500).toFixed(2));

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
});
