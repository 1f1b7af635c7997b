import { FakeWooCommerce } from '../fakes/woocommerce/fake-woocommerce.js';
import type { StockTarget } from '../src/storefront.js';
import { benchCatalog, benchWooStore, spreadPick } from './bench-support.js';

/**
 * WooCommerce write calls per sync, through the real adapter over real HTTP to the strict fake,
 * against the design-notes minimum: ceil(changed simple / 100) + Σ parents ceil(changed variations / 100).
 */

export interface WooRow {
  skus: number;
  changedPct: number;
  changed: number;
  writes: number;
  minimum: number;
  reads: number;
  acknowledged: number;
  ms: number;
}

export interface WooResult {
  rows: WooRow[];
  /** First push of each catalogue (SKU resolution), reported apart. */
  warmups: { skus: number; reads: number; writes: number; ms: number; variableParents: number }[];
}

export function minimumWrites(changed: string[], parentOf: Map<string, number>): number {
  let simple = 0;
  const perParent = new Map<number, number>();
  for (const sku of changed) {
    const p = parentOf.get(sku) ?? 0;
    if (p === 0) simple++;
    else perParent.set(p, (perParent.get(p) ?? 0) + 1);
  }
  let min = Math.ceil(simple / 100);
  for (const n of perParent.values()) min += Math.ceil(n / 100);
  return min;
}

export async function benchWooCommerce(sizes: number[], pcts: number[]): Promise<WooResult> {
  const result: WooResult = { rows: [], warmups: [] };
  for (const n of sizes) {
    const { skus } = benchCatalog(n);
    const fake = new FakeWooCommerce();
    await fake.start();
    // The largest region groups become variable products (one variation per SKU), the rest simple.
    const variableParents = n >= 1000 ? 4 : 1;
    const seeded = fake.seedCatalog(skus, { stock: 0, variableParents });
    const parentOf = new Map<string, number>();
    for (const p of seeded.simple) parentOf.set(p.sku, 0);
    for (const { parent, variations } of seeded.parents)
      for (const v of variations) parentOf.set(v.sku, parent.id);
    const store = benchWooStore(fake);
    const qty = new Map(skus.map((s, i) => [s, 1 + (i % 50)]));
    let t0 = performance.now();
    const warm = await store.pushStock(skus.map((sku) => ({ sku, quantity: qty.get(sku) as number })));
    if (warm.acknowledged.length !== n)
      throw new Error(`woo warm-up: ${warm.acknowledged.length}/${n} acknowledged`);
    result.warmups.push({
      skus: n,
      reads: fake.readCalls,
      writes: fake.writeCalls,
      ms: performance.now() - t0,
      variableParents: seeded.parents.length,
    });
    for (const pct of pcts) {
      const count = Math.max(1, Math.round((n * pct) / 100));
      const changed = spreadPick(n, count).map((i) => skus[i] as string);
      const targets: StockTarget[] = changed.map((sku) => {
        const q = (qty.get(sku) as number) + 1;
        qty.set(sku, q);
        return { sku, quantity: q };
      });
      fake.resetCounters();
      t0 = performance.now();
      const out = await store.pushStock(targets);
      const elapsed = performance.now() - t0;
      result.rows.push({
        skus: n,
        changedPct: pct,
        changed: count,
        writes: fake.writeCalls,
        minimum: minimumWrites(changed, parentOf),
        reads: fake.readCalls,
        acknowledged: out.acknowledged.length,
        ms: elapsed,
      });
    }
    await store.close();
    await fake.stop();
  }
  return result;
}
