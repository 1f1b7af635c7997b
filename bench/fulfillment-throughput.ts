import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { storefrontFactories } from '../adapters/index.js';
import type { WooStoreConfig } from '../config/schema.js';
import { limitsSchema } from '../config/schema.js';
import { formatSku } from '../config/sku-template.js';
import { SeededRandom } from '../fakes/psnb2b/seeded-random.js';
import { SANDBOX_ENDPOINTS, type SandboxEndpoint, SandboxSupplier } from '../fakes/psnb2b/supplier-server.js';
import { FakeWooCommerce } from '../fakes/woocommerce/fake-woocommerce.js';
import { type Db, migrate, openDb } from '../src/db/open.js';
import { sqliteSkuCache } from '../src/db/sku-cache-table.js';
import { bulkPacingMs } from '../src/fulfillment/batch-pacing.js';
import { CodeVault, parseCodesKey } from '../src/fulfillment/code-vault.js';
import { DeliveryRunner } from '../src/fulfillment/delivery-runner.js';
import { FLOW_MIN_GAP_MS, SALES_PER_POLL } from '../src/fulfillment/flow-polling.js';
import type { FulfillmentContext } from '../src/fulfillment/fulfillment-context.js';
import { runPass } from '../src/fulfillment/fulfillment-job.js';
import { linesInState, soldNotOrdered } from '../src/fulfillment/fulfillment-ledger.js';
import { pollIntake, salesFlowing } from '../src/fulfillment/intake.js';
import { SHORT_OVERLAP_MS, SWEEP_OVERLAP_MS } from '../src/fulfillment/intake-window.js';
import { spendingLimits } from '../src/fulfillment/spending-limits.js';
import { runInventoryCycle } from '../src/inventory/sync-inventory.js';
import { createLogger } from '../src/log.js';
import type { ShopOrders, Storefront } from '../src/storefront.js';
import { Pacer } from '../src/supplier/pacer.js';
import { Psnb2bClient } from '../src/supplier/psnb2b-client.js';
import { fmt, ms, SKU_TEMPLATE } from './bench-support.js';

/**
 * Fulfillment throughput under the supplier's real quotas (issue 3): paid shop orders arrive at a
 * steady rate in a WooCommerce shop (the strict fake, over HTTP); the money path (`runPass`, the
 * real client, pacer and a SQLite file) buys them from the sandbox supplier (over HTTP, enforcing
 * 60 requests/min general and 10/min `POST /orders`) and writes the codes into the shop orders.
 *
 * Time is compressed, not scaled: one virtual clock (`IdleSkippingClock`) is the wall clock plus
 * every wait skipped so far. Wherever the daemon would sleep — between passes, in the pacer
 * waiting for a free slot, in a client back-off — the clock jumps ahead instead, except between
 * passes while deliveries (which run beside the passes) are in flight; all work (our code,
 * SQLite, HTTP to both fakes) takes its real time, 1:1. Every party that reads supplier-side
 * time reads this clock: the supplier (its rolling 60 s windows, its order transitions), the pacer
 * (its production 60 s window), the client and the fulfillment core (`ctx.now`: batch window,
 * poll back-off), and the shop (the fake) times its orders and notes by it, as NTP keeps a real
 * shop's clock and the daemon's together (the batch window counts from the shop's sale time).
 * Nothing in `src/` or the config changes.
 */

const API_KEY = 'psn_bench_fulfil_0123456789abcdef';
const STORE = 'bench-woo';
/** The daemon's worker tick: a pass every second while work is in flight, polling while sales flow. */
const PASS_EVERY_MS = 1_000;
/** The daemon's inventory schedule (`*\/10 * * * * *`): orders taken in, then one `GET /inventory`, every 10 s. */
const INVENTORY_EVERY_MS = 10_000;
/** The daemon's order schedule (`*\/30 * * * * *`): a pass that polls, every 30 s. */
const ORDERS_POLL_EVERY_MS = 30_000;
/** `storefronts[].concurrency`'s default: orders in flight (and requests) per store. */
const STORE_CONCURRENCY = 4;
/** Shop calls per order at the least (issue 13): the listing that carries it, one read before delivering, one note, one PUT. */
const MIN_SHOP_CALLS_PER_ORDER = 4;
/** Config defaults: fulfillment.batchWindowSeconds = 5, maxWaitMinutes = 120. */
const BATCH_WINDOW_MS = 5_000;
const MAX_WAIT_MS = 120 * 60_000;
/** Supplier timing on the virtual clock (an assumption: the live API's timing is not documented). */
const PAID_AFTER_MS = 2_000;
const DELIVERED_AFTER_MS = 3_000;
const LIMITS = { general: 60, bulk: 10 };
const ENTRIES = 12;

