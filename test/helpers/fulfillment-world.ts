import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { formatSku } from '../../config/sku-template.js';
import { SandboxSupplier, type SandboxSupplierOptions } from '../../fakes/psnb2b/supplier-server.js';
import type { FakeShopify } from '../../fakes/shopify/fake-shopify.js';
import { FakeWooCommerce } from '../../fakes/woocommerce/fake-woocommerce.js';
import { parseConfig } from '../../src/config-file.js';
import { runPass } from '../../src/fulfillment/fulfillment-job.js';
import { createLogger } from '../../src/log.js';
import { type Fulfillment, openRuntime, type Runtime } from '../../src/main.js';
import { startFake, TEST_SECRET, TEST_TOKEN } from '../fakes/shopify/fake-shopify-support.js';
import { tempDir } from './temp-dir.js';
import { waitUntil } from './wait-until.js';

/**
 * The money path end to end, in-process but over real HTTP: the sandbox supplier, a strict fake
 * Shopify, a real SQLite file, and the runtime built from a config exactly as the daemon builds
 * it. Every log line is captured so tests can search it for codes and keys.
 */

export const API_KEY = 'psn_test_key_0123456789abcdef0123';

export interface FulfillmentWorld {
  supplier: SandboxSupplier;
  shop: FakeShopify;
  /** A second store (`shop-w`), when asked for: one daemon, two kinds of shop. */
  woo: FakeWooCommerce | null;
  runtime: Runtime;
  f: Fulfillment;
  dir: string;
  dbFile: string;
  logs: () => string;
  skus: string[];
  /** One fulfillment pass (polling the shop), and the deliveries it started. */
  pass(): Promise<void>;
  /** Passes until `probe` holds. */
  until<T>(probe: () => T, what: string, timeoutMs?: number): Promise<NonNullable<T>>;
  /**
   * As the daemon drives passes: a pass is kicked every few ms (skipped while one runs, never
   * awaited) until `probe` holds.
   */
  ticking<T>(probe: () => T, what: string, timeoutMs?: number): Promise<NonNullable<T>>;
  /** Waits for the pass in flight and every delivery it started. */
  settle(): Promise<void>;
  /** The config the runtime was built from (to run the CLI or a daemon on the same database). */
  configText(): string;
  /** Reopens the runtime on the same database (a restart after a crash). */
  restart(over?: Partial<WorldOptions>): Promise<void>;
  close(): Promise<void>;
}

export interface WorldOptions {
  honoursIdempotencyKeys: boolean;
  batchWindowSeconds: number;
  minBalanceUsd: number;
  supplier: Partial<SandboxSupplierOptions>;
  withWooCommerce: boolean;
  /** The WooCommerce client's request timeout (`storefronts[].timeoutMs`). */
  wooTimeoutMs: number;
  /** `fulfillment.limits` as YAML flow-map members (`maxOrderUsd: 100`); unset = the defaults. */
  limits: Partial<
    Record<'maxOrderUsd' | 'maxUnitsPerLine' | 'maxDailyUsd' | 'maxCustomerDailyUsd', number | null>
  >;
  /** More `fulfillment:` keys (`onLowMargin: hold`), as YAML scalars. */
  fulfillmentKeys: Record<string, string | number>;
  /** A whole `catalog:` block, as YAML (empty = the defaults). */
  catalogYaml: string;
}

const WOO_KEY = 'ck_world_0123456789abcdef0123456789abcdef';
const WOO_SECRET = 'cs_world_0123456789abcdef0123456789abcdef';

