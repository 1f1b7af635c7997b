import { formatSku } from '../../config/sku-template.js';
import type { SandboxEntry } from '../../fakes/psnb2b/sandbox-catalog.js';
import { SandboxSupplier } from '../../fakes/psnb2b/supplier-server.js';
import { FakeShopify } from '../../fakes/shopify/fake-shopify.js';
import { FakeWooCommerce } from '../../fakes/woocommerce/fake-woocommerce.js';
import type { E2eSecrets, ShopifyStoreEntry, WooStoreEntry } from './e2e-config.js';
import type { LoopbackCert } from './self-signed-cert.js';

/**
 * The outside world of one end-to-end test, on loopback in this process: the sandbox supplier
 * with a known catalogue, and shops seeded with its SKUs. A daemon or CLI child process is
 * pointed at them through a written config; assertions read the servers' own state.
 */

export const SKU_TEMPLATE = 'PSN-{region}-{denomination}';

const REGIONS = [
  { region: 'US', currency: 'USD', denominations: [10, 20, 25, 50, 60, 70, 75, 100] },
  { region: 'GB', currency: 'GBP', denominations: [5, 10, 15, 20, 25, 35, 50, 100] },
  { region: 'DE', currency: 'EUR', denominations: [5, 10, 20, 25, 50, 75, 100] },
  { region: 'TR', currency: 'TRY', denominations: [100, 250, 500, 750, 1000] },
];

/** `n` listed entries (≤ 28), every one in stock with a distinct quantity. */
export function knownCatalog(n: number): SandboxEntry[] {
  const all = REGIONS.flatMap((r) =>
    r.denominations.map((d) => ({ region: r.region, currency: r.currency, d })),
  );
  if (n > all.length) throw new RangeError(`knownCatalog: at most ${all.length} entries`);
  return all.slice(0, n).map((e, i) => ({
    region: e.region,
    currency: e.currency,
    denomination: e.d,
    priceCents: Math.max(1, Math.round(e.d * 90)),
    qty: 10 + i * 3,
    listed: true,
  }));
}

export const skuOf = (e: { region: string; denomination: number }): string => formatSku(SKU_TEMPLATE, e);

export interface WooShop {
  name: string;
  fake: FakeWooCommerce;
  entry: WooStoreEntry;
}

export interface ShopifyShop {
  name: string;
  fake: FakeShopify;
  entry: ShopifyStoreEntry;
}

export interface WorldOptions {
  entries?: number;
  wooShops?: string[];
  /** A Shopify shop over https (needs a loopback certificate). */
  shopify?: { name: string; cert: LoopbackCert };
  secrets: E2eSecrets;
  /** Supplier latency for every answer. */
  supplierLatencyMs?: number;
}

export class SyncWorld {
  readonly supplier: SandboxSupplier;
  readonly woo: WooShop[] = [];
  shopify: ShopifyShop | undefined;
  readonly skus: string[];

  private constructor(
    readonly catalog: SandboxEntry[],
    readonly secrets: E2eSecrets,
  ) {
    this.supplier = new SandboxSupplier({ apiKey: secrets.supplierApiKey, catalog, tickMs: 0 });
    this.skus = catalog.map(skuOf);
  }

