import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AlertWebhook } from '../src/alert-webhook.js';
import { raiseAlert, resolveAlert } from '../src/alerts.js';
import { type Db, migrate, openDb } from '../src/db/open.js';
import { silentLogger } from '../src/log.js';
import { registerSecret } from '../src/redact.js';
import { tempDir } from './helpers/temp-dir.js';

/** The alert outbox against a real local receiver over HTTP, on a real SQLite file. */

class Receiver {
  readonly texts: string[] = [];
  readonly contentTypes: string[] = [];
  private server: http.Server | undefined;
  port = 0;

  async start(port = 0): Promise<string> {
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        this.contentTypes.push(String(req.headers['content-type']));
        this.texts.push((JSON.parse(body) as { text: string }).text);
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      });
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return `http://127.0.0.1:${this.port}/services/T000/B000/hook`;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    s?.closeAllConnections();
    await new Promise<void>((resolve) => (s ? s.close(() => resolve()) : resolve()));
  }
}

const receivers: Receiver[] = [];
afterEach(async () => {
  for (const r of receivers.splice(0)) await r.stop();
});

function freshDb(): { db: Db; file: string } {
  const file = path.join(tempDir('alert-webhook').dir, 'sync.db');
  const db = openDb(file);
  migrate(db);
  return { db, file };
}

function outbox(db: Db) {
  return db.prepare('SELECT event, attempts, sent_at, gave_up_at FROM alert_outbox ORDER BY id').all() as {
    event: string;
    attempts: number;
    sent_at: number | null;
    gave_up_at: number | null;
  }[];
}

describe('alerts reach a person through alerts.webhookUrl', () => {
  it('sends one message when an alert is raised and one when it clears, however often either is repeated', async () => {
    const r = new Receiver();
    receivers.push(r);
    const url = await r.start();
    const { db } = freshDb();
    const hook = new AlertWebhook({ db, url, log: silentLogger() });
    raiseAlert(db, 'min-balance', '', 'balance 12.00 USD is below fulfillment.minBalanceUsd 50 USD', 1_000);
    raiseAlert(db, 'min-balance', '', 'balance 11.00 USD is below fulfillment.minBalanceUsd 50 USD', 2_000);
    await hook.drain();
    raiseAlert(db, 'min-balance', '', 'balance 10.00 USD is below fulfillment.minBalanceUsd 50 USD', 3_000);
    expect(resolveAlert(db, 'min-balance', '', 600_000)).toBe(true);
    expect(resolveAlert(db, 'min-balance', '', 700_000)).toBe(false);
    await hook.drain();
    await hook.drain();
    expect(r.texts).toHaveLength(2);
    expect(r.contentTypes).toEqual(['application/json', 'application/json']);
    expect(r.texts[0]).toMatch(/ALERT min-balance\nbalance 12\.00 USD is below/);
    expect(r.texts[1]).toMatch(/RESOLVED min-balance\nwas: balance 10\.00 USD is below .*\nopen 10 min/);
    // A new occurrence after it cleared is a new alert: told again.
    raiseAlert(db, 'min-balance', '', 'again', 800_000);
    await hook.drain();
    expect(r.texts).toHaveLength(3);
  });

  it('retries with backoff while the receiver is down, and delivers once when it is back, also after a restart', async () => {
    const probe = new Receiver();
    const url = await probe.start();
    const port = probe.port;
    await probe.stop();
    const { db, file } = freshDb();
    let now = 10_000;
    const hook = new AlertWebhook({ db, url, log: silentLogger(), now: () => now, random: () => 1 });
    raiseAlert(db, 'store-push', 'shop-a', 'shop-a: HTTP 503', now);
    await hook.drain();
    expect(outbox(db)).toEqual([{ event: 'raised', attempts: 1, sent_at: null, gave_up_at: null }]);
    await hook.drain(); // not due yet: no attempt
    now += 5_000;
    await hook.drain();
    expect(outbox(db)[0]?.attempts).toBe(2);
    // The backoff doubles: 10 s now.
    now += 9_000;
    await hook.drain();
    expect(outbox(db)[0]?.attempts).toBe(2);
    resolveAlert(db, 'store-push', 'shop-a', now);

    // The daemon restarts (a new connection and sender), and the receiver comes back.
    db.close();
    const r = new Receiver();
    receivers.push(r);
    await r.start(port);
    const db2 = openDb(file);
    now += 1_000;
    const again = new AlertWebhook({ db: db2, url, log: silentLogger(), now: () => now });
    await again.drain();
    await again.drain();
    expect(r.texts.map((t) => t.split('\n')[0]?.replace(/^.*: /, ''))).toEqual([
      'ALERT store-push shop-a',
      'RESOLVED store-push shop-a',
    ]);
    expect(outbox(db2).map((o) => o.sent_at !== null)).toEqual([true, true]);
    db2.close();
  });

  it('gives up after maxAgeMs, and never blocks: the timer catches its errors', async () => {
    const { db } = freshDb();
    let now = 0;
    const hook = new AlertWebhook({
      db,
      url: 'http://127.0.0.1:9/hook',
      log: silentLogger(),
      now: () => now,
      maxAgeMs: 60_000,
    });
    raiseAlert(db, 'intake', 'shop-a', 'cannot read orders', now);
    await hook.drain();
    now = 61_000;
    await hook.drain();
    expect(outbox(db)).toEqual([{ event: 'raised', attempts: 2, sent_at: null, gave_up_at: 61_000 }]);
  });

  it('never carries a secret or a code', async () => {
    const r = new Receiver();
    receivers.push(r);
    const url = await r.start();
    const { db } = freshDb();
    const secret = 'ck_live_0123456789abcdefSECRET';
    registerSecret(secret);
    raiseAlert(
      db,
      'codes-mismatch',
      '',
      `supplier answered with 7QXK-M2PA-R9TD for key ${secret} (Authorization: Bearer abcdefghijkl)`,
    );
    await new AlertWebhook({ db, url, log: silentLogger() }).drain();
    expect(r.texts).toHaveLength(1);
    expect(r.texts[0]).not.toContain(secret);
    expect(r.texts[0]).not.toContain('7QXK-M2PA-R9TD');
    expect(r.texts[0]).not.toContain('abcdefghijkl');
    expect(r.texts[0]).toContain('…R9TD');
  });

  it('with no webhook configured, drops what waits instead of keeping it', async () => {
    const { db } = freshDb();
    raiseAlert(db, 'intake', 'shop-a', 'cannot read orders');
    await new AlertWebhook({ db, url: null, log: silentLogger() }).drain();
    expect(outbox(db)).toEqual([]);
  });
});