/** The wall clock plus every wait skipped so far: `sleep` returns at once, having moved the clock. */
export class IdleSkippingClock {
  private offset = 0;
  /** Virtual ms skipped so far. */
  get skippedMs(): number {
    return this.offset;
  }
  readonly now = (): number => Date.now() + this.offset;
  readonly sleep = async (ms: number): Promise<void> => {
    this.offset += Math.max(0, Math.ceil(ms));
    await new Promise((resolve) => setImmediate(resolve));
  };
}

export interface FulfillmentRunOptions {
  orders: number;
  /** Orders arrive evenly over this much virtual time. */
  arrivalMs: number;
  /** Supplier timing (defaults: PAID_AFTER_MS, DELIVERED_AFTER_MS). */
  paidAfterMs?: number;
  deliveredAfterMs?: number;
  /** The shop's pace: each request takes `latencyMs`, `workers` served at once (0 = no cap). */
  shop?: { latencyMs: number; workers: number };
  /** Give up after this much wall time. */
  wallLimitMs: number;
  seed?: number;
}

export interface FulfillmentRun {
  orders: number;
  units: number;
  arrivalMs: number;
  paidAfterMs: number;
  deliveredAfterMs: number;
  shopLatencyMs: number;
  shopWorkers: number;
  /** The most requests the shop served at once. */
  shopMaxInFlight: number;
  /** Shop calls on order routes (the listing, reads, notes, PUTs), all orders together. */
  orderCalls: number;
  fulfilled: number;
  /** Virtual ms from the first order placed to the last order's codes in the shop. */
  spanMs: number;
  wallMs: number;
  /** Virtual ms skipped instead of waited (spanMs − skipped ≈ wall time of the run). */
  skippedMs: number;
  latencies: number[];
  /** Virtual ms from placing each order to the poll that took it in, sorted. */
  intakeLatencies: number[];
  requests: Record<SandboxEndpoint, number>;
  rateLimited: number;
  passes: number;
  inventoryCycles: number;
  /** Pacer: times a call waited for a slot, and the (virtual) time spent waiting. */
  pacerWaits: number;
  pacerWaitedMs: number;
  /** Longest pass, virtual ms. */
  maxPassMs: number;
  /** Wall ms inside passes (all local work, supplier and shop HTTP included). */
  busyWallMs: number;
  /** Wall ms inside the shop's order port. */
  shopWallMs: number;
  shopCalls: number;
  /** Shop HTTP calls by `METHOD route`. */
  shopByRoute: Map<string, number>;
  holds: number;
  warnings: string[];
  problems: string[];
}

interface Placed {
  id: number;
  units: number;
  placedAt: number;
  codes: number;
  doneAt: number | null;
}

const CODE_LINE = /^PSN [A-Z]{2} \S+ [A-Z]{3}: (\S+)$/gm;

