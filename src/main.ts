import path from 'node:path';
import { storefrontFactories } from '../adapters/index.js';
import type { LoadedConfig } from '../config/load.js';
import type { Config, StorefrontConfig } from '../config/schema.js';
import { raiseAlert, resolveAlert } from './alerts.js';
import { keepRunLock } from './db/lock-heartbeat.js';
import { type Db, migrate, openDb, openScratchCopy } from './db/open.js';
import { acquireRunLock, type LockOwner, releaseRunLock } from './db/run-lock.js';
import { sqliteSkuCache } from './db/sku-cache-table.js';
import { ConfigError, DatabaseError, describeSafeError, toSafeError } from './errors.js';
import { bulkPacingMs } from './fulfillment/batch-pacing.js';
import { CodeVault, parseCodesKey } from './fulfillment/code-vault.js';
import { DeliveryRunner } from './fulfillment/delivery-runner.js';
import type { FulfillmentContext } from './fulfillment/fulfillment-context.js';
import { type PassReport, runPass } from './fulfillment/fulfillment-job.js';
import { soldNotOrdered } from './fulfillment/fulfillment-ledger.js';
import { intakeOne, pollIntake } from './fulfillment/intake.js';
import { spendingLimits } from './fulfillment/spending-limits.js';
import { guardedTick } from './guarded-timers.js';
import { closeInterruptedRuns, INTERRUPTED, interruptedRunsPlan } from './inventory/interrupted-runs.js';
import { priceRules } from './inventory/shop-price.js';
import {
  type CycleOptions,
  type CycleReport,
  runInventoryCycle,
  StoreLanes,
} from './inventory/sync-inventory.js';
import type { Logger } from './log.js';
import { RequestTally } from './metrics/request-tally.js';
import { usdToCents } from './money.js';
import { prepareSandboxDatabase, refuseSandboxDatabase } from './sandbox/sandbox-database.js';
import type { SandboxHandle } from './sandbox/sandbox-mode.js';
import { SerialJob } from './serial-job.js';
import type { ShopOrders, Storefront } from './storefront.js';
import { Pacer } from './supplier/pacer.js';
import { Psnb2bClient } from './supplier/psnb2b-client.js';

/**
 * The composition root shared by the daemon and the in-process CLI commands:
 * config → (sandbox) → database + run lock → supplier client → storefronts → jobs.
 */

export interface Runtime {
  config: Config;
  db: Db;
  /** This runtime's hold on the run lock (heartbeat, release); null for a dry run's scratch copy. */
  lockOwner: LockOwner | null;
  log: Logger;
  /** The client of purchases, claims and the balance (inventory has its own, on the same pacer). */
  supplier: Psnb2bClient;
  stores: Storefront[];
  job: SerialJob<CycleOptions, CycleReport>;
  /** Null when fulfillment cannot run (no `codesKey`): inventory sync still does. */
  fulfillment: Fulfillment | null;
  sandbox: SandboxHandle | null;
  /** Supplier and shop request counters (metrics), flushed to the database at close. */
  tally: RequestTally;
  close(): Promise<void>;
}

export interface Fulfillment {
  ctx: FulfillmentContext;
  job: SerialJob<{ poll: boolean }, PassReport>;
  /**
   * Asks for a pass now unless one is running; with an order, that order is read again first (a
   * webhook's hint); with `poll`, the pass polls the shops too (sales flowing).
   */
  kick(intake?: { store: string; orderId: string }, poll?: boolean): void;
  /** Orders named by webhooks and not yet read. */
  pendingIntake(): number;
}

/**
 * `missing` and `duplicate` SKUs are asked about again on every run (one lookup per 100 such
 * SKUs): a product the merchant adds or fixes is picked up by the next run, not minutes later.
 */
const MISSING_RECHECK_MS = 0;
/** The live supplier's per-item limit is not documented; the sandbox enforces 1,000. */
const MAX_QTY_PER_ITEM = 1000;
export const FULFILLMENT_OFF_ALERT = 'fulfillment-disabled';

