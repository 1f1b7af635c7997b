import { afterEach, describe, expect, it } from 'vitest';
import { ShopifyStorefront, shopifyFactory } from '../../../adapters/shopify/index.js';
import type { ShopifyStoreConfig } from '../../../config/schema.js';
import type { FakeShopify } from '../../../fakes/shopify/fake-shopify.js';
import { StorefrontError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/log.js';
import type { StockTarget, StorefrontContext } from '../../../src/storefront.js';
import { startFake, TEST_SECRET, TEST_TOKEN } from '../../fakes/shopify/fake-shopify-support.js';
import { MemorySkuCache } from '../../helpers/memory-sku-cache.js';

/**
 * The adapter against the fake over real HTTP, through the real `@shopify/shopify-api` client.
 * Every assertion about the shop reads the fake's own state.
 */

/** Same-length numbers: none is a prefix of another, so the fuzzy search adds no near-matches here. */
const skus = (n: number, prefix = 'PSN-US') => Array.from({ length: n }, (_v, i) => `${prefix}-${1000 + i}`);

interface Harness {
  fake: FakeShopify;
  cache: MemorySkuCache;
  store: ShopifyStorefront;
  /** Moves the adapter's clock (for missingRecheckMs). */
  advance: (ms: number) => void;
}

const open: { fake: FakeShopify; store: ShopifyStorefront }[] = [];

/** Shopify Plus's restore rate (1,000/s) keeps these tests quick; the throttling test shrinks the bucket. */
async function harness(
  fakeOpts: Parameters<typeof startFake>[0] = { bucket: { maximumAvailable: 2000, restoreRate: 1000 } },
): Promise<Harness> {
  const fake = await startFake(fakeOpts);
  const cache = new MemorySkuCache();
  let clock = Date.now();
  const ctx: StorefrontContext = { log: silentLogger(), cache, missingRecheckMs: 60_000, now: () => clock };
  const store = new ShopifyStorefront(storeConfig(fake), ctx, {
    retry: { attempts: 2, baseMs: 1, maxMs: 2 },
  });
  open.push({ fake, store });
  return {
    fake,
    cache,
    store,
    advance: (ms) => {
      clock += ms;
    },
  };
}

afterEach(async () => {
  for (const { fake, store } of open.splice(0)) {
    await store.close();
    await fake.stop();
  }
});

describe('ShopifyStorefront.pushStock', () => {
  it('writes 600 changed SKUs in exactly 3 inventorySetQuantities calls; one-time fixes counted apart', async () => {
    const { fake, store } = await harness();
    const main = skus(600);
    fake.addProducts(main, { quantity: 1 });
    // Two variants of one product still sell when out of stock, one is untracked, one is not stocked.
    fake.addProduct({
      title: 'PSN GB',
      variants: [
        { sku: 'PSN-GB-10', quantity: 4, inventoryPolicy: 'CONTINUE' },
        { sku: 'PSN-GB-20', quantity: 4, tracked: false },
      ],
    });
    fake.addProduct({ variants: [{ sku: 'PSN-DE-25', stockedAt: [] }] });

    const targets: StockTarget[] = [
      ...main.map((sku, i) => ({ sku, quantity: 10 + (i % 7) })),
      { sku: 'PSN-GB-10', quantity: 0 },
      { sku: 'PSN-GB-20', quantity: 2 },
      { sku: 'PSN-DE-25', quantity: 5 },
    ];
    const progress: number[] = [];
    const out = await store.pushStock(targets, { onProgress: (settled) => progress.push(settled) });

    expect(out.failed).toEqual([]);
    expect(out.missing).toEqual([]);
    expect(out.duplicate).toEqual([]);
    expect(out.acknowledged).toHaveLength(targets.length);
    // 602 quantities to set → ceil(602 / 250) = 3 calls.
    expect(fake.mutationCount('inventorySetQuantities')).toBe(3);
    expect(fake.mutationCount('productVariantsBulkUpdate')).toBe(1);
    expect(fake.mutationCount('inventoryActivate')).toBe(1);
    expect(store.lastPush).toEqual({ setCalls: 3, priceCalls: 0, activations: 1, policyUpdates: 1 });
    expect(out.calls.writes).toBe(5);
    expect(progress.at(-1)).toBe(targets.length);

    // From the fake's own state.
    main.forEach((sku, i) => {
      expect(fake.quantity(sku)).toBe(10 + (i % 7));
    });
    expect(fake.quantity('PSN-GB-10')).toBe(0);
    expect(fake.inventoryPolicy('PSN-GB-10')).toBe('DENY');
    expect(fake.quantity('PSN-GB-20')).toBe(2);
    expect(fake.isTracked('PSN-GB-20')).toBe(true);
    expect(fake.inventoryPolicy('PSN-GB-20')).toBe('DENY');
    expect(fake.quantity('PSN-DE-25')).toBe(5);
    expect(fake.stats.throttled).toBe(0);
  });

  it('uses the cache on the next push: no search, one read by id per 150 SKUs, no repeated fixes', async () => {
    const { fake, store, cache } = await harness();
    const list = skus(300);
    fake.addProducts(list, { quantity: 0, inventoryPolicy: 'CONTINUE' });
    await store.pushStock(list.map((sku) => ({ sku, quantity: 3 })));
    expect(cache.size).toBe(300);
    const searches = fake.queryFieldCount('productVariants');
    const fixes = fake.mutationCount('productVariantsBulkUpdate');
    expect(fixes).toBe(300);

    const again = await store.pushStock(list.map((sku) => ({ sku, quantity: 8 })));
    expect(again.acknowledged).toHaveLength(300);
    expect(fake.queryFieldCount('productVariants')).toBe(searches);
    expect(fake.queryFieldCount('nodes')).toBe(2);
    expect(fake.mutationCount('productVariantsBulkUpdate')).toBe(fixes);
    expect(store.lastPush).toEqual({ setCalls: 2, priceCalls: 0, activations: 0, policyUpdates: 0 });
    expect(again.calls).toEqual({ reads: 2, writes: 2 });
    expect(fake.quantity('PSN-US-1299')).toBe(8);

    // A new adapter on the same persistent cache also skips the search.
    const fresh = shopifyFactory.create(storeConfig(fake), {
      log: silentLogger(),
      cache,
      missingRecheckMs: 60_000,
      now: Date.now,
    });
    try {
      const third = await fresh.pushStock([{ sku: 'PSN-US-1000', quantity: 8 }]);
      expect(third.acknowledged).toEqual([{ sku: 'PSN-US-1000', quantity: 8 }]);
      // Already at its target: acknowledged without a write.
      expect(third.calls.writes).toBe(0);
      expect(fake.queryFieldCount('productVariants')).toBe(searches);
    } finally {
      await fresh.close();
    }
  });

  it('recovers a stale compare-and-set: re-reads and writes once more', async () => {
    const { fake, store } = await harness();
    fake.addProducts(['PSN-TR-250', 'PSN-TR-500'], { quantity: 10 });
    // A sale lands between the adapter's read and its write.
    fake.moveQuantityBehindYourBack('PSN-TR-250', -2, { beforeNext: 'inventorySetQuantities' });

    const out = await store.pushStock([
      { sku: 'PSN-TR-250', quantity: 3 },
      { sku: 'PSN-TR-500', quantity: 6 },
    ]);
    expect(out.failed).toEqual([]);
    expect(out.acknowledged).toHaveLength(2);
    expect(fake.mutationCount('inventorySetQuantities')).toBe(2);
    expect(fake.stats.applied.inventorySetQuantities).toBe(1);
    expect(fake.quantity('PSN-TR-250')).toBe(3);
    expect(fake.quantity('PSN-TR-500')).toBe(6);
  });

  it('gives up on a SKU whose quantity keeps moving, without holding the others back', async () => {
    const { fake, store } = await harness();
    fake.addProducts(['PSN-TR-250', 'PSN-TR-500'], { quantity: 10 });
    // Moves before the first write and again before the retry.
    fake.moveQuantityBehindYourBack('PSN-TR-250', -1, { beforeNext: 'inventorySetQuantities', times: 2 });
    const out = await store.pushStock([
      { sku: 'PSN-TR-250', quantity: 3 },
      { sku: 'PSN-TR-500', quantity: 6 },
    ]);
    expect(out.acknowledged).toEqual([{ sku: 'PSN-TR-500', quantity: 6 }]);
    expect(out.failed.map((f) => [f.sku, f.error.code])).toEqual([
      ['PSN-TR-250', 'CHANGE_FROM_QUANTITY_STALE'],
    ]);
    expect(fake.quantity('PSN-TR-500')).toBe(6);
    expect(fake.quantity('PSN-TR-250')).toBe(8);
    // The first call, the retry (stale again), then the innocent SKU alone.
    expect(fake.mutationCount('inventorySetQuantities')).toBe(3);
  });

  it('paces from throttleStatus: a burst from an empty bucket is throttled at most once', async () => {
    const { fake, store } = await harness({ bucket: { maximumAvailable: 1000, restoreRate: 2000 } });
    const list = skus(600);
    fake.addProducts(list, { quantity: 1 });
    fake.setBucket({ currentlyAvailable: 0 });
    const out = await store.pushStock(list.map((sku) => ({ sku, quantity: 2 })));
    expect(out.acknowledged).toHaveLength(600);
    expect(fake.stats.throttled).toBeLessThanOrEqual(1);
    expect(fake.mutationCount('inventorySetQuantities')).toBe(3);

    // A second burst right away: the client knows the bucket now and is never refused.
    const before = fake.stats.throttled;
    const again = await store.pushStock(list.map((sku) => ({ sku, quantity: 3 })));
    expect(again.acknowledged).toHaveLength(600);
    expect(fake.stats.throttled).toBe(before);
  });

  it('does not mistake the fuzzy search near-matches for the SKU', async () => {
    const { fake, store } = await harness();
    fake.addProducts(['PSN-US-500', 'PSN-US-50-OLD', 'US-PSN-50', 'PSN-US-50'], { quantity: 1 });
    const out = await store.pushStock([
      { sku: 'PSN-US-50', quantity: 9 },
      // Only near-matches exist for this one (PSN-US-50, PSN-US-500 start with it).
      { sku: 'PSN-US-5', quantity: 9 },
    ]);
    expect(out.acknowledged).toEqual([{ sku: 'PSN-US-50', quantity: 9 }]);
    expect(out.missing).toEqual(['PSN-US-5']);
    expect(fake.quantity('PSN-US-50')).toBe(9);
    expect(fake.quantity('PSN-US-500')).toBe(1);
    expect(fake.quantity('PSN-US-50-OLD')).toBe(1);
    expect(fake.quantity('US-PSN-50')).toBe(1);
  });

  it('follows every page of near-matches', async () => {
    const { fake, store } = await harness();
    // 120 SKUs that all start with PSN-US-5: more near-matches than one page holds.
    fake.addProducts(
      Array.from({ length: 120 }, (_v, i) => `PSN-US-5${String(i).padStart(3, '0')}`),
      { quantity: 1 },
    );
    fake.addProducts(['PSN-US-5'], { quantity: 1 });
    const out = await store.pushStock([{ sku: 'PSN-US-5', quantity: 4 }]);
    expect(out.acknowledged).toEqual([{ sku: 'PSN-US-5', quantity: 4 }]);
    expect(fake.queryFieldCount('productVariants')).toBe(2);
    expect(fake.quantity('PSN-US-5')).toBe(4);
    expect(fake.quantity('PSN-US-5000')).toBe(1);
  });

  it('never writes a SKU carried by two variants, and reports it as duplicate', async () => {
    const { fake, store, cache } = await harness();
    fake.addProducts(['PSN-TR-250'], { quantity: 1, inventoryPolicy: 'CONTINUE' });
    // The same SKU in another case on another product: still the same SKU for us.
    fake.addProduct({ variants: [{ sku: 'psn-tr-250', quantity: 1, inventoryPolicy: 'CONTINUE' }] });
    fake.addProducts(['PSN-TR-500'], { quantity: 1 });

    const out = await store.pushStock([
      { sku: 'PSN-TR-250', quantity: 7 },
      { sku: 'PSN-TR-500', quantity: 7 },
    ]);
    expect(out.duplicate).toEqual(['PSN-TR-250']);
    expect(out.acknowledged).toEqual([{ sku: 'PSN-TR-500', quantity: 7 }]);
    expect(cache.get('PSN-TR-250')?.state).toBe('duplicate');
    expect(fake.mutationCount('productVariantsBulkUpdate')).toBe(0);
    expect(fake.mutationCount('inventorySetQuantities')).toBe(1);
    for (const v of ['PSN-TR-250', 'psn-tr-250']) {
      expect(fake.quantity(v)).toBe(1);
      expect(fake.inventoryPolicy(v)).toBe('CONTINUE');
    }
  });

  it('notices a duplicate created after the SKU was cached', async () => {
    const { fake, store } = await harness();
    fake.addProducts(['PSN-TR-250'], { quantity: 1 });
    await store.pushStock([{ sku: 'PSN-TR-250', quantity: 4 }]);
    fake.addProducts(['PSN-TR-250'], { quantity: 1 });
    const out = await store.pushStock([{ sku: 'PSN-TR-250', quantity: 8 }]);
    expect(out.duplicate).toEqual(['PSN-TR-250']);
    expect(out.acknowledged).toEqual([]);
  });

  it('reports a missing SKU and trusts that for missingRecheckMs', async () => {
    const { fake, store, cache, advance } = await harness();
    fake.addProducts(['PSN-US-10'], { quantity: 0 });
    const out = await store.pushStock([
      { sku: 'PSN-US-10', quantity: 1 },
      { sku: 'PSN-XX-99', quantity: 5 },
    ]);
    expect(out.missing).toEqual(['PSN-XX-99']);
    expect(cache.get('PSN-XX-99')?.state).toBe('missing');
    const searches = fake.queryFieldCount('productVariants');

    const again = await store.pushStock([{ sku: 'PSN-XX-99', quantity: 5 }]);
    expect(again.missing).toEqual(['PSN-XX-99']);
    expect(fake.queryFieldCount('productVariants')).toBe(searches);

    // The merchant adds it; after the recheck period it is found and written.
    fake.addProducts(['PSN-XX-99'], { quantity: 0 });
    advance(60_001);
    const later = await store.pushStock([{ sku: 'PSN-XX-99', quantity: 5 }]);
    expect(later.acknowledged).toEqual([{ sku: 'PSN-XX-99', quantity: 5 }]);
    expect(fake.quantity('PSN-XX-99')).toBe(5);
  });

  it('writes at config.locationId, or else the primary location that fulfils online orders', async () => {
    const { fake, store } = await harness();
    fake.setFulfillsOnlineOrders(fake.primaryLocationId, false);
    const warehouse = fake.addLocation({ name: 'Warehouse', fulfillsOnlineOrders: true });
    fake.addProduct({
      variants: [{ sku: 'PSN-US-10', quantity: 1, stockedAt: [fake.primaryLocationId, warehouse] }],
    });
    await store.pushStock([{ sku: 'PSN-US-10', quantity: 6 }]);
    expect(fake.quantity('PSN-US-10', warehouse)).toBe(6);
    expect(fake.quantity('PSN-US-10')).toBe(1);

    const numericId = fake.primaryLocationId.split('/').pop() as string;
    const pinned = new ShopifyStorefront(
      { ...storeConfig(fake), locationId: numericId },
      {
        log: silentLogger(),
        cache: new MemorySkuCache(),
        missingRecheckMs: 60_000,
        now: Date.now,
      },
    );
    try {
      await pinned.pushStock([{ sku: 'PSN-US-10', quantity: 2 }]);
      expect(fake.quantity('PSN-US-10')).toBe(2);
      expect(fake.quantity('PSN-US-10', warehouse)).toBe(6);
    } finally {
      await pinned.close();
    }
  });

  it('throws a retryable StorefrontError when the store answers nothing, and leaks no secret', async () => {
    const { fake, store } = await harness();
    fake.addProducts(['PSN-US-10'], { quantity: 0 });
    fake.setDown(true);
    const err = (await store
      .pushStock([{ sku: 'PSN-US-10', quantity: 1 }])
      .catch((e: unknown) => e)) as StorefrontError;
    expect(err).toBeInstanceOf(StorefrontError);
    expect(err.retryable).toBe(true);
    expect(err.status).toBe(503);
    expect(JSON.stringify(err)).not.toContain(TEST_TOKEN);
    expect(err.message).not.toContain(TEST_TOKEN);
    fake.setDown(false);
    const out = await store.pushStock([{ sku: 'PSN-US-10', quantity: 1 }]);
    expect(out.acknowledged).toHaveLength(1);
  });
});

function storeConfig(fake: FakeShopify): ShopifyStoreConfig {
  return {
    name: 'shop-b',
    type: 'shopify',
    shop: fake.shop,
    accessToken: TEST_TOKEN,
    apiSecretKey: TEST_SECRET,
    weight: 1,
    timeoutMs: 5000,
    concurrency: 4,
  };
}
