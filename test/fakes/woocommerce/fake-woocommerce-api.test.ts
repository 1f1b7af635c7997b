import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { WooCommerceClient } from '../../../adapters/woocommerce/woocommerce-client.js';
import {
  FakeWooCommerce,
  signOAuthUrl,
  type WooProductJson,
} from '../../../fakes/woocommerce/fake-woocommerce.js';
import { storefrontRejection, wooClientFor } from '../../helpers/woo-client.js';

/** The fake's REST behaviour, through the real client library (as in NOTES.md). */

let fake: FakeWooCommerce;
let c: WooCommerceClient;

beforeEach(async () => {
  fake = new FakeWooCommerce();
  await fake.start();
  c = wooClientFor(fake);
});
afterEach(async () => {
  await c.close();
  await fake.stop();
});

type BatchAnswer = { update?: (WooProductJson & { error?: { code: string; data: { status: number } } })[] };

describe('GET products?sku=', () => {
  it('takes a comma list, ignores case and trailing spaces, and returns variations', async () => {
    fake.addSimple({ sku: 'PSN-TR-250' });
    const { parent, variations } = fake.addVariable({
      name: 'PSN US',
      variations: [{ sku: 'PSN-US-10' }, { sku: 'PSN-US-20 ' }],
    });
    const res = await c.get<WooProductJson[]>('products', {
      params: { sku: 'psn-tr-250,PSN-US-10,psn-us-20', per_page: 100 },
    });
    const bySku = new Map(res.data.map((p) => [p.sku.trim(), p]));
    expect([...bySku.keys()].sort()).toEqual(['PSN-TR-250', 'PSN-US-10', 'PSN-US-20']);
    expect(bySku.get('PSN-US-10')).toMatchObject({
      type: 'variation',
      parent_id: parent.id,
      id: variations[0]?.id,
    });
    expect(bySku.get('PSN-TR-250')).toMatchObject({ type: 'simple', parent_id: 0 });
  });

  it('paginates with X-WP-Total, X-WP-TotalPages and Link', async () => {
    const skus = Array.from({ length: 5 }, (_, i) => `S-${i}`);
    for (const sku of skus) fake.addSimple({ sku });
    const first = await c.get<unknown[]>('products', {
      params: { sku: skus.join(','), per_page: 2, page: 1 },
    });
    expect(first.data).toHaveLength(2);
    expect(first.total).toBe(5);
    expect(first.totalPages).toBe(3);

    const page = (n: number) =>
      fetch(
        signOAuthUrl({
          method: 'GET',
          url: `${fake.url}/wp-json/wc/v3/products?sku=${skus.join(',')}&per_page=2&page=${n}`,
          consumerKey: fake.consumerKey,
          consumerSecret: fake.consumerSecret,
        }),
      );
    const second = await page(2);
    expect(second.headers.get('link')).toMatch(/page=1>; rel="prev", <.*page=3>; rel="next"/);
    expect(second.headers.get('date')).toBeTruthy();
    const past = await page(9);
    expect(await past.json()).toEqual([]);
    expect(past.headers.get('link')).toContain('rel="prev"');
  });

  it('refuses per_page above 100 with rest_invalid_param', async () => {
    const e = await storefrontRejection(c.get('products', { params: { per_page: 101 } }));
    expect(e.status).toBe(400);
    expect(e.code).toBe('rest_invalid_param');
    expect(e.message).toContain('Invalid parameter(s): per_page');
    expect((await storefrontRejection(c.get('products', { params: { per_page: 0 } }))).status).toBe(400);
  });

  it('honours _fields', async () => {
    fake.addSimple({ sku: 'A-1' });
    const res = await c.get<Record<string, unknown>[]>('products', {
      params: { sku: 'A-1', _fields: 'id,sku' },
    });
    expect(Object.keys(res.data[0] ?? {}).sort()).toEqual(['id', 'sku']);
  });
});