/** Resolves the sandbox (if configured) into a runnable config. Starts the sandbox servers. */
export async function resolveConfig(
  loaded: LoadedConfig,
  log: Logger,
): Promise<{ config: Config; sandbox: SandboxHandle | null }> {
  const { raw, configPath, baseDir } = loaded;
  if (raw.sandbox) {
    // Loaded only here: a live daemon never loads the sandbox or the fakes it starts.
    const { startSandbox } = await import('./sandbox/sandbox-mode.js');
    const started = await startSandbox(raw, raw.sandbox, baseDir, log);
    return { config: { ...started.config, configPath, baseDir }, sandbox: started.handle };
  }
  if (!raw.supplier) throw new ConfigError('supplier', 'is required');
  return { config: { ...raw, supplier: raw.supplier, configPath, baseDir }, sandbox: null };
}

export function databasePath(config: Pick<Config, 'database' | 'baseDir'>): string {
  return path.resolve(config.baseDir, config.database);
}

export function storeSummaries(config: Pick<Config, 'storefronts'>): { name: string; type: string }[] {
  return config.storefronts.map((s) => ({ name: s.name, type: s.type }));
}

async function createStore(cfg: StorefrontConfig, db: Db, log: Logger): Promise<Storefront> {
  const factory = await storefrontFactories[cfg.type]();
  return factory.create(cfg, {
    log: log.child({ store: cfg.name }),
    cache: sqliteSkuCache(db, cfg.name),
    missingRecheckMs: MISSING_RECHECK_MS,
    now: Date.now,
  });
}

function withOrders(stores: readonly Storefront[]): Map<string, Storefront & { orders: ShopOrders }> {
  const out = new Map<string, Storefront & { orders: ShopOrders }>();
  for (const s of stores) if (s.orders) out.set(s.name, s as Storefront & { orders: ShopOrders });
  return out;
}

export interface RuntimeOptions {
  /**
   * A dry run plans against an in-memory copy of the database (an empty one if there is none):
   * no file is created or written, no lock taken, and fulfillment does not start.
   */
  dryRun?: boolean;
  /** With `dryRun`: start from an empty database whatever the file holds (doctor, having judged the file itself). */
  ignoreDatabase?: boolean;
  /** Another process took the run lock over (logged already); the daemon stops. */
  onLockLost?: () => void;
}

export async function openRuntime(
  loaded: LoadedConfig,
  log: Logger,
  opts: RuntimeOptions = {},
): Promise<Runtime> {
  const { config, sandbox } = await resolveConfig(loaded, log);
  const file = databasePath(config);
  let db: Db;
  try {
    if (!sandbox && !opts.ignoreDatabase) refuseSandboxDatabase(file);
    if (opts.dryRun) db = openScratchCopy(opts.ignoreDatabase ? null : file);
    else {
      if (sandbox) prepareSandboxDatabase(file, log);
      db = openDb(file, { log });
    }
  } catch (e) {
    await sandbox?.stop();
    throw e;
  }
  return openWithDb(config, sandbox, log, db, opts.dryRun === true, opts.onLockLost);
}

