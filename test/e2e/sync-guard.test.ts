import { afterEach, describe, expect, it, vi } from 'vitest';
import { startCliSyncSession } from '../helpers/cli-sync-session.js';
import type { SyncWorld } from '../helpers/sync-world.js';
import { waitUntil } from '../helpers/wait-until.js';

vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function setup(wooShops: string[]) {
  const session = await startCliSyncSession(wooShops);
  cleanups.push(session.cleanup);
  return session;
}

/**
 * The destructive-update guard through the CLI, with no daemon: a pull that zeroes most of the
 * catalogue is confirmed by a second pull (1 s later) before anything is pushed. The test
 * changes the supplier between the two pulls, which it sees in the supplier's own ledger.
 */

describe('the destructive-update guard', () => {
  /** Zeroes the first `n` entries at the supplier (7 of 12 is over the 0.5 share). */
  const zeroFirst = (world: SyncWorld, n: number, from = 0) => {
    for (const sku of world.skus.slice(from, from + n)) world.setQty(sku, 0);
  };
  /** Resolves once the supplier has answered (dispatched) one more inventory pull. */
  const nextPull = async (world: SyncWorld) => {
    const n = world.supplier.ledger().requests['GET /inventory'];
    return () =>
      waitUntil(() => world.supplier.ledger().requests['GET /inventory'] > n, {
        intervalMs: 5,
        what: 'a pull',
      });
  };

  it('a single bad pull is never pushed: the confirming pull is healthy, and that one is pushed', async () => {
    const { world, sync } = await setup(['shop-a']);
    await sync();
    const healthy = new Map(world.targets());
    const pullsBefore = world.supplier.ledger().requests['GET /inventory'];
    zeroFirst(world, 8);
    const firstPull = await nextPull(world);
    const running = sync();
    await firstPull();
    // The glitch is over before the confirming pull (1 s later).
    for (const [sku, q] of healthy) world.setQty(sku, q);
    const { res, report } = await running;
    expect(res.code).toBe(0);
    expect(report.outcome).toBe('pushed');
    expect(report.note).toMatch(/not confirmed/);
    expect(world.supplier.ledger().requests['GET /inventory'] - pullsBefore).toBe(2);
    expect(world.wooStock('shop-a')).toEqual(healthy);
  });

  it('two agreeing pulls are pushed: the shop shows the zeros', async () => {
    const { world, sync } = await setup(['shop-a']);
    await sync();
    zeroFirst(world, 8);
    const { res, report } = await sync();
    expect(res.code).toBe(0);
    expect(report.outcome).toBe('pushed');
    expect(report.note).toMatch(/confirmed by a second pull/);
    expect(world.wooDrift('shop-a')).toEqual([]);
    expect([...world.wooStock('shop-a').values()].filter((q) => q === 0)).toHaveLength(8);
  });

  it('two disagreeing pulls hold the push with an alert in status, until `sync --force`', async () => {
    const { world, sync, cli } = await setup(['shop-a']);
    await sync();
    const shown = new Map(world.wooStock('shop-a'));
    zeroFirst(world, 8);
    const firstPull = await nextPull(world);
    const running = sync();
    await firstPull();
    // The second pull zeroes a different set.
    for (const sku of world.skus.slice(0, 8)) world.setQty(sku, 5);
    zeroFirst(world, 8, 4);
    const { res, report } = await running;
    expect(report.outcome).toBe('held');
    expect(res.stdout).toMatch(/sync --force/);
    expect(world.wooStock('shop-a')).toEqual(shown);

    const status = JSON.parse((await cli(['status', '--json'])).stdout) as {
      alerts: { kind: string; since: string; detail: string }[];
    };
    const alert = status.alerts.find((a) => a.kind === 'inventory-guard');
    expect(alert?.detail).toMatch(/disagree/);
    expect(Number.isNaN(Date.parse(alert?.since ?? ''))).toBe(false);

    const forced = await sync('--force');
    expect(forced.res.code).toBe(0);
    expect(forced.report.outcome).toBe('pushed');
    expect(world.wooDrift('shop-a')).toEqual([]);
    const after = JSON.parse((await cli(['status', '--json'])).stdout) as {
      alerts: { kind: string }[];
    };
    expect(after.alerts.map((a) => a.kind)).not.toContain('inventory-guard');
  });
});