function configText(
  o: WorldOptions,
  supplierUrl: string,
  shop: string,
  dbFile: string,
  codesKey: string,
  wooUrl: string | null,
): string {
  const woo = wooUrl
    ? `
  - name: shop-w
    type: woocommerce
    url: ${wooUrl}
    consumerKey: ${WOO_KEY}
    consumerSecret: ${WOO_SECRET}
    webhookSecret: whsec_world_0123456789
    timeoutMs: ${o.wooTimeoutMs}`
    : '';
  return `
supplier:
  baseUrl: ${supplierUrl}
  apiKey: ${API_KEY}
  requestsPerMinute: 600
  ordersPerMinute: 120
  honoursIdempotencyKeys: ${o.honoursIdempotencyKeys}
  timeoutMs: 2000
  maxAttempts: 3
database: ${dbFile}
codesKey: ${codesKey}
fulfillment:
  batchWindowSeconds: ${o.batchWindowSeconds}
  minBalanceUsd: ${o.minBalanceUsd}${
    Object.keys(o.limits).length
      ? `
  limits: { ${Object.entries(o.limits)
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ')} }`
      : ''
  }${Object.entries(o.fulfillmentKeys)
    .map(([k, v]) => `\n  ${k}: ${v}`)
    .join('')}
${o.catalogYaml}
storefronts:
  - name: shop-s
    type: shopify
    shop: "${shop}"
    accessToken: ${TEST_TOKEN}
    apiSecretKey: ${TEST_SECRET}${woo}
`;
}

export async function startFulfillmentWorld(opts: Partial<WorldOptions> = {}): Promise<FulfillmentWorld> {
  let o: WorldOptions = {
    honoursIdempotencyKeys: true,
    batchWindowSeconds: 0,
    minBalanceUsd: 0,
    withWooCommerce: false,
    wooTimeoutMs: 2000,
    limits: {},
    fulfillmentKeys: {},
    catalogYaml: '',
    ...opts,
    supplier: { ...opts.supplier },
  };
  const supplier = new SandboxSupplier({
    apiKey: API_KEY,
    entries: 8,
    paidAfterMs: 30,
    deliveredAfterMs: 60,
    tickMs: 10,
    limits: { general: 600, bulk: 120 },
    ...o.supplier,
  });
  const supplierUrl = await supplier.start();
  const shop = await startFake({ apiSecretKey: TEST_SECRET });
  const skus = supplier.catalog().map((e) => formatSku('PSN-{region}-{denomination}', e));
  shop.addProducts(skus, { quantity: 0 });
  let woo: FakeWooCommerce | null = null;
  let wooUrl: string | null = null;
  if (o.withWooCommerce) {
    woo = new FakeWooCommerce({ consumerKey: WOO_KEY, consumerSecret: WOO_SECRET });
    wooUrl = await woo.start();
    woo.seedCatalog(skus, { stock: 0 });
  }
  const tmp = tempDir('money');
  const dir = tmp.dir;
  const dbFile = path.join(dir, 'sync.db');
  const codesKey = randomBytes(32).toString('base64');
  const captured: string[] = [];
  const stream = new PassThrough();
  stream.on('data', (c: Buffer) => captured.push(c.toString('utf8')));
  const log = createLogger({ level: 'debug', format: 'json', stream });

  const open = async () => {
    const loaded = parseConfig(
      configText(o, supplierUrl, shop.shop, dbFile, codesKey, wooUrl),
      path.join(dir, 'sync.config.yaml'),
      {},
    );
    const runtime = await openRuntime(loaded, log);
    if (!runtime.fulfillment) throw new Error('fulfillment did not start');
    // The catalogue snapshot is what purchases are checked against.
    await runtime.job.run({});
    return runtime;
  };
  let runtime = await open();
  const world: FulfillmentWorld = {
    supplier,
    shop,
    woo,
    runtime,
    f: runtime.fulfillment as Fulfillment,
    dir,
    dbFile,
    skus,
    logs: () => captured.join(''),
    configText: () => configText(o, supplierUrl, shop.shop, dbFile, codesKey, wooUrl),
    async pass() {
      await runPass(world.f.ctx, { poll: true });
      await world.f.ctx.deliveries.drain();
    },
    async until(probe, what, timeoutMs = 10_000) {
      return waitUntil(
        async () => {
          await world.pass();
          return probe();
        },
        { what, timeoutMs, intervalMs: 20 },
      );
    },
    ticking(probe, what, timeoutMs = 10_000) {
      // A pass that rejects is a bug: it fails the wait, named in its message.
      let failed: unknown;
      return waitUntil(
        () => {
          world.f.job.tick({ poll: true })?.catch((e: unknown) => {
            failed ??= e;
          });
          if (failed) throw failed;
          return probe();
        },
        { what, timeoutMs, intervalMs: 20 },
      );
    },
    async settle() {
      await world.f.job.idle();
      await world.f.ctx.deliveries.drain();
    },
    async restart(over = {}) {
      await runtime.close();
      o = { ...o, ...over };
      runtime = await open();
      world.runtime = runtime;
      world.f = runtime.fulfillment as Fulfillment;
    },
    async close() {
      // A test may have closed it already (to run a daemon on the same database).
      if (runtime.db.open) await runtime.close();
      await Promise.allSettled([supplier.stop(), shop.stop(), woo?.stop()]);
      tmp.remove();
    },
  };
  return world;
}

/** Everything a leak could hide in: captured logs, the database file and its write-ahead log. */
export function persistedText(w: FulfillmentWorld): string {
  const read = (f: string) => {
    try {
      return readFileSync(f).toString('latin1');
    } catch {
      return '';
    }
  };
  return [w.logs(), read(w.dbFile), read(`${w.dbFile}-wal`)].join('\n');
}
