import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type DaemonProcess, OutputLog, runCli, startDaemonProcess } from '../helpers/cli-process.js';
import { databaseFile, newSecrets, writeSyncConfig } from '../helpers/e2e-config.js';
import { rawRequest } from '../helpers/raw-http.js';
import { findSecrets, sqliteFiles } from '../helpers/secret-leak-scan.js';
import { checkpointAckedAt, lockHolder, storeCheckpoint, syncRuns } from '../helpers/sqlite-peek.js';
import { SyncWorld } from '../helpers/sync-world.js';
import { tempDir } from '../helpers/temp-dir.js';
import { waitUntil } from '../helpers/wait-until.js';

/**
 * `psnb2b-sync run` as a child process against the sandbox supplier and a strict fake
 * WooCommerce shop on loopback: the schedule, the admin API, the run lock across `kill -9`,
 * a graceful SIGTERM, `status --json`, and no secret anywhere in what it wrote.
 */

const TICK_MS = 1_000;

// Child processes on a shared 2-core machine: generous per-test budgets, deadlines inside.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

describe('the daemon as a child process', () => {
  const secrets = newSecrets();
  const tmp = tempDir('daemon');
  const output = new OutputLog();
  let world: SyncWorld;
  let configPath: string;
  let dbFile: string;
  const daemons: DaemonProcess[] = [];

  const spawnDaemon = async () => {
    const started = await startDaemonProcess(configPath, { log: output });
    daemons.push(started.daemon);
    return started;
  };
  const cli = (...args: string[]) => runCli([...args, '--config', configPath], { log: output });

  beforeAll(async () => {
    world = await SyncWorld.start({ secrets, entries: 12, wooShops: ['shop-a'] });
    configPath = writeSyncConfig(tmp.dir, {
      supplierUrl: world.supplierUrl,
      secrets,
      storefronts: world.storefronts(),
      inventorySchedule: '*/1 * * * * *',
    });
    dbFile = databaseFile(tmp.dir);
  });

  afterAll(async () => {
    for (const d of daemons) await d.kill();
    await world?.stop();
    tmp.remove();
  });

  it('publishes the supplier stock at start, then each change within one tick', async () => {
    const { daemon } = await spawnDaemon();
    // Run once at start: every SKU reaches the shop without waiting for the schedule.
    await waitUntil(() => world.wooDrift('shop-a').length === 0, { timeoutMs: 5_000, what: 'initial sync' });

    const sku = world.skus[3] as string;
    const t0 = Date.now();
    world.setQty(sku, 77);
    const shop = world.wooShop('shop-a').fake;
    await waitUntil(() => shop.productBySku(sku)?.stock_quantity === 77, {
      timeoutMs: 10_000,
      what: `${sku} = 77 in the shop`,
    });
    expect(world.wooDrift('shop-a')).toEqual([]);
    // Recorded once the daemon has read the shop's answer, just after the shop changed.
    await waitUntil(() => storeCheckpoint(dbFile, 'shop-a').get(sku) === 77, {
      timeoutMs: 5_000,
      what: 'the acknowledged quantity recorded',
    });
    // The cycle that pushed it is the next tick's: it started within one interval of the change
    // (measured from the run records, so a loaded machine's slow cycles do not blur it).
    const ackedAt = checkpointAckedAt(dbFile, 'shop-a', sku) as number;
    const pushing = syncRuns(dbFile).find(
      (r) => r.startedAt <= ackedAt && (r.finishedAt ?? Number.POSITIVE_INFINITY) >= ackedAt,
    );
    expect(pushing?.pushed).toBe(1);
    expect((pushing?.startedAt ?? 0) - t0).toBeLessThan(TICK_MS + 300);
    expect(daemon.hasExited).toBe(false);
  });

  it('status --json has the documented shape, with counts as numbers', async () => {
    const res = await cli('status', '--json');
    expect(res.code).toBe(0);
    const status = JSON.parse(res.stdout) as Record<string, unknown>;
    const inventory = status.inventory as Record<string, unknown>;
    expect(typeof inventory.lastRunAt).toBe('string');
    expect(Number.isNaN(Date.parse(inventory.lastRunAt as string))).toBe(false);
    expect(inventory.entries).toBe(12);
    expect(typeof inventory.lastChanges).toBe('number');
    const stores = status.storefronts as Record<string, unknown>[];
    expect(stores).toHaveLength(1);
    expect(stores[0]).toMatchObject({ name: 'shop-a', type: 'woocommerce', skus: 12, unmatched: 0 });
    expect(typeof stores[0]?.lastAckAt).toBe('string');
    expect(Array.isArray(status.alerts)).toBe(true);
    for (const a of status.alerts as Record<string, unknown>[]) {
      expect(typeof a.kind).toBe('string');
      expect(typeof a.since).toBe('string');
      expect(typeof a.detail).toBe('string');
    }
  });

  it('a CLI `sync` while the daemon runs goes through the admin API, not the lock', async () => {
    const daemon = daemons.at(-1) as DaemonProcess;
    const sku = world.skus[5] as string;
    world.setQty(sku, 5);
    const res = await cli('sync', '--json');
    expect(res.code, res.stderr).toBe(0);
    const report = JSON.parse(res.stdout) as { outcome: string; stores: { store: string }[] };
    expect(report.outcome).toBe('pushed');
    // The daemon still holds the lock; the CLI did not take it (it would have refused) …
    expect(lockHolder(dbFile)?.pid).toBe(daemon.pid);
    expect(world.wooShop('shop-a').fake.productBySku(sku)?.stock_quantity).toBe(5);
    // … and the in-process path's logs (on the CLI's stderr) never ran: the daemon did the work.
    expect(res.stderr).not.toMatch(/pushed|inventory/);
    // The admin API is what it talks to: a wrong token is refused by the daemon.
    const wrong = writeSyncConfig(path.join(tmp.dir, 'wrong-token'), {
      supplierUrl: world.supplierUrl,
      secrets: { ...secrets, adminToken: 'not-the-admin-token-0000' },
      storefronts: world.storefronts(),
      extra: { database: path.relative(path.join(tmp.dir, 'wrong-token'), dbFile) },
    });
    const refused = await runCli(['sync', '--config', wrong], { log: output });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/admin API POST \/admin\/sync: HTTP 401/);
  });

  it('after kill -9 a restarted daemon takes the lock over at once and carries on', async () => {
    const old = daemons.at(-1) as DaemonProcess;
    // Killed while a pull is surely in flight: its run record is left unfinished.
    world.supplier.latencyMs = 1_500;
    const pullsBefore = world.supplier.ledger().requests['GET /inventory'];
    await waitUntil(() => world.supplier.ledger().requests['GET /inventory'] > pullsBefore, {
      what: 'a pull to be in flight',
    });
    old.signal('SIGKILL');
    expect((await old.exit()).signal).toBe('SIGKILL');
    world.supplier.latencyMs = 0;
    // The dead holder's row is still there: nothing released it.
    expect(lockHolder(dbFile)?.pid).toBe(old.pid);
    const killed = syncRuns(dbFile).at(-1);
    expect(killed?.finishedAt).toBeNull();

    const t0 = Date.now();
    const { daemon } = await spawnDaemon();
    const took = await daemon.waitForLog(/took over the run lock from pid \d+/);
    expect(took.message).toContain(`pid ${old.pid}`);
    // Far sooner than the 30 s staleness: it did not wait for the heartbeat to go stale.
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(lockHolder(dbFile)?.pid).toBe(daemon.pid);
    // The next holder closes the dead one's run out, so nothing shows it running forever.
    const closed = syncRuns(dbFile).find((r) => r.id === killed?.id);
    expect(closed?.outcome).toBe('interrupted');
    expect(closed?.finishedAt).not.toBeNull();

    const sku = world.skus[7] as string;
    world.setQty(sku, 31);
    await waitUntil(() => world.wooShop('shop-a').fake.productBySku(sku)?.stock_quantity === 31, {
      timeoutMs: 10_000,
      what: 'the restarted daemon pushes a change',
    });
    const status = JSON.parse((await cli('status', '--json')).stdout) as { daemon: { pid: number } };
    expect(status.daemon.pid).toBe(daemon.pid);
  });

  it('SIGTERM finishes the step in flight, releases the lock and exits 0', async () => {
    const daemon = daemons.at(-1) as DaemonProcess;
    // Hold the next pull's answer for a while, so a cycle is surely in flight when the signal lands.
    world.supplier.latencyMs = 1_500;
    const sku = world.skus[9] as string;
    const pullsBefore = world.supplier.ledger().requests['GET /inventory'];
    world.setQty(sku, 64);
    await waitUntil(() => world.supplier.ledger().requests['GET /inventory'] > pullsBefore, {
      what: 'a pull carrying the change to be in flight',
    });
    const url = await daemon.ready();
    const t0 = Date.now();
    daemon.signal('SIGTERM');
    await daemon.waitForLog(/^SIGTERM: finishing the step in flight$/);
    // Stopping: a run asked for now is refused, not started behind the one in flight; a resync
    // before its progress stream opens (a 200 there would read as accepted).
    for (const path of ['/admin/sync', '/admin/resync']) {
      const asked = await rawRequest(url, {
        method: 'POST',
        path,
        headers: { authorization: `Bearer ${secrets.adminToken}`, 'content-type': 'application/json' },
        body: '{}',
      });
      expect(asked.status, `${path}: ${asked.body}`).toBe(503);
    }
    const exit = await daemon.exit();
    world.supplier.latencyMs = 0;
    expect(exit).toEqual({ code: 0, signal: null });
    // It waited for the answer (≈1.5 s) and then pushed it, instead of dropping the cycle.
    expect(Date.now() - t0).toBeGreaterThan(1_000);
    expect(world.wooShop('shop-a').fake.productBySku(sku)?.stock_quantity).toBe(64);
    expect(storeCheckpoint(dbFile, 'shop-a').get(sku)).toBe(64);
    const runs = syncRuns(dbFile);
    expect(runs.every((r) => r.finishedAt !== null)).toBe(true);
    expect(runs.filter((r) => r.startedAt >= t0)).toEqual([]);
    expect(lockHolder(dbFile)).toBeUndefined();
    await daemon.waitForLog(/^stopped$/);
    const status = JSON.parse((await cli('status', '--json')).stdout) as { daemon: { running: boolean } };
    expect(status.daemon.running).toBe(false);
  });

  it('no supplier 429 was caused, and one pull per cycle', () => {
    const ledger = world.supplier.ledger();
    expect(ledger.rateLimited).toBe(0);
    expect(ledger.unauthorized).toBe(0);
    // The run cut by kill -9 may have died before its pull was answered.
    const runs = syncRuns(dbFile).filter((r) => r.kind === 'inventory' && r.outcome !== 'interrupted');
    expect(runs.length).toBeGreaterThan(3);
    for (const r of runs) expect(r.supplierCalls).toBe(1);
  });

  it('no secret appears in any output, the database or its WAL', () => {
    expect(existsSync(dbFile)).toBe(true);
    const found = findSecrets(world.allSecrets(), [
      { label: 'child output', text: output.text },
      ...sqliteFiles(dbFile),
    ]);
    expect(found).toEqual([]);
    // The scan is real: the output is not empty and the daemon's logs are in it.
    expect(output.text).toMatch(/listening on/);
  });
});
