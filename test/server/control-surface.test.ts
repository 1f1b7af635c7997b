import { createHmac } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfigFile } from '../../src/config-file.js';
import { type DaemonHandle, startDaemon } from '../../src/daemon.js';
import { createLogger } from '../../src/log.js';
import { signWebhookBody } from '../../src/supplier/webhook-signature.js';
import { runCli } from '../helpers/cli-process.js';
import { rawRequest } from '../helpers/raw-http.js';
import { withDb } from '../helpers/sqlite-peek.js';
import { tempDir } from '../helpers/temp-dir.js';
import { waitUntil } from '../helpers/wait-until.js';

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

const json = () => ({ ...auth(), 'content-type': 'application/json' });
const secrets = () =>
  JSON.parse(readFileSync(path.join(tmp.dir, 'data', 'sandbox-secrets.json'), 'utf8')) as {
    supplierWebhookSecret: string;
    wooWebhookSecret: string;
  };
const storedEvents = () =>
  withDb(path.join(tmp.dir, 'data', 'sandbox.db'), (db) =>
    db.prepare('SELECT event_id AS id FROM webhook_events').pluck().all(),
  ) as string[];

describe('webhook ids are length-capped before they are stored', () => {
  it('a signed shop webhook with a 201-character delivery id is 400 and not stored', async () => {
    const body = JSON.stringify({ id: 1 });
    const signed = (deliveryId: string) => ({
      'content-type': 'application/json',
      'x-wc-webhook-topic': 'order.updated',
      'x-wc-webhook-delivery-id': deliveryId,
      'x-wc-webhook-signature': createHmac('sha256', secrets().wooWebhookSecret)
        .update(body)
        .digest('base64'),
    });
    const long = 'd'.repeat(201);
    const res = await rawRequest(daemon.url, {
      method: 'POST',
      path: '/webhooks/woocommerce/sandbox-shop',
      headers: signed(long),
      body,
    });
    expect(res.status).toBe(400);
    expect(storedEvents().some((id) => id.includes(long))).toBe(false);
    // A normal one is taken.
    const ok = await rawRequest(daemon.url, {
      method: 'POST',
      path: '/webhooks/woocommerce/sandbox-shop',
      headers: signed('12345'),
      body,
    });
    expect(ok.status).toBe(200);
  });

  it('a signed supplier webhook with an oversize order id is 400 and not stored', async () => {
    const orderId = `ord_${'x'.repeat(300)}`;
    const body = JSON.stringify({
      event: 'order.status_changed',
      orderId,
      status: 'delivered',
      previousStatus: 'paid',
      occurredAt: new Date().toISOString(),
    });
    const res = await rawRequest(daemon.url, {
      method: 'POST',
      path: '/webhooks/psnb2b',
      headers: {
        'content-type': 'application/json',
        'x-psnb2b-signature': signWebhookBody(body, secrets().supplierWebhookSecret),
      },
      body,
    });
    expect(res.status).toBe(400);
    expect(storedEvents().some((id) => id.includes(orderId))).toBe(false);
  });
});

describe('/admin/claim is no code oracle', () => {
  it('answers a wrong code exactly as a supplier failure, and 429 after 5 tries on one line', async () => {
    const sandbox = daemon.runtime.sandbox;
    if (!sandbox) throw new Error('no sandbox');
    const sku = sandbox.shop.catalog.all().find((p) => p.sku && p.type !== 'variable')?.sku as string;
    const order = sandbox.shop.placeOrder({
      lines: [{ sku, quantity: 1 }],
      paymentMethod: 'stripe',
      paid: true,
    });
    // A sync takes orders in first; the daemon's worker then buys and delivers.
    await rawRequest(daemon.url, { method: 'POST', path: '/admin/sync', headers: json(), body: '{}' });
    const supplierOrder = await waitUntil(() => sandbox.supplier.ledger().orders[0], { timeoutMs: 20_000 });
    await waitUntil(
      async () => {
        const res = await rawRequest(daemon.url, { method: 'GET', path: '/admin/status', headers: auth() });
        return (JSON.parse(res.body) as { orders: { delivered: number } }).orders.delivered >= 1;
      },
      { timeoutMs: 20_000, what: 'the sandbox order delivered' },
    );
    const code = sandbox.supplier.codesIssued(supplierOrder.id)[0]?.code as string;
    const claim = (c: string) =>
      rawRequest(daemon.url, {
        method: 'POST',
        path: '/admin/claim',
        headers: json(),
        body: JSON.stringify({
          store: 'sandbox-shop',
          orderId: String(order.id),
          lineId: String(order.line_items[0]?.id),
          code: c,
          errorCode: 'E-1',
        }),
      });
    const wrong = await claim('ZZZZ-YYYY-XXXX');
    sandbox.supplier.injectFault('error500', { endpoint: 'POST /claims', count: 20 });
    const failed = await claim(code);
    expect(sandbox.supplier.ledger().claims).toHaveLength(0);
    expect(failed.status).toBe(wrong.status);
    expect(JSON.parse(failed.body)).toEqual(JSON.parse(wrong.body));
    expect(failed.body).not.toContain(code);
    const answers: number[] = [];
    for (let i = 0; i < 4; i++) answers.push((await claim(`ZZZZ-YYYY-XX${i}X`)).status);
    expect(answers).toEqual([200, 200, 200, 429]);
    // Over the limit even the right code is not tried.
    expect((await claim(code)).status).toBe(429);
  }, 60_000);
});
