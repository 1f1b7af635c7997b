import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli } from '../helpers/cli-process.js';
import { startCliSyncSession, storeReport } from '../helpers/cli-sync-session.js';
import { syncConfigDocument, writeSyncConfig } from '../helpers/e2e-config.js';
import { findSecrets, sqliteFiles } from '../helpers/secret-leak-scan.js';
import { storeCheckpoint } from '../helpers/sqlite-peek.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * The CLI's other commands as a user runs them, with no daemon: `sync --dry-run`,
 * `resync --store`, `config check`, and the bin from another working directory.
 */

vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

// One world and one database for the whole file (each test leaves the shops in step): fewer
// process starts. Two WooCommerce shops, so `resync --store` can show it touches one only.
let session: Awaited<ReturnType<typeof startCliSyncSession>>;
const cleanups: (() => void)[] = [];
beforeAll(async () => {
  session = await startCliSyncSession(['shop-a', 'shop-b']);
  const first = await session.sync();
  if (first.res.code !== 0) throw new Error(`initial sync failed: ${first.res.stderr}`);
});
afterAll(async () => {
  for (const c of cleanups) c();
  await session?.cleanup();
});

describe('sync --dry-run', () => {
  it('prints the plan and pushes nothing: the shop is only read, the change stays pending', async () => {
    const { world, sync, cli, dbFile } = session;
    const shop = world.wooShop('shop-a').fake;
    const sku = world.skus[9] as string;
    const was = shop.productBySku(sku)?.stock_quantity;
    world.setQty(sku, 3);
    const requestsBefore = shop.requests.length;
    const writesBefore = shop.writeCalls;

    const dry = await sync('--dry-run');
    expect(dry.res.code).toBe(0);
    expect(dry.report.outcome).toBe('dry-run');
    expect(storeReport(dry.report, 'shop-a')?.plan).toEqual([
      expect.objectContaining({ sku, quantity: 3, previous: was }),
    ]);
    expect(shop.writeCalls).toBe(writesBefore);
    // It read the shop (what it shows now), and only read.
    expect(shop.requests.slice(requestsBefore).map((r) => r.method)).toContain('GET');
    expect(shop.requests.slice(requestsBefore).every((r) => r.method === 'GET')).toBe(true);
    expect(shop.productBySku(sku)?.stock_quantity).toBe(was);
    expect(storeCheckpoint(dbFile, 'shop-a').get(sku)).toBe(was);

    // The human form names the change too.
    const text = await cli(['sync', '--dry-run']);
    expect(text.stdout).toContain(`${sku}: ${was} → 3`);
    expect(shop.writeCalls).toBe(writesBefore);

    // It was really pending: a real sync pushes it.
    const real = await sync();
    expect(storeReport(real.report, 'shop-a')).toMatchObject({ planned: 1, acknowledged: 1 });
    expect(shop.productBySku(sku)?.stock_quantity).toBe(3);
  });
});

