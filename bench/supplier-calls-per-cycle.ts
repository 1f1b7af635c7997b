import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { formatSku } from '../config/sku-template.js';
import { SandboxSupplier } from '../fakes/psnb2b/supplier-server.js';
import { FakeWooCommerce } from '../fakes/woocommerce/fake-woocommerce.js';
import { migrate, openDb } from '../src/db/open.js';
import { sqliteSkuCache } from '../src/db/sku-cache-table.js';
import { runInventoryCycle } from '../src/inventory/sync-inventory.js';
import { silentLogger } from '../src/log.js';
import { Pacer } from '../src/supplier/pacer.js';
import { Psnb2bClient } from '../src/supplier/psnb2b-client.js';
import { benchWooStore, SKU_TEMPLATE } from './bench-support.js';

/**
 * Supplier requests per inventory cycle: `runInventoryCycle` with the real client, pacer and a
 * SQLite file against the sandbox supplier over HTTP, the catalogue drifting between cycles.
 * Counted by the supplier itself (its ledger), not by the client.
 */

export interface SupplierCallsResult {
  entries: number;
  cycles: number;
  perCycle: number[];
  guardRechecks: number;
  rateLimited: number;
  pushedPerCycle: number[];
}

export async function benchSupplierCalls(entries: number, cycles: number): Promise<SupplierCallsResult> {
  const dir = mkdtempSync(path.join(tmpdir(), 'psnb2b-bench-'));
  const apiKey = 'psn_bench_0123456789abcdef';
  const supplier = new SandboxSupplier({ apiKey, entries, seed: 11 });
  const baseUrl = await supplier.start();
  const fake = new FakeWooCommerce();
  await fake.start();
  fake.seedCatalog(
    supplier.catalog().map((e) => formatSku(SKU_TEMPLATE, e)),
    { stock: 0 },
  );
  const db = openDb(path.join(dir, 'sync.db'));
  migrate(db);
  const log = silentLogger();
  const pacer = new Pacer({ db, limits: { general: 60, bulk: 10 } });
  const client = new Psnb2bClient({
    config: {
      baseUrl,
      apiKey,
      honoursIdempotencyKeys: false,
      timeoutMs: 20_000,
      maxAttempts: 5,
    },
    pacer,
    logger: log,
  });
  const store = benchWooStore(fake, { log, cache: sqliteSkuCache(db, 'bench-woo') });
  const deps = {
    db,
    supplier: client,
    supplierCalls: () => client.stats.calls,
    stores: [store],
    weights: new Map([['bench-woo', 1]]),
    catalog: {
      mapping: { template: SKU_TEMPLATE, overrides: {} },
      reserve: 0,
      allocation: 'shared' as const,
      guard: { maxZeroShare: 0.5, minEntries: 10, recheckSeconds: 0 },
    },
    log,
  };
  const perCycle: number[] = [];
  const pushedPerCycle: number[] = [];
  let guardRechecks = 0;
  try {
    for (let c = 0; c < cycles; c++) {
      if (c > 0) supplier.drift();
      const before = supplier.ledger().requests['GET /inventory'];
      const report = await runInventoryCycle(deps);
      const calls = supplier.ledger().requests['GET /inventory'] - before;
      if (report.note) guardRechecks++;
      perCycle.push(calls);
      pushedPerCycle.push(report.stores.reduce((a, s) => a + s.acknowledged, 0));
    }
    return {
      entries,
      cycles,
      perCycle,
      guardRechecks,
      rateLimited: supplier.ledger().rateLimited,
      pushedPerCycle,
    };
  } finally {
    await store.close();
    db.close();
    await fake.stop();
    await supplier.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