async function openWithDb(
  config: Config,
  sandbox: SandboxHandle | null,
  log: Logger,
  db: Db,
  scratch: boolean,
  onLockLost?: () => void,
): Promise<Runtime> {
  // The lock's heartbeat and the close-out of a previous holder's runs, stopped before the lock goes.
  const lockTimers: (() => void)[] = [];
  const stopLockTimers = () => {
    for (const stop of lockTimers.splice(0)) stop();
  };
  try {
    // A dry run works on a scratch copy: no lock.
    const lock = scratch ? null : acquireRunLock(db, null);
    if (lock && !lock.ok) {
      throw new DatabaseError(
        `another psnb2b-sync (pid ${lock.holder.pid} on ${lock.holder.hostname}) holds ${databasePath(config)}`,
      );
    }
    if (lock?.ok && lock.tookOverFrom) {
      const from = lock.tookOverFrom;
      log.warn(
        `took over the run lock from pid ${from.pid} on ${from.hostname}, which is no longer alive (its heartbeat was ${Math.round((Date.now() - from.heartbeatAt) / 1000)} s old)`,
        { component: 'runtime' },
      );
    }
    const lockOwner = lock?.ok ? lock.owner : null;
    if (lockOwner) {
      lockTimers.push(
        keepRunLock({ db, log }, lockOwner, () => {
          log.error('lost the run lock to another process', { component: 'runtime' });
          onLockLost?.();
        }),
      );
    }
    migrate(db);
    if (lock?.ok) {
      const plan = interruptedRunsPlan(db, lock);
      const closeOut = () => {
        const n = closeInterruptedRuns(db, Date.now(), plan.upToId);
        if (n > 0) {
          log.warn(`closed ${n} sync run(s) a previous process left unfinished as ${INTERRUPTED}`, {
            component: 'runtime',
          });
        }
      };
      if (plan.afterMs === 0) closeOut();
      else {
        const timer = setTimeout(guardedTick({ db, log }, 'interrupted-runs', closeOut), plan.afterMs);
        timer.unref();
        lockTimers.push(() => clearTimeout(timer));
      }
    }
    const handle = db;
    // Filled below; the tally reads the stores only when it flushes.
    const stores: Storefront[] = [];
    const tally = new RequestTally(handle, () => stores);
    const pacer = new Pacer({
      db,
      limits: { general: config.supplier.requestsPerMinute, bulk: config.supplier.ordersPerMinute },
    });
    const supplierClient = () =>
      new Psnb2bClient({
        config: config.supplier,
        pacer,
        logger: log.child({ component: 'supplier' }),
        onServerDate: watchClockSkew(handle, 'supplier'),
        onAttempt: tally.supplierAttempt,
      });
    // Two clients, one pacer: inventory's own call count is then exactly what each cycle sent.
    const supplier = supplierClient();
    const inventorySupplier = supplierClient();
    stores.push(...(await Promise.all(config.storefronts.map((s) => createStore(s, handle, log)))));
    const fulfillment = scratch ? null : buildFulfillment(config, handle, supplier, stores, log);
    const lanes = new StoreLanes();
    const job = new SerialJob<CycleOptions, CycleReport>(async (cycleOpts) => {
      // Orders are taken in right before every push, so a push never overwrites a sale the shop counted.
      if (fulfillment && !cycleOpts.dryRun) await pollIntake(fulfillment.ctx);
      return runInventoryCycle(
        {
          db: handle,
          supplier: inventorySupplier,
          supplierCalls: () => inventorySupplier.stats.calls,
          stores,
          weights: new Map(config.storefronts.map((s) => [s.name, s.weight])),
          catalog: {
            mapping: { template: config.catalog.skuTemplate, overrides: config.catalog.skuOverrides },
            reserve: config.catalog.reserve,
            allocation: config.catalog.allocation,
            guard: config.catalog.guard,
            ...(config.catalog.pricing.enabled && {
              pricing: {
                rules: priceRules(config.catalog.pricing),
                currencies: new Map(
                  config.storefronts.map((s) => [s.name, s.currency ?? config.catalog.pricing.currency]),
                ),
              },
            }),
          },
          soldNotOrdered: () => soldNotOrdered(handle),
          lanes,
          log,
        },
        cycleOpts,
      );
    });
    return {
      config,
      db,
      lockOwner,
      log,
      supplier,
      stores,
      job,
      fulfillment,
      sandbox,
      tally,
      async close() {
        await job.idle();
        await lanes.idle();
        await fulfillment?.job.idle();
        // The deliveries in flight finish (nothing new starts) before the stores and the database close.
        await fulfillment?.ctx.deliveries.close();
        await Promise.allSettled(stores.map((s) => s.close()));
        try {
          tally.flush();
        } catch (e) {
          log.warn(`request counters not saved: ${describeSafeError(toSafeError(e))}`, {
            component: 'metrics',
          });
        }
        stopLockTimers();
        if (lockOwner) releaseRunLock(handle, lockOwner);
        handle.close();
        await sandbox?.stop();
      },
    };
  } catch (e) {
    stopLockTimers();
    db.close();
    await sandbox?.stop();
    throw e;
  }
}

