import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { woocommerceFactory } from '../../../adapters/woocommerce/index.js';
import { WooCommerceStorefront } from '../../../adapters/woocommerce/woocommerce-adapter.js';
import type { WooStoreConfig } from '../../../config/schema.js';
import { FakeWooCommerce } from '../../../fakes/woocommerce/fake-woocommerce.js';
import { StorefrontError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/log.js';
import type { StockTarget, StorefrontContext } from '../../../src/storefront.js';
import { MemorySkuCache } from '../../helpers/memory-sku-cache.js';

let fake: FakeWooCommerce;
let cache: MemorySkuCache;
let clock: number;
let ctx: StorefrontContext;
let shop: WooCommerceStorefront;

const MISSING_RECHECK_MS = 10 * 60_000;

function config(): WooStoreConfig {
  return {
    name: 'shop-a',
    type: 'woocommerce',
    url: fake.url,
    consumerKey: fake.consumerKey,
    consumerSecret: fake.consumerSecret,
    weight: 1,
    unpaidMethods: ['cod'],
    timeoutMs: 5_000,
    concurrency: 2,
  };
}

beforeEach(async () => {
  fake = new FakeWooCommerce();
  await fake.start();
  cache = new MemorySkuCache();
  clock = Date.parse('2025-06-01T12:00:00Z');
  ctx = { log: silentLogger(), cache, missingRecheckMs: MISSING_RECHECK_MS, now: () => clock };
  shop = new WooCommerceStorefront(config(), ctx, { retry: { attempts: 2, baseMs: 1, maxMs: 5 } });
});
afterEach(async () => {
  await shop.close();
  await fake.stop();
});

const skuList = (n: number, prefix = 'PSN-XX') => Array.from({ length: n }, (_, i) => `${prefix}-${i + 1}`);
const targetsFor = (skus: string[], quantity: (i: number) => number = (i) => i + 1): StockTarget[] =>
  skus.map((sku, i) => ({ sku, quantity: quantity(i) }));
const stockOf = (sku: string) => fake.productBySku(sku)?.stock_quantity;

describe('batch writes', () => {
  it('writes 250 simple products in exactly 3 batch calls and acknowledges each one', async () => {
    const skus = skuList(250);
    for (const sku of skus) fake.addSimple({ sku, stock: 0 });
    const targets = targetsFor(skus);
    const out = await shop.pushStock(targets);

    expect(out.acknowledged).toHaveLength(250);
    expect(out.failed).toEqual([]);
    expect(fake.count({ method: 'POST', route: 'products/batch' })).toBe(3);
    expect(fake.writeCalls).toBe(3);
    expect(fake.readCalls).toBe(3); // 100 SKUs per lookup
    expect(out.calls).toEqual({ reads: 3, writes: 3 });
    for (const t of targets) expect(stockOf(t.sku)).toBe(t.quantity);
  });

  it('writes variations with one batch call per parent, plus one for simple products', async () => {
    const skus = [
      'PSN-US-10',
      'PSN-US-20',
      'PSN-US-50',
      'PSN-GB-10',
      'PSN-GB-25',
      'PSN-TR-250',
      'PSN-IN-1000',
    ];
    const seeded = fake.seedCatalog(skus, { variableParents: 2, stock: 5 });
    expect(seeded.parents).toHaveLength(2);
    const targets = targetsFor(skus, (i) => (i === 0 ? 0 : i * 3));
    const out = await shop.pushStock(targets);

    expect(out.acknowledged).toHaveLength(skus.length);
    expect(fake.count({ method: 'POST', route: 'products/:parent/variations/batch' })).toBe(2);
    expect(fake.count({ method: 'POST', route: 'products/batch' })).toBe(1);
    expect(out.calls.writes).toBe(3);
    expect(fake.productBySku('PSN-US-10')).toMatchObject({
      type: 'variation',
      stock_quantity: 0,
      stock_status: 'outofstock',
    });
    for (const t of targets) expect(stockOf(t.sku)).toBe(t.quantity);
    expect(cache.get('psn-us-20')?.ref).toEqual({
      id: fake.productBySku('PSN-US-20')?.id,
      parentId: seeded.parents[0]?.parent.id,
    });
  });

  it('meets the minimum: ceil(simple/100) + Σ ceil(variations of a parent/100)', async () => {
    const big = fake.addVariable({ name: 'Big', variations: skuList(150, 'BIG').map((sku) => ({ sku })) });
    const small = skuList(30, 'SMALL');
    fake.addVariable({ name: 'Small', variations: small.map((sku) => ({ sku })) });
    const simple = skuList(101, 'S');
    for (const sku of simple) fake.addSimple({ sku });
    const skus = [...big.variations.map((v) => v.sku), ...small, ...simple];
    const out = await shop.pushStock(targetsFor(skus));
    expect(out.acknowledged).toHaveLength(281);
    expect(out.calls.writes).toBe(2 + 1 + 2);
    expect(fake.writeCalls).toBe(5);
  });

  it('reports failed items of a partial batch failure and acknowledges the rest', async () => {
    const skus = skuList(10);
    for (const sku of skus) fake.addSimple({ sku, stock: 1 });
    fake.failItems(['PSN-XX-3', 'psn-xx-7'], 'woocommerce_rest_cannot_edit');
    const out = await shop.pushStock(targetsFor(skus, () => 9));

    expect(out.failed.map((f) => f.sku).sort()).toEqual(['PSN-XX-3', 'PSN-XX-7']);
    expect(out.failed[0]?.error).toMatchObject({
      kind: 'storefront',
      code: 'woocommerce_rest_cannot_edit',
      status: 500,
    });
    expect(out.acknowledged).toHaveLength(8);
    expect(out.acknowledged.map((t) => t.sku)).not.toContain('PSN-XX-3');
    expect(stockOf('PSN-XX-3')).toBe(1);
    expect(stockOf('PSN-XX-4')).toBe(9);
    expect(out.calls.writes).toBe(1);
  });

  it('reports progress after each write call', async () => {
    const skus = skuList(150);
    for (const sku of skus) fake.addSimple({ sku });
    const seen: [number, number][] = [];
    await shop.pushStock(targetsFor(skus), { onProgress: (s, t) => seen.push([s, t]) });
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(seen.at(-1)).toEqual([150, 150]);
  });
});

describe('SKU resolution', () => {
  it('never writes a SKU carried by two products, and reports it', async () => {
    const a = fake.addSimple({ sku: 'PSN-US-50', stock: 2 });
    const b = fake.addSimple({ sku: 'psn-us-50 ', stock: 3 });
    fake.addSimple({ sku: 'PSN-US-10', stock: 0 });
    const out = await shop.pushStock([
      { sku: 'PSN-US-50', quantity: 40 },
      { sku: 'PSN-US-10', quantity: 4 },
    ]);
    expect(out.duplicate).toEqual(['PSN-US-50']);
    expect(out.acknowledged).toEqual([{ sku: 'PSN-US-10', quantity: 4 }]);
    expect(fake.product(a.id)?.stock_quantity).toBe(2);
    expect(fake.product(b.id)?.stock_quantity).toBe(3);
    expect(cache.get('PSN-US-50')?.state).toBe('duplicate');
  });

  it('reports a missing SKU and does not create it; a variable parent is not a match', async () => {
    fake.addVariable({ name: 'PSN DE', sku: 'PSN-DE', variations: [{ sku: 'PSN-DE-5' }] });
    const out = await shop.pushStock([
      { sku: 'PSN-ZZ-1', quantity: 5 },
      { sku: 'PSN-DE', quantity: 5 },
      { sku: 'PSN-DE-5', quantity: 5 },
    ]);
    expect(out.missing.sort()).toEqual(['PSN-DE', 'PSN-ZZ-1']);
    expect(out.acknowledged).toEqual([{ sku: 'PSN-DE-5', quantity: 5 }]);
    expect(fake.productBySku('PSN-ZZ-1')).toBeUndefined();
    expect(fake.count({ method: 'POST', route: 'products' })).toBe(0);
    expect(cache.get('psn-zz-1')?.state).toBe('missing');
  });

  it('reuses the cache on the second push: no lookups, and trusts `missing` for missingRecheckMs', async () => {
    const skus = skuList(20);
    for (const sku of skus) fake.addSimple({ sku });
    await shop.pushStock([...targetsFor(skus), { sku: 'LATER-1', quantity: 1 }]);
    fake.resetCounters();

    const second = await shop.pushStock([...targetsFor(skus, () => 7), { sku: 'LATER-1', quantity: 1 }]);
    expect(second.calls).toEqual({ reads: 0, writes: 1 });
    expect(fake.readCalls).toBe(0);
    expect(second.missing).toEqual(['LATER-1']);
    expect(stockOf('PSN-XX-20')).toBe(7);

    // The merchant adds the product; once the window has passed it is found.
    fake.addSimple({ sku: 'LATER-1' });
    clock += MISSING_RECHECK_MS + 1;
    const third = await shop.pushStock([{ sku: 'LATER-1', quantity: 3 }]);
    expect(third.acknowledged).toEqual([{ sku: 'LATER-1', quantity: 3 }]);
    expect(third.calls).toEqual({ reads: 1, writes: 1 });
  });

  it('re-resolves a product deleted in the shop (per-item invalid id) and writes the new one', async () => {
    const old = fake.addSimple({ sku: 'PSN-US-25', stock: 1 });
    fake.addSimple({ sku: 'PSN-US-30', stock: 1 });
    await shop.pushStock(targetsFor(['PSN-US-25', 'PSN-US-30']));
    fake.deleteProduct(old.id);
    const replacement = fake.addVariable({ name: 'PSN US', variations: [{ sku: 'PSN-US-25', stock: 0 }] });
    fake.resetCounters();

    const out = await shop.pushStock([
      { sku: 'PSN-US-25', quantity: 6 },
      { sku: 'PSN-US-30', quantity: 6 },
    ]);
    expect(out.acknowledged).toHaveLength(2);
    expect(out.calls).toEqual({ reads: 1, writes: 2 });
    expect(fake.product(replacement.variations[0]?.id ?? 0)?.stock_quantity).toBe(6);
    expect(cache.get('PSN-US-25')?.ref).toEqual({
      id: replacement.variations[0]?.id,
      parentId: replacement.parent.id,
    });
  });

  it('re-resolves when the cached product now carries another SKU', async () => {
    const p = fake.addSimple({ sku: 'RE-1', stock: 1 });
    await shop.pushStock([{ sku: 'RE-1', quantity: 1 }]);
    fake.catalog.setSku(p.id, 'OTHER-1');
    const ours = fake.addSimple({ sku: 'RE-1', stock: 0 });
    const out = await shop.pushStock([{ sku: 'RE-1', quantity: 4 }]);
    expect(out.acknowledged).toEqual([{ sku: 'RE-1', quantity: 4 }]);
    expect(fake.product(ours.id)?.stock_quantity).toBe(4);
    expect(cache.get('RE-1')?.ref).toEqual({ id: ours.id, parentId: null });
  });

  it('reports a deleted product that has no replacement as missing', async () => {
    const p = fake.addSimple({ sku: 'GONE-1' });
    await shop.pushStock([{ sku: 'GONE-1', quantity: 1 }]);
    fake.deleteProduct(p.id);
    const out = await shop.pushStock([{ sku: 'GONE-1', quantity: 2 }]);
    expect(out.missing).toEqual(['GONE-1']);
    expect(out.acknowledged).toEqual([]);
    expect(out.failed).toEqual([]);
  });

  it('never sends a bad quantity or conflicting targets', async () => {
    fake.addSimple({ sku: 'Q-1', stock: 1 });
    fake.addSimple({ sku: 'Q-2', stock: 1 });
    const out = await shop.pushStock([
      { sku: 'Q-1', quantity: -1 },
      { sku: 'Q-2', quantity: 2 },
      { sku: 'q-2', quantity: 3 },
    ]);
    expect(out.failed.map((f) => f.sku).sort()).toEqual(['Q-1', 'Q-2', 'q-2']);
    expect(out.calls).toEqual({ reads: 0, writes: 0 });
    expect(stockOf('Q-1')).toBe(1);
  });
});

describe('a store that is down', () => {
  it('throws when the store answers nothing (503), acknowledges nothing and changes nothing', async () => {
    for (const sku of skuList(5)) fake.addSimple({ sku, stock: 1 });
    await fake.setDown('503');
    const e = await shop.pushStock(targetsFor(skuList(5), () => 8)).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(StorefrontError);
    expect((e as StorefrontError).status).toBe(503);
    await fake.setDown(false);
    for (const sku of skuList(5)) expect(stockOf(sku)).toBe(1);
  });

  it('throws on refused connections too, after resolving from the cache', async () => {
    for (const sku of skuList(3)) fake.addSimple({ sku, stock: 1 });
    await shop.pushStock(targetsFor(skuList(3)));
    await fake.setDown('refuse');
    await expect(shop.pushStock(targetsFor(skuList(3), () => 9))).rejects.toBeInstanceOf(StorefrontError);
    await fake.setDown(false);
    expect(stockOf('PSN-XX-1')).toBe(1);
  });

  it('fails (does not throw for) a server error on some items while the store answers the rest', async () => {
    fake.addSimple({ sku: 'S-1', stock: 1 });
    const { variations } = fake.addVariable({ name: 'P', variations: [{ sku: 'V-1', stock: 1 }] });
    await shop.pushStock([
      { sku: 'S-1', quantity: 1 },
      { sku: 'V-1', quantity: 1 },
    ]);
    fake.failItems(['V-1'], 'internal_server_error');
    const out = await shop.pushStock([
      { sku: 'S-1', quantity: 5 },
      { sku: 'V-1', quantity: 5 },
    ]);
    expect(out.acknowledged).toEqual([{ sku: 'S-1', quantity: 5 }]);
    expect(out.failed.map((f) => f.sku)).toEqual(['V-1']);
    expect(fake.product(variations[0]?.id ?? 0)?.stock_quantity).toBe(1);
  });
});

describe('factory', () => {
  it('creates a woocommerce storefront and keeps secrets out of outcomes', async () => {
    expect(woocommerceFactory.type).toBe('woocommerce');
    const s = woocommerceFactory.create({ ...config(), consumerSecret: 'cs_wrong_secret_value_123' }, ctx);
    expect(s).toMatchObject({ name: 'shop-a', type: 'woocommerce' });
    fake.addSimple({ sku: 'A-1' });
    const out = await s.pushStock([{ sku: 'A-1', quantity: 1 }]);
    expect(out.failed[0]?.error).toMatchObject({
      status: 401,
      code: 'woocommerce_rest_authentication_error',
    });
    expect(JSON.stringify(out)).not.toContain('cs_wrong_secret_value_123');
    await s.close();
  });
});
