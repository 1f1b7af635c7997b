import { ShopifyStorefront } from '../adapters/shopify/shopify-adapter.js';
import { WooCommerceStorefront } from '../adapters/woocommerce/woocommerce-adapter.js';
import { wooStoreSchema } from '../config/schema.js';
import { formatSku } from '../config/sku-template.js';
import { generateSandboxCatalog, type SandboxEntry } from '../fakes/psnb2b/sandbox-catalog.js';
import type { FakeShopify } from '../fakes/shopify/fake-shopify.js';
import type { FakeWooCommerce } from '../fakes/woocommerce/fake-woocommerce.js';
import { silentLogger } from '../src/log.js';
import { skuKey } from '../src/sku.js';
import type { CachedSku, SkuCache, StorefrontContext } from '../src/storefront.js';

/** Small pieces the benchmarks share. */

export const SKU_TEMPLATE = 'PSN-{region}-{denomination}';

/** `n` realistic catalogue entries (real denominations first, invented ones beyond) and their SKUs. */
export function benchCatalog(n: number): { entries: SandboxEntry[]; skus: string[] } {
  const entries = generateSandboxCatalog({ entries: n, seed: 7 });
  return { entries, skus: entries.map((e) => formatSku(SKU_TEMPLATE, e)) };
}

/** The SKU cache port in memory (the daemon keeps it in SQLite; the calls to the shop are the same). */
export class MapSkuCache implements SkuCache {
  private readonly m = new Map<string, CachedSku>();
  get(sku: string): CachedSku | undefined {
    return this.m.get(skuKey(sku));
  }
  set(entries: CachedSku[]): void {
    for (const e of entries) this.m.set(skuKey(e.sku), { ...e });
  }
  delete(sku: string): void {
    this.m.delete(skuKey(sku));
  }
}

/** Every `step`-th index so that `count` of `n` items are picked, spread over the catalogue. */
export function spreadPick(n: number, count: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(Math.floor((i * n) / count));
  return out;
}

export function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function ms(t: number): string {
  return t >= 10_000 ? `${fmt(t / 1000, 1)} s` : `${fmt(t)} ms`;
}

/** The real WooCommerce adapter pointed at a fake, as the benchmarks use it (in-memory SKU cache unless given). */
export function benchWooStore(
  fake: FakeWooCommerce,
  ctx: Partial<StorefrontContext> = {},
): WooCommerceStorefront {
  return new WooCommerceStorefront(
    // The config's own defaults (timeout, concurrency, unpaid methods), as a user's store gets them.
    wooStoreSchema.parse({
      name: 'bench-woo',
      type: 'woocommerce',
      url: fake.url,
      consumerKey: fake.consumerKey,
      consumerSecret: fake.consumerSecret,
    }),
    { log: silentLogger(), cache: new MapSkuCache(), missingRecheckMs: 600_000, now: Date.now, ...ctx },
  );
}

/** The real Shopify adapter pointed at a fake (its fetch already rewired to http). */
export function benchShopifyStore(fake: FakeShopify): ShopifyStorefront {
  return new ShopifyStorefront(
    {
      name: 'bench-shopify',
      type: 'shopify',
      shop: fake.shop,
      accessToken: 'shpat_bench_0123456789abcdef',
      apiSecretKey: 'shpss_bench_0123456789abcdef',
      weight: 1,
      timeoutMs: 60_000,
      concurrency: 4,
    },
    { log: silentLogger(), cache: new MapSkuCache(), missingRecheckMs: 600_000, now: Date.now },
  );
}
