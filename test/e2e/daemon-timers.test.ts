import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type DaemonProcess, OutputLog, runCli, startDaemonProcess } from '../helpers/cli-process.js';
import { databaseFile, newSecrets, writeSyncConfig } from '../helpers/e2e-config.js';
import { openAlertKeys, withDb } from '../helpers/sqlite-peek.js';
import { SyncWorld } from '../helpers/sync-world.js';
import { tempDir } from '../helpers/temp-dir.js';
import { waitUntil } from '../helpers/wait-until.js';

/**
 * Timers never kill the daemon: a real SQLite error in the heartbeat (a write refused as a full
 * disk refuses it; the database locked by another connection past the busy timeout) is caught,
 * alerted and retried at the next beat; the child process stays up and recovers.
 */

vi.setConfig({ testTimeout: 90_000, hookTimeout: 60_000 });

/** A write connection from outside the daemon, as another process (or an operator) would hold one. */
function writeDb(file: string, fn: (db: Database.Database) => void): void {
  const db = new Database(file);
  try {
    db.pragma('busy_timeout = 10000');
    fn(db);
  } finally {
    db.close();
  }
}

const heartbeatAt = (file: string) =>
  withDb(file, (db) => (db.prepare('SELECT heartbeat_at AS at FROM run_lock').get() as { at: number }).at);

describe('timers never kill the daemon', () => {
  const secrets = newSecrets();
  const tmp = tempDir('timers');
  const output = new OutputLog();
  let world: SyncWorld;
  let configPath: string;
  let dbFile: string;
  let daemon: DaemonProcess;

  beforeAll(async () => {
    world = await SyncWorld.start({ secrets, entries: 6, wooShops: ['shop-a'] });
    configPath = writeSyncConfig(tmp.dir, {
      supplierUrl: world.supplierUrl,
      secrets,
      storefronts: world.storefronts(),
    });
    dbFile = databaseFile(tmp.dir);
    daemon = (await startDaemonProcess(configPath, { log: output })).daemon;
  });

  afterAll(async () => {
    await daemon?.kill();
    await world?.stop();
    tmp.remove();
  });

  it('a heartbeat whose write fails: the process lives, alert timer-failed is shown, then clears', async () => {
    writeDb(dbFile, (db) =>
      db.exec(`CREATE TRIGGER heartbeat_refused BEFORE UPDATE OF heartbeat_at ON run_lock
               BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`),
    );
    await waitUntil(() => openAlertKeys(dbFile).includes('timer-failed:heartbeat') || daemon.hasExited, {
      timeoutMs: 20_000,
      what: 'the heartbeat alert',
    });
    expect(daemon.hasExited).toBe(false);
    const status = JSON.parse((await runCli(['status', '--json', '--config', configPath])).stdout) as {
      alerts: { kind: string; detail: string }[];
    };
    expect(status.alerts.find((a) => a.kind === 'timer-failed')?.detail).toMatch(
      /heartbeat timer has failed .*database or disk is full/,
    );
    const stuck = heartbeatAt(dbFile);

    writeDb(dbFile, (db) => db.exec('DROP TRIGGER heartbeat_refused'));
    await waitUntil(() => !openAlertKeys(dbFile).includes('timer-failed:heartbeat'), {
      timeoutMs: 20_000,
      what: 'the alert to clear',
    });
    expect(heartbeatAt(dbFile)).toBeGreaterThan(stuck);
    expect(daemon.hasExited).toBe(false);
    await daemon.waitForLog(/^heartbeat timer recovered/);
  });

  it('the database locked by another connection past the busy timeout: the process lives and carries on', async () => {
    const db = new Database(dbFile);
    db.pragma('busy_timeout = 10000');
    db.exec('BEGIN EXCLUSIVE');
    try {
      await daemon.waitForLog(/timer failed .*database is locked/, 30_000);
    } finally {
      db.exec('COMMIT');
      db.close();
    }
    const before = heartbeatAt(dbFile);
    await waitUntil(() => heartbeatAt(dbFile) > before || daemon.hasExited, {
      timeoutMs: 20_000,
      what: 'the next heartbeat',
    });
    expect(daemon.hasExited).toBe(false);
    await waitUntil(() => !openAlertKeys(dbFile).some((k) => k.startsWith('timer-failed')), {
      timeoutMs: 20_000,
      what: 'every timer alert to clear',
    });
    const health = await fetch(`${await daemon.ready()}/healthz`);
    expect(health.status).toBe(200);
  });

  it('the reaper runs at start: an old webhook event id is gone after a restart', async () => {
    daemon.signal('SIGTERM');
    expect((await daemon.exit()).code).toBe(0);
    writeDb(dbFile, (db) =>
      db
        .prepare('INSERT INTO webhook_events (source, event_id, subject, received_at) VALUES (?, ?, ?, ?)')
        .run('shop-a', 'evt-from-last-year', 'order 1', Date.now() - 365 * 86_400_000),
    );
    daemon = (await startDaemonProcess(configPath, { log: output })).daemon;
    await daemon.waitForLog(/^reaper: deleted 1 webhook events/);
    expect(withDb(dbFile, (db) => db.prepare('SELECT COUNT(*) AS n FROM webhook_events').get())).toEqual({
      n: 0,
    });
  });
});
