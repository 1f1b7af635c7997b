import '@shopify/shopify-api/adapters/node';
import { setAbstractFetchFunc } from '@shopify/shopify-api/runtime';
import type { ShopifyStorefront } from '../adapters/shopify/shopify-adapter.js';
import { FakeShopify } from '../fakes/shopify/fake-shopify.js';
import type { StockTarget } from '../src/storefront.js';
import { benchCatalog, benchShopifyStore, spreadPick } from './bench-support.js';

/**
 * Shopify write calls per sync through the real adapter and the real `@shopify/shopify-api`
 * client over HTTP to the strict fake (whose query costs are computed from the document and
 * whose leaky bucket is real), against ceil(changed / 250); one-time activations and
 * policy updates are counted apart. The fake serves plain http, so (benchmark only) the
 * library's fetch is pointed at it, as the tests do; every response's cost is summed on the way.
 */

const points = { requested: 0, actual: 0 };
export const plainHttp = new Set<string>();
let installed = false;

export function installFetch(): void {
  if (installed) return;
  installed = true;
  setAbstractFetchFunc(async (input, init) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    if (url.protocol === 'https:' && plainHttp.has(url.host)) url.protocol = 'http:';
    const res = await fetch(url, init);
    const body = await res.clone().text();
    try {
      const cost = (
        JSON.parse(body) as {
          extensions?: { cost?: { requestedQueryCost?: number; actualQueryCost?: number } };
        }
      ).extensions?.cost;
      points.requested += cost?.requestedQueryCost ?? 0;
      points.actual += cost?.actualQueryCost ?? 0;
    } catch {
      // not JSON: no cost
    }
    return res;
  });
}

export interface ShopifyRow {
  skus: number;
  changedPct: number;
  changed: number;
  setCalls: number;
  minimum: number;
  reads: number;
  oneTime: number;
  pointsActual: number;
  ms: number;
}

export interface ShopifyWarmup {
  skus: number;
  reads: number;
  setCalls: number;
  activations: number;
  policyUpdates: number;
  ms: number;
}

export interface ResyncTiming {
  skus: number;
  restoreRate: number;
  ms: number;
  pointsRequested: number;
  pointsActual: number;
  reads: number;
  setCalls: number;
  throttled: number;
}

interface Harness {
  fake: FakeShopify;
  store: ShopifyStorefront;
  skus: string[];
  qty: Map<string, number>;
}

async function harness(n: number, restoreRate: number): Promise<Harness> {
  installFetch();
  const { skus } = benchCatalog(n);
  const fake = await new FakeShopify({
    accessToken: 'shpat_bench_0123456789abcdef',
    bucket: { maximumAvailable: 2000, restoreRate },
  }).start();
  plainHttp.add(fake.shop);
  // Most variants are ready; 2 % still sell when out of stock (a policy fix) and 1 % are not
  // stocked at the location (an activation): the one-time fixes a first push makes.
  skus.forEach((sku, i) => {
    fake.addProduct({
      title: sku,
      variants: [
        {
          sku,
          quantity: 0,
          inventoryPolicy: i % 50 === 7 ? 'CONTINUE' : 'DENY',
          ...(i % 100 === 3 && { stockedAt: [] }),
        },
      ],
    });
  });
  const store = benchShopifyStore(fake);
  return { fake, store, skus, qty: new Map(skus.map((s, i) => [s, 1 + (i % 50)])) };
}

const queries = (f: FakeShopify) => f.stats.queries;
const sets = (f: FakeShopify) => f.mutationCount('inventorySetQuantities');

export async function benchShopify(
  sizes: number[],
  pcts: number[],
  fastRate: number,
  resync: { skus: number; restoreRate: number },
): Promise<{ rows: ShopifyRow[]; warmups: ShopifyWarmup[]; resync: ResyncTiming | undefined }> {
  const rows: ShopifyRow[] = [];
  const warmups: ShopifyWarmup[] = [];
  let resyncTiming: ResyncTiming | undefined;
  for (const n of sizes) {
    const h = await harness(n, fastRate);
    let t0 = performance.now();
    const warm = await h.store.pushStock(h.skus.map((sku) => ({ sku, quantity: h.qty.get(sku) as number })));
    if (warm.acknowledged.length !== n) throw new Error(`shopify warm-up: ${warm.acknowledged.length}/${n}`);
    warmups.push({
      skus: n,
      reads: queries(h.fake),
      setCalls: sets(h.fake),
      activations: h.store.oneTime.activations,
      policyUpdates: h.store.oneTime.policyUpdates,
      ms: performance.now() - t0,
    });
    for (const pct of pcts) {
      const count = Math.max(1, Math.round((n * pct) / 100));
      const targets: StockTarget[] = spreadPick(n, count).map((i) => {
        const sku = h.skus[i] as string;
        const q = (h.qty.get(sku) as number) + 1;
        h.qty.set(sku, q);
        return { sku, quantity: q };
      });
      const before = { q: queries(h.fake), s: sets(h.fake), pts: points.actual };
      const oneTimeBefore = h.store.oneTime.activations + h.store.oneTime.policyUpdates;
      t0 = performance.now();
      const out = await h.store.pushStock(targets);
      if (out.acknowledged.length !== count)
        throw new Error(`shopify push: ${out.acknowledged.length}/${count}`);
      rows.push({
        skus: n,
        changedPct: pct,
        changed: count,
        setCalls: sets(h.fake) - before.s,
        minimum: Math.ceil(count / 250),
        reads: queries(h.fake) - before.q,
        oneTime: h.store.oneTime.activations + h.store.oneTime.policyUpdates - oneTimeBefore,
        pointsActual: points.actual - before.pts,
        ms: performance.now() - t0,
      });
    }
    if (n === resync.skus) resyncTiming = await measureResync(h, resync.restoreRate);
    await h.store.close();
    await h.fake.stop();
  }
  return { rows, warmups, resync: resyncTiming };
}

/**
 * A resync (every SKU pushed, every quantity different) of an already-resolved catalogue at a
 * given restore rate: wall time, points spent, calls.
 */
export async function timeResync(n: number, restoreRate: number): Promise<ResyncTiming> {
  const h = await harness(n, 50_000);
  await h.store.pushStock(h.skus.map((sku) => ({ sku, quantity: h.qty.get(sku) as number })));
  const r = await measureResync(h, restoreRate);
  await h.store.close();
  await h.fake.stop();
  return r;
}

/** On a resolved catalogue: every SKU pushed with a new quantity, starting from a full bucket. */
async function measureResync(h: Harness, restoreRate: number): Promise<ResyncTiming> {
  const n = h.skus.length;
  h.fake.setBucket({ restoreRate, currentlyAvailable: 2000 });
  const before = { q: queries(h.fake), s: sets(h.fake), req: points.requested, act: points.actual };
  const throttledBefore = h.fake.stats.throttled;
  const t0 = performance.now();
  const out = await h.store.pushStock(
    h.skus.map((sku) => ({ sku, quantity: (h.qty.get(sku) as number) + 1 })),
  );
  const elapsed = performance.now() - t0;
  if (out.acknowledged.length !== n) throw new Error(`resync: ${out.acknowledged.length}/${n}`);
  const r: ResyncTiming = {
    skus: n,
    restoreRate,
    ms: elapsed,
    pointsRequested: points.requested - before.req,
    pointsActual: points.actual - before.act,
    reads: queries(h.fake) - before.q,
    setCalls: sets(h.fake) - before.s,
    throttled: h.fake.stats.throttled - throttledBefore,
  };
  return r;
}
