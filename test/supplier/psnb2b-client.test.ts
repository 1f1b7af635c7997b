import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { SupplierError, toSafeError } from '../../src/errors.js';
import { parseRetryAfter } from '../../src/supplier/psnb2b-client.js';
import { API_KEY, type Harness, startHarness, waitForStatus } from './client-harness.js';

const open: Harness[] = [];
async function harness(opts: Parameters<typeof startHarness>[0] = {}): Promise<Harness> {
  const h = await startHarness(opts);
  open.push(h);
  return h;
}
afterEach(async () => {
  for (const h of open.splice(0)) await h.close();
});

async function rejection(p: Promise<unknown>): Promise<SupplierError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(SupplierError);
    return e as SupplierError;
  }
  throw new Error('expected a rejection');
}

function firstListed(h: Harness, minQty = 1) {
  const e = h.sandbox.catalog().find((x) => x.listed && x.qty >= minQty);
  if (!e) throw new Error('no stocked entry');
  return e;
}

async function freePort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('Psnb2bClient happy paths over real HTTP', () => {
  it('reads inventory and balance in cents, exactly as the sandbox holds them', async () => {
    const h = await harness();
    const inv = await h.client.getInventory();
    const listed = h.sandbox.catalog().filter((e) => e.listed);
    expect(inv.items).toHaveLength(listed.length);
    for (const e of listed) {
      const item = inv.items.find((i) => i.region === e.region && i.denomination === e.denomination);
      expect(item).toEqual({
        region: e.region,
        denomination: e.denomination,
        currency: e.currency,
        priceCents: e.priceCents,
        qty: e.qty,
      });
    }
    const bal = await h.client.getBalance();
    expect(bal).toEqual({ currency: 'USD', availableCents: 500_000 });
    expect(h.client.stats).toEqual({ calls: 2, retries: 0, rateLimited: 0 });
  });

  it('orders, follows the order to delivered, fetches the codes and files a claim', async () => {
    const dates: Date[] = [];
    const h = await harness({ client: { onServerDate: (d) => dates.push(d) } });
    const e = firstListed(h, 3);
    const key = randomUUID();
    const r = await h.client.createOrder([{ region: e.region, denomination: e.denomination, qty: 3 }], {
      idempotencyKey: key,
      reference: key,
    });
    if (r.kind !== 'created') throw new Error(`expected created, got ${r.kind}`);
    expect(r.order.status).toBe('pending');
    expect(r.order.reference).toBe(key);
    expect(r.order.totalCents).toBe(3 * e.priceCents);
    expect(r.order.items).toEqual([
      { region: e.region, denomination: e.denomination, qty: 3, unitPriceCents: e.priceCents },
    ]);

    const delivered = await waitForStatus(h.client, r.order.id, 'delivered');
    expect(delivered.failure ?? null).toBeNull();
    const codes = await h.client.getOrderCodes(r.order.id);
    expect(codes.orderId).toBe(r.order.id);
    expect(codes.codes).toHaveLength(3);
    expect(codes.codes.map((c) => c.code)).toEqual(h.sandbox.codesIssued(r.order.id).map((c) => c.code));

    const bal = await h.client.getBalance();
    expect(bal.availableCents).toBe(500_000 - 3 * e.priceCents);

    const claim = await h.client.createClaim(
      { orderId: r.order.id, code: codes.codes[0]?.code ?? '', errorCode: 'WC-40371-7' },
      { idempotencyKey: randomUUID() },
    );
    expect(claim.kind).toBe('created');
    if (claim.kind === 'created') expect(claim.claim.status).toBe('open');

    const ledger = h.sandbox.ledger();
    expect(ledger.orders).toHaveLength(1);
    expect(ledger.claims).toHaveLength(1);
    expect(ledger.postsWithoutIdempotencyKey).toBe(0);
    expect(dates.length).toBe(h.client.stats.calls);
    expect(Math.abs((dates[0]?.getTime() ?? 0) - Date.now())).toBeLessThan(5000);
  });

  it('feeds the server Date header to onServerDate (clock skew)', async () => {
    const dates: Date[] = [];
    const h = await harness({
      sandbox: { now: () => Date.now() + 10 * 60_000 },
      client: { onServerDate: (d) => dates.push(d) },
    });
    await h.client.getBalance();
    const skew = (dates[0]?.getTime() ?? 0) - Date.now();
    expect(skew).toBeGreaterThan(9 * 60_000);
    expect(skew).toBeLessThan(11 * 60_000);
  });
});

