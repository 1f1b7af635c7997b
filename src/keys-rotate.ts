import { existsSync } from 'node:fs';
import path from 'node:path';
import type { LoadedConfig } from '../config/load.js';
import { migrate, openDb } from './db/open.js';
import { acquireRunLock, heartbeat, releaseRunLock } from './db/run-lock.js';
import { DatabaseError, UsageError } from './errors.js';
import { parseCodesKey } from './fulfillment/code-vault.js';
import { type RotationOutcome, rotateCodesKey } from './fulfillment/key-rotation.js';
import { databasePath } from './main.js';
import { refuseSandboxDatabase } from './sandbox/sandbox-database.js';

/**
 * `psnb2b-sync keys rotate`, in-process only: the daemon must be stopped. Through the daemon it
 * would have to switch keys while running, and still be started next time with a config that
 * names the old one; stopped, the rotation holds the run lock, so no daemon starts meanwhile, and
 * a daemon that starts after a crashed rotation refuses until the rotation is finished.
 */

export const DEFAULT_ROTATE_BATCH = 500;

export function runKeysRotate(
  loaded: LoadedConfig,
  batchSize: number,
  onProgress: (done: number, total: number) => void,
): RotationOutcome {
  if (loaded.raw.sandbox) {
    throw new UsageError(
      'keys rotate: the sandbox generates its own codesKey and database; rotate the key of a live config',
    );
  }
  const key = parseCodesKey(loaded.raw.codesKey);
  const file = databasePath({ database: loaded.raw.database, baseDir: loaded.baseDir });
  if (!existsSync(file))
    throw new UsageError(`keys rotate: no database at ${file}, so no codes to re-encrypt`);
  refuseSandboxDatabase(file);
  const db = openDb(file);
  try {
    const lock = acquireRunLock(db, null);
    if (!lock.ok) {
      throw new UsageError(
        `keys rotate: psnb2b-sync (pid ${lock.holder.pid} on ${lock.holder.hostname}) is running on ${file}: ` +
          'stop the daemon first (it reads the codes being re-encrypted, and must restart with the new codesKey anyway), then run keys rotate again',
      );
    }
    try {
      migrate(db);
      let beat = Date.now();
      return rotateCodesKey({
        db,
        configKey: key,
        keyDir: path.dirname(file),
        batchSize,
        onProgress(done, total) {
          // The lock stays ours however long the rotation takes: a stale heartbeat could be taken over.
          if (Date.now() - beat >= 1000) {
            beat = Date.now();
            if (!heartbeat(db, lock.owner))
              throw new DatabaseError('keys rotate: lost the run lock; run it again');
          }
          onProgress(done, total);
        },
      });
    } finally {
      releaseRunLock(db, lock.owner);
    }
  } finally {
    db.close();
  }
}

/** The environment variable the config reads codesKey from (`codesKey: ${NAME}`), if it does. */
export function codesKeyVariable(configText: string): string | null {
  return /^codesKey:\s*["']?\$\{(\w+)(?::-[^}]*)?\}/m.exec(configText)?.[1] ?? null;
}

/**
 * What the operator reads at the end: what changed, where the new key is, what to do next.
 * Never the key. `variable`: what `codesKeyVariable` found in the config.
 */
export function formatRotation(o: RotationOutcome, configPath: string, variable: string | null): string {
  const set = variable
    ? `set ${variable} (codesKey in ${configPath} reads it) to the contents of that file, e.g. in the env file: ${variable}=<contents>`
    : `set codesKey in ${configPath} to the contents of that file`;
  const erased = o.erased
    ? `; ${o.erased} erased code(s) keep the old key's id and lookup hash (their ciphertext was already reaped)`
    : '';
  return [
    `${o.resumed ? 'finished the rotation: ' : ''}re-encrypted ${o.rekeyed} code(s) from key id ${o.from} to key id ${o.to}${erased}`,
    `the new codesKey is in ${o.file} (mode 0600; not printed)`,
    'next:',
    `  1. ${set}`,
    '  2. start the daemon; it refuses the old key from now on',
    `  3. back up the new key; retire the old one (key id ${o.from}) only after the daemon runs with the new one,`,
    '     and keep it as long as you keep database backups from before this rotation (only it reads them)',
  ].join('\n');
}
