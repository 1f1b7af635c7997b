import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { prepareSandboxDatabase } from '../../src/sandbox/sandbox-database.js';
import { OutputLog, runCli } from '../helpers/cli-process.js';
import { databaseFile, newSecrets, writeSyncConfig } from '../helpers/e2e-config.js';
import { SyncWorld } from '../helpers/sync-world.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * A user removes the `sandbox:` block but keeps the sandbox's database path: the database is a
 * different one (the sandbox's, marked inside), and every command says so — never "restore the
 * original codesKey", which would send them hunting for a key that never existed.
 */

vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

const secrets = newSecrets();
const output = new OutputLog();
let world: SyncWorld;
let tmp: ReturnType<typeof tempDir>;
let configPath: string;

beforeAll(async () => {
  world = await SyncWorld.start({ secrets, entries: 4, wooShops: ['shop-a'] });
  tmp = tempDir('sandbox-db');
  configPath = writeSyncConfig(path.join(tmp.dir, 'live'), {
    supplierUrl: world.supplierUrl,
    secrets,
    storefronts: world.storefronts(),
  });
  prepareSandboxDatabase(databaseFile(path.dirname(configPath)), silentLogger());
});
afterAll(async () => {
  await world?.stop();
  tmp?.remove();
});

describe('a sandbox-made database under a live config', () => {
  it('doctor fails the database line saying it is the sandbox database, and says nothing of restoring a key', async () => {
    const res = await runCli(['doctor', '--config', configPath], { log: output });
    expect(res.code).toBe(1);
    const line = res.stdout.split('\n').find((l) => /database:/.test(l)) ?? '';
    expect(line).toMatch(/^FAIL.*sandbox database.*database file of its own/);
    expect(res.stdout).not.toMatch(/restore the original codesKey/);
    // The other checks still ran.
    expect(res.stdout).toMatch(/^ok\s+supplier/m);
  });

  it('run and sync --dry-run say it is a different database, exit 1', async () => {
    for (const args of [['run'], ['sync', '--dry-run']]) {
      const res = await runCli([...args, '--config', configPath], { log: output });
      expect(res.code, args.join(' ')).not.toBe(0);
      expect(res.stderr).toMatch(/is a sandbox database/);
      expect(res.stderr).not.toMatch(/restore the original codesKey/);
    }
  });
});