  static async start(opts: WorldOptions): Promise<SyncWorld> {
    const world = new SyncWorld(knownCatalog(opts.entries ?? 12), opts.secrets);
    await world.supplier.start();
    world.supplier.latencyMs = opts.supplierLatencyMs ?? 0;
    for (const name of opts.wooShops ?? ['shop-a']) {
      const fake = new FakeWooCommerce();
      await fake.start();
      // A realistic shop: the largest region becomes a variable product, the rest simple ones; all at 0.
      fake.seedCatalog(world.skus, { stock: 0, variableParents: 1 });
      world.woo.push({
        name,
        fake,
        entry: {
          name,
          type: 'woocommerce',
          url: fake.url,
          consumerKey: fake.consumerKey,
          consumerSecret: fake.consumerSecret,
          timeoutMs: 5_000,
        },
      });
    }
    if (opts.shopify) {
      const fake = await new FakeShopify({
        accessToken: `shpat_e2e_${opts.secrets.adminToken.slice(-16)}`,
        tls: { key: opts.shopify.cert.key, cert: opts.shopify.cert.cert },
      }).start();
      fake.addProducts(world.skus, { quantity: 0 });
      world.shopify = {
        name: opts.shopify.name,
        fake,
        entry: {
          name: opts.shopify.name,
          type: 'shopify',
          shop: fake.shop,
          accessToken: fake.accessToken,
          apiSecretKey: `shpss_e2e_${opts.secrets.codesKey.replace(/[^A-Za-z0-9]/g, '').slice(0, 16)}`,
          timeoutMs: 5_000,
        },
      };
    }
    return world;
  }

  get supplierUrl(): string {
    return this.supplier.baseUrl;
  }

  storefronts(): (WooStoreEntry | ShopifyStoreEntry)[] {
    return [...this.woo.map((w) => w.entry), ...(this.shopify ? [this.shopify.entry] : [])];
  }

  wooShop(name: string): WooShop {
    const s = this.woo.find((w) => w.name === name);
    if (!s) throw new Error(`no woo shop ${name}`);
    return s;
  }

  entryOf(sku: string): SandboxEntry {
    const e = this.catalog.find((c) => skuOf(c) === sku);
    if (!e) throw new Error(`no entry for ${sku}`);
    return e;
  }

  /** Changes the supplier's quantity of the entry behind this SKU. */
  setQty(sku: string, qty: number): void {
    const e = this.entryOf(sku);
    this.supplier.setQty(e.region, e.denomination, qty);
  }

  /** The published target per SKU now (reserve 0, nothing sold): the supplier quantity, 0 when delisted. */
  targets(): Map<string, number> {
    return new Map(this.supplier.catalog().map((e) => [skuOf(e), e.listed ? e.qty : 0]));
  }

  /** SKU → stock the WooCommerce shop shows. */
  wooStock(name: string): Map<string, number | null> {
    const { fake } = this.wooShop(name);
    return new Map(this.skus.map((sku) => [sku, fake.productBySku(sku)?.stock_quantity ?? null]));
  }

  /** SKU → `available` at the Shopify shop's primary location. */
  shopifyStock(): Map<string, number | undefined> {
    const fake = this.shopify?.fake;
    if (!fake) throw new Error('no shopify shop');
    return new Map(this.skus.map((sku) => [sku, fake.quantity(sku)]));
  }

  /** SKUs whose shop stock differs from the published target (empty = in step). */
  wooDrift(name: string): string[] {
    const stock = this.wooStock(name);
    return [...this.targets()].filter(([sku, q]) => stock.get(sku) !== q).map(([sku]) => sku);
  }

  shopifyDrift(): string[] {
    const stock = this.shopifyStock();
    return [...this.targets()].filter(([sku, q]) => stock.get(sku) !== q).map(([sku]) => sku);
  }

  /** Every secret a config for this world holds. */
  allSecrets(): Record<string, string> {
    const out: Record<string, string> = {
      supplierApiKey: this.secrets.supplierApiKey,
      adminToken: this.secrets.adminToken,
      codesKey: this.secrets.codesKey,
    };
    for (const w of this.woo) {
      out[`${w.name}.consumerKey`] = w.entry.consumerKey;
      out[`${w.name}.consumerSecret`] = w.entry.consumerSecret;
    }
    if (this.shopify) {
      out[`${this.shopify.name}.accessToken`] = this.shopify.entry.accessToken;
      out[`${this.shopify.name}.apiSecretKey`] = this.shopify.entry.apiSecretKey;
    }
    return out;
  }

  async stop(): Promise<void> {
    await Promise.allSettled([
      this.supplier.stop(),
      ...this.woo.map((w) => w.fake.stop()),
      ...(this.shopify ? [this.shopify.fake.stop()] : []),
    ]);
  }
}