describe('resync --store', () => {
  it('pushes every SKU to that store only, repairing drift the checkpoint cannot see', async () => {
    const { world, sync, cli, dbFile, output } = session;
    const a = world.wooShop('shop-a').fake;
    const b = world.wooShop('shop-b').fake;
    // A merchant edits stock by hand in both shops: a normal sync does not notice.
    for (const fake of [a, b]) {
      for (const sku of world.skus.slice(0, 3))
        fake.catalog.setStock(fake.productBySku(sku)?.id as number, 999);
    }
    const quiet = await sync();
    expect(storeReport(quiet.report, 'shop-a')?.planned).toBe(0);
    a.resetCounters();
    b.resetCounters();

    const res = await cli(['resync', '--store', 'shop-a', '--json']);
    expect(res.code, res.stderr).toBe(0);
    const report = JSON.parse(res.stdout) as {
      outcome: string;
      stores: { store: string; acknowledged: number }[];
    };
    expect(report.outcome).toBe('pushed');
    expect(report.stores).toEqual([
      expect.objectContaining({ store: 'shop-a', acknowledged: world.skus.length }),
    ]);
    expect(world.wooDrift('shop-a')).toEqual([]);
    // 8 variations of one parent + 4 simple products: the minimum, one batch each.
    expect(a.writeCalls).toBe(2);
    // shop-b got no product request at all (order intake may still read it); its hand edits are still there.
    expect(
      b.requests.filter((r) => /^products/.test(r.route)),
      JSON.stringify(b.requests),
    ).toEqual([]);
    expect(world.wooDrift('shop-b')).toEqual(world.skus.slice(0, 3));
    // Progress went to stderr.
    expect(res.stderr).toMatch(new RegExp(`shop-a: ${world.skus.length}/${world.skus.length}`));

    const unknown = await cli(['resync', '--store', 'nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/--store: no store named "nope"/);
    expect(
      findSecrets(world.allSecrets(), [{ label: 'output', text: output.text }, ...sqliteFiles(dbFile)]),
    ).toEqual([]);
  });
});

describe('config check', () => {
  it('exits 2 on a bad config, naming the key; prints a good one with its secrets masked', async () => {
    const { world, secrets, dir, configPath } = session;
    const good = await runCli(['config', 'check', '--config', configPath]);
    expect(good.code).toBe(0);
    expect(good.stdout).toContain(`${configPath}: valid`);
    const printed = JSON.parse(good.stdout.slice(good.stdout.indexOf('\n') + 1)) as {
      supplier: { apiKey: string; baseUrl: string };
      server: { adminToken: string };
      storefronts: { consumerSecret: string; url: string }[];
    };
    expect(printed.supplier.baseUrl).toBe(world.supplierUrl);
    expect(printed.supplier.apiKey).toMatch(/…\(set\)$|^\*\*\*$/);
    expect(printed.server.adminToken).toMatch(/…\(set\)$|^\*\*\*$/);
    expect(printed.storefronts[0]?.consumerSecret).toMatch(/…\(set\)$|^\*\*\*$/);
    expect(
      findSecrets(world.allSecrets(), [{ label: 'config check', text: good.stdout + good.stderr }]),
    ).toEqual([]);

    const doc = syncConfigDocument({
      supplierUrl: world.supplierUrl,
      secrets,
      storefronts: world.storefronts(),
    });
    const badDir = path.join(dir, 'bad');
    const badType = writeSyncConfig(badDir, {
      ...doc,
      supplier: { ...(doc.supplier as object), requestsPerMinute: 'lots' },
    });
    const bad = await runCli(['config', 'check', '--config', badType]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/supplier\.requestsPerMinute/);
    expect(bad.stdout).toBe('');

    const typo = writeSyncConfig(path.join(dir, 'typo'), { ...doc, catalog: { reserv: 1 } });
    const unknown = await runCli(['config', 'check', '--config', typo]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/catalog\.reserv: unknown key/);
    for (const r of [bad, unknown])
      expect(findSecrets(world.allSecrets(), [{ label: 'bad', text: r.stderr }])).toEqual([]);
  });
});

describe('the bin from another working directory', () => {
  it('finds the config by --config or $SYNC_CONFIG, and the database beside the config, not in the cwd', async () => {
    const { world, configPath } = session;
    const elsewhere = tempDir('cwd');
    cleanups.push(elsewhere.remove);

    const byFlag = await runCli(['status', '--json', '--config', configPath], { cwd: elsewhere.dir });
    expect(byFlag.code, byFlag.stderr).toBe(0);
    expect(JSON.parse(byFlag.stdout).inventory.entries).toBe(world.skus.length);

    const byEnv = await runCli(['status', '--json'], {
      cwd: elsewhere.dir,
      env: { SYNC_CONFIG: configPath },
    });
    expect(byEnv.code, byEnv.stderr).toBe(0);
    expect(JSON.parse(byEnv.stdout).inventory.entries).toBe(world.skus.length);

    // A mutating command too, from /tmp itself.
    world.setQty(world.skus[0] as string, 1);
    const syncFromTmp = await runCli(['sync'], { cwd: '/tmp', env: { SYNC_CONFIG: configPath } });
    expect(syncFromTmp.code, syncFromTmp.stderr).toBe(0);
    expect(world.wooDrift('shop-a')).toEqual([]);
    expect(readdirSync(elsewhere.dir)).toEqual([]);

    // No config where it looks by default: a clear usage error, exit 2.
    const none = await runCli(['status'], { cwd: elsewhere.dir });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/sync\.config\.yaml/);
    expect(existsSync(path.join(elsewhere.dir, 'data'))).toBe(false);
  });
});