describe('rate limits', () => {
  it('paces itself: more requests than the limit cause no 429', async () => {
    const h = await harness({
      sandbox: { limits: { general: 5, bulk: 10 }, windowMs: 1000 },
      limits: { general: 5, bulk: 10 },
      windowMs: 1000,
    });
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: 11 }, () => h.client.getBalance()));
    expect(results).toHaveLength(11);
    // 4 per window (5 less the margin): sends at ~0, ~1000, ~2000 ms.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    expect(h.client.stats).toEqual({ calls: 11, retries: 0, rateLimited: 0 });
    expect(h.sandbox.ledger().rateLimited).toBe(0);
  });

  it('honours Retry-After on a 429 from a GET, and tells the pacer', async () => {
    const h = await harness();
    h.sandbox.injectFault('rateLimit', { retryAfterSeconds: 1 });
    const started = Date.now();
    const call = h.client.getBalance();
    await new Promise((r) => setTimeout(r, 200));
    // The block is the pacer's, so every other caller of the bucket waits too.
    expect(h.pacer.delayFor('general')).toBeGreaterThan(500);
    expect(h.pacer.delayFor('bulk')).toBe(0);
    await call;
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(h.client.stats).toEqual({ calls: 2, retries: 1, rateLimited: 1 });
    expect(h.sandbox.ledger().rateLimited).toBe(1);
  });

  it('caps Retry-After at 300 s, in seconds or as a date', () => {
    const now = Date.parse('2026-12-06T12:00:00Z');
    expect(parseRetryAfter('999999', now)).toBe(300_000);
    expect(parseRetryAfter('Wed, 01 Jan 2031 00:00:00 GMT', now)).toBe(300_000);
    expect(parseRetryAfter('7', now)).toBe(7_000);
  });

  it('retries a POST answered 429 (never processed) and buys once', async () => {
    const h = await harness();
    const e = firstListed(h);
    h.sandbox.injectFault('rateLimit', { endpoint: 'POST /orders', retryAfterSeconds: 1 });
    const r = await h.client.createOrder([{ region: e.region, denomination: e.denomination, qty: 1 }], {
      idempotencyKey: randomUUID(),
    });
    expect(r.kind).toBe('created');
    expect(h.sandbox.ledger().orders).toHaveLength(1);
    expect(h.client.stats.rateLimited).toBe(1);
  });

  it('a POST that only ever gets 429s is not-sent, never unknown', async () => {
    const h = await harness({ config: { maxAttempts: 2 } });
    const e = firstListed(h);
    h.sandbox.injectFault('rateLimit', { endpoint: 'POST /orders', count: 2, retryAfterSeconds: 0 });
    const r = await h.client.createOrder([{ region: e.region, denomination: e.denomination, qty: 1 }], {
      idempotencyKey: randomUUID(),
    });
    expect(r.kind).toBe('not-sent');
    if (r.kind === 'not-sent') expect(r.error.failure).toBe('rate-limited');
    expect(h.sandbox.ledger().orders).toHaveLength(0);
  });
});

