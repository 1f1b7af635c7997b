import { FakeShopify } from '../fakes/shopify/fake-shopify.js';
import { FakeWooCommerce } from '../fakes/woocommerce/fake-woocommerce.js';
import { formatCents } from '../src/money.js';
import type { StockTarget, Storefront } from '../src/storefront.js';
import { benchCatalog, benchShopifyStore, benchWooStore, spreadPick } from './bench-support.js';
import { installFetch, plainHttp } from './shopify-write-calls.js';
import { minimumWrites } from './woocommerce-write-calls.js';

/**
 * Price writes (catalog.pricing) counted against the minimum, through the real adapters over real
 * HTTP to the strict fakes. WooCommerce: a price rides in the stock's batch item, so stock and
 * price changing together cost the stock-only minimum (0 extra calls). Shopify: one
 * `productVariantsBulkUpdate` per product with changed prices (≤ 250 variants a call).
 */

export interface PriceRow {
  shop: 'WooCommerce' | 'Shopify';
  skus: number;
  changedPct: number;
  changed: number;
  what: 'stock + price' | 'price only';
  /** Write calls of the push. */
  writes: number;
  /** Stock writes the design-notes minimum allows for the same change (0 for a price-only change). */
  stockMinimum: number;
  /** Price calls the minimum allows: WooCommerce 0 (they ride along); Shopify one per product (≤ 250 variants). */
  priceMinimum: number;
}

const PCTS = [1, 10, 100];
/** Variants per Shopify product: a region's cards as one product with a variant per denomination. */
const VARIANTS_PER_PRODUCT = 40;

let round = 0;
/** A new price for every changed SKU on each run, so nothing is ever "already so". */
const nextPrice = (i: number) => formatCents(1_000 + i + 7 * ++round);

interface Measured {
  shop: PriceRow['shop'];
  skus: string[];
  store: Storefront;
  /** Zeroes the fake's counters; then `writes()` counts the push's write calls. */
  reset: () => void;
  writes: () => number;
  /** Minimum stock writes and price calls when both change, and calls when only the price does. */
  minimum: (changed: string[]) => { stock: number; price: number; priceOnly: number };
}

/** Warm push (every price set once), then per share changed: stock + price together, then price only. */
async function measure(m: Measured): Promise<PriceRow[]> {
  const n = m.skus.length;
  const qty = new Map(m.skus.map((s, i) => [s, 1 + (i % 50)]));
  await m.store.pushStock(
    m.skus.map((sku, i) => ({ sku, quantity: qty.get(sku) as number, price: nextPrice(i) })),
  );
  const rows: PriceRow[] = [];
  for (const pct of PCTS) {
    const count = Math.max(1, Math.round((n * pct) / 100));
    const changed = spreadPick(n, count).map((i) => m.skus[i] as string);
    const minimum = m.minimum(changed);
    for (const what of ['stock + price', 'price only'] as const) {
      const targets: StockTarget[] = changed.map((sku, i) => {
        const q = (qty.get(sku) as number) + (what === 'stock + price' ? 1 : 0);
        qty.set(sku, q);
        return { sku, quantity: q, price: nextPrice(i) };
      });
      m.reset();
      const out = await m.store.pushStock(targets);
      if (out.acknowledged.length !== count)
        throw new Error(`${m.shop} prices: ${out.acknowledged.length}/${count}`);
      rows.push({
        shop: m.shop,
        skus: n,
        changedPct: pct,
        changed: count,
        what,
        writes: m.writes(),
        stockMinimum: what === 'stock + price' ? minimum.stock : 0,
        priceMinimum: what === 'stock + price' ? minimum.price : minimum.priceOnly,
      });
    }
  }
  await m.store.close();
  return rows;
}

async function benchWoo(n: number): Promise<PriceRow[]> {
  const { skus } = benchCatalog(n);
  const fake = new FakeWooCommerce();
  await fake.start();
  const seeded = fake.seedCatalog(skus, { stock: 0, variableParents: 4 });
  const parentOf = new Map<string, number>();
  for (const p of seeded.simple) parentOf.set(p.sku, 0);
  for (const { parent, variations } of seeded.parents)
    for (const v of variations) parentOf.set(v.sku, parent.id);
  const rows = await measure({
    shop: 'WooCommerce',
    skus,
    store: benchWooStore(fake),
    reset: () => fake.resetCounters(),
    writes: () => fake.writeCalls,
    // A price rides in the stock's batch item: a price-only change costs what a stock change would.
    minimum: (changed) => {
      const stock = minimumWrites(changed, parentOf);
      return { stock, price: 0, priceOnly: stock };
    },
  });
  await fake.stop();
  return rows;
}

async function benchShopify(n: number): Promise<PriceRow[]> {
  installFetch();
  const { skus } = benchCatalog(n);
  const fake = await new FakeShopify({
    accessToken: 'shpat_bench_0123456789abcdef',
    bucket: { maximumAvailable: 2000, restoreRate: 20_000 },
  }).start();
  plainHttp.add(fake.shop);
  const productOf = new Map<string, number>();
  for (let i = 0; i < skus.length; i += VARIANTS_PER_PRODUCT) {
    const group = skus.slice(i, i + VARIANTS_PER_PRODUCT);
    fake.addProduct({ title: `PSN ${i}`, variants: group.map((sku) => ({ sku, quantity: 0 })) });
    for (const sku of group) productOf.set(sku, i);
  }
  const rows = await measure({
    shop: 'Shopify',
    skus,
    store: benchShopifyStore(fake),
    reset: () => fake.resetStats(),
    writes: () =>
      fake.mutationCount('inventorySetQuantities') + fake.mutationCount('productVariantsBulkUpdate'),
    minimum: (changed) => {
      const perProduct = new Map<number, number>();
      for (const sku of changed) {
        const p = productOf.get(sku) as number;
        perProduct.set(p, (perProduct.get(p) ?? 0) + 1);
      }
      const price = [...perProduct.values()].reduce((s, k) => s + Math.ceil(k / 250), 0);
      return { stock: Math.ceil(changed.length / 250), price, priceOnly: price };
    },
  });
  await fake.stop();
  return rows;
}

export async function benchPrices(n: number): Promise<PriceRow[]> {
  return [...(await benchWoo(n)), ...(await benchShopify(n))];
}

/** The results.md section for these rows. */
export function priceSection(rows: readonly PriceRow[]): string[] {
  const fmtN = (x: number) => x.toLocaleString('en-US');
  return [
    '## 7. Price writes (catalog.pricing)',
    '',
    "Each push changes the price of every changed SKU, with or without its stock. Minimum = the stock writes the same change needs (section 1 and 2 formulas) + the price calls the design allows: **WooCommerce 0** (the price rides in the stock's batch item; a price-only change costs what a stock change would), **Shopify one `productVariantsBulkUpdate` per product** with changed prices (≤ 250 variants a call; here 40 variants a product). A SKU cache is warm, as in sections 1–2.",
    '',
    '| shop | SKUs | changed | what changed | write calls | stock minimum | price minimum | extra calls |',
    '|---|---:|---:|---|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.shop} | ${fmtN(r.skus)} | ${r.changedPct} % (${fmtN(r.changed)}) | ${r.what} | ${fmtN(r.writes)} | ${fmtN(r.stockMinimum)} | ${fmtN(r.priceMinimum)} | ${fmtN(r.writes - r.stockMinimum - r.priceMinimum)} |`,
    ),
    '',
  ];
}
