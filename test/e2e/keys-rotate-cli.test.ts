import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeCodesKey } from '../../config/codes-key.js';
import { openDb } from '../../src/db/open.js';
import { acquireRunLock, releaseRunLock } from '../../src/db/run-lock.js';
import { CodeVault, codesKeyId } from '../../src/fulfillment/code-vault.js';
import { CLI_PATH, runCli } from '../helpers/cli-process.js';
import { writeSyncConfig } from '../helpers/e2e-config.js';
import { findSecrets } from '../helpers/secret-leak-scan.js';
import { withDb } from '../helpers/sqlite-peek.js';
import { keyFilesIn, seedCodes, storedCodes } from '../helpers/stored-codes.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * `psnb2b-sync keys rotate` as the built CLI, on a real database file: refused while another
 * process holds the database, killed with SIGKILL in the middle (every code still readable under
 * the key its row names), run again to finish, and the old key refused afterwards with the fix.
 */

const dirs: { remove: () => void }[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d.remove();
});

function world(rows: number) {
  const t = tempDir('keys-cli');
  dirs.push(t);
  const oldKey = randomBytes(32);
  const seeded = seedCodes(t.dir, oldKey, rows, { erase: 3 });
  const configPath = writeSyncConfig(t.dir, {
    supplier: { baseUrl: 'http://127.0.0.1:9/api/v1', apiKey: `psn_e2e_${randomBytes(8).toString('hex')}` },
    storefronts: [
      {
        name: 'shop-a',
        type: 'woocommerce',
        url: 'http://127.0.0.1:9',
        consumerKey: 'ck_e2e',
        consumerSecret: 'cs_e2e',
      },
    ],
    database: './data/sync.db',
    codesKey: `\${PSNSYNC_CODES_KEY}`,
  });
  const env = { PSNSYNC_CODES_KEY: oldKey.toString('base64') };
  return { ...seeded, dir: t.dir, oldKey, configPath, env };
}

const keyFiles = (dbFile: string) => keyFilesIn(path.dirname(dbFile));

