import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { OutputLog, runCli } from '../helpers/cli-process.js';
import { newSecrets, syncConfigDocument, writeSyncConfig } from '../helpers/e2e-config.js';
import { findSecrets } from '../helpers/secret-leak-scan.js';
import { SyncWorld } from '../helpers/sync-world.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * The errors a new user meets in the first hour, as the CLI prints them: each names the key or
 * the thing that is wrong and says what to do.
 */

vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

let world: SyncWorld;
let tmp: ReturnType<typeof tempDir>;
let blocker: net.Server;
let takenPort: number;
const output = new OutputLog();
const secrets = newSecrets();

beforeAll(async () => {
  world = await SyncWorld.start({ secrets, entries: 4, wooShops: ['shop-a'] });
  tmp = tempDir('first-hour');
  blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  takenPort = (blocker.address() as net.AddressInfo).port;
});
afterAll(async () => {
  await new Promise((r) => blocker.close(r));
  await world?.stop();
  tmp?.remove();
});

function configWith(name: string, extra: Record<string, unknown>): string {
  const doc = syncConfigDocument({
    supplierUrl: world.supplierUrl,
    secrets,
    storefronts: world.storefronts(),
  });
  return writeSyncConfig(path.join(tmp.dir, name), { ...doc, ...extra });
}

describe('config check', () => {
  it('names a server.port another program holds, together with the other problems', async () => {
    const file = configWith('port', {
      server: { host: '127.0.0.1', port: takenPort, adminToken: secrets.adminToken },
      codesKey: 'x',
    });
    const res = await runCli(['config', 'check', '--config', file], { log: output });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(new RegExp(`server\\.port: ${takenPort} on 127\\.0\\.0\\.1 is in use`));
    expect(res.stderr).toMatch(/codesKey: must be 32 bytes/);
    expect(res.stdout).toBe('');
  });

  it('lists every unset environment variable in one run', async () => {
    const ref = (name: string) => `\${${name}}`;
    const file = configWith('env', {
      supplier: { baseUrl: world.supplierUrl, apiKey: ref('FH_KEY'), webhookSecret: ref('FH_HOOK') },
      codesKey: ref('FH_CODES'),
    });
    const res = await runCli(['config', 'check', '--config', file], {
      log: output,
      env: { FH_KEY: null, FH_HOOK: null, FH_CODES: null },
    });
    expect(res.code).toBe(2);
    for (const v of ['FH_KEY', 'FH_HOOK', 'FH_CODES']) expect(res.stderr).toContain(v);
    expect(res.stderr).toMatch(/3 problems/);
  });
});

describe('run', () => {
  it('says server.port is in use instead of an internal EADDRINUSE, exit 2', async () => {
    const file = configWith('run-port', {
      server: { host: '127.0.0.1', port: takenPort, adminToken: secrets.adminToken },
    });
    const res = await runCli(['run', '--config', file], { log: output });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(new RegExp(`server\\.port: ${takenPort} on 127\\.0\\.0\\.1 is in use`));
    expect(res.stderr).not.toMatch(/internal|EADDRINUSE/);
  });
});

describe('claim', () => {
  it('says there is no such store, naming the ones there are', async () => {
    const file = configWith('claim', {});
    const res = await runCli(
      [
        'claim',
        '--config',
        file,
        '--store',
        'shop-z',
        '--order',
        '1042',
        '--line',
        '77',
        '--error-code',
        'X',
      ],
      { log: output, input: 'AAAA-BBBB-CCCC\n' },
    );
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/--store: no store named "shop-z" \(have: shop-a\)/);
    expect(res.stderr).not.toMatch(/was ours/);
  });
});

describe('--version', () => {
  it('prints the package version and exits 0', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    const res = await runCli(['--version']);
    expect(res.code).toBe(0);
    expect(res.stdout.trim()).toBe(pkg.version);
  });
});

afterAll(() => {
  expect(findSecrets(world.allSecrets(), [{ label: 'output', text: output.text }])).toEqual([]);
});