describe('errors', () => {
  it('turns problem+json into a SupplierError with the RFC 7807 fields', async () => {
    const h = await harness({ config: { apiKey: 'wrong-key-0123456789' } });
    const err = await rejection(h.client.getBalance());
    expect(err.failure).toBe('rejected');
    expect(err.status).toBe(401);
    expect(err.method).toBe('GET');
    expect(err.path).toBe('/balance');
    expect(err.problem).toMatchObject({
      type: 'https://psnb2b.com/problems/unauthorized',
      title: 'Unauthorized',
      status: 401,
    });
    expect(h.client.stats).toEqual({ calls: 1, retries: 0, rateLimited: 0 });
    const safe = toSafeError(err);
    expect(safe).toMatchObject({ kind: 'supplier', method: 'GET', path: '/balance', status: 401 });
  });

  it('rejects invalid items with a 422 naming them', async () => {
    const h = await harness();
    const e = firstListed(h);
    const r = await h.client.createOrder(
      [
        { region: e.region, denomination: e.denomination, qty: 1 },
        { region: 'ZZ', denomination: 5, qty: 1 },
      ],
      { idempotencyKey: randomUUID() },
    );
    if (r.kind !== 'rejected') throw new Error(`expected rejected, got ${r.kind}`);
    expect(r.error.status).toBe(422);
    expect(r.error.problem?.errors).toEqual([
      { field: 'items[1]', detail: 'is not in the catalogue', region: 'ZZ', denomination: 5 },
    ]);
  });

  it('402 insufficient balance and 409 insufficient stock are rejections; nothing is bought', async () => {
    const h = await harness();
    const e = firstListed(h);
    h.sandbox.setBalanceCents(e.priceCents - 1);
    const poor = await h.client.createOrder([{ region: e.region, denomination: e.denomination, qty: 1 }], {
      idempotencyKey: randomUUID(),
    });
    if (poor.kind !== 'rejected') throw new Error(`expected rejected, got ${poor.kind}`);
    expect(poor.error.status).toBe(402);
    expect(poor.error.problem?.type).toBe('https://psnb2b.com/problems/insufficient-balance');

    h.sandbox.setBalanceCents(1_000_000);
    h.sandbox.setQty(e.region, e.denomination, 2);
    const short = await h.client.createOrder([{ region: e.region, denomination: e.denomination, qty: 3 }], {
      idempotencyKey: randomUUID(),
    });
    if (short.kind !== 'rejected') throw new Error(`expected rejected, got ${short.kind}`);
    expect(short.error.status).toBe(409);
    expect(short.error.problem?.items).toEqual([
      { region: e.region, denomination: e.denomination, requested: 3, available: 2 },
    ]);
    expect(h.sandbox.ledger().orders).toHaveLength(0);
    expect(h.client.stats.retries).toBe(0);
  });

  it('codes before delivery: a 409 rejection, not retried', async () => {
    const h = await harness({ sandbox: { paidAfterMs: 60_000 } });
    const e = firstListed(h);
    const r = await h.client.createOrder([{ region: e.region, denomination: e.denomination, qty: 1 }], {
      idempotencyKey: randomUUID(),
    });
    if (r.kind !== 'created') throw new Error(r.kind);
    const err = await rejection(h.client.getOrderCodes(r.order.id));
    expect(err).toMatchObject({ failure: 'rejected', status: 409, path: `/orders/${r.order.id}/codes` });
    const missing = await rejection(h.client.getOrder('ord_nope'));
    expect(missing.status).toBe(404);
  });

  it('retries a garbage body, then succeeds', async () => {
    const h = await harness();
    h.sandbox.injectFault('garbage', { count: 2, endpoint: 'GET /inventory' });
    const inv = await h.client.getInventory();
    expect(inv.items.length).toBeGreaterThan(0);
    expect(h.client.stats).toEqual({ calls: 3, retries: 2, rateLimited: 0 });
  });

  it('retries a 500 on a GET, then succeeds', async () => {
    const h = await harness();
    h.sandbox.injectFault('error500', { endpoint: 'GET /balance' });
    await h.client.getBalance();
    expect(h.client.stats).toEqual({ calls: 2, retries: 1, rateLimited: 0 });
  });

  it('a body that breaks the contract is a bad-response naming endpoint and field, logged without the value', async () => {
    const h = await harness();
    h.sandbox.injectFault('violation', { count: 3, endpoint: 'GET /inventory' });
    const err = await rejection(h.client.getInventory());
    expect(err.failure).toBe('bad-response');
    expect(err.field).toBe('items[0].price');
    expect(err.message).toContain('GET /inventory');
    expect(err.message).toContain('items[0].price');
    expect(h.client.stats.calls).toBe(3);
    const logs = h.logs();
    expect(logs).toContain('"field":"items[0].price"');
    expect(logs).toContain('"endpoint":"GET /inventory"');
    expect(logs).not.toContain('cheap');
  });

  it('a GET that times out is retried, then fails with a timeout error', async () => {
    const h = await harness({ config: { timeoutMs: 150, maxAttempts: 2 } });
    h.sandbox.latencyMs = 400;
    const err = await rejection(h.client.getBalance());
    expect(err.failure).toBe('unknown-outcome');
    expect(err.message).toContain('timed out');
    expect(h.client.stats).toEqual({ calls: 2, retries: 1, rateLimited: 0 });
  });

  it('a refused connection is not-sent: GET throws, POST returns not-sent, nothing counted as sent', async () => {
    const h = await harness({
      config: { baseUrl: `http://127.0.0.1:${await freePort()}/api/v1`, maxAttempts: 2 },
    });
    const err = await rejection(h.client.getBalance());
    expect(err.failure).toBe('not-sent');
    const r = await h.client.createOrder([{ region: 'US', denomination: 50, qty: 1 }], {
      idempotencyKey: randomUUID(),
    });
    expect(r.kind).toBe('not-sent');
    expect(h.client.stats.calls).toBe(0);
    expect(h.client.stats.retries).toBe(2);
  });
});

