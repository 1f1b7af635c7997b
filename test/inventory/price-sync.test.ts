import { afterEach, describe, expect, it } from 'vitest';
import { formatSku } from '../../config/sku-template.js';
import type { SandboxEntry } from '../../fakes/psnb2b/sandbox-catalog.js';
import { type FulfillmentWorld, startFulfillmentWorld } from '../helpers/fulfillment-world.js';

/**
 * design-notes "Prices": with catalog.pricing on, a supplier price change reaches each shop's
 * price within one inventory cycle, written once; on WooCommerce in the same batch write as the
 * stock (no extra call), on Shopify with one productVariantsBulkUpdate per product. Real HTTP to
 * the sandbox supplier and both strict fake shops, the runtime built from YAML as the daemon does.
 */

let w: FulfillmentWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const skuOf = (e: SandboxEntry) => formatSku('PSN-{region}-{denomination}', e);
/** The price rule by hand: cost × 1.15, × rate, up to the next .99. */
const expected = (costCents: number, rate = 1) => {
  const local = Math.ceil(Math.ceil((costCents * 11_500) / 10_000) * rate - 1e-6);
  return local + ((((99 - local) % 100) + 100) % 100);
};
const text = (cents: number) => (cents / 100).toFixed(2);

async function pricedWorld(currency = 'USD', rate = 1): Promise<FulfillmentWorld> {
  w = await startFulfillmentWorld({
    withWooCommerce: true,
    catalogYaml: `catalog:
  pricing:
    enabled: true
    markupPercent: 15
    currency: ${currency}
    fxRates: { EUR: ${rate} }
    overrides: { "PSN-OVERRIDE-1": 1.5 }`,
  });
  return w;
}

describe('prices follow the supplier', () => {
  it('every SKU gets its price; a supplier price change is written once, in the same Woo batch as stock and one Shopify call per product', async () => {
    const world = await pricedWorld();
    const woo = world.woo;
    if (!woo) throw new Error('no WooCommerce store');
    for (const e of world.supplier.catalog()) {
      expect(woo.productBySku(skuOf(e))?.regular_price).toBe(text(expected(e.priceCents)));
      expect(world.shop.price(skuOf(e))).toBe(text(expected(e.priceCents)));
    }

    // Price and stock of one entry move together: one Woo write, as for the stock alone.
    const [e] = world.supplier.catalog() as [SandboxEntry];
    world.supplier.setPriceCents(e.region, e.denomination, e.priceCents + 1_000);
    world.supplier.setQty(e.region, e.denomination, e.qty + 7);
    woo.resetCounters();
    world.shop.resetStats();
    // sync --dry-run shows the price change next to the stock change, and writes nothing.
    const dry = await world.runtime.job.run({ dryRun: true });
    for (const store of dry.stores) {
      expect(store.plan).toEqual([
        expect.objectContaining({
          sku: skuOf(e),
          quantity: e.qty + 7,
          price: text(expected(e.priceCents + 1_000)),
          previousPrice: text(expected(e.priceCents)),
        }),
      ]);
    }
    expect(woo.writeCalls + world.shop.mutationCount('productVariantsBulkUpdate')).toBe(0);
    await world.runtime.job.run({});
    expect(woo.productBySku(skuOf(e))?.regular_price).toBe(text(expected(e.priceCents + 1_000)));
    expect(woo.productBySku(skuOf(e))?.stock_quantity).toBe(e.qty + 7);
    expect(woo.writeCalls).toBe(1);
    expect(world.shop.price(skuOf(e))).toBe(text(expected(e.priceCents + 1_000)));
    expect(world.shop.mutationCount('productVariantsBulkUpdate')).toBe(1);
    expect(world.shop.mutationCount('inventorySetQuantities')).toBe(1);

    // Only the price moves: still one write per shop; and nothing at all once it is written.
    world.supplier.setPriceCents(e.region, e.denomination, e.priceCents + 2_000);
    woo.resetCounters();
    world.shop.resetStats();
    await world.runtime.job.run({});
    expect(woo.writeCalls).toBe(1);
    expect(world.shop.mutationCount('productVariantsBulkUpdate')).toBe(1);
    expect(world.shop.mutationCount('inventorySetQuantities')).toBe(0);
    expect(world.shop.price(skuOf(e))).toBe(text(expected(e.priceCents + 2_000)));
    woo.resetCounters();
    world.shop.resetStats();
    await world.runtime.job.run({});
    expect(woo.writeCalls).toBe(0);
    expect(world.shop.mutationCount('productVariantsBulkUpdate')).toBe(0);
  });

  it('a shop in EUR is priced through fxRates', async () => {
    const world = await pricedWorld('EUR', 0.92);
    for (const e of world.supplier.catalog()) {
      expect(world.woo?.productBySku(skuOf(e))?.regular_price).toBe(text(expected(e.priceCents, 0.92)));
      expect(world.shop.price(skuOf(e))).toBe(text(expected(e.priceCents, 0.92)));
    }
  });
});
