import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SandboxSupplier, type SandboxSupplierOptions } from '../../../fakes/psnb2b/supplier-server.js';
import { SIGNATURE_HEADER, verifyWebhookSignature } from '../../../src/supplier/webhook-signature.js';
import { parseWire, webhookEventSchema } from '../../../src/supplier/wire.js';

const KEY = 'sandbox-test-key-0123456789';
const running: SandboxSupplier[] = [];
const servers: http.Server[] = [];

afterEach(async () => {
  for (const s of running.splice(0)) await s.stop();
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

/** A sandbox on a fake clock that only moves when the test moves it. */
async function sandbox(opts: Partial<SandboxSupplierOptions> = {}) {
  const clock = { t: Date.parse('2026-11-27T10:00:00Z') };
  const s = new SandboxSupplier({ apiKey: KEY, tickMs: 0, now: () => clock.t, ...opts });
  const base = await s.start();
  running.push(s);
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(base + path, {
      method,
      headers: {
        Authorization: `Bearer ${KEY}`,
        Accept: 'application/json',
        ...(body !== undefined && { 'Content-Type': 'application/json' }),
        ...headers,
      },
      ...(body !== undefined && { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    // biome-ignore lint/suspicious/noExplicitAny: the tests read raw response bodies of every shape
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json };
  };
  return { s, base, clock, call };
}

function stocked(s: SandboxSupplier, minQty = 1) {
  const e = s.catalog().find((x) => x.listed && x.qty >= minQty);
  if (!e) throw new Error('no stocked entry');
  return e;
}

describe('auth, routing, headers', () => {
  it('401 problem+json without or with a wrong key; 404 and 405 for unknown routes', async () => {
    const { base, call, clock } = await sandbox();
    const none = await fetch(`${base}/balance`);
    expect(none.status).toBe(401);
    expect(none.headers.get('content-type')).toBe('application/problem+json');
    expect(await none.json()).toMatchObject({ status: 401, title: 'Unauthorized' });
    const wrong = await call('GET', '/balance', undefined, { Authorization: 'Bearer nope-nope-nope' });
    expect(wrong.status).toBe(401);
    expect((await call('GET', '/nothing')).status).toBe(404);
    const m = await call('DELETE', '/orders');
    expect(m.status).toBe(405);
    expect(m.headers.get('allow')).toBe('POST');
    const ok = await call('GET', '/balance');
    expect(ok.status).toBe(200);
    expect(ok.headers.get('date')).toBe(new Date(clock.t).toUTCString());
    expect(ok.json).toEqual({ currency: 'USD', available: 5000 });
  });
});

describe('POST /orders validation', () => {
  it('400 for a malformed body, naming the fields', async () => {
    const { call } = await sandbox();
    const notJson = await call('POST', '/orders', '{"items": [');
    expect(notJson.status).toBe(400);
    expect(notJson.json.errors).toEqual([{ field: '(body)', detail: 'is not valid JSON' }]);
    const wrongType = await call('POST', '/orders', {
      items: [{ region: 'US', denomination: 50, qty: '3' }],
    });
    expect(wrongType.status).toBe(400);
    expect(wrongType.json.errors).toEqual([
      { field: 'items[0].qty', detail: 'must be a number', region: 'US', denomination: 50 },
    ]);
    expect((await call('POST', '/orders', { items: 'US-50' })).status).toBe(400);
  });

  it('422 for well-formed items it cannot accept, each named', async () => {
    const { s, call } = await sandbox();
    const e = stocked(s);
    const r = await call('POST', '/orders', {
      items: [
        { region: e.region, denomination: e.denomination, qty: 0 },
        { region: 'ZZ', denomination: 5, qty: 1 },
        { region: 'us', denomination: 5, qty: 1 },
      ],
    });
    expect(r.status).toBe(422);
    expect(r.json.errors.map((x: { field: string }) => x.field)).toEqual([
      'items[0].qty',
      'items[1]',
      'items[2].region',
    ]);
    expect(r.json.errors[1]).toMatchObject({
      region: 'ZZ',
      denomination: 5,
      detail: 'is not in the catalogue',
    });
    expect((await call('POST', '/orders', { items: [] })).status).toBe(422);
    const dup = await call('POST', '/orders', {
      items: [
        { region: e.region, denomination: e.denomination, qty: 1 },
        { region: e.region, denomination: e.denomination, qty: 1 },
      ],
    });
    expect(dup.status).toBe(422);
    expect(dup.json.errors[0].field).toBe('items[1]');
    s.setListed(e.region, e.denomination, false);
    const delisted = await call('POST', '/orders', {
      items: [{ region: e.region, denomination: e.denomination, qty: 1 }],
    });
    expect(delisted.status).toBe(422);
    expect(s.ledger().orders).toHaveLength(0);
  });

  it('409 lists shortages, 402 when the balance (less pending orders) does not cover it', async () => {
    const { s, call } = await sandbox();
    const e = stocked(s);
    s.setQty(e.region, e.denomination, 4);
    const short = await call('POST', '/orders', {
      items: [{ region: e.region, denomination: e.denomination, qty: 5 }],
    });
    expect(short.status).toBe(409);
    expect(short.json.items).toEqual([
      { region: e.region, denomination: e.denomination, requested: 5, available: 4 },
    ]);
    s.setBalanceCents(e.priceCents * 3);
    const first = await call('POST', '/orders', {
      items: [{ region: e.region, denomination: e.denomination, qty: 2 }],
    });
    expect(first.status).toBe(201);
    // The first order is still pending: its total is held, so only one more unit fits.
    const second = await call('POST', '/orders', {
      items: [{ region: e.region, denomination: e.denomination, qty: 2 }],
    });
    expect(second.status).toBe(402);
    expect(second.json).toMatchObject({
      type: 'https://psnb2b.com/problems/insufficient-balance',
      status: 402,
    });
    expect(s.ledger().orders).toHaveLength(1);
  });
});

describe('order state machine', () => {
  it('pending → paid → delivered on its clock: stock reserved at creation, balance debited at paid, exact codes', async () => {
    const { s, call, clock } = await sandbox({ paidAfterMs: 300, deliveredAfterMs: 700 });
    const e = stocked(s, 3);
    const qtyBefore = e.qty;
    const created = await call('POST', '/orders', {
      items: [{ region: e.region, denomination: e.denomination, qty: 3 }],
      reference: 'r-1',
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({
      status: 'pending',
      reference: 'r-1',
      total: (3 * e.priceCents) / 100,
    });
    expect(created.json.updatedAt).toBeUndefined();
    const id = created.json.id as string;
    expect(id).toMatch(/^ord_[0-9a-f]{6}$/);
    expect(s.catalog().find((x) => x.region === e.region && x.denomination === e.denomination)?.qty).toBe(
      qtyBefore - 3,
    );
    expect(s.ledger()).toMatchObject({ balanceCents: 500_000, reservedCents: 3 * e.priceCents });

    const early = await call('GET', `/orders/${id}/codes`);
    expect(early.status).toBe(409);

    clock.t += 300;
    expect((await call('GET', `/orders/${id}`)).json.status).toBe('paid');
    expect(s.ledger()).toMatchObject({ balanceCents: 500_000 - 3 * e.priceCents, reservedCents: 0 });
    clock.t += 699;
    expect((await call('GET', `/orders/${id}`)).json.status).toBe('paid');
    clock.t += 1;
    const delivered = await call('GET', `/orders/${id}`);
    expect(delivered.json.status).toBe('delivered');
    expect(delivered.json.updatedAt).toBe(new Date(clock.t).toISOString());

    const codes = await call('GET', `/orders/${id}/codes`);
    expect(codes.status).toBe(200);
    expect(codes.json.codes).toHaveLength(3);
    for (const c of codes.json.codes) {
      expect(c.code).toMatch(/^[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}$/);
      expect(c.serial).toMatch(/^S-\d{6}$/);
      expect(c).toMatchObject({ region: e.region, denomination: e.denomination });
    }
    expect(s.codesIssued(id)).toEqual(codes.json.codes);
    expect((await call('GET', '/orders/ord_000000')).status).toBe(404);
  });

  it('a paid order that fails is refunded and its stock returned; a pending one is never debited', async () => {
    const { s, call, clock } = await sandbox({ paidAfterMs: 10, deliveredAfterMs: 10 });
    const e = stocked(s, 2);
    const qty0 = e.qty;
    s.failNextOrders(1, 'paid');
    s.failNextOrders(1, 'pending');
    const a = await call('POST', '/orders', {
      items: [{ region: e.region, denomination: e.denomination, qty: 1 }],
    });
    const b = await call('POST', '/orders', {
      items: [{ region: e.region, denomination: e.denomination, qty: 1 }],
    });
    clock.t += 100;
    s.tick();
    const oa = await call('GET', `/orders/${a.json.id}`);
    const ob = await call('GET', `/orders/${b.json.id}`);
    expect(oa.json).toMatchObject({ status: 'failed', failure: { code: 'OUT_OF_STOCK' } });
    expect(ob.json).toMatchObject({ status: 'failed', failure: { code: 'PAYMENT_FAILED' } });
    const ledger = s.ledger();
    expect(ledger.balanceCents).toBe(500_000);
    expect(ledger.reservedCents).toBe(0);
    expect(ledger.orders.find((o) => o.id === a.json.id)?.history.map((h) => h.status)).toEqual([
      'pending',
      'paid',
      'failed',
    ]);
    expect(s.catalog().find((x) => x.region === e.region && x.denomination === e.denomination)?.qty).toBe(
      qty0,
    );
    expect((await call('GET', `/orders/${a.json.id}/codes`)).status).toBe(409);
  });
});

describe('idempotency', () => {
  it('same key + same body → the first answer; same key + other body → 422', async () => {
    const { s, call } = await sandbox();
    const e = stocked(s, 2);
    const body = { items: [{ region: e.region, denomination: e.denomination, qty: 1 }], reference: 'x' };
    const h = { 'Idempotency-Key': 'k-1' };
    const first = await call('POST', '/orders', body, h);
    // Same content, other key order and spacing: still the same request.
    const again = await call(
      'POST',
      '/orders',
      JSON.stringify({ reference: 'x', items: body.items }, null, 2),
      h,
    );
    expect(again.status).toBe(201);
    expect(again.json.id).toBe(first.json.id);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    const other = await call('POST', '/orders', { ...body, reference: 'y' }, h);
    expect(other.status).toBe(422);
    expect(other.json.type).toBe('https://psnb2b.com/problems/idempotency-key-reused');
    expect(s.ledger()).toMatchObject({ idempotentReplays: 1, postsWithoutIdempotencyKey: 0 });
    expect(s.ledger().orders).toHaveLength(1);
  });
});

describe('rate limits', () => {
  it('two rolling-window buckets, 429 with Retry-After, counted in the ledger', async () => {
    const { s, call, clock } = await sandbox({ limits: { general: 3, bulk: 2 }, windowMs: 10_000 });
    const e = stocked(s, 5);
    for (let i = 0; i < 3; i++) {
      expect((await call('GET', '/balance')).status).toBe(200);
      clock.t += 1000;
    }
    const limited = await call('GET', '/inventory');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('7');
    expect(limited.json).toMatchObject({ status: 429, type: 'https://psnb2b.com/problems/rate-limited' });
    // The bulk bucket is separate.
    const order = { items: [{ region: e.region, denomination: e.denomination, qty: 1 }] };
    expect((await call('POST', '/orders', order)).status).toBe(201);
    expect((await call('POST', '/orders', order)).status).toBe(201);
    expect((await call('POST', '/orders', order)).status).toBe(429);
    clock.t += 7001; // the first GET (at +0) has left the window
    expect((await call('GET', '/balance')).status).toBe(200);
    expect((await call('GET', '/balance')).status).toBe(429);
    const l = s.ledger();
    expect(l.rateLimited).toBe(3);
    expect(l.rateLimitExceeded).toBe(3);
    expect(l.bucketRequests).toEqual({ general: 4, bulk: 2 });
    expect(l.requests['GET /balance']).toBe(5);
    expect(l.requests['POST /orders']).toBe(3);
  });
});

describe('claims', () => {
  it('404 for an unknown order or code, 409 for a second claim, 422 after 168 hours', async () => {
    const { s, call, clock } = await sandbox({ paidAfterMs: 0, deliveredAfterMs: 0 });
    const e = stocked(s, 2);
    const o = await call('POST', '/orders', {
      items: [{ region: e.region, denomination: e.denomination, qty: 2 }],
    });
    clock.t += 1;
    const codes = (await call('GET', `/orders/${o.json.id}/codes`)).json.codes as { code: string }[];
    const [a, b] = codes;
    if (!a || !b) throw new Error('codes');
    expect((await call('POST', '/claims', { orderId: 'ord_x', code: a.code, errorCode: 'E' })).status).toBe(
      404,
    );
    const notOurs = await call('POST', '/claims', {
      orderId: o.json.id,
      code: 'AAAA-AAAA-AAAA',
      errorCode: 'E',
    });
    expect(notOurs.status).toBe(404);
    expect(notOurs.text).not.toContain('AAAA-AAAA-AAAA');
    const missing = await call('POST', '/claims', { orderId: o.json.id, code: a.code });
    expect(missing.status).toBe(400);
    expect(missing.json.errors).toEqual([{ field: 'errorCode', detail: 'is required' }]);
    const ok = await call('POST', '/claims', { orderId: o.json.id, code: a.code, errorCode: 'WC-1' });
    expect(ok.status).toBe(201);
    expect(ok.json).toMatchObject({ id: 'clm_1', status: 'open' });
    const dup = await call('POST', '/claims', { orderId: o.json.id, code: a.code, errorCode: 'WC-1' });
    expect(dup.status).toBe(409);
    expect(dup.text).not.toContain(a.code);
    clock.t += 168 * 3_600_000 + 1;
    const late = await call('POST', '/claims', { orderId: o.json.id, code: b.code, errorCode: 'WC-1' });
    expect(late.status).toBe(422);
    expect(s.ledger().claims).toHaveLength(1);
  });
});

describe('faults', () => {
  it('serves each injected fault once per count, scoped to an endpoint', async () => {
    const { s, call } = await sandbox();
    s.injectFault('error500', { count: 2, endpoint: 'GET /balance' });
    expect((await call('GET', '/inventory')).status).toBe(200);
    expect((await call('GET', '/balance')).status).toBe(500);
    expect((await call('GET', '/balance')).status).toBe(500);
    expect((await call('GET', '/balance')).status).toBe(200);
    s.injectFault('garbage');
    const g = await call('GET', '/balance');
    expect(g.status).toBe(200);
    expect(g.json).toBeUndefined();
    s.injectFault('violation', { endpoint: 'GET /balance' });
    expect((await call('GET', '/balance')).json.available).toBe(12.345);
    s.injectFault('rateLimit', { retryAfterSeconds: 3 });
    const r = await call('GET', '/balance');
    expect(r.status).toBe(429);
    expect(r.headers.get('retry-after')).toBe('3');
    s.injectFault('reset');
    await expect(call('GET', '/balance')).rejects.toThrow();
    const e = stocked(s);
    s.injectFault('commitThenReset');
    await expect(
      call('POST', '/orders', { items: [{ region: e.region, denomination: e.denomination, qty: 1 }] }),
    ).rejects.toThrow();
    expect(s.ledger().orders).toHaveLength(1);
    expect(s.ledger().faultsServed).toMatchObject({
      error500: 2,
      garbage: 1,
      violation: 1,
      rateLimit: 1,
      reset: 1,
      commitThenReset: 1,
    });
  });
});

describe('webhooks', () => {
  it('POSTs each transition, signed with HMAC-SHA256 of the raw body', async () => {
    const received: { raw: string; signature: string | undefined }[] = [];
    const hook = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({
          raw: Buffer.concat(chunks).toString('utf8'),
          signature: req.headers[SIGNATURE_HEADER] as string,
        });
        res.writeHead(204).end();
      });
    });
    servers.push(hook);
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', () => r()));
    const secret = 'whsec_0123456789abcdef';
    const { s, call, clock } = await sandbox({
      paidAfterMs: 10,
      deliveredAfterMs: 10,
      webhookUrl: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/webhooks/psnb2b`,
      webhookSecret: secret,
    });
    const e = stocked(s);
    const o = await call('POST', '/orders', {
      items: [{ region: e.region, denomination: e.denomination, qty: 1 }],
    });
    clock.t += 100;
    s.tick();
    await s.webhooksSettled();
    expect(received).toHaveLength(2);
    const events = received.map((r) => {
      expect(verifyWebhookSignature(r.raw, r.signature, secret)).toEqual({ ok: true });
      const p = parseWire(webhookEventSchema, JSON.parse(r.raw));
      if (!p.ok) throw new Error(p.issue.field);
      return p.value;
    });
    expect(events.map((ev) => [ev.orderId, ev.previousStatus, ev.status])).toEqual([
      [o.json.id, 'pending', 'paid'],
      [o.json.id, 'paid', 'delivered'],
    ]);
    const first = received[0];
    if (!first) throw new Error('none');
    expect(verifyWebhookSignature(first.raw.replace('paid', 'failed'), first.signature, secret)).toEqual({
      ok: false,
      reason: 'mismatch',
    });
    expect(verifyWebhookSignature(first.raw, first.signature, 'another-secret')).toMatchObject({ ok: false });
    expect(verifyWebhookSignature(first.raw, undefined, secret)).toEqual({ ok: false, reason: 'missing' });
    expect(verifyWebhookSignature(first.raw, 'sha256=zz', secret)).toEqual({
      ok: false,
      reason: 'malformed',
    });
    expect(s.ledger().webhooks.map((w) => w.httpStatus)).toEqual([204, 204]);
  });
});

describe('drift and lifecycle', () => {
  it('drift always changes something, is seeded, and lists/delists over time', async () => {
    const a = new SandboxSupplier({ apiKey: KEY, seed: 42 });
    const b = new SandboxSupplier({ apiKey: KEY, seed: 42 });
    const listed = new Set<string>();
    const delisted = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const da = a.drift();
      expect(da).toEqual(b.drift());
      expect(da.qtyChanged + da.priceChanged + da.listed.length + da.delisted.length).toBeGreaterThan(0);
      for (const k of da.listed) listed.add(k);
      for (const k of da.delisted) delisted.add(k);
    }
    expect(a.catalog()).toEqual(b.catalog());
    expect(delisted.size).toBeGreaterThan(0);
    expect(listed.size).toBeGreaterThan(0);
  });

  it('stop() closes the server even with keep-alive sockets open', async () => {
    const s = new SandboxSupplier({ apiKey: KEY });
    const base = await s.start();
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/v1$/);
    const agent = new http.Agent({ keepAlive: true });
    await new Promise<void>((resolve, reject) => {
      http
        .get(`${base}/balance`, { agent, headers: { Authorization: `Bearer ${KEY}` } }, (res) => {
          res.resume();
          res.on('end', () => resolve());
        })
        .on('error', reject);
    });
    const started = Date.now();
    await s.stop();
    expect(Date.now() - started).toBeLessThan(1000);
    await expect(fetch(`${base}/balance`)).rejects.toThrow();
    agent.destroy();
  });
});