describe('POST idempotency rules', () => {
  const order = async (h: Harness, key = randomUUID()) => {
    const e = firstListed(h);
    return h.client.createOrder([{ region: e.region, denomination: e.denomination, qty: 1 }], {
      idempotencyKey: key,
      reference: key,
    });
  };

  it('commit-then-reset with keys not honoured: unknown, not retried, the order exists once', async () => {
    const h = await harness({ config: { honoursIdempotencyKeys: false } });
    h.sandbox.injectFault('commitThenReset');
    const before = Date.now();
    const r = await order(h);
    if (r.kind !== 'unknown') throw new Error(`expected unknown, got ${r.kind}`);
    expect(r.sentAt).toBeGreaterThanOrEqual(before);
    expect(r.error.failure).toBe('unknown-outcome');
    expect(h.client.stats).toEqual({ calls: 1, retries: 0, rateLimited: 0 });
    expect(h.sandbox.ledger().orders).toHaveLength(1);
  });

  it('commit-then-reset with keys honoured: retried under the same key, exactly one order', async () => {
    const h = await harness({ config: { honoursIdempotencyKeys: true } });
    h.sandbox.injectFault('commitThenReset');
    const r = await order(h);
    if (r.kind !== 'created') throw new Error(`expected created, got ${r.kind}`);
    const ledger = h.sandbox.ledger();
    expect(ledger.orders).toHaveLength(1);
    expect(ledger.orders[0]?.id).toBe(r.order.id);
    expect(ledger.idempotentReplays).toBe(1);
    expect(h.client.stats.calls).toBe(2);
  });

  it('a 5xx or an unparsable 2xx on a POST is unknown when keys are not honoured', async () => {
    const h = await harness();
    h.sandbox.injectFault('error500', { endpoint: 'POST /orders' });
    expect((await order(h)).kind).toBe('unknown');
    h.sandbox.injectFault('garbage', { endpoint: 'POST /orders' });
    const g = await order(h);
    expect(g.kind).toBe('unknown');
    if (g.kind === 'unknown') expect(g.error.failure).toBe('bad-response');
    h.sandbox.injectFault('violation', { endpoint: 'POST /orders' });
    const v = await order(h);
    if (v.kind !== 'unknown') throw new Error(v.kind);
    expect(v.error.field).toBe('status');
    expect(h.client.stats.retries).toBe(0);
    // The garbage and the violation were answered after the supplier committed.
    expect(h.sandbox.ledger().orders).toHaveLength(2);
  });

  it('an unparsable 2xx on a POST is retried under the same key when keys are honoured', async () => {
    const h = await harness({ config: { honoursIdempotencyKeys: true } });
    h.sandbox.injectFault('garbage', { endpoint: 'POST /orders' });
    const r = await order(h);
    expect(r.kind).toBe('created');
    expect(h.sandbox.ledger().orders).toHaveLength(1);
  });

  it('a POST that times out after sending is unknown; the supplier did buy', async () => {
    const h = await harness({ config: { timeoutMs: 150 } });
    h.sandbox.injectFault('slow', { endpoint: 'POST /orders', delayMs: 400 });
    const r = await order(h);
    expect(r.kind).toBe('unknown');
    if (r.kind === 'unknown') expect(r.error.message).toContain('timed out');
    expect(h.sandbox.ledger().orders).toHaveLength(1);
  });

  it('honoured keys: retries stop at maxAttempts and stay unknown', async () => {
    const h = await harness({ config: { honoursIdempotencyKeys: true, maxAttempts: 3 } });
    h.sandbox.injectFault('error500', { endpoint: 'POST /orders', count: 3 });
    const r = await order(h);
    expect(r.kind).toBe('unknown');
    expect(h.client.stats.calls).toBe(3);
    expect(h.sandbox.ledger().orders).toHaveLength(0);
  });
});

