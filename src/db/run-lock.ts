import { hostname } from 'node:os';
import { type Db, immediate } from './open.js';

/**
 * The `run` lock: one daemon per database. A holder whose pid is gone (on this host) or
 * whose heartbeat is stale is taken over at once, so a daemon restarted right after
 * `kill -9` resumes immediately.
 */

export const HEARTBEAT_MS = 5_000;
export const STALE_AFTER_MS = 30_000;

export interface LockHolder {
  pid: number;
  hostname: string;
  startedAt: number;
  heartbeatAt: number;
  adminUrl: string | null;
}

/**
 * The lock guards migrations, so its table cannot come from them: it is created on first use,
 * and its shape never changes.
 */
function ensureLockTable(db: Db): void {
  db.exec(`CREATE TABLE IF NOT EXISTS run_lock (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    pid          INTEGER NOT NULL,
    hostname     TEXT NOT NULL,
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL,
    admin_url    TEXT
  ) STRICT`);
}

function hasLockTable(db: Db): boolean {
  return (
    db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'run_lock'").get() !== undefined
  );
}

function readHolder(db: Db): LockHolder | undefined {
  if (!hasLockTable(db)) return undefined;
  const row = db
    .prepare(
      'SELECT pid, hostname, started_at AS startedAt, heartbeat_at AS heartbeatAt, admin_url AS adminUrl FROM run_lock WHERE id = 1',
    )
    .get() as LockHolder | undefined;
  return row;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A holder counts as alive when its process exists here and its heartbeat is fresh. */
export function isHolderAlive(h: LockHolder, now = Date.now()): boolean {
  if (now - h.heartbeatAt > STALE_AFTER_MS) return false;
  if (h.hostname === hostname() && h.pid !== process.pid && !pidAlive(h.pid)) return false;
  return true;
}

export function currentHolder(db: Db, now = Date.now()): LockHolder | undefined {
  const h = readHolder(db);
  return h && (h.pid === process.pid || isHolderAlive(h, now)) ? h : undefined;
}

export type AcquireResult = { ok: true; tookOverFrom?: LockHolder } | { ok: false; holder: LockHolder };

export function acquireRunLock(db: Db, adminUrl: string | null, now = Date.now()): AcquireResult {
  ensureLockTable(db);
  return immediate(db, () => {
    const h = readHolder(db);
    if (h && h.pid !== process.pid && isHolderAlive(h, now)) return { ok: false, holder: h };
    db.prepare(
      `INSERT INTO run_lock (id, pid, hostname, started_at, heartbeat_at, admin_url) VALUES (1, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, hostname = excluded.hostname,
         started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, admin_url = excluded.admin_url`,
    ).run(process.pid, hostname(), now, now, adminUrl);
    return h && h.pid !== process.pid ? { ok: true, tookOverFrom: h } : { ok: true };
  });
}

export function heartbeat(db: Db, now = Date.now()): boolean {
  const r = db.prepare('UPDATE run_lock SET heartbeat_at = ? WHERE id = 1 AND pid = ?').run(now, process.pid);
  return r.changes === 1;
}

export function releaseRunLock(db: Db): void {
  db.prepare('DELETE FROM run_lock WHERE id = 1 AND pid = ?').run(process.pid);
}