export async function runFulfillmentThroughput(o: FulfillmentRunOptions): Promise<FulfillmentRun> {
  const clock = new IdleSkippingClock();
  const rng = new SeededRandom(o.seed ?? 2024);
  const dir = mkdtempSync(path.join(tmpdir(), 'psnb2b-bench-fulfil-'));
  const supplier = new SandboxSupplier({
    apiKey: API_KEY,
    entries: ENTRIES,
    seed: 5,
    limits: LIMITS,
    windowMs: 60_000,
    paidAfterMs: o.paidAfterMs ?? PAID_AFTER_MS,
    deliveredAfterMs: o.deliveredAfterMs ?? DELIVERED_AFTER_MS,
    tickMs: 10,
    startingBalanceCents: 1_000_000_000,
    now: clock.now,
  });
  // Stock is not the subject here: every entry has plenty, so nothing is held for it.
  for (const e of supplier.catalog()) {
    supplier.setListed(e.region, e.denomination, true);
    supplier.setQty(e.region, e.denomination, 1_000_000);
  }
  const baseUrl = await supplier.start();
  const shop = new FakeWooCommerce({ now: clock.now });
  await shop.start();
  const skus = supplier.catalog().map((e) => formatSku(SKU_TEMPLATE, e));
  shop.seedCatalog(skus, { stock: 0 });

  const warnings: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) warnings.push(line);
      done();
    },
  });
  const log = createLogger({ level: 'warn', format: 'json', stream: sink });
  const db = openDb(path.join(dir, 'sync.db'));
  migrate(db);
  const pacer = new Pacer({ db, limits: LIMITS, now: clock.now, sleep: clock.sleep });
  const client = new Psnb2bClient({
    config: { baseUrl, apiKey: API_KEY, honoursIdempotencyKeys: false, timeoutMs: 20_000, maxAttempts: 5 },
    pacer,
    logger: log,
    now: clock.now,
    sleep: clock.sleep,
  });
  const storeConfig: WooStoreConfig = {
    name: STORE,
    type: 'woocommerce',
    url: shop.url,
    consumerKey: shop.consumerKey,
    consumerSecret: shop.consumerSecret,
    weight: 1,
    unpaidMethods: ['cod'],
    timeoutMs: 30_000,
    concurrency: STORE_CONCURRENCY,
  };
  const factory = await storefrontFactories.woocommerce();
  // The adapter keeps Date.now, as in production: its time-outs and back-offs are real waits.
  const store = factory.create(storeConfig, {
    log,
    cache: sqliteSkuCache(db, STORE),
    missingRecheckMs: 10 * 60_000,
    now: Date.now,
  });
  if (!store.orders) throw new Error('the woocommerce adapter has no orders port');
  // Wall time spent in the shop's order port (the fake's handling plus our adapter): how much of
  // each pass is the (local, fast) shop, so a slower real shop can be estimated.
  let shopWallMs = 0;
  const port = store.orders as unknown as Record<string, unknown>;
  for (const name of ['listChangedOrders', 'getOrder', 'runDeliveryStep', 'hold', 'releaseHold']) {
    const fn = port[name] as (...args: unknown[]) => Promise<unknown>;
    port[name] = async (...args: unknown[]) => {
      const t = performance.now();
      try {
        return await fn.apply(store.orders, args);
      } finally {
        shopWallMs += performance.now() - t;
      }
    };
  }
  const vault = new CodeVault(parseCodesKey(randomBytes(32).toString('base64')));
  vault.verifyAgainst(db);
  const ctx: FulfillmentContext = {
    db,
    supplier: client,
    stores: new Map([[STORE, store as Storefront & { orders: ShopOrders }]]),
    vault,
    mapping: { template: SKU_TEMPLATE, overrides: {} },
    settings: {
      batchWindowMs: BATCH_WINDOW_MS,
      bulkIntervalMs: bulkPacingMs(LIMITS.bulk),
      minBalanceCents: 0,
      maxWaitMs: MAX_WAIT_MS,
      honoursIdempotencyKeys: false,
      maxQtyPerItem: 1000,
      limits: spendingLimits(limitsSchema.parse({})),
      margin: { minMarginPercent: 0, onLowMargin: 'alert', fxRates: {} },
      lanes: new Map([[STORE, storeConfig.concurrency]]),
    },
    log,
    now: clock.now,
    unreachable: new Set(),
    deliveries: new DeliveryRunner({ lanes: new Map([[STORE, storeConfig.concurrency]]), log }),
  };
  const inventory = () =>
    runInventoryCycle({
      db,
      supplier: client,
      supplierCalls: () => client.stats.calls,
      stores: [store],
      weights: new Map([[STORE, 1]]),
      catalog: {
        mapping: { template: SKU_TEMPLATE, overrides: {} },
        reserve: 0,
        allocation: 'shared',
        guard: { maxZeroShare: 0.5, minEntries: 1, recheckSeconds: 0 },
      },
      soldNotOrdered: () => soldNotOrdered(db),
      log,
      now: clock.now,
      sleep: clock.sleep,
    });

  const placed = new Map<number, Placed>();
  const seenCodes = new Set<string>();
  const problems: string[] = [];
  let outboxAt = 0;
  let fulfilled = 0;
  /** Reads the shop's outbox: each delivery note is a customer note carrying our marker and the codes. */
  const scanOutbox = () => {
    const outbox = shop.outbox;
    for (; outboxAt < outbox.length; outboxAt++) {
      const mail = outbox[outboxAt];
      if (mail?.type !== 'customer_note' || !mail.body.includes('[psnb2b:')) continue;
      const p = placed.get(mail.orderId);
      if (!p) continue;
      for (const m of mail.body.matchAll(CODE_LINE)) {
        const code = m[1] as string;
        if (seenCodes.has(code)) problems.push(`code delivered twice (order ${p.id})`);
        seenCodes.add(code);
        p.codes++;
      }
      if (p.doneAt === null && p.codes >= p.units) {
        p.doneAt = mail.at;
        fulfilled++;
      }
      if (p.codes > p.units) problems.push(`order ${p.id}: ${p.codes} codes for ${p.units} units`);
    }
  };

  /**
   * The wait between passes. Deliveries go on in the background at the shop's (wall-clock) pace,
   * so the clock skips only what is idle: it runs 1:1 while any is in flight.
   */
  const untilNextPass = async (restMs: number) => {
    const t0 = Date.now();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      ctx.deliveries.drain(),
      new Promise((resolve) => {
        timer = setTimeout(resolve, restMs);
      }),
    ]);
    clearTimeout(timer);
    const idle = restMs - (Date.now() - t0);
    if (idle > 0) await clock.sleep(idle);
  };

  try {
    // Setup (not counted): the catalogue snapshot purchases are checked against, stock pushed.
    await inventory();
    // From here the shop answers at its modelled pace.
    shop.latencyMs = o.shop?.latencyMs ?? 0;
    shop.workers = o.shop?.workers ?? 0;
    shop.resetCounters();
    const before = supplier.ledger();
    const shopBefore = shop.requests.length;
    const waitsBefore = { ...pacer.stats };

    const started = clock.now();
    const skippedBefore = clock.skippedMs;
    const wallStart = Date.now();
    let next = 0;
    let units = 0;
    /** Places every order whose arrival time has come (order i arrives at started + i·gap). */
    const gap = o.arrivalMs / o.orders;
    const arrive = () => {
      const due = Math.min(o.orders, Math.floor((clock.now() - started) / gap) + 1);
      for (; next < due; next++) {
        const lines = rng.chance(0.2) ? 2 : 1;
        const chosen = rng.shuffle(skus).slice(0, lines);
        const order = shop.placeOrder({
          lines: chosen.map((sku) => ({ sku, quantity: rng.chance(0.7) ? 1 : rng.chance(0.8) ? 2 : 5 })),
          paid: true,
        });
        const n = order.line_items.reduce((s, l) => s + l.quantity, 0);
        units += n;
        // Placed now, but due at its arrival time: no pass ran in between to see it earlier.
        placed.set(order.id, {
          id: order.id,
          units: n,
          placedAt: started + next * gap,
          codes: 0,
          doneAt: null,
        });
      }
    };

    let passes = 0;
    let inventoryCycles = 0;
    let lastInventory = started;
    let lastOrdersPoll = started;
    let maxPassMs = 0;
    let busyWallMs = 0;
    while (fulfilled < o.orders) {
      if (Date.now() - wallStart > o.wallLimitMs) {
        problems.push(`stopped after ${ms(o.wallLimitMs)} wall time with ${fulfilled}/${o.orders} fulfilled`);
        break;
      }
      const passStart = clock.now();
      const wallPass = performance.now();
      arrive();
      // Orders come in only where the daemon polls (no webhooks here): before every inventory push,
      // on the order schedule, and on the worker tick while sales flow. Due together, they share
      // one poll (a poll in flight is joined).
      const inventoryDue = passStart - lastInventory >= INVENTORY_EVERY_MS;
      const ordersDue = passStart - lastOrdersPoll >= ORDERS_POLL_EVERY_MS;
      if (ordersDue) lastOrdersPoll = passStart;
      if (inventoryDue || ordersDue || salesFlowing(ctx)) await pollIntake(ctx);
      if (inventoryDue) {
        lastInventory = passStart;
        inventoryCycles++;
        await inventory();
      }
      await runPass(ctx, { poll: false });
      passes++;
      busyWallMs += performance.now() - wallPass;
      scanOutbox();
      const took = clock.now() - passStart;
      maxPassMs = Math.max(maxPassMs, took);
      if (took < PASS_EVERY_MS) await untilNextPass(PASS_EVERY_MS - took);
    }
    await ctx.deliveries.drain();
    scanOutbox();

    const after = supplier.ledger();
    const requests = Object.fromEntries(
      SANDBOX_ENDPOINTS.map((e) => [e, after.requests[e] - before.requests[e]]),
    ) as Record<SandboxEndpoint, number>;
    const done = [...placed.values()].filter((p) => p.doneAt !== null);
    const firstPlaced = Math.min(...[...placed.values()].map((p) => p.placedAt));
    const lastDone = Math.max(...done.map((p) => p.doneAt as number));
    const holds = linesInState(db, 'held').length;
    const shopByRoute = new Map<string, number>();
    let orderCalls = 0;
    for (const r of shop.requests.slice(shopBefore)) {
      const k = `${r.method} ${r.route}`;
      shopByRoute.set(k, (shopByRoute.get(k) ?? 0) + 1);
      if (/^orders(\/|$)/.test(r.route)) orderCalls++;
    }
    return {
      orders: o.orders,
      units,
      arrivalMs: o.arrivalMs,
      paidAfterMs: o.paidAfterMs ?? PAID_AFTER_MS,
      deliveredAfterMs: o.deliveredAfterMs ?? DELIVERED_AFTER_MS,
      shopLatencyMs: o.shop?.latencyMs ?? 0,
      shopWorkers: o.shop?.workers ?? 0,
      shopMaxInFlight: shop.maxInFlight,
      orderCalls,
      fulfilled,
      spanMs: lastDone - firstPlaced,
      wallMs: Date.now() - wallStart,
      skippedMs: clock.skippedMs - skippedBefore,
      latencies: done.map((p) => (p.doneAt as number) - p.placedAt).sort((a, b) => a - b),
      intakeLatencies: intakeLatencies(db, placed),
      requests,
      rateLimited: after.rateLimited - before.rateLimited,
      passes,
      inventoryCycles,
      pacerWaits: pacer.stats.waits - waitsBefore.waits,
      pacerWaitedMs: pacer.stats.waitedMs - waitsBefore.waitedMs,
      maxPassMs,
      busyWallMs,
      shopWallMs,
      shopByRoute,
      shopCalls: shop.requests.length - shopBefore,
      holds,
      warnings,
      problems,
    };
  } finally {
    await ctx.deliveries.close();
    await store.close();
    db.close();
    await shop.stop();
    await supplier.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Placed → taken in, per order: its lines' first `received_at` (the fulfillment core's clock). */
