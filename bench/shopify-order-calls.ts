import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { formatSku } from '../config/sku-template.js';
import { SandboxSupplier } from '../fakes/psnb2b/supplier-server.js';
import { FakeShopify } from '../fakes/shopify/fake-shopify.js';
import { parseConfig } from '../src/config-file.js';
import { runPass } from '../src/fulfillment/fulfillment-job.js';
import { createLogger } from '../src/log.js';
import { openRuntime } from '../src/main.js';
import { fmt, ms, SKU_TEMPLATE } from './bench-support.js';
import { installFetch, plainHttp } from './shopify-write-calls.js';

/**
 * Shopify calls per delivered order (issue 13) against the least: paid orders in the strict fake
 * Shopify, bought from the sandbox supplier and delivered by the money path as the daemon composes
 * it (`openRuntime`, `runPass`, a real SQLite file), through the real adapter and the real
 * `@shopify/shopify-api` client over HTTP. Calls are the fake's own log of executed operations, by
 * name, with their requested and actual cost; the intake listing is shared by every order it
 * carries and counted apart.
 */

const API_KEY = 'psn_bench_shopify_0123456789abcdef';
const TOKEN = 'shpat_bench_orders_0123456789abcdef';
const SECRET = 'shpss_bench_orders_0123456789abcdef';
const LISTING = 'OrderIntake';
/** Per order at the least: the read right before delivering, one `metafieldsSet`, one `fulfillmentCreate`. */
export const MIN_SHOPIFY_CALLS_PER_ORDER = 3;

export interface ShopifyOrderCalls {
  orders: number;
  units: number;
  passes: number;
  /** The fake's bucket restore rate, points/s (calls do not depend on it; time does). */
  restoreRate: number;
  /** Executed operations by name (the listing included), with their points. */
  byOperation: { name: string; calls: number; requested: number; actual: number }[];
  /** Orders fulfilled with exactly their units, one shipping confirmation each. */
  exact: number;
  wallMs: number;
}

function configText(supplierUrl: string, shop: string, dbFile: string): string {
  return `
supplier:
  baseUrl: ${supplierUrl}
  apiKey: ${API_KEY}
  requestsPerMinute: 6000
  ordersPerMinute: 1200
  honoursIdempotencyKeys: true
  timeoutMs: 10000
  maxAttempts: 3
database: ${dbFile}
codesKey: ${randomBytes(32).toString('base64')}
fulfillment:
  batchWindowSeconds: 0
  minBalanceUsd: 0
storefronts:
  - name: bench-shopify
    type: shopify
    shop: "${shop}"
    accessToken: ${TOKEN}
    apiSecretKey: ${SECRET}
`;
}