function buildFulfillment(
  config: Config,
  db: Db,
  supplier: Psnb2bClient,
  stores: readonly Storefront[],
  log: Logger,
): Runtime['fulfillment'] {
  const shops = withOrders(stores);
  if (shops.size === 0) return null;
  if (!config.codesKey) {
    // Without the key no code can be stored safely; stock sync goes on, and status says why.
    raiseAlert(
      db,
      FULFILLMENT_OFF_ALERT,
      '',
      'codesKey is not set: orders are not fulfilled (stock sync runs)',
    );
    log.warn('codesKey is not set: order fulfillment is off; inventory sync runs', { component: 'runtime' });
    return null;
  }
  const vault = new CodeVault(parseCodesKey(config.codesKey));
  vault.verifyAgainst(db);
  resolveAlert(db, FULFILLMENT_OFF_ALERT, '');
  const lanes = new Map(config.storefronts.map((s) => [s.name, s.concurrency]));
  const ctx: FulfillmentContext = {
    db,
    supplier,
    stores: shops,
    vault,
    mapping: { template: config.catalog.skuTemplate, overrides: config.catalog.skuOverrides },
    settings: {
      batchWindowMs: config.fulfillment.batchWindowSeconds * 1000,
      bulkIntervalMs: bulkPacingMs(config.supplier.ordersPerMinute),
      minBalanceCents: usdToCents(config.fulfillment.minBalanceUsd, 'fulfillment.minBalanceUsd'),
      maxWaitMs: config.fulfillment.maxWaitMinutes * 60_000,
      honoursIdempotencyKeys: config.supplier.honoursIdempotencyKeys,
      maxQtyPerItem: MAX_QTY_PER_ITEM,
      limits: spendingLimits(config.fulfillment.limits),
      margin: {
        minMarginPercent: config.fulfillment.minMarginPercent,
        onLowMargin: config.fulfillment.onLowMargin,
        fxRates: config.catalog.pricing.fxRates,
      },
      lanes,
    },
    log,
    now: Date.now,
    unreachable: new Set(),
    deliveries: new DeliveryRunner({ lanes, log }),
  };
  const queue = new Map<string, { store: string; orderId: string }>();
  const job = new SerialJob(async (opts: { poll: boolean }) => {
    for (const [key, hint] of [...queue]) {
      queue.delete(key);
      try {
        await intakeOne(ctx, hint.store, hint.orderId);
      } catch (e) {
        // Polling picks the order up anyway.
        log.warn(
          `${hint.store}: webhook order ${hint.orderId} not read: ${describeSafeError(toSafeError(e))}`,
          {
            component: 'fulfillment',
          },
        );
      }
    }
    return runPass(ctx, opts);
  });
  return {
    ctx,
    job,
    kick(intake, poll = false) {
      if (intake) queue.set(`${intake.store}\u0000${intake.orderId}`, intake);
      const pass = job.tick({ poll });
      if (!pass && job.stopping)
        log.debug('stopping: fulfillment kick refused', { component: 'fulfillment' });
      void pass?.catch((e) => log.error(`fulfillment pass failed: ${describeSafeError(toSafeError(e))}`));
    },
    pendingIntake: () => queue.size,
  };
}

const MAX_SKEW_MS = 5 * 60_000;

/** Clock skew against a peer over 5 minutes is an alert (WooCommerce OAuth fails beyond 15). */
export function recordClockSkew(db: Db, peer: string, skewMs: number): void {
  if (Math.abs(skewMs) > MAX_SKEW_MS) {
    raiseAlert(db, 'clock-skew', peer, `${peer}'s clock differs from ours by ${Math.round(skewMs / 1000)} s`);
  } else resolveAlert(db, 'clock-skew', peer);
}

/** Feeds the supplier's `Date` headers to `recordClockSkew`, at most once a minute. */
export function watchClockSkew(db: Db, peer: string): (serverDate: Date) => void {
  let last = 0;
  return (serverDate) => {
    const now = Date.now();
    if (now - last < 60_000) return;
    last = now;
    recordClockSkew(db, peer, serverDate.getTime() - now);
  };
}

/** The shops whose adapters track their clock. */
export function checkStoreClocks(db: Db, stores: readonly Storefront[]): void {
  for (const s of stores) if (s.clockSkewMs !== undefined) recordClockSkew(db, s.name, s.clockSkewMs);
}
