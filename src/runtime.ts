import path from 'node:path';
import { storefrontFactories } from '../adapters/index.js';
import type { LoadedConfig } from '../config/load.js';
import type { Config, StorefrontConfig } from '../config/schema.js';
import { type Db, immediate, migrate, openDb } from './db/open.js';
import { acquireRunLock, releaseRunLock } from './db/run-lock.js';
import { clearSkuCache, sqliteSkuCache } from './db/sku-cache-table.js';
import { ConfigError, DatabaseError } from './errors.js';
import { clearCheckpoint } from './inventory/checkpoints.js';
import { InventoryJob } from './inventory/inventory-job.js';
import { runInventoryCycle } from './inventory/sync-inventory.js';
import type { Logger } from './log.js';
import { type SandboxHandle, startSandbox } from './sandbox/sandbox-mode.js';
import type { Storefront } from './storefront.js';
import { Pacer } from './supplier/pacer.js';
import { Psnb2bClient } from './supplier/psnb2b-client.js';

/**
 * The composition root shared by the daemon and the in-process CLI commands:
 * config → (sandbox) → database + run lock → supplier client → storefronts → inventory job.
 */

export interface Runtime {
  config: Config;
  db: Db;
  log: Logger;
  supplier: Psnb2bClient;
  stores: Storefront[];
  job: InventoryJob;
  sandbox: SandboxHandle | null;
  close(): Promise<void>;
}

/** A `missing` SKU is asked about again after this long: the merchant may have added the product. */
const MISSING_RECHECK_MS = 10 * 60_000;

/** Resolves the sandbox (if configured) into a runnable config. Starts the sandbox servers. */
export async function resolveConfig(
  loaded: LoadedConfig,
  log: Logger,
): Promise<{ config: Config; sandbox: SandboxHandle | null }> {
  const { raw, configPath, baseDir } = loaded;
  if (raw.sandbox) {
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

function createStore(cfg: StorefrontConfig, db: Db, log: Logger): Storefront {
  const factory = storefrontFactories[cfg.type];
  if (!factory) throw new ConfigError(`storefronts[${cfg.name}].type`, `"${cfg.type}" is not supported yet`);
  return factory.create(cfg as never, {
    log: log.child({ store: cfg.name }),
    cache: sqliteSkuCache(db, cfg.name),
    missingRecheckMs: MISSING_RECHECK_MS,
    now: Date.now,
  });
}

export async function openRuntime(
  loaded: LoadedConfig,
  log: Logger,
  opts: { adminUrl?: string | null } = {},
): Promise<Runtime> {
  const { config, sandbox } = await resolveConfig(loaded, log);
  let db: Db | undefined;
  try {
    db = openDb(databasePath(config));
    const lock = acquireRunLock(db, opts.adminUrl ?? null);
    if (!lock.ok) {
      throw new DatabaseError(
        `another psnb2b-sync (pid ${lock.holder.pid} on ${lock.holder.hostname}) holds ${databasePath(config)}`,
      );
    }
    if (lock.tookOverFrom) {
      log.warn(`took over the run lock from pid ${lock.tookOverFrom.pid}, which is no longer alive`, {
        component: 'runtime',
      });
    }
    migrate(db);
    const openDbHandle = db;
    // The sandbox shop starts empty on every start: what it acknowledged before is gone.
    for (const store of sandbox?.freshStores ?? []) {
      immediate(openDbHandle, () => {
        clearCheckpoint(openDbHandle, store);
        clearSkuCache(openDbHandle, store);
      });
    }
    const pacer = new Pacer({
      db,
      limits: { general: config.supplier.requestsPerMinute, bulk: config.supplier.ordersPerMinute },
    });
    const supplier = new Psnb2bClient({
      config: config.supplier,
      pacer,
      logger: log.child({ component: 'supplier' }),
    });
    const stores = config.storefronts.map((s) => createStore(s, openDbHandle, log));
    const job = new InventoryJob((cycleOpts) =>
      runInventoryCycle(
        {
          db: openDbHandle,
          supplier,
          supplierCalls: () => supplier.stats.calls,
          stores,
          weights: new Map(config.storefronts.map((s) => [s.name, s.weight])),
          catalog: {
            mapping: { template: config.catalog.skuTemplate, overrides: config.catalog.skuOverrides },
            reserve: config.catalog.reserve,
            allocation: config.catalog.allocation,
            guard: config.catalog.guard,
          },
          log,
        },
        cycleOpts,
      ),
    );
    return {
      config,
      db,
      log,
      supplier,
      stores,
      job,
      sandbox,
      async close() {
        await job.idle();
        await Promise.allSettled(stores.map((s) => s.close()));
        releaseRunLock(openDbHandle);
        openDbHandle.close();
        await sandbox?.stop();
      },
    };
  } catch (e) {
    db?.close();
    await sandbox?.stop();
    throw e;
  }
}
