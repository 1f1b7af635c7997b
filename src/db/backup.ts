import { randomBytes } from 'node:crypto';
import { closeSync, linkSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { DatabaseError, UsageError } from '../errors.js';
import { type Db, openDb, schemaVersion } from './open.js';

/**
 * `psnb2b-sync backup <file>`: SQLite's online backup (page by page, other connections keep
 * reading and writing), so it is safe while the daemon runs. The copy is written to a 0600
 * temporary file beside the target, checked, then put in place: a failed backup never leaves
 * a half-written file under the target's name, and an existing file is replaced only with `force`.
 * The codes in it stay encrypted: `codesKey` is not in the database and is backed up separately.
 */

export interface BackupResult {
  file: string;
  bytes: number;
  schemaVersion: number;
}

export async function backupDatabase(
  db: Db,
  target: string,
  opts: { force: boolean },
): Promise<BackupResult> {
  const file = path.resolve(target);
  const tmp = path.join(
    path.dirname(file),
    `.${path.basename(file)}.${randomBytes(6).toString('hex')}.partial`,
  );
  try {
    // Created 0600 before SQLite writes a byte into it (an empty file is an empty database).
    closeSync(openSync(tmp, 'wx', 0o600));
  } catch (e) {
    throw new UsageError(
      `backup: cannot create a file in ${path.dirname(file)}: ${(e as NodeJS.ErrnoException).code}`,
    );
  }
  try {
    await db.backup(tmp);
    const version = verifyCopy(tmp);
    if (opts.force) renameSync(tmp, file);
    else {
      // link() refuses an existing name atomically: two backups never overwrite each other either.
      try {
        linkSync(tmp, file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
          throw new UsageError(`backup: ${file} exists; pass --force to replace it`);
        }
        throw e;
      }
    }
    return { file, bytes: statSync(file).size, schemaVersion: version };
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** The copy opens, passes SQLite's quick check and carries a schema version. */
function verifyCopy(file: string): number {
  const copy = openDb(file, { readonly: true });
  try {
    const check = copy.pragma('quick_check', { simple: true });
    if (check !== 'ok')
      throw new DatabaseError(`backup: the copy failed its integrity check (${String(check)})`);
    return schemaVersion(copy);
  } finally {
    copy.close();
  }
}