describe('claims', () => {
  async function deliveredOrder(h: Harness) {
    const e = firstListed(h, 2);
    const r = await h.client.createOrder([{ region: e.region, denomination: e.denomination, qty: 2 }], {
      idempotencyKey: randomUUID(),
    });
    if (r.kind !== 'created') throw new Error(r.kind);
    await waitForStatus(h.client, r.order.id, 'delivered');
    return h.client.getOrderCodes(r.order.id);
  }

  it('refuses a claim outside the 168-hour window (injectable clock)', async () => {
    let offset = 0;
    const h = await harness({ sandbox: { now: () => Date.now() + offset } });
    const codes = await deliveredOrder(h);
    const [a, b] = codes.codes;
    if (!a || !b) throw new Error('codes');
    offset = 167 * 3_600_000;
    const ok = await h.client.createClaim(
      { orderId: codes.orderId, code: a.code, errorCode: 'WC-40371-7' },
      { idempotencyKey: randomUUID() },
    );
    expect(ok.kind).toBe('created');
    offset = 169 * 3_600_000;
    const late = await h.client.createClaim(
      { orderId: codes.orderId, code: b.code, errorCode: 'WC-40371-7' },
      { idempotencyKey: randomUUID() },
    );
    if (late.kind !== 'rejected') throw new Error(late.kind);
    expect(late.error.status).toBe(422);
    expect(late.error.problem?.type).toBe('https://psnb2b.com/problems/claim-window-closed');
  });

  it('a second claim for one code is a 409; an unknown code a 404; no code reaches the log', async () => {
    const h = await harness();
    const codes = await deliveredOrder(h);
    const code = codes.codes[0]?.code ?? '';
    const first = await h.client.createClaim(
      { orderId: codes.orderId, code, errorCode: 'E1' },
      { idempotencyKey: randomUUID() },
    );
    expect(first.kind).toBe('created');
    const again = await h.client.createClaim(
      { orderId: codes.orderId, code, errorCode: 'E1' },
      { idempotencyKey: randomUUID() },
    );
    if (again.kind !== 'rejected') throw new Error(again.kind);
    expect(again.error.status).toBe(409);
    const unknown = await h.client.createClaim(
      { orderId: codes.orderId, code: 'ZZZZ-ZZZZ-ZZZZ', errorCode: 'E1' },
      { idempotencyKey: randomUUID() },
    );
    if (unknown.kind !== 'rejected') throw new Error(unknown.kind);
    expect(unknown.error.status).toBe(404);
    expect(h.logs()).not.toContain(code);
    expect(h.sandbox.ledger().claims).toHaveLength(1);
  });
});

describe('secrets', () => {
  it('the API key appears nowhere in logs or errors, whatever goes wrong', async () => {
    const h = await harness({ config: { timeoutMs: 150, maxAttempts: 2 } });
    const errors: unknown[] = [];
    const keep = (p: Promise<unknown>) =>
      p.then(
        (v) => errors.push(v),
        (e) => errors.push(e),
      );
    h.sandbox.injectFault('error500', { endpoint: 'GET /balance', count: 2 });
    await keep(h.client.getBalance());
    h.sandbox.injectFault('garbage', { endpoint: 'GET /inventory', count: 2 });
    await keep(h.client.getInventory());
    h.sandbox.injectFault('violation', { endpoint: 'GET /inventory', count: 2 });
    await keep(h.client.getInventory());
    h.sandbox.injectFault('rateLimit', { endpoint: 'GET /balance', retryAfterSeconds: 0 });
    await keep(h.client.getBalance());
    h.sandbox.injectFault('slow', { endpoint: 'GET /balance', delayMs: 400, count: 2 });
    await keep(h.client.getBalance());
    h.sandbox.injectFault('commitThenReset');
    await keep(
      h.client.createOrder([{ region: 'ZZ', denomination: 1, qty: 1 }], { idempotencyKey: randomUUID() }),
    );
    await keep(h.client.getOrder('ord_missing'));
    const refused = await startHarness({
      config: { baseUrl: `http://127.0.0.1:${await freePort()}/api/v1`, maxAttempts: 1 },
      client: { logger: h.logger },
    });
    await keep(refused.client.getBalance());
    await refused.close();

    const logs = h.logs();
    expect(logs.length).toBeGreaterThan(500);
    expect(logs).not.toContain(API_KEY);
    expect(logs).not.toMatch(/Bearer\s+\S{6,}/);
    expect(errors.length).toBe(8);
    for (const e of errors) {
      expect(inspect(e, { depth: 20 })).not.toContain(API_KEY);
      expect(JSON.stringify(toSafeError(e))).not.toContain(API_KEY);
      expect(inspect(e, { depth: 20 })).not.toMatch(/isAxiosError/);
    }
  });
});
