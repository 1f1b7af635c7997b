import { closeSync, existsSync, openSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { DatabaseError } from '../errors.js';
import type { Logger } from '../log.js';
import { ownerOnlyDir, ownerOnlyFile } from '../owner-only.js';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations.js';

export type Db = Database.Database;

export interface OpenOptions {
  readonly?: boolean;
  /** Where a tightened file mode is reported. */
  log?: Logger;
}

/**
 * Owner only: the folder 0700, the file 0600 before SQLite opens it. SQLite creates `-wal` and
 * `-shm` with the database file's own mode, so they come out 0600 too; existing ones are tightened.
 */
function secureFiles(file: string, log: Logger | undefined): void {
  ownerOnlyDir(path.dirname(file), log);
  closeSync(openSync(file, 'a', 0o600));
  for (const f of [file, `${file}-wal`, `${file}-shm`]) ownerOnlyFile(f, log);
}

/** Opens (creating the folder, owner only) with WAL and a busy timeout; does not migrate. */
export function openDb(file: string, opts: OpenOptions = {}): Db {
  if (!opts.readonly) secureFiles(file, opts.log);
  let db: Db;
  try {
    db = new Database(file, { readonly: opts.readonly === true, fileMustExist: opts.readonly === true });
  } catch (e) {
    throw new DatabaseError(`cannot open database ${file}: ${(e as Error).message}`);
  }
  db.pragma('busy_timeout = 5000');
  if (!opts.readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
  }
  return db;
}

/**
 * An in-memory copy of the database file, or an empty database when there is none (or `file` is null). Whatever is
 * done to it never reaches the file (a dry run plans against it).
 */
export function openScratchCopy(file: string | null): Db {
  let db: Db;
  if (file !== null && existsSync(file)) {
    const source = openDb(file, { readonly: true });
    try {
      const image = source.serialize();
      // The file is in WAL mode (header bytes 18–19 = 2), which a memory database cannot open: read it as rollback-journal.
      image[18] = 1;
      image[19] = 1;
      db = new Database(image);
    } finally {
      source.close();
    }
  } else db = new Database(':memory:');
  db.pragma('foreign_keys = ON');
  return db;
}

export function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** Brings the schema to the current version. Call only while holding the run lock. */
export function migrate(db: Db): void {
  const from = schemaVersion(db);
  if (from > SCHEMA_VERSION) {
    throw new DatabaseError(
      `database schema version ${from} is newer than this program (${SCHEMA_VERSION}): upgrade psnb2b-sync`,
    );
  }
  if (from === SCHEMA_VERSION) return;
  // Off so a migration can rebuild a table others refer to (SQLite's documented way); every
  // reference is checked before the migration commits. The pragma is a no-op inside a transaction.
  const fk = db.pragma('foreign_keys', { simple: true }) as number;
  db.pragma('foreign_keys = OFF');
  try {
    for (let v = from; v < SCHEMA_VERSION; v++) {
      immediate(db, () => {
        db.exec(MIGRATIONS[v] as string);
        const broken = db.pragma('foreign_key_check') as { table: string }[];
        if (broken.length) {
          throw new DatabaseError(`migration ${v + 1} left broken references in ${broken[0]?.table}`);
        }
        db.pragma(`user_version = ${v + 1}`);
      });
    }
  } finally {
    db.pragma(`foreign_keys = ${fk ? 'ON' : 'OFF'}`);
  }
}

/** For commands that do not migrate: refuse a database of another version with a clear message. */
export function assertSchemaVersion(db: Db): void {
  const v = schemaVersion(db);
  if (v !== SCHEMA_VERSION) {
    throw new DatabaseError(
      `database schema version is ${v}, this program expects ${SCHEMA_VERSION}: ` +
        (v < SCHEMA_VERSION
          ? 'start the daemon (psnb2b-sync run) once to migrate it'
          : 'upgrade psnb2b-sync'),
    );
  }
}

/**
 * One IMMEDIATE write transaction. better-sqlite3 transactions are synchronous and commit at
 * the first `await`, so a function returning a promise is a bug and is refused.
 */
export function immediate<T>(db: Db, fn: () => T): T {
  const run = db.transaction(() => {
    const out = fn();
    if (out && typeof (out as { then?: unknown }).then === 'function') {
      throw new DatabaseError('a transaction body returned a promise: no await inside a transaction');
    }
    return out;
  });
  return run.immediate();
}

export function getKv(db: Db, key: string): string | undefined {
  const row = db.prepare('SELECT value FROM kv WHERE key = ?').get(key) as { value: string } | undefined;
  return row?.value;
}

export function setKv(db: Db, key: string, value: string): void {
  db.prepare(
    'INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
  ).run(key, value);
}
