import { afterEach, describe, expect, it, vi } from 'vitest';
import { startCliSyncSession, storeReport } from '../helpers/cli-sync-session.js';
import { findSecrets, sqliteFiles } from '../helpers/secret-leak-scan.js';
import { openAlertKeys, storeCheckpoint } from '../helpers/sqlite-peek.js';

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
 * `psnb2b-sync sync` run by run, with no daemon (each command takes the lock in-process): a store
 * down for two runs catches up exactly from its own checkpoint (what it acknowledged), not from
 * the last pull.
 */

describe('a store down for two runs', () => {
  it('catches up exactly from what it acknowledged, while the other store took every run', async () => {
    const { world, dbFile, output, sync } = await setup(['shop-a', 'shop-b']);
    const first = await sync();
    expect(first.res.code).toBe(0);
    expect(world.wooDrift('shop-a')).toEqual([]);
    expect(world.wooDrift('shop-b')).toEqual([]);
    const before = new Map(world.targets());
    // Indices 0–7 are US (variations of one variable product), 8–11 GB (simple products).
    const [s1, s2, s3, s4] = [1, 2, 9, 10].map((i) => world.skus[i]) as [string, string, string, string];

    const a = world.wooShop('shop-a').fake;
    await a.setDown('refuse');
    // Run 1: three changes.
    world.setQty(s1, 7);
    world.setQty(s2, 0);
    world.setQty(s3, 55);
    const run1 = await sync();
    expect(run1.res.code).toBe(1);
    expect(storeReport(run1.report, 'shop-a')).toMatchObject({ planned: 3, acknowledged: 0, failed: 3 });
    expect(storeReport(run1.report, 'shop-b')).toMatchObject({ planned: 3, acknowledged: 3 });
    expect(openAlertKeys(dbFile)).toContain('store-push:shop-a');
    // Run 2: one change undone, one more.
    world.setQty(s1, before.get(s1) as number);
    world.setQty(s4, 9);
    const run2 = await sync();
    expect(run2.res.code).toBe(1);
    expect(storeReport(run2.report, 'shop-a')).toMatchObject({ planned: 3, acknowledged: 0 });
    expect(storeReport(run2.report, 'shop-b')).toMatchObject({ planned: 2, acknowledged: 2 });
    // Nothing reached shop-a; its checkpoint still holds what it last acknowledged.
    expect(world.wooStock('shop-a')).toEqual(before);
    expect(storeCheckpoint(dbFile, 'shop-a')).toEqual(before);

    await a.setDown(false);
    a.resetCounters();
    const run3 = await sync();
    expect(run3.res.code).toBe(0);
    // Exactly the difference between its checkpoint and the target: s2, s3, s4 — not s1 (back
    // where the shop already was), and nothing for shop-b (up to date).
    expect(storeReport(run3.report, 'shop-a')).toMatchObject({ planned: 3, acknowledged: 3, failed: 0 });
    expect(storeReport(run3.report, 'shop-b')).toMatchObject({ planned: 0 });
    expect(world.wooDrift('shop-a')).toEqual([]);
    expect(world.wooDrift('shop-b')).toEqual([]);
    expect(storeCheckpoint(dbFile, 'shop-a')).toEqual(world.targets());
    // s2 is a variation, s3/s4 simple products: one variations/batch + one products/batch, the minimum.
    expect(a.writeCalls).toBe(2);
    expect(openAlertKeys(dbFile)).not.toContain('store-push:shop-a');
    expect(
      findSecrets(world.allSecrets(), [{ label: 'output', text: output.text }, ...sqliteFiles(dbFile)]),
    ).toEqual([]);
  });
});
