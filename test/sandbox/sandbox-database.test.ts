import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfigFile } from '../../src/config-file.js';
import { openDb } from '../../src/db/open.js';
import { ordersStatus } from '../../src/fulfillment/orders-report.js';
import { silentLogger } from '../../src/log.js';
import { openRuntime } from '../../src/main.js';
import { startFulfillmentWorld } from '../helpers/fulfillment-world.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * The sandbox starts from an empty database on every start, so it must never be given a live
 * one: it keeps its own file, marked as a sandbox database inside, and refuses any other.
 */

const REPO_CONFIG = fileURLToPath(new URL('../../sync.config.yaml', import.meta.url));
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const digest = (f: string) =>
  existsSync(f) ? createHash('sha256').update(readFileSync(f)).digest('hex') : null;
const fingerprint = (f: string) => [digest(f), digest(`${f}-wal`)];

/** A live database (no sandbox) with one delivered order, closed as a stopped daemon leaves it. */
async function liveDatabaseWithDeliveries(): Promise<{ dir: string; dbFile: string }> {
  const world = await startFulfillmentWorld();
  cleanups.push(() => world.close().catch(() => undefined));
  world.shop.placeOrder({ lines: [{ sku: world.skus[0] as string, quantity: 1 }] });
  await world.until(() => ordersStatus(world.runtime.db).orders.delivered === 1, 'delivered');
  // Only the runtime: the world's close (after the test) takes its folder with it.
  await world.runtime.close();
  return { dir: world.dir, dbFile: world.dbFile };
}

function delivered(dbFile: string): number {
  const db = openDb(dbFile, { readonly: true });
  try {
    return ordersStatus(db).orders.delivered;
  } finally {
    db.close();
  }
}

describe('the sandbox never touches live data', () => {
  it('pointed at a live database it refuses, names the file, and leaves it byte-identical', async () => {
    const live = await liveDatabaseWithDeliveries();
    const before = fingerprint(live.dbFile);
    const config = path.join(live.dir, 'sandbox.yaml');
    writeFileSync(
      config,
      stringify({ sandbox: { dataDir: './sb', shopperSeconds: 0 }, database: './sync.db' }),
    );
    const err = await openRuntime(loadConfigFile(config), silentLogger()).then(
      (r) => r.close().then(() => null),
      (e: Error) => e,
    );
    expect(err?.message).toContain(live.dbFile);
    expect(err?.message).toMatch(/not a sandbox database/);
    expect(fingerprint(live.dbFile)).toEqual(before);
    expect(delivered(live.dbFile)).toBe(1);
  }, 60_000);

  it("the repo's default config beside a live ./data/sync.db runs on its own sandbox file", async () => {
    const live = await liveDatabaseWithDeliveries();
    const tmp = tempDir('default-config');
    cleanups.push(tmp.remove);
    mkdirSync(path.join(tmp.dir, 'data'));
    const liveFile = path.join(tmp.dir, 'data', 'sync.db');
    copyFileSync(live.dbFile, liveFile);
    const before = fingerprint(liveFile);
    const config = path.join(tmp.dir, 'sync.config.yaml');
    copyFileSync(REPO_CONFIG, config);
    // Twice: the second start resets the sandbox's own (marked) database, and only that.
    for (let i = 0; i < 2; i++) {
      const runtime = await openRuntime(loadConfigFile(config), silentLogger());
      expect(runtime.sandbox).not.toBeNull();
      await runtime.job.run({});
      await runtime.close();
    }
    expect(fingerprint(liveFile)).toEqual(before);
    expect(delivered(liveFile)).toBe(1);
  }, 60_000);

  it('a live config pointed at the sandbox database refuses it too (the next sandbox start would reset it)', async () => {
    const tmp = tempDir('sandbox-db');
    cleanups.push(tmp.remove);
    const sbConfig = path.join(tmp.dir, 'sandbox.yaml');
    writeFileSync(sbConfig, stringify({ sandbox: { shopperSeconds: 0 }, database: './data/sandbox.db' }));
    const sb = await openRuntime(loadConfigFile(sbConfig), silentLogger());
    const supplierUrl = sb.config.supplier.baseUrl;
    const shop = sb.config.storefronts[0];
    const liveConfig = path.join(tmp.dir, 'live.yaml');
    writeFileSync(
      liveConfig,
      stringify({
        supplier: { baseUrl: supplierUrl, apiKey: sb.config.supplier.apiKey },
        storefronts: [shop],
        database: './data/sandbox.db',
      }),
    );
    await sb.close();
    const err = await openRuntime(loadConfigFile(liveConfig), silentLogger()).then(
      (r) => r.close().then(() => null),
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/is a sandbox database/);
  }, 60_000);
});