/** `orders` paid orders (1–2 lines of 1–2 units) placed at once, passes until every one is fulfilled. */
export async function benchShopifyOrderCalls(
  orders: number,
  restoreRate: number,
  wallLimitMs = 10 * 60_000,
): Promise<ShopifyOrderCalls> {
  const dir = mkdtempSync(path.join(tmpdir(), 'psnb2b-bench-shopify-orders-'));
  const supplier = new SandboxSupplier({
    apiKey: API_KEY,
    entries: 8,
    paidAfterMs: 30,
    deliveredAfterMs: 60,
    tickMs: 10,
    limits: { general: 6000, bulk: 1200 },
    startingBalanceCents: 1_000_000_000,
  });
  installFetch();
  const fake = await new FakeShopify({
    accessToken: TOKEN,
    apiSecretKey: SECRET,
    bucket: { maximumAvailable: 2000, restoreRate },
  }).start();
  plainHttp.add(fake.shop);
  const supplierUrl = await supplier.start();
  const skus = supplier.catalog().map((e) => formatSku(SKU_TEMPLATE, e));
  for (const e of supplier.catalog()) supplier.setQty(e.region, e.denomination, 1_000_000);
  fake.addProducts(skus, { quantity: 0 });
  const sink = new Writable({ write: (_c, _e, done) => done() });
  const log = createLogger({ level: 'error', format: 'json', stream: sink });
  const runtime = await openRuntime(
    parseConfig(
      configText(supplierUrl, fake.shop, path.join(dir, 'sync.db')),
      path.join(dir, 'sync.config.yaml'),
      {},
    ),
    log,
  );
  try {
    const f = runtime.fulfillment;
    if (!f) throw new Error('fulfillment did not start');
    // Setup, not counted: the catalogue snapshot purchases are checked against.
    await runtime.job.run({});
    const placed = Array.from({ length: orders }, (_, i) => {
      const lines = Array.from({ length: i % 5 === 0 ? 2 : 1 }, (_v, j) => ({
        sku: skus[(i + j) % skus.length] as string,
        quantity: 1 + ((i + j) % 3 === 0 ? 1 : 0),
      }));
      return { ...fake.placeOrder({ lines }), units: lines.map((l) => l.quantity) };
    });
    fake.resetStats();
    const started = performance.now();
    const fulfilled = (p: (typeof placed)[number]) =>
      p.lineIds.every(
        (id, i) =>
          fake
            .fulfillments(p.orderId)
            .flatMap((x) => x.lines)
            .filter((l) => l.lineItemId === id)
            .reduce((s, l) => s + l.quantity, 0) === p.units[i],
      );
    let passes = 0;
    while (!placed.every(fulfilled)) {
      if (performance.now() - started > wallLimitMs)
        throw new Error(`not every order fulfilled in ${ms(wallLimitMs)}`);
      await runPass(f.ctx, { poll: true });
      // Deliveries go on in the background: the next pass comes when they have ended, as its tick would.
      await f.ctx.deliveries.drain();
      passes++;
    }
    const wallMs = performance.now() - started;
    const byName = new Map<string, { name: string; calls: number; requested: number; actual: number }>();
    for (const op of fake.stats.operations) {
      const name = op.name ?? '(anonymous)';
      const row = byName.get(name) ?? { name, calls: 0, requested: 0, actual: 0 };
      row.calls++;
      row.requested += op.requestedCost;
      row.actual += op.actualCost;
      byName.set(name, row);
    }
    const exact = placed.filter(
      (p) =>
        fake.fulfillments(p.orderId).length === 1 &&
        fake.outbox.filter((m) => m.orderId === p.orderId).length === 1,
    ).length;
    return {
      orders,
      units: placed.reduce((s, p) => s + p.units.reduce((a, b) => a + b, 0), 0),
      passes,
      restoreRate,
      byOperation: [...byName.values()].sort((a, b) => b.calls - a.calls || a.name.localeCompare(b.name)),
      exact,
      wallMs,
    };
  } finally {
    await runtime.close();
    await Promise.allSettled([supplier.stop(), fake.stop()]);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Section `n` of results.md: calls per order by operation, and against the least. */
export function shopifyOrderCallsSection(n: number, r: ShopifyOrderCalls): string[] {
  const perOrder = r.byOperation.filter((o) => o.name !== LISTING);
  const listing = r.byOperation.find((o) => o.name === LISTING);
  const calls = perOrder.reduce((s, o) => s + o.calls, 0);
  const per = (x: number) => fmt(x / r.orders, 2);
  const points = r.byOperation.reduce((s, o) => s + o.actual, 0);
  return [
    `## ${n}. Shopify calls per delivered order`,
    '',
    `Run: ${new Date().toISOString()}. ${fmt(r.orders)} paid orders (${fmt(r.units)} units, 1–2 lines each) placed at once in the strict fake Shopify, bought from the sandbox supplier and delivered by \`runPass\` as the daemon composes it (\`openRuntime\`, SQLite file), through the real adapter and \`@shopify/shopify-api\` over HTTP; ${r.passes} passes, ${ms(r.wallMs)} with the bucket (2,000 points) restoring ${fmt(r.restoreRate)} points/s: calls do not depend on it, time does — at a Standard shop's 100/s the run's ${fmt(points)} actual points would take ≈ ${ms((Math.max(0, points - 2000) / 100) * 1000)} to restore. Calls are the fake's own log of executed GraphQL operations. Least per order: ${MIN_SHOPIFY_CALLS_PER_ORDER} (the read right before delivering, one \`metafieldsSet\`, one \`fulfillmentCreate\`); the intake listing (\`${LISTING}\`) is shared by every order it carries and counted apart. Orders fulfilled exactly once with one shipping confirmation: ${fmt(r.exact)} of ${fmt(r.orders)}.`,
    '',
    '| operation | calls | per order | points requested per call | points actual per call |',
    '|---|---:|---:|---:|---:|',
    ...perOrder.map(
      (o) =>
        `| \`${o.name}\` | ${fmt(o.calls)} | ${per(o.calls)} | ${fmt(o.requested / o.calls, 0)} | ${fmt(o.actual / o.calls, 0)} |`,
    ),
    `| **per order, listing apart** | **${fmt(calls)}** | **${per(calls)}** (least ${MIN_SHOPIFY_CALLS_PER_ORDER}, ratio **${fmt(calls / r.orders / MIN_SHOPIFY_CALLS_PER_ORDER, 2)}**) | | |`,
    listing
      ? `| \`${LISTING}\` (listing, shared) | ${fmt(listing.calls)} | ${per(listing.calls)} | ${fmt(listing.requested / listing.calls, 0)} | ${fmt(listing.actual / listing.calls, 0)} |`
      : `| \`${LISTING}\` (listing, shared) | 0 | 0 | | |`,
    '',
  ];
}