describe('single products and variations', () => {
  it('reads a variation at products/<id> but refuses to write it there', async () => {
    const { parent, variations } = fake.addVariable({ name: 'P', variations: [{ sku: 'V-1', stock: 1 }] });
    const v = variations[0] as WooProductJson;
    expect((await c.get<WooProductJson>(`products/${v.id}`)).data.type).toBe('variation');
    const e = await storefrontRejection(c.put(`products/${v.id}`, { stock_quantity: 5 }));
    expect(e.status).toBe(404);
    expect(e.code).toBe('woocommerce_rest_invalid_product_id');

    const ok = await c.put<WooProductJson>(`products/${parent.id}/variations/${v.id}`, { stock_quantity: 5 });
    expect(ok.data.stock_quantity).toBe(5);
    const other = fake.addVariable({ name: 'Q', variations: [{ sku: 'W-1' }] });
    const wrong = await storefrontRejection(
      c.put(`products/${other.parent.id}/variations/${v.id}`, { stock_quantity: 1 }),
    );
    expect(wrong.status).toBe(404);
    expect(wrong.code).toBe('woocommerce_rest_product_variation_invalid_id');
    expect((await storefrontRejection(c.get('products/999999'))).code).toBe(
      'woocommerce_rest_product_invalid_id',
    );
  });

  it('casts nulls in a direct PUT', async () => {
    const p = fake.addSimple({ sku: 'N-1', stock: 7 });
    const put = await c.put<WooProductJson>(`products/${p.id}`, { stock_quantity: null });
    expect(put.data).toMatchObject({ stock_quantity: 0, stock_status: 'outofstock', manage_stock: true });
    await c.put(`products/${p.id}`, { manage_stock: null });
    expect(fake.product(p.id)).toMatchObject({ manage_stock: false, stock_quantity: null });
    await c.put(`products/${p.id}`, { sku: null });
    expect(fake.product(p.id)?.sku).toBe('');
  });

  it('derives stock_status from managed stock, and a variable parent from its variations', async () => {
    const { parent, variations } = fake.addVariable({
      name: 'P',
      variations: [
        { sku: 'V-1', stock: 2 },
        { sku: 'V-2', stock: 0 },
      ],
    });
    expect(fake.product(parent.id)?.stock_status).toBe('instock');
    await c.put(`products/${parent.id}/variations/${variations[0]?.id}`, {
      manage_stock: true,
      stock_quantity: 0,
    });
    expect(fake.product(variations[0]?.id ?? 0)?.stock_status).toBe('outofstock');
    expect(fake.product(parent.id)?.stock_status).toBe('outofstock');
    await c.put(`products/${parent.id}/variations/${variations[1]?.id}`, { stock_quantity: 4 });
    expect(fake.product(parent.id)?.stock_status).toBe('instock');
    const off = fake.addSimple({ sku: 'OFF', stock: 3 });
    await c.put(`products/${off.id}`, { manage_stock: false, stock_status: 'outofstock' });
    expect(fake.product(off.id)).toMatchObject({ stock_quantity: null, stock_status: 'outofstock' });
  });

  it('refuses a duplicate SKU on create (any case, trailing spaces)', async () => {
    const existing = fake.addSimple({ sku: 'DUP-1' });
    const e = await storefrontRejection(c.post('products', { name: 'x', sku: 'dup-1 ' }));
    expect(e.status).toBe(400);
    expect(e.code).toBe('product_invalid_sku');
    const batch = await c.post<{
      create: { id: number; error: { code: string; data: Record<string, unknown> } }[];
    }>('products/batch', { create: [{ name: 'x', sku: 'DUP-1' }] });
    expect(batch.data.create[0]).toMatchObject({
      id: 0,
      error: { code: 'product_invalid_sku', data: { status: 400, resource_id: existing.id } },
    });
  });
});

describe('batch', () => {
  it('refuses more than 100 objects with 413', async () => {
    const ids = Array.from({ length: 101 }, (_, i) => fake.addSimple({ sku: `B-${i}` }).id);
    const e = await storefrontRejection(
      c.post(
        'products/batch',
        { update: ids.map((id) => ({ id, stock_quantity: 1 })) },
        { idempotent: true },
      ),
    );
    expect(e.status).toBe(413);
    expect(e.code).toBe('woocommerce_rest_request_entity_too_large');
    // create + update + delete count together
    const mixed = await storefrontRejection(
      c.post('products/batch', {
        create: [{ name: 'n' }],
        update: ids.slice(0, 100).map((id) => ({ id, stock_quantity: 1 })),
      }),
    );
    expect(mixed.status).toBe(413);
    expect(fake.product(ids[0] ?? 0)?.stock_quantity).toBe(0);
  });

  it('reports per-item errors with HTTP 200 and applies the rest; batch items ignore nulls', async () => {
    const a = fake.addSimple({ sku: 'A', stock: 1 });
    const b = fake.addSimple({ sku: 'B', stock: 1 });
    const { variations } = fake.addVariable({ name: 'P', variations: [{ sku: 'V', stock: 1 }] });
    const v = variations[0] as WooProductJson;
    fake.failItems(['b'], 'woocommerce_rest_cannot_edit');
    const res = await c.post<BatchAnswer>('products/batch', {
      update: [
        { id: a.id, manage_stock: true, stock_quantity: 9, sku: null },
        { id: b.id, stock_quantity: 9 },
        { id: v.id, stock_quantity: 9 },
        { id: 987654, stock_quantity: 9 },
      ],
    });
    expect(res.status).toBe(200);
    const [ra, rb, rv, rgone] = res.data.update ?? [];
    expect(ra).toMatchObject({ id: a.id, stock_quantity: 9, sku: 'A' });
    expect(rb).toMatchObject({
      id: b.id,
      error: { code: 'woocommerce_rest_cannot_edit', data: { status: 500 } },
    });
    expect(rv).toMatchObject({
      id: v.id,
      error: { code: 'woocommerce_rest_invalid_product_id', data: { status: 404 } },
    });
    expect(rgone).toMatchObject({ id: 987654, error: { code: 'woocommerce_rest_product_invalid_id' } });
    expect(fake.product(b.id)?.stock_quantity).toBe(1);
    expect(fake.product(v.id)?.stock_quantity).toBe(1);
  });

  it('comes back [] with _fields, although it writes', async () => {
    const a = fake.addSimple({ sku: 'A', stock: 1 });
    const res = await c.post(
      'products/batch',
      { update: [{ id: a.id, stock_quantity: 4 }] },
      { params: { _fields: 'id' } },
    );
    expect(res.data).toEqual([]);
    expect(fake.product(a.id)?.stock_quantity).toBe(4);
  });
});

