import { hostname } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type Db, openDb } from '../../src/db/open.js';
import {
  acquireRunLock,
  currentHolder,
  heartbeat,
  heldByThisProcess,
  type LockOwner,
  STALE_AFTER_MS,
} from '../../src/db/run-lock.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * The run lock on one database file shared by two containers (a volume): the same pid can live
 * on two hosts, so a pid alone never says who holds it.
 */

const dbs: Db[] = [];
afterEach(() => {
  for (const db of dbs.splice(0)) if (db.open) db.close();
});

function tempDb(): Db {
  const db = openDb(path.join(tempDir('lock').dir, 'sync.db'));
  dbs.push(db);
  return db;
}

/** What a daemon in another container left in the lock row: our very pid, another host. */
function otherHostHolds(db: Db, heartbeatAt: number): void {
  acquireRunLock(db, null);
  db.prepare(
    'UPDATE run_lock SET hostname = ?, host_id = ?, heartbeat_at = ?, started_at = ? WHERE id = 1',
  ).run(`not-${hostname()}`, 'another-container', heartbeatAt, heartbeatAt);
}

describe('run lock across hosts', () => {
  it('a lock held by another host with the same pid and a fresh heartbeat is not taken', () => {
    const db = tempDb();
    const now = Date.now();
    otherHostHolds(db, now);
    const r = acquireRunLock(db, null, now + 1_000);
    expect(r.ok).toBe(false);
    expect(currentHolder(db, now + 1_000)?.hostname).toBe(`not-${hostname()}`);
  });

  it('our heartbeat never refreshes another host’s lock that happens to carry our pid', () => {
    const db = tempDb();
    const now = Date.now();
    const mine = acquireRunLock(db, null, now);
    if (!mine.ok) throw new Error('not acquired');
    otherHostHolds(db, now);
    expect(heartbeat(db, mine.owner, now + 1_000)).toBe(false);
    const row = db.prepare('SELECT heartbeat_at AS at FROM run_lock').get() as { at: number };
    expect(row.at).toBe(now);
  });

  it('another host’s lock is taken over only once its heartbeat is stale', () => {
    const db = tempDb();
    const now = Date.now();
    otherHostHolds(db, now - STALE_AFTER_MS - 1);
    const r = acquireRunLock(db, null, now);
    expect(r.ok).toBe(true);
    expect(currentHolder(db, now)?.hostname).toBe(hostname());
  });

  it('on this host, a holder whose pid is gone is taken over at once', () => {
    const db = tempDb();
    const now = Date.now();
    acquireRunLock(db, null, now);
    // A pid that is surely not alive here.
    db.prepare('UPDATE run_lock SET pid = ? WHERE id = 1').run(2 ** 22 + 17);
    const r = acquireRunLock(db, null, now + 1_000);
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.tookOverFrom?.pid).toBe(2 ** 22 + 17);
  });

  it('two daemons with pid 1 in two containers: the second waits for the first’s heartbeat to go stale', () => {
    const db = tempDb();
    const now = Date.now();
    const a: LockOwner = { pid: 1, hostname: 'box', hostId: 'box/boot-a/pid:[1]', nonce: 'nonce-a' };
    const b: LockOwner = { pid: 1, hostname: 'box', hostId: 'box/boot-a/pid:[2]', nonce: 'nonce-b' };
    expect(acquireRunLock(db, null, now, a).ok).toBe(true);
    expect(acquireRunLock(db, null, now + 1_000, b)).toMatchObject({
      ok: false,
      holder: { nonce: 'nonce-a' },
    });
    expect(heartbeat(db, b, now + 2_000)).toBe(false);
    expect(heartbeat(db, a, now + 2_000)).toBe(true);
    const later = now + 2_000 + STALE_AFTER_MS + 1;
    const taken = acquireRunLock(db, null, later, b);
    expect(taken).toMatchObject({ ok: true, tookOverFrom: { nonce: 'nonce-a' } });
    // The first daemon learns at its next beat that the lock is gone, and stops.
    expect(heartbeat(db, a, later + 1_000)).toBe(false);
  });

  it('a holder on another host is never taken for this process, even with our pid', () => {
    const db = tempDb();
    otherHostHolds(db, Date.now());
    const holder = currentHolder(db);
    expect(holder?.pid).toBe(process.pid);
    expect(heldByThisProcess(holder as LockOwner)).toBe(false);
  });
});
