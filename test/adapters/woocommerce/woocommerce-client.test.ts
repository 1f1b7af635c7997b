import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireQueue, RequestQueue } from '../../../adapters/request-queue.js';
import type {
  WooClientOptions,
  WooCommerceClient,
} from '../../../adapters/woocommerce/woocommerce-client.js';
import { FakeWooCommerce } from '../../../fakes/woocommerce/fake-woocommerce.js';
import { toSafeError } from '../../../src/errors.js';
import { scrub } from '../../../src/redact.js';
import { waitUntil } from '../../helpers/wait-until.js';
import { storefrontRejection, wooClientFor } from '../../helpers/woo-client.js';

let fake: FakeWooCommerce;
const clients: WooCommerceClient[] = [];

beforeEach(async () => {
  fake = new FakeWooCommerce();
  await fake.start();
});
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await fake.stop();
});

function client(opts: Partial<WooClientOptions> = {}): WooCommerceClient {
  const c = wooClientFor(fake, { retry: { attempts: 3, baseMs: 1, maxMs: 5 }, ...opts });
  clients.push(c);
  return c;
}

describe('errors', () => {
  it('become StorefrontErrors with method, path without query, status and WooCommerce code — no secrets', async () => {
    const c = client();
    const e = await storefrontRejection(c.get('products', { params: { per_page: 101, sku: 'A,B' } }));
    expect(e).toMatchObject({
      method: 'GET',
      path: '/wp-json/wc/v3/products',
      status: 400,
      code: 'rest_invalid_param',
    });
    expect(e.retryable).toBe(false);
    const safe = JSON.stringify(toSafeError(e));
    for (const s of [fake.consumerKey, fake.consumerSecret, 'oauth_', 'sku=']) expect(safe).not.toContain(s);
    // Not even the cause chain carries the AxiosError.
    expect((e as { cause?: unknown }).cause).toBeUndefined();
  });

  it('registers the key and secret for scrubbing', () => {
    client();
    expect(scrub(`x ${fake.consumerSecret} y`)).not.toContain(fake.consumerSecret);
    expect(scrub(`x ${fake.consumerKey} y`)).not.toContain(fake.consumerKey);
  });

  it('decodes WordPress entities in messages', async () => {
    const { variations } = fake.addVariable({ name: 'P', variations: [{ sku: 'V' }] });
    const e = await storefrontRejection(client().put(`products/${variations[0]?.id}`, { stock_quantity: 1 }));
    expect(e.message).toContain('/products/<product_id>/variations/<id>');
  });

  it('refuses an endpoint with a query string (params go through the signer)', async () => {
    const e = await storefrontRejection(client().get('products?sku=A'));
    expect(e.retryable).toBe(false);
  });
});

describe('retries', () => {
  it('retries an idempotent call after a 503 and counts every attempt', async () => {
    await fake.setDown('503');
    let slept = 0;
    const c = client({
      sleep: async () => {
        slept++;
        await fake.setDown(false);
      },
    });
    const res = await c.get('products');
    expect(res.status).toBe(200);
    expect(slept).toBe(1);
    expect(c.calls).toEqual({ reads: 2, writes: 0 });
  });

  it('does not resend a non-idempotent POST after a 5xx (unknown outcome)', async () => {
    await fake.setDown('503');
    const c = client();
    const counts = { reads: 0, writes: 0 };
    const e = await storefrontRejection(c.post('products', { name: 'x' }, { counts }));
    expect(e.status).toBe(503);
    expect(e.retryable).toBe(true);
    expect(counts).toEqual({ reads: 0, writes: 1 });
  });

  it('resends an idempotent batch, and gives up after the configured attempts', async () => {
    await fake.setDown('503');
    const c = client();
    const counts = { reads: 0, writes: 0 };
    await storefrontRejection(c.post('products/batch', { update: [] }, { idempotent: true, counts }));
    expect(counts.writes).toBe(3);
  });

  it('retries a refused connection even for a create (never sent)', async () => {
    await fake.setDown('refuse');
    let slept = 0;
    const c = client({
      sleep: async () => {
        slept++;
        await fake.setDown(false);
      },
    });
    const res = await c.post<{ id: number }>('products', { name: 'x', sku: 'NEW-1' });
    expect(res.status).toBe(201);
    expect(slept).toBe(1);
    expect(fake.productBySku('NEW-1')).toBeDefined();
  });

  it('times out per request', async () => {
    fake.latencyMs = 300;
    const c = client({ timeoutMs: 100, retry: { attempts: 1 } });
    const e = await storefrontRejection(c.get('products'));
    expect(e.message).toContain('timed out');
  });
});

describe('request queue', () => {
  it('runs at most `concurrency` tasks at once, in order', async () => {
    const q = new RequestQueue(2);
    let active = 0;
    let peak = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        q.run(async () => {
          active++;
          peak = Math.max(peak, active);
          order.push(i);
          await new Promise((r) => setTimeout(r, 5));
          active--;
        }),
      ),
    );
    expect(peak).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
    expect(q.active).toBe(0);
  });

  it('keeps going after a failed task', async () => {
    const q = new RequestQueue(1);
    await expect(q.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(q.run(async () => 7)).resolves.toBe(7);
  });

  it('is shared by every user of one store', () => {
    const a = acquireQueue('store-x', 2);
    const b = acquireQueue('store-x', 5);
    expect(b.queue).toBe(a.queue);
    a.release();
    b.release();
    expect(acquireQueue('store-x', 3).queue).not.toBe(a.queue);
  });

  it('a 429 pauses the whole lane for its Retry-After: a request started meanwhile waits instead of being refused too', async () => {
    fake.throttleFor(1_000);
    const c = client({ concurrency: 4, retry: { attempts: 3 } });
    const first = c.get('products');
    await waitUntil(() => fake.requests.some((r) => r.status === 429), { what: 'the 429', timeoutMs: 2_000 });
    const refusedAt = fake.requests[0]?.at ?? 0;
    // Another job's request, sent while the store asks us to wait.
    const second = c.get('products');
    await Promise.all([first, second]);
    expect(fake.requests.map((r) => r.status)).toEqual([429, 200, 200]);
    // Both went out only after the store's Retry-After (whole seconds: at least the rest of 1 s).
    for (const r of fake.requests.slice(1)) expect(r.at - refusedAt).toBeGreaterThanOrEqual(900);
  });

  it('bounds the requests one store sees across clients', async () => {
    fake.latencyMs = 40;
    const a = client({ concurrency: 1 });
    const b = client({ concurrency: 1 });
    const started = Date.now();
    await Promise.all([a.get('products'), b.get('products'), a.get('products')]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(110);
  });
});
