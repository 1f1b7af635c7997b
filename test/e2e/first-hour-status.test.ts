import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { OutputLog, runCli } from '../helpers/cli-process.js';
import { newSecrets, syncConfigDocument, writeSyncConfig } from '../helpers/e2e-config.js';
import { findSecrets } from '../helpers/secret-leak-scan.js';
import { SyncWorld } from '../helpers/sync-world.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * `status` and the sync reports as an operator reads them: SKUs by name rather than counts,
 * a product added in the shop picked up at once, a failed store never reported as `pushed`,
 * and `status` working with none of the live secrets in the shell.
 */

vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

interface StatusJson {
  inventory: { lastOutcome: string | null };
  storefronts: {
    name: string;
    missing: number;
    unmatched: number;
    missingSkus: string[];
    duplicateSkus: string[];
    lastError: string | null;
  }[];
}

let world: SyncWorld;
let tmp: ReturnType<typeof tempDir>;
let configPath: string;
const output = new OutputLog();
const secrets = newSecrets();
/** Every secret of the config comes from the environment, as a live config does. */
const liveEnv: Record<string, string> = {};

const ref = (name: string, value: string) => {
  liveEnv[name] = value;
  return `\${${name}}`;
};
const cli = (args: string[], env: Record<string, string | null> = liveEnv) =>
  runCli([...args, '--config', configPath], { log: output, env });
const withoutSecrets = Object.fromEntries(Object.keys(liveEnv).map((k) => [k, null]));

let missingSku: string;
let duplicateSku: string;

beforeAll(async () => {
  world = await SyncWorld.start({ secrets, entries: 12, wooShops: ['shop-a', 'shop-b'] });
  tmp = tempDir('status');
  const doc = syncConfigDocument({
    supplierUrl: world.supplierUrl,
    secrets,
    storefronts: world.woo.map((w, i) => ({
      ...w.entry,
      consumerKey: ref(`FH_WC_KEY_${i}`, w.entry.consumerKey),
      consumerSecret: ref(`FH_WC_SECRET_${i}`, w.entry.consumerSecret),
    })),
  });
  configPath = writeSyncConfig(path.join(tmp.dir, 'live'), {
    ...doc,
    supplier: { ...(doc.supplier as object), apiKey: ref('FH_PSN_KEY', secrets.supplierApiKey) },
    codesKey: ref('FH_CODES_KEY', secrets.codesKey),
    server: { host: '127.0.0.1', port: 0, adminToken: ref('FH_ADMIN', secrets.adminToken) },
  });
  // shop-a lacks one product (a simple one) and carries another SKU twice.
  const a = world.wooShop('shop-a').fake;
  missingSku = world.skus[11] as string;
  duplicateSku = world.skus[10] as string;
  a.deleteProduct(a.productBySku(missingSku)?.id as number);
  a.addSimple({ sku: duplicateSku, stock: 0 });
});
afterAll(async () => {
  await world?.stop();
  tmp?.remove();
});

describe('status and sync name SKUs', () => {
  it('lists the missing and duplicate SKUs by name, in status --json, status and the sync report', async () => {
    const sync = await cli(['sync']);
    expect(sync.code, sync.stderr).toBe(0);
    expect(sync.stdout).toContain(`not in shop: ${missingSku}`);
    expect(sync.stdout).toContain(`duplicate SKU: ${duplicateSku}`);

    const json = await cli(['status', '--json']);
    expect(json.code, json.stderr).toBe(0);
    const a = (JSON.parse(json.stdout) as StatusJson).storefronts.find((s) => s.name === 'shop-a');
    expect(a).toMatchObject({
      missing: 1,
      unmatched: 1,
      missingSkus: [missingSku],
      duplicateSkus: [duplicateSku],
    });
    const text = await cli(['status']);
    expect(text.stdout).toContain(missingSku);
    expect(text.stdout).toContain(duplicateSku);
  });

  it('status needs none of the live secrets in the environment', async () => {
    const res = await cli(['status', '--json'], withoutSecrets);
    expect(res.code, res.stderr).toBe(0);
    expect((JSON.parse(res.stdout) as StatusJson).storefronts.map((s) => s.name).sort()).toEqual([
      'shop-a',
      'shop-b',
    ]);
    const text = await cli(['status'], withoutSecrets);
    expect(text.code, text.stderr).toBe(0);
  });

  it('a product added in the shop is picked up by the next sync, and resync re-checks at once', async () => {
    const a = world.wooShop('shop-a').fake;
    a.addSimple({ sku: missingSku, stock: 0 });
    const sync = await cli(['sync', '--json']);
    expect(sync.code, sync.stderr).toBe(0);
    expect(a.productBySku(missingSku)?.stock_quantity).toBe(world.targets().get(missingSku));

    // The duplicate is fixed in the shop; resync (which plans every SKU) asks again at once.
    const extra = a.catalog.productsBySku(duplicateSku).at(-1);
    a.deleteProduct(extra?.id as number);
    const resync = await cli(['resync', '--store', 'shop-a', '--json']);
    expect(resync.code, resync.stderr).toBe(0);
    expect(a.productBySku(duplicateSku)?.stock_quantity).toBe(world.targets().get(duplicateSku));
    const status = JSON.parse((await cli(['status', '--json'])).stdout) as StatusJson;
    expect(status.storefronts.find((s) => s.name === 'shop-a')).toMatchObject({
      missingSkus: [],
      duplicateSkus: [],
    });
  });
});

describe('a store that failed', () => {
  it('makes the run partial, not pushed, and status shows it first', async () => {
    const b = world.wooShop('shop-b').fake;
    await b.setDown('refuse');
    try {
      world.setQty(world.skus[0] as string, 2);
      const sync = await cli(['sync', '--json']);
      expect(sync.code).toBe(1);
      expect((JSON.parse(sync.stdout) as { outcome: string }).outcome).toBe('partial');
      const status = JSON.parse((await cli(['status', '--json'])).stdout) as StatusJson;
      expect(status.inventory.lastOutcome).toBe('partial');
      expect(status.storefronts[0]?.name).toBe('shop-b');
      expect(status.storefronts[0]?.lastError).toBeTruthy();
      const text = (await cli(['status'])).stdout;
      expect(text.indexOf('shop-b')).toBeLessThan(text.indexOf('shop-a'));
    } finally {
      await b.setDown(false);
    }
  });
});

afterAll(() => {
  expect(findSecrets(world.allSecrets(), [{ label: 'output', text: output.text }])).toEqual([]);
});
