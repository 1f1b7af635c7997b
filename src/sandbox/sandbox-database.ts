import { existsSync, rmSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { type Db, openDb } from '../db/open.js';
import { currentHolder, heldByThisProcess } from '../db/run-lock.js';
import { DatabaseError } from '../errors.js';
import type { Logger } from '../log.js';

/**
 * The sandbox keeps its own database, marked as one inside the file (a table written at
 * creation). Its supplier and shop start empty on every start, so its database starts anew too;
 * nothing deletes or resets a database without that mark, and a live config never runs on one.
 */

const MARK_TABLE = 'psnb2b_sandbox_database';

export type DatabaseKind = 'missing' | 'empty' | 'sandbox' | 'live';

/** What a database file is, read without writing a byte to it. */
export function databaseKind(file: string): DatabaseKind {
  if (!existsSync(file)) return 'missing';
  if (statSync(file).size === 0) return 'empty';
  // A read-only open of a WAL database leaves an empty -wal and a -shm behind: not ours to leave.
  const sidecars = [`${file}-wal`, `${file}-shm`].filter((f) => !existsSync(f));
  let db: Db;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (e) {
    throw new DatabaseError(`cannot read database ${file}: ${(e as Error).message}`);
  }
  try {
    const tables = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
      .pluck()
      .all() as string[];
    if (tables.includes(MARK_TABLE)) return 'sandbox';
    const version = db.pragma('user_version', { simple: true }) as number;
    return tables.length === 0 && version === 0 ? 'empty' : 'live';
  } finally {
    db.close();
    for (const f of sidecars) rmSync(f, { force: true });
  }
}

/** The sandbox's side: its own marked database, emptied; any other database is refused untouched. */
export function prepareSandboxDatabase(file: string, log: Logger): void {
  const kind = databaseKind(file);
  if (kind === 'live') {
    throw new DatabaseError(
      `the sandbox will not use ${file}: it is not a sandbox database (it has no sandbox mark and holds data, ` +
        "e.g. a live daemon's orders and codes), and the sandbox empties its database on every start. " +
        'Give the sandbox a file of its own (database: ./data/sandbox.db).',
    );
  }
  if (kind === 'sandbox') {
    const probe = openDb(file, { log });
    const holder = currentHolder(probe);
    probe.close();
    if (holder && !heldByThisProcess(holder)) {
      throw new DatabaseError(`another psnb2b-sync (pid ${holder.pid} on ${holder.hostname}) holds ${file}`);
    }
    for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
  }
  const db = openDb(file, { log });
  try {
    db.exec(`CREATE TABLE IF NOT EXISTS ${MARK_TABLE} (created_at INTEGER NOT NULL)`);
    db.prepare(`INSERT INTO ${MARK_TABLE} (created_at) VALUES (?)`).run(Date.now());
  } finally {
    db.close();
  }
}

/** The live side: a sandbox database is refused (the next sandbox start would empty it). */
export function refuseSandboxDatabase(file: string): void {
  if (databaseKind(file) === 'sandbox') {
    throw new DatabaseError(
      `${file} is a sandbox database (the sandbox empties it on every start): ` +
        'give the live config a database file of its own (database: ./data/live.db)',
    );
  }
}