function intakeLatencies(db: Db, placed: ReadonlyMap<number, Placed>): number[] {
  const rows = db
    .prepare(
      'SELECT order_id AS id, MIN(received_at) AS at FROM shop_lines WHERE store = ? GROUP BY order_id',
    )
    .all(STORE) as { id: string; at: number }[];
  return rows
    .flatMap((r) => {
      const p = placed.get(Number(r.id));
      return p ? [r.at - p.placedAt] : [];
    })
    .sort((a, b) => a - b);
}

function pct(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

const sec = (v: number) => `${fmt(v / 1000, 1)} s`;
const shopPace = (s: { latencyMs: number; workers: number } | undefined) =>
  s && (s.latencyMs > 0 || s.workers > 0) ? `${s.latencyMs} ms × ${s.workers || '∞'} workers` : '≈1 ms';
const perMin = (n: number, spanMs: number) => (n / spanMs) * 60_000;

/**
 * Runs the benchmark at 100 and 1,000 orders and returns its section of `bench/results.md`
 * (markdown lines).
 */
export async function benchFulfillmentThroughput(
  opts: { log?: (m: string) => void; section?: number } = {},
): Promise<string[]> {
  const log = opts.log ?? (() => undefined);
  const plans: Omit<FulfillmentRunOptions, 'wallLimitMs'>[] = [
    // Issue 13, as a new user would meet it: a real shop's pace (150 ms a request, 4 PHP workers).
    { orders: 300, arrivalMs: 60_000, shop: { latencyMs: 150, workers: 4 } },
    { orders: 300, arrivalMs: 60_000 },
    { orders: 1000, arrivalMs: 180_000 },
    // Sensitivity: a supplier that takes 30 s instead of 5 s to deliver.
    { orders: 300, arrivalMs: 90_000, paidAfterMs: 10_000, deliveredAfterMs: 20_000 },
  ];
  const runs: FulfillmentRun[] = [];
  for (const p of plans) {
    log(`  ${fmt(p.orders)} orders arriving over ${sec(p.arrivalMs)}, shop ${shopPace(p.shop)}…`);
    runs.push(await runFulfillmentThroughput({ ...p, wallLimitMs: 300_000 }));
  }
  return fulfillmentSection(runs, opts.section ?? 5);
}

/** The range of `GET orders` listing calls per order over the runs, e.g. `0.04–0.06`. */
function listingShares(runs: readonly FulfillmentRun[]): string {
  const shares = runs.map((r) => (r.shopByRoute.get('GET orders') ?? 0) / r.orders);
  const [lo, hi] = [Math.min(...shares), Math.max(...shares)].map((x) => x.toFixed(2));
  return lo === hi ? `${lo}` : `${lo}–${hi}`;
}

export function fulfillmentSection(runs: readonly FulfillmentRun[], section: number): string[] {
  const lines: string[] = [];
  const out = (s = '') => lines.push(s);
  out(`## ${section}. Order fulfillment under the supplier quotas, at a real shop's pace`);
  out();
  out(
    `\`runPass\` (intake → buy → follow; the deliveries it hands over run in the background, in the store's lanes, across passes) with the real client, pacer and a SQLite file, against the sandbox supplier enforcing **${LIMITS.general} requests/min general and ${LIMITS.bulk}/min \`POST /orders\`** (rolling 60 s windows) and the strict fake WooCommerce, both over HTTP, in-process. Paid shop orders (1–2 lines, 1–5 units, ${ENTRIES} SKUs) arrive at a steady rate; a pass runs every ${PASS_EVERY_MS / 1000} s (the daemon's worker tick); orders are taken in where the daemon polls, with no webhooks: before each inventory cycle, every ${INVENTORY_EVERY_MS / 1000} s (the default schedule; its \`GET /inventory\` and stock pushes are counted), on the order schedule, every ${ORDERS_POLL_EVERY_MS / 1000} s, and, while polls keep finding sales, on the tick once about ${SALES_PER_POLL} more are due, at most every ${FLOW_MIN_GAP_MS / 1000} s (src/fulfillment/flow-polling.ts; one poll when several are due): _placed → taken in_ below each run, batch window ${BATCH_WINDOW_MS / 1000} s from the sale's time in the shop (the config default; bulk orders paced one every ${sec(bulkPacingMs(LIMITS.bulk))} within the quota, so under load the window stretches), \`storefronts[].concurrency: ${STORE_CONCURRENCY}\` (the default: orders in flight per store), \`honoursIdempotencyKeys: false\`. **The shop** answers at a modelled pace: _150 ms × 4 workers_ = every request takes 150 ms and at most 4 are served at once, the rest queue (like PHP-FPM; a real WooCommerce 10 measured p50 107 ms, p95 510 ms); _≈1 ms_ = the fake's own speed. The supplier pays an order ${PAID_AFTER_MS / 1000} s after it is placed and delivers it ${DELIVERED_AFTER_MS / 1000} s later in the main runs (an assumption: the live API's timing is not documented); the last row is a sensitivity run with a supplier six times slower. Stock and balance are ample (not the subject here).`,
  );
  out();
  out(
    "**Time is compressed, not scaled: every figure below is in real time, as against the live supplier; only the _wall_ column is how long the run took here.** The clock all parties read (the supplier's rate-limit windows and order transitions, our pacer with its production 60 s window, the client, the fulfillment core, the shop's order and note times) is the wall clock plus the idle time skipped: wherever the daemon would sleep — between passes, in the pacer waiting for a slot — the clock jumps ahead instead of waiting, except between passes while deliveries are in flight (they run beside the passes), when it runs 1:1. All work (our code, SQLite, HTTP to both fakes, the shop's modelled latency) takes its real time, 1:1, so nothing is magnified; _wall_ ≈ the run's span less the skipped idle time. The conversion is therefore the identity: _orders / min_ are per real minute of the 60/min and 10/min quotas, latencies are real seconds.",
  );
  out();
  out(
    '| shop | shop orders (units) | arrival rate | supplier paid + delivered after | orders fulfilled / min | supplier calls / shop order | `POST /orders` / shop order | p50 paid → codes in shop | p95 | max | 429s |',
  );
  out('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of runs) {
    const total = Object.values(r.requests).reduce((a, b) => a + b, 0);
    const posts = r.requests['POST /orders'];
    out(
      `| ${shopPace({ latencyMs: r.shopLatencyMs, workers: r.shopWorkers })} | ${fmt(r.orders)} (${fmt(r.units)}) | ${fmt(perMin(r.orders, r.arrivalMs))}/min | ${r.paidAfterMs / 1000} s + ${r.deliveredAfterMs / 1000} s | **${fmt(perMin(r.fulfilled, r.spanMs), 1)}** (${fmt(r.fulfilled)} in ${sec(r.spanMs)}) | **${(total / r.orders).toFixed(3)}** (${fmt(total)} calls) | ${(posts / r.orders).toFixed(3)} (${posts}) | ${sec(pct(r.latencies, 50))} | **${sec(pct(r.latencies, 95))}** | ${sec(r.latencies.at(-1) ?? Number.NaN)} | ${r.rateLimited} |`,
    );
  }
  out();
  out(
    `Shop calls per order against the least (${MIN_SHOP_CALLS_PER_ORDER}: the listing that carries the order, one read right before delivering, one \`POST\` of the note, one \`PUT\` of meta and status). _Order calls_ are every request on an order route (\`GET orders\` listings included) ÷ orders; stock pushes of the inventory cycles are counted apart. Per order it is one \`GET\`, one \`POST\` and one \`PUT\` (the listing read under a minute ago is the read before buying; a first attempt has nothing to read back); the listings' share is how often intake polls times the pages (100 orders each) a listing carries. A poll looks back ${SHORT_OVERLAP_MS / 1000} s before the newest order time seen, and once a minute a sweep ${SWEEP_OVERLAP_MS / 60_000} minutes (src/fulfillment/intake-window.ts), so a listing carries the last seconds of sales, mostly on one page: the listings cost ${listingShares(runs)} calls per order.`,
  );
  out();
  out(
    '| shop | shop orders | order calls / order | minimum | ratio | most requests served at once | stock-push calls |',
  );
  out('|---|---:|---:|---:|---:|---:|---:|');
  for (const r of runs) {
    const perOrder = r.orderCalls / r.orders;
    out(
      `| ${shopPace({ latencyMs: r.shopLatencyMs, workers: r.shopWorkers })} | ${fmt(r.orders)} | **${perOrder.toFixed(2)}** | ${MIN_SHOP_CALLS_PER_ORDER} | ${(perOrder / MIN_SHOP_CALLS_PER_ORDER).toFixed(2)} | ${r.shopMaxInFlight} | ${r.shopCalls - r.orderCalls} |`,
    );
  }
  out();
  out(
    "_Orders fulfilled / min_ = orders whose codes are all in the shop ÷ (first order placed → last order's codes in the shop), so it includes the drain after the last arrival: equal to the arrival rate means the path kept up. _Supplier calls_ = every request the supplier received in the run (its own count), inventory cycles included. Latency = placing the paid order → the last of its codes in a delivery note (the shop's own timestamp of the customer note). Supplier calls grow with time, not with orders (one bulk order per batch window, a few status polls each), so the ratio falls as load rises. In the slow-supplier row each bulk order is polled (`GET /orders/{id}`, back-off max(2 s, age ÷ 5), at most 4 polls a pass, stored codes handed to the deliveries before polling) for 30 s: the polls still take most of the general bucket and the pacer makes some passes wait (_pacer waits_, _longest pass_), so bulk orders fall below the batch cadence and latency runs past the supplier's own 30 s. Signed supplier webhooks (not used here) remove most of these polls.",
  );
  out();
  out(
    '| shop | shop orders | `GET /inventory` | `GET /balance` | `POST /orders` | `GET /orders/{id}` | `GET /orders/{id}/codes` | general calls / min (paced at 57) | `POST /orders` / min (paced at 9) | pacer waits | passes | pass work (share of span) | longest pass | shop HTTP calls / order | wall |',
  );
  out('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of runs) {
    const q = r.requests;
    const general = Object.values(q).reduce((a, b) => a + b, 0) - q['POST /orders'];
    out(
      `| ${shopPace({ latencyMs: r.shopLatencyMs, workers: r.shopWorkers })} | ${fmt(r.orders)} | ${q['GET /inventory']} | ${q['GET /balance']} | ${q['POST /orders']} | ${q['GET /orders/{id}']} | ${q['GET /orders/{id}/codes']} | ${fmt(perMin(general, r.spanMs), 1)} | ${fmt(perMin(q['POST /orders'], r.spanMs), 1)} | ${r.pacerWaits} (${sec(r.pacerWaitedMs)}) | ${r.passes} | ${sec(r.busyWallMs)} (${fmt((100 * r.busyWallMs) / r.spanMs)} %) | ${sec(r.maxPassMs)} | ${(r.shopCalls / r.orders).toFixed(1)} | ${ms(r.wallMs)} |`,
    );
  }
  out();
  for (const r of runs) {
    const routes = [...r.shopByRoute.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `\`${k}\` ${(n / r.orders).toFixed(2)}`)
      .join(', ');
    out(
      `Shop calls per order at ${fmt(r.orders)} orders, shop ${shopPace({ latencyMs: r.shopLatencyMs, workers: r.shopWorkers })} (${ms(r.shopWallMs)} wall in the shop's order port): ${routes}. Placed → taken in (by the next poll): p50 ${sec(pct(r.intakeLatencies, 50))}, p95 ${sec(pct(r.intakeLatencies, 95))}, max ${sec(r.intakeLatencies.at(-1) ?? Number.NaN)}.`,
    );
    out();
  }
  const problems = runs.flatMap((r) => r.problems.map((p) => `${fmt(r.orders)} orders: ${p}`));
  const held = runs.reduce((a, r) => a + r.holds, 0);
  out(
    problems.length
      ? `**Problems:** ${problems.slice(0, 10).join('; ')}`
      : `Checks: every order got exactly its units of codes, no code was delivered twice, ${held} line(s) held.`,
  );
  const warnings = runs.flatMap((r) => r.warnings.map((w) => `${fmt(r.orders)} orders: ${w}`));
  if (warnings.length) {
    out();
    out(`Warnings logged (${warnings.length}, first 5):`);
    out();
    for (const w of warnings.slice(0, 5)) out(`- \`${w.slice(0, 300)}\``);
  }
  out();
  return lines;
}