describe('keys rotate (CLI)', () => {
  it('refuses while another process holds the database, and changes nothing', async () => {
    const w = world(5);
    const db = openDb(w.file);
    const lock = acquireRunLock(db, null);
    try {
      if (!lock.ok) throw new Error('the test could not take the lock');
      const r = await runCli(['keys', 'rotate', '--config', w.configPath], { env: w.env });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(
        new RegExp(
          `psnb2b-sync \\(pid ${process.pid} on .*\\) is running on .*sync\\.db: stop the daemon first`,
        ),
      );
      expect(keyFiles(w.file)).toEqual([]);
      expect(storedCodes(db).every((row) => row.keyId === codesKeyId(w.oldKey))).toBe(true);
    } finally {
      if (lock.ok) releaseRunLock(db, lock.owner);
      db.close();
    }
  });

  it('survives kill -9 mid-rotation: every code readable under the key its row names; a second run finishes', async () => {
    const w = world(5_000);
    const output: string[] = [];

    // 1. Started with one code per transaction, killed as soon as it reports its first batch.
    const child = spawn(
      process.execPath,
      [CLI_PATH, 'keys', 'rotate', '--batch-size', '1', '--config', w.configPath],
      {
        env: { ...process.env, ...w.env, NODE_OPTIONS: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child.stdout.on('data', (d: Buffer) => output.push(d.toString()));
    const exit = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on('exit', (_c, signal) => resolve(signal)),
    );
    child.stderr.on('data', (d: Buffer) => {
      output.push(d.toString());
      if (/keys rotate: \d+\/\d+ codes re-encrypted/.test(d.toString())) child.kill('SIGKILL');
    });
    expect(await exit).toBe('SIGKILL');

    const [keyFile, ...more] = keyFiles(w.file);
    expect(more).toEqual([]);
    expect(statSync(keyFile as string).mode & 0o777).toBe(0o600);
    const newKey = decodeCodesKey(readFileSync(keyFile as string, 'utf8'));
    const ring = new Map([w.oldKey, newKey].map((k) => [codesKeyId(k), new CodeVault(k)]));
    const afterKill = withDb(w.file, (db) => storedCodes(db));
    const onNew = afterKill.filter((r) => r.keyId === codesKeyId(newKey)).length;
    expect(onNew).toBeGreaterThan(0);
    expect(onNew).toBeLessThan(w.codes.size - w.erased.size);
    const unreadable = afterKill.filter(
      (r) => !w.erased.has(r.id) && ring.get(r.keyId as string)?.decrypt(r.codeEnc) !== w.codes.get(r.id),
    );
    expect(unreadable.map((r) => r.id)).toEqual([]);

    // 2. Neither key may serve the half-rotated database (the daemon's start-up check, and doctor's).
    withDb(w.file, (db) => {
      for (const k of [w.oldKey, newKey]) {
        expect(() => new CodeVault(k).verifyAgainst(db)).toThrow(/a key rotation .* is unfinished/);
      }
    });

    const doctor = await runCli(['doctor', '--config', w.configPath], { env: w.env, timeoutMs: 60_000 });
    output.push(doctor.stdout, doctor.stderr);
    expect(doctor.code).toBe(1);
    expect(doctor.stdout).toMatch(
      /^FAIL {2}codesKey: a key rotation \(key id \w{8} → \w{8}\) is unfinished: run `psnb2b-sync keys rotate` again/m,
    );

    // 3. Run again (the lock of the killed process is taken over at once): it finishes with the same new key.
    const resumed = await runCli(['keys', 'rotate', '--config', w.configPath], {
      env: w.env,
      timeoutMs: 60_000,
    });
    output.push(resumed.stdout, resumed.stderr);
    expect(resumed.stderr).toMatch(/keys rotate: \d+\/\d+ codes re-encrypted\n$/);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain(
      `finished the rotation: re-encrypted ${w.codes.size - w.erased.size - onNew} code(s) from key id ${codesKeyId(w.oldKey)} to key id ${codesKeyId(newKey)}; 3 erased code(s) keep the old key's id`,
    );
    expect(resumed.stdout).toContain(`the new codesKey is in ${keyFile} (mode 0600; not printed)`);
    expect(resumed.stdout).toContain('set PSNSYNC_CODES_KEY (codesKey in');
    expect(keyFiles(w.file)).toEqual([keyFile]);
    const newVault = new CodeVault(newKey);
    withDb(w.file, (db) => {
      const wrong = storedCodes(db).filter((r) => {
        if (w.erased.has(r.id)) return false;
        const code = w.codes.get(r.id) as string;
        return (
          r.keyId !== newVault.keyId ||
          newVault.decrypt(r.codeEnc) !== code ||
          r.codeHash !== newVault.hash(code)
        );
      });
      expect(wrong.map((r) => r.id)).toEqual([]);
      expect(() => newVault.verifyAgainst(db)).not.toThrow();
    });

    // 4. The config not yet updated: a clear error naming codesKey and the file, and no second new key.
    const stale = await runCli(['keys', 'rotate', '--config', w.configPath], { env: w.env });
    output.push(stale.stdout, stale.stderr);
    expect(stale.code).toBe(2);
    expect(stale.stderr).toContain(
      `codesKey: (key id ${codesKeyId(w.oldKey)}) no longer opens the stored codes: \`keys rotate\` re-encrypted the stored codes under key id ${newVault.keyId}, kept in ${keyFile}: set codesKey to its contents`,
    );
    expect(keyFiles(w.file)).toEqual([keyFile]);

    expect(
      findSecrets(
        {
          oldKey: w.oldKey.toString('base64'),
          newKey: newKey.toString('base64'),
          aCode: w.codes.get(10) as string,
        },
        [{ label: 'CLI output', text: output.join('') }],
      ),
    ).toEqual([]);
  }, 120_000);
});
