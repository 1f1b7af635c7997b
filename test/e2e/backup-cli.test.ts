import { copyFileSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCHEMA_VERSION } from '../../src/db/migrations.js';
import { FulfillmentDaemonWorld } from '../helpers/fulfillment-daemon-world.js';
import { withDb } from '../helpers/sqlite-peek.js';
import { waitUntil } from '../helpers/wait-until.js';

/**
 * Running it for real: `psnb2b-sync backup` while the daemon runs (through its admin API) and
 * while it does not (read-only), a restore that the daemon starts from, and a database of a
 * newer version refused with a clear message.
 */

let w: FulfillmentDaemonWorld;

beforeAll(async () => {
  w = await FulfillmentDaemonWorld.start({ honoursIdempotencyKeys: true });
  await w.startDaemon();
  const order = w.placeOrder([{ sku: w.skus[0] as string, quantity: 2 }]);
  await waitUntil(() => w.shop.orderStatus(order.id) === 'completed', {
    timeoutMs: 30_000,
    what: 'order completed',
  });
}, 60_000);

afterAll(async () => {
  await w?.stop();
});

const rowsOf = (file: string) =>
  withDb(file, (db) => ({
    delivered: (
      db.prepare('SELECT COUNT(*) AS n FROM codes WHERE delivered_at IS NOT NULL').get() as { n: number }
    ).n,
    version: db.pragma('user_version', { simple: true }) as number,
  }));

describe('backup', () => {
  it('copies the live database through the running daemon into a 0600 file, and never overwrites one', async () => {
    const file = path.join(w.tmp.dir, 'live.db');
    const r = await w.cli('backup', file);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^backed up to \S+live\.db \(\d+ bytes, schema version \d+\); back up codesKey separately/,
    );
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(rowsOf(file)).toEqual({ delivered: 2, version: SCHEMA_VERSION });
    // The running daemon took the copy, through its admin API.
    expect(w.daemon?.logLines().some((l) => l.message.startsWith(`backed up the database to ${file}`))).toBe(
      true,
    );
    expect(w.daemon?.hasExited).toBe(false);

    const before = readFileSync(file);
    const again = await w.cli('backup', file);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/exists; pass --force to replace it/);
    expect(readFileSync(file).equals(before)).toBe(true);

    const forced = await w.cli('backup', file, '--force');
    expect(forced.code).toBe(0);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('copies directly (read-only) with no daemon, and the daemon starts from a restored copy', async () => {
    w.daemon?.signal('SIGTERM');
    expect((await w.daemon?.exit())?.code).toBe(0);
    const file = path.join(w.tmp.dir, 'offline.db');
    const r = await w.cli('backup', file);
    expect(r.code).toBe(0);
    expect(rowsOf(file)).toEqual({ delivered: 2, version: SCHEMA_VERSION });

    // Restore as the README says: the daemon stopped, the copy in place of the database and its WAL gone.
    for (const f of [w.dbFile, `${w.dbFile}-wal`, `${w.dbFile}-shm`]) rmSync(f, { force: true });
    copyFileSync(file, w.dbFile);
    await w.startDaemon();
    const status = await w.statusJson();
    expect(status.orders.delivered).toBe(1);
    w.daemon?.signal('SIGTERM');
    await w.daemon?.exit();
  });
});

describe('upgrades', () => {
  it('refuses a database written by a newer version, with a clear message, and leaves it alone', async () => {
    const db = new Database(w.dbFile);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    const run = await w.startDaemon(false);
    const exit = await run.exit();
    expect(exit.code).toBe(1);
    expect(run.stderr).toContain(
      `database schema version ${SCHEMA_VERSION + 1} is newer than this program (${SCHEMA_VERSION}): upgrade psnb2b-sync`,
    );
    const status = await w.cli('status');
    expect(status.code).toBe(1);
    expect(status.stderr).toMatch(/upgrade psnb2b-sync/);
    expect(rowsOf(w.dbFile).version).toBe(SCHEMA_VERSION + 1);
  });
});
