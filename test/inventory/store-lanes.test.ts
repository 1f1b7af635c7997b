import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { migrate, openDb } from '../../src/db/open.js';
import { loadCheckpoint } from '../../src/inventory/checkpoints.js';
import { runInventoryCycle, StoreLanes } from '../../src/inventory/sync-inventory.js';
import { silentLogger } from '../../src/log.js';
import type { PushOutcome, StockTarget, Storefront } from '../../src/storefront.js';
import { tempDir } from '../helpers/temp-dir.js';

/** A storefront double at the port (no shop library involved): acknowledges all, or hangs until released. */
function store(name: string): Storefront & { release: () => void; pushes: number } {
  let release = () => {};
  let gate: Promise<void> | null = null;
  const s = {
    name,
    type: 'test',
    requests: { reads: 0, writes: 0 },
    pushes: 0,
    release: () => release(),
    hang() {
      gate = new Promise<void>((r) => {
        release = r;
      });
    },
    async pushStock(targets: StockTarget[]): Promise<PushOutcome> {
      s.pushes++;
      if (gate) await gate;
      return {
        acknowledged: targets,
        missing: [],
        duplicate: [],
        failed: [],
        calls: { reads: 0, writes: 1 },
      };
    },
    async readStock(skus: readonly string[]) {
      return {
        quantities: skus.map((sku) => ({ sku, quantity: 0 })),
        missing: [],
        duplicate: [],
        failed: [],
        calls: { reads: 1, writes: 0 },
      };
    },
    async checkAccess() {
      return { verdict: 'ok' as const, detail: 'test store' };
    },
    async close() {},
  };
  return s;
}

describe('per-store lanes', () => {
  it('a scheduled cycle does not wait for a hanging store, and never pushes to it twice at once', async () => {
    const db = openDb(path.join(tempDir('lanes').dir, 'sync.db'));
    migrate(db);
    const slow = store('slow');
    const fast = store('fast');
    (slow as unknown as { hang: () => void }).hang();
    let qty = 5;
    const deps = {
      db,
      supplier: {
        getInventory: async () => ({
          updatedAt: new Date().toISOString(),
          items: [{ region: 'US', denomination: 50, currency: 'USD', priceCents: 4625, qty }],
        }),
      },
      supplierCalls: () => 0,
      stores: [slow, fast],
      weights: new Map(),
      catalog: {
        mapping: { template: 'PSN-{region}-{denomination}', overrides: {} },
        reserve: 0,
        allocation: 'shared' as const,
        guard: { maxZeroShare: 0.5, minEntries: 10, recheckSeconds: 0 },
      },
      log: silentLogger(),
      lanes: new StoreLanes(),
      laneWaitMs: 50,
    };
    const first = await runInventoryCycle(deps, { scheduled: true });
    expect(first.stores.find((s) => s.store === 'slow')?.lane).toBe('in-flight');
    expect(loadCheckpoint(db, 'fast').get('psn-us-50')).toBe(5);
    qty = 7;
    const second = await runInventoryCycle(deps, { scheduled: true });
    expect(second.stores.find((s) => s.store === 'slow')?.lane).toBe('busy');
    expect(loadCheckpoint(db, 'fast').get('psn-us-50')).toBe(7);
    expect(slow.pushes).toBe(1);
    slow.release();
    await deps.lanes.idle();
    expect(loadCheckpoint(db, 'slow').get('psn-us-50')).toBe(5);
    // The next tick brings the slow store up to date from its own checkpoint.
    await runInventoryCycle(deps, { scheduled: true });
    expect(loadCheckpoint(db, 'slow').get('psn-us-50')).toBe(7);
    db.close();
  });
});
