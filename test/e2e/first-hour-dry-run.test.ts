import { existsSync, readdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { OutputLog, runCli } from '../helpers/cli-process.js';
import { newSecrets, writeSyncConfig } from '../helpers/e2e-config.js';
import { findSecrets } from '../helpers/secret-leak-scan.js';
import { makeLoopbackCert } from '../helpers/self-signed-cert.js';
import { SyncWorld } from '../helpers/sync-world.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * `sync --dry-run` before going live: it reads each shop (the current quantity of every SKU it
 * would write) and shows `current → target`, names SKUs the shop lacks or carries twice, and
 * creates nothing — no database file, no lock. A shop it cannot reach is said so, exit 1.
 */

vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

const secrets = newSecrets();
const output = new OutputLog();
let world: SyncWorld;
let tmp: ReturnType<typeof tempDir>;
let certFile: string;

beforeAll(async () => {
  tmp = tempDir('dry-run');
  const cert = makeLoopbackCert(tmp.dir);
  certFile = cert.certFile;
  world = await SyncWorld.start({
    secrets,
    entries: 12,
    wooShops: ['woo'],
    shopify: { name: 'shopify', cert },
  });
});
afterAll(async () => {
  await world?.stop();
  tmp?.remove();
});

const dryRun = (configPath: string) =>
  runCli(['sync', '--dry-run', '--config', configPath], {
    log: output,
    env: { NODE_EXTRA_CA_CERTS: certFile },
  });

describe('sync --dry-run against a fresh live config', () => {
  it('shows current → target read from each shop, names a missing SKU, and creates no database', async () => {
    const woo = world.wooShop('woo').fake;
    const shown = world.skus[3] as string;
    const missing = world.skus[11] as string;
    woo.catalog.setStock(woo.catalog.productIdBySku(shown) as number, 5);
    woo.deleteProduct(woo.productBySku(missing)?.id as number);
    woo.resetCounters();
    world.shopify?.fake.resetStats();
    const dir = path.join(tmp.dir, 'fresh');
    const configPath = writeSyncConfig(dir, {
      supplierUrl: world.supplierUrl,
      secrets,
      storefronts: world.storefronts(),
    });

    const res = await dryRun(configPath);
    expect(res.code, res.stderr).toBe(0);
    const targets = world.targets();
    const wooPart = res.stdout.slice(res.stdout.indexOf('woo:'), res.stdout.indexOf('shopify:'));
    const shopifyPart = res.stdout.slice(res.stdout.indexOf('shopify:'));
    expect(wooPart).toContain(`${shown}: 5 → ${targets.get(shown)}`);
    expect(wooPart).toContain(`not in shop: ${missing}`);
    expect(wooPart).not.toContain(`${missing}: `);
    expect(shopifyPart).toContain(`${shown}: 0 → ${targets.get(shown)}`);

    // Read, never written; nothing created beside the config.
    expect(woo.readCalls).toBeGreaterThan(0);
    expect(woo.writeCalls).toBe(0);
    expect(woo.productBySku(shown)?.stock_quantity).toBe(5);
    expect(world.shopify?.fake.mutationCount('inventorySetQuantities')).toBe(0);
    expect(world.shopify?.fake.quantity(shown)).toBe(0);
    expect(readdirSync(dir)).toEqual(['sync.config.yaml']);
  });

  it('says a shop on a closed port is unreachable, naming it, and exits non-zero', async () => {
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const woo = world.wooShop('woo').entry;
    const dir = path.join(tmp.dir, 'closed');
    const configPath = writeSyncConfig(dir, {
      supplierUrl: world.supplierUrl,
      secrets,
      storefronts: [{ ...woo, name: 'shop-closed', url: `http://127.0.0.1:${port}` }],
    });

    const res = await dryRun(configPath);
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/shop-closed: unreachable/);
    expect(res.stdout).not.toMatch(/→/);
    expect(existsSync(path.join(dir, 'data'))).toBe(false);
  });
});

afterAll(() => {
  expect(findSecrets(world.allSecrets(), [{ label: 'output', text: output.text }])).toEqual([]);
});