describe('counters, faults and seeding', () => {
  it('counts reads and writes by route', async () => {
    const p = fake.addSimple({ sku: 'C' });
    await c.get('products', { params: { sku: 'C' } });
    await c.post('products/batch', { update: [{ id: p.id, stock_quantity: 1 }] });
    await c.put(`products/${p.id}`, { stock_quantity: 2 });
    expect(fake.readCalls).toBe(1);
    expect(fake.writeCalls).toBe(2);
    expect(fake.count({ method: 'POST', route: 'products/batch' })).toBe(1);
    expect(fake.count({ route: 'products/:id' })).toBe(1);
  });

  it('goes down either way: 503 pages, or refused connections, and comes back', async () => {
    await fake.setDown('503');
    const e = await storefrontRejection(c.get('products'));
    expect(e.status).toBe(503);
    await fake.setDown('refuse');
    const refused = await storefrontRejection(c.get('products'));
    expect(refused.status).toBeUndefined();
    expect(refused.code).toBe('ECONNREFUSED');
    expect(refused.retryable).toBe(true);
    await fake.setDown(false);
    expect((await c.get('products')).status).toBe(200);
  });

  it('seeds a realistic catalogue: variable parents for the largest groups, simple products for the rest', () => {
    const skus = [
      'PSN-US-10',
      'PSN-US-20',
      'PSN-US-50',
      'PSN-GB-10',
      'PSN-GB-20',
      'PSN-TR-250',
      'PSN-DE-5',
      'PSN-DE-10',
    ];
    const seeded = fake.seedCatalog(skus, { stock: (_sku, i) => i, variableParents: 2 });
    expect(seeded.parents.map((p) => p.variations.length)).toEqual([3, 2]);
    // Ties go alphabetically: DE (2) beats GB (2).
    expect(seeded.simple.map((p) => p.sku)).toEqual(['PSN-GB-10', 'PSN-GB-20', 'PSN-TR-250']);
    expect(fake.productBySku('psn-de-10')).toMatchObject({ type: 'variation', stock_quantity: 7 });
    expect(fake.productBySku('PSN-GB-20')).toMatchObject({ type: 'simple', stock_quantity: 4 });
    expect(fake.product(seeded.parents[0]?.parent.id ?? 0)?.variations).toHaveLength(3);
  });
});

describe('a shop with few PHP workers (latency and a worker cap)', () => {
  const burst = (n: number) =>
    Promise.all(Array.from({ length: n }, () => c.get<unknown[]>('products', { params: { per_page: 1 } })));

  it('serves at most `workers` requests at once; the rest queue and are answered', async () => {
    fake.latencyMs = 30;
    fake.workers = 2;
    const local = wooClientFor(fake, { store: 'shop-wide', concurrency: 6 });
    try {
      const answers = await Promise.all(
        Array.from({ length: 6 }, () => local.get<unknown[]>('products', { params: { per_page: 1 } })),
      );
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200]);
      expect(fake.maxInFlight).toBe(2);
      expect(fake.inFlight).toBe(0);
    } finally {
      await local.close();
    }
  });

  it('has no cap by default: the client’s own limit is what bounds it', async () => {
    fake.latencyMs = 30;
    await burst(4);
    expect(fake.maxInFlight).toBe(2); // the client's concurrency: 2
  });
});
