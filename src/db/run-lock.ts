import { randomUUID } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { type Db, immediate } from './open.js';

/**
 * The `run` lock: one daemon per database, even when two containers share the database on a
 * volume. A holder is named by host + pid + a random nonce drawn at each start: the same pid
 * can live on two hosts (pid 1 in every container), and a pid can come back after a restart.
 *
 * - On this host, a holder whose pid is gone is taken over at once, so a daemon restarted right
 *   after `kill -9` resumes immediately.
 * - A holder on another host is taken over only once its heartbeat is stale: its pid means
 *   nothing here.
 *
 * A takeover cannot make two daemons buy one line twice: what a line still needs is decided
 * inside the transaction that creates its intent (fulfillment-ledger.ts `createIntent`).
 */

export const HEARTBEAT_MS = 5_000;
export const STALE_AFTER_MS = 30_000;

/** Who holds (or asks for) the lock. */
export interface LockOwner {
  pid: number;
  /** For people: `os.hostname()`. */
  hostname: string;
  /** For the lock: where a pid means the same process (hostname, boot, pid namespace). */
  hostId: string;
  nonce: string;
}

export interface LockHolder extends LockOwner {
  startedAt: number;
  heartbeatAt: number;
  adminUrl: string | null;
}

function readOr(read: () => string): string {
  try {
    return read().trim();
  } catch {
    return '';
  }
}

/**
 * Where pids are comparable: two containers may share a hostname, but not a pid namespace
 * (Linux: `/proc/self/ns/pid`); a reboot keeps the hostname, but not the boot id.
 */
export function hostIdentity(): string {
  const boot = readOr(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8'));
  const pidns = readOr(() => readlinkSync('/proc/self/ns/pid'));
  return [hostname(), boot, pidns].filter(Boolean).join('/');
}

/** This process asking for the lock, with a fresh nonce. */
export function newLockOwner(): LockOwner {
  return { pid: process.pid, hostname: hostname(), hostId: hostIdentity(), nonce: randomUUID() };
}

/**
 * The lock guards migrations, so its table cannot come from them: it is created on first use.
 * Columns added since (`host_id`, `nonce`) are added here too; a row written before them has
 * none, and is compared by hostname.
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
  const cols = new Set((db.pragma('table_info(run_lock)') as { name: string }[]).map((c) => c.name));
  if (!cols.has('host_id')) db.exec('ALTER TABLE run_lock ADD COLUMN host_id TEXT');
  if (!cols.has('nonce')) db.exec('ALTER TABLE run_lock ADD COLUMN nonce TEXT');
}

function hasLockTable(db: Db): boolean {
  return (
    db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'run_lock'").get() !== undefined
  );
}

function readHolder(db: Db): LockHolder | undefined {
  if (!hasLockTable(db)) return undefined;
  // `*`: a read-only reader may meet a table from before `host_id` and `nonce`.
  const r = db.prepare('SELECT * FROM run_lock WHERE id = 1').get() as Record<string, unknown> | undefined;
  if (!r) return undefined;
  return {
    pid: r.pid as number,
    hostname: r.hostname as string,
    hostId: (r.host_id as string | null) ?? '',
    nonce: (r.nonce as string | null) ?? '',
    startedAt: r.started_at as number,
    heartbeatAt: r.heartbeat_at as number,
    adminUrl: (r.admin_url as string | null) ?? null,
  };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function sameHost(h: LockOwner, me: LockOwner): boolean {
  return h.hostId ? h.hostId === me.hostId : h.hostname === me.hostname;
}

function isOwner(h: LockOwner, me: LockOwner): boolean {
  return sameHost(h, me) && h.pid === me.pid && h.nonce === me.nonce;
}

/**
 * Whether `h` may still be working, as `me` sees it. Another host: only its heartbeat tells.
 * This host: its pid must be alive — and this very process (an earlier start, another nonce)
 * is not another daemon.
 */
export function isHolderAlive(h: LockHolder, me: LockOwner, now = Date.now()): boolean {
  return now - h.heartbeatAt <= STALE_AFTER_MS && !isHolderGone(h, me);
}

/**
 * Whether `h` is surely dead, so what it left unfinished is no one's: on this host with its pid
 * gone (or this very process's, from an earlier start). A quiet holder on another host may only
 * be cut off, still running.
 */
export function isHolderGone(h: LockOwner, me: LockOwner): boolean {
  return sameHost(h, me) && (h.pid === me.pid || !pidAlive(h.pid));
}

/** Whether `h` is this very process (on this host: a pid alone could be another container's). */
export function heldByThisProcess(h: LockOwner): boolean {
  const me = newLockOwner();
  return sameHost(h, me) && h.pid === me.pid;
}

/** The live holder, if any (this process included), for readers: status, the CLI. */
export function currentHolder(db: Db, now = Date.now()): LockHolder | undefined {
  const h = readHolder(db);
  if (!h) return undefined;
  return heldByThisProcess(h) || isHolderAlive(h, newLockOwner(), now) ? h : undefined;
}

export type AcquireResult =
  | { ok: true; owner: LockOwner; tookOverFrom?: LockHolder }
  | { ok: false; holder: LockHolder };

export function acquireRunLock(
  db: Db,
  adminUrl: string | null,
  now = Date.now(),
  owner: LockOwner = newLockOwner(),
): AcquireResult {
  ensureLockTable(db);
  return immediate(db, () => {
    const h = readHolder(db);
    if (h && !isOwner(h, owner) && isHolderAlive(h, owner, now)) return { ok: false, holder: h };
    db.prepare(
      `INSERT INTO run_lock (id, pid, hostname, host_id, nonce, started_at, heartbeat_at, admin_url)
       VALUES (1, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, hostname = excluded.hostname,
         host_id = excluded.host_id, nonce = excluded.nonce, started_at = excluded.started_at,
         heartbeat_at = excluded.heartbeat_at, admin_url = excluded.admin_url`,
    ).run(owner.pid, owner.hostname, owner.hostId, owner.nonce, now, now, adminUrl);
    return h && !isOwner(h, owner) ? { ok: true, owner, tookOverFrom: h } : { ok: true, owner };
  });
}

const OWNED = 'id = 1 AND pid = ? AND host_id = ? AND nonce = ?';

/** False when the lock is no longer ours (another daemon took it over). */
export function heartbeat(db: Db, owner: LockOwner, now = Date.now()): boolean {
  const r = db
    .prepare(`UPDATE run_lock SET heartbeat_at = ? WHERE ${OWNED}`)
    .run(now, owner.pid, owner.hostId, owner.nonce);
  return r.changes === 1;
}

export function setAdminUrl(db: Db, owner: LockOwner, url: string): void {
  db.prepare(`UPDATE run_lock SET admin_url = ? WHERE ${OWNED}`).run(
    url,
    owner.pid,
    owner.hostId,
    owner.nonce,
  );
}

export function releaseRunLock(db: Db, owner: LockOwner): void {
  db.prepare(`DELETE FROM run_lock WHERE ${OWNED}`).run(owner.pid, owner.hostId, owner.nonce);
}
