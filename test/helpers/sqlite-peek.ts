import Database from 'better-sqlite3';
import type { RunRow } from '../../src/dashboard/dashboard-view.js';

/**
 * Read-only looks into a daemon's database from the test process (WAL allows it while the
 * daemon writes): what each store acknowledged, the run records, the lock holder.
 */

/** Opens the daemon's database read-only for one look. */
export function withDb<T>(file: string, fn: (db: Database.Database) => T): T {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 2000');
    return fn(db);
  } finally {
    db.close();
  }
}

/** SKU → quantity the store last acknowledged. */
export function storeCheckpoint(file: string, store: string): Map<string, number> {
  return withDb(file, (db) => {
    const rows = db.prepare('SELECT sku, qty FROM store_checkpoints WHERE store = ?').all(store) as {
      sku: string;
      qty: number;
    }[];
    return new Map(rows.map((r) => [r.sku, r.qty]));
  });
}

/** The run record as the dashboard reads it. */
export type { RunRow } from '../../src/dashboard/dashboard-view.js';

export function syncRuns(file: string): RunRow[] {
  return withDb(
    file,
    (db) =>
      db
        .prepare(
          `SELECT id, kind, store, started_at AS startedAt, finished_at AS finishedAt, outcome, entries, changes,
             supplier_calls AS supplierCalls, shop_writes AS shopWrites, pushed FROM sync_runs ORDER BY id`,
        )
        .all() as RunRow[],
  );
}

export function lockHolder(file: string): { pid: number; adminUrl: string | null } | undefined {
  return withDb(file, (db) => {
    const has = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'run_lock'").get();
    if (!has) return undefined;
    return db.prepare('SELECT pid, admin_url AS adminUrl FROM run_lock WHERE id = 1').get() as
      | { pid: number; adminUrl: string | null }
      | undefined;
  });
}

/** Open alerts (kind, subject) as the daemon recorded them. */
export function openAlertKeys(file: string): string[] {
  return withDb(file, (db) =>
    (
      db.prepare('SELECT kind, subject FROM alerts WHERE resolved_at IS NULL ORDER BY id').all() as {
        kind: string;
        subject: string;
      }[]
    ).map((a) => (a.subject ? `${a.kind}:${a.subject}` : a.kind)),
  );
}

/** When the store acknowledged its current quantity of this SKU (ms), or undefined. */
export function checkpointAckedAt(file: string, store: string, sku: string): number | undefined {
  return withDb(file, (db) => {
    const row = db
      .prepare('SELECT acked_at AS at FROM store_checkpoints WHERE store = ? AND sku = ?')
      .get(store, sku) as { at: number } | undefined;
    return row?.at;
  });
}
