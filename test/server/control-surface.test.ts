import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfigFile } from '../../config/load.js';
import { type DaemonHandle, startDaemon } from '../../src/daemon.js';
import { createLogger } from '../../src/log.js';
import { runCli } from '../helpers/cli-process.js';
import { tempDir } from '../helpers/e2e-config.js';
import { rawRequest } from '../helpers/raw-http.js';

/**
 * The admin API as a hostile web page sees it: the daemon (sandbox config, no `adminToken`
 * configured) on a real loopback port, probed with forged Host headers, cross-site content
 * types and wrong tokens. Loopback is not a credential.
 */

const tmp = tempDir('control');
let daemon: DaemonHandle;
let token: string;
const logs: string[] = [];

beforeAll(async () => {
  const file = path.join(tmp.dir, 'sync.config.yaml');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(
    file,
    stringify({
      sandbox: { dataDir: './data', shopperSeconds: 0, entries: 4 },
      database: './data/sandbox.db',
      schedule: { inventory: '0 0 1 1 *', orders: '0 0 1 1 *' },
      server: { host: '127.0.0.1', port: 0 },
      log: { level: 'info', format: 'json' },
    }),
  );
  const stream = new PassThrough();
  stream.on('data', (c: Buffer) => logs.push(c.toString('utf8')));
  daemon = await startDaemon(loadConfigFile(file), createLogger({ level: 'info', format: 'json', stream }));
  const tokenFile = path.join(tmp.dir, 'data', 'admin-token');
  token = existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : 'no-token-file';
}, 60_000);

afterAll(async () => {
  await daemon?.stop();
  tmp.remove();
});

const auth = () => ({ authorization: `Bearer ${token}` });

describe('the admin API needs the bearer token on loopback too', () => {
  it('generates a token at first start into <database folder>/admin-token, owner-only', () => {
    const file = path.join(tmp.dir, 'data', 'admin-token');
    expect(existsSync(file)).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(token.length).toBeGreaterThanOrEqual(32);
    expect(logs.join('')).not.toContain(token);
  });

  it('the data folder is 0700 and everything in it 0600: database, -wal, -shm, token, sandbox keys', () => {
    const data = path.join(tmp.dir, 'data');
    expect(statSync(data).mode & 0o777).toBe(0o700);
    const files = ['sandbox.db', 'sandbox.db-wal', 'sandbox.db-shm', 'admin-token', 'sandbox-secrets.json'];
    for (const f of files) expect(statSync(path.join(data, f)).mode & 0o777, f).toBe(0o600);
  });

  it('no token, or a wrong one, is 401; the generated one is 200', async () => {
    const none = await rawRequest(daemon.url, { method: 'GET', path: '/admin/orders' });
    expect(none.status).toBe(401);
    const wrong = await rawRequest(daemon.url, {
      method: 'GET',
      path: '/admin/orders',
      headers: { authorization: `Bearer ${'x'.repeat(token.length)}` },
    });
    expect(wrong.status).toBe(401);
    const right = await rawRequest(daemon.url, { method: 'GET', path: '/admin/status', headers: auth() });
    expect(right.status).toBe(200);
    expect(JSON.parse(right.body)).toHaveProperty('inventory');
  });

  it('a cross-site form POST (text/plain, no token) never reaches a handler', async () => {
    const res = await rawRequest(daemon.url, {
      method: 'POST',
      path: '/admin/sync',
      headers: { 'content-type': 'text/plain', origin: 'https://evil.example' },
      body: '{"force":true}',
    });
    expect([401, 415]).toContain(res.status);
  });

  it('admin bodies must be application/json, even with the right token (415)', async () => {
    for (const contentType of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
    ]) {
      const res = await rawRequest(daemon.url, {
        method: 'POST',
        path: '/admin/sync',
        headers: { ...auth(), 'content-type': contentType },
        body: '{"dryRun":true}',
      });
      expect(res.status, contentType).toBe(415);
    }
    const bare = await rawRequest(daemon.url, {
      method: 'POST',
      path: '/admin/sync',
      headers: auth(),
      body: '{"dryRun":true}',
    });
    expect(bare.status, 'a body without content-type').toBe(415);
    const json = await rawRequest(daemon.url, {
      method: 'POST',
      path: '/admin/sync',
      headers: { ...auth(), 'content-type': 'application/json; charset=utf-8' },
      body: '{"dryRun":true}',
    });
    expect(json.status).toBe(200);
    expect(JSON.parse(json.body)).toMatchObject({ outcome: 'dry-run' });
  });

  it('a rebinding Host is 421, loopback names on any port are served', async () => {
    const evil = await rawRequest(daemon.url, {
      method: 'GET',
      path: '/admin/orders',
      headers: { ...auth(), host: 'rebind.evil.example' },
    });
    expect(evil.status).toBe(421);
    for (const host of ['localhost:1234', '127.0.0.1', '[::1]:8787', 'LOCALHOST']) {
      const ok = await rawRequest(daemon.url, {
        method: 'GET',
        path: '/admin/status',
        headers: { ...auth(), host },
      });
      expect(ok.status, host).toBe(200);
    }
  });

  it('sends no CORS headers, also not to a preflight', async () => {
    const preflight = await rawRequest(daemon.url, {
      method: 'OPTIONS',
      path: '/admin/sync',
      headers: {
        origin: 'https://evil.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });
    expect(preflight.status).toBeGreaterThanOrEqual(400);
    const ok = await rawRequest(daemon.url, {
      method: 'GET',
      path: '/admin/status',
      headers: { ...auth(), origin: 'https://evil.example' },
    });
    for (const res of [preflight, ok]) {
      expect(Object.keys(res.headers).filter((h) => h.startsWith('access-control-'))).toEqual([]);
    }
  });

  it('the CLI finds the generated token through the config and talks to the daemon', async () => {
    const res = await runCli([
      'sync',
      '--dry-run',
      '--json',
      '--config',
      path.join(tmp.dir, 'sync.config.yaml'),
    ]);
    expect(res.code, res.stderr).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ outcome: 'dry-run' });
    // It went through the daemon: the in-process path would have refused the held lock.
    expect(res.stderr).not.toMatch(/holds/);
  });
});
