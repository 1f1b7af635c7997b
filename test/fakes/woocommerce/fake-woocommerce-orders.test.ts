import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { WooCommerceClient } from '../../../adapters/woocommerce/woocommerce-client.js';
import { FakeWooCommerce } from '../../../fakes/woocommerce/fake-woocommerce.js';
import { wooClientFor } from '../../helpers/woo-client.js';

/** The fake's order routes behave as NOTES.md observed, through the real client over HTTP. */

let fake: FakeWooCommerce;
let client: WooCommerceClient;
let productId: number;

beforeEach(async () => {
  fake = new FakeWooCommerce();
  await fake.start();
  productId = fake.addSimple({ sku: 'PSN-US-50', stock: 10, price: '50' }).id;
  client = wooClientFor(fake, { store: 't' });
});
afterEach(async () => {
  await client.close();
  await fake.stop();
});

type Order = Record<string, unknown> & { id: number; status: string; line_items: { id: number }[] };
const create = async (body: Record<string, unknown>) => (await client.post<Order>('orders', body)).data;
const put = async (id: number, body: Record<string, unknown>) =>
  (await client.put<Order>(`orders/${id}`, body)).data;
const stock = () => fake.product(productId)?.stock_quantity;

describe('creating and paying', () => {
  it('is pending unpaid; set_paid gives processing with date_paid, and reduces stock once', async () => {
    const pending = await create({ line_items: [{ sku: 'PSN-US-50', quantity: 2 }] });
    expect(pending).toMatchObject({ status: 'pending', date_paid: null });
    expect(stock()).toBe(10);
    const paid = await create({
      payment_method: 'stripe',
      set_paid: true,
      line_items: [{ product_id: productId, quantity: 2 }],
    });
    expect(paid.status).toBe('processing');
    expect(paid.date_paid_gmt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/);
    expect(stock()).toBe(8);
    await put(paid.id, { status: 'completed' });
    expect(stock()).toBe(8);
    await put(paid.id, { status: 'cancelled' });
    expect(stock()).toBe(10);
  });

  it('cod and all virtual+downloadable orders go straight to completed; cod has no date_paid', async () => {
    const cod = await create({
      payment_method: 'cod',
      set_paid: true,
      line_items: [{ sku: 'PSN-US-50', quantity: 1 }],
    });
    expect(cod).toMatchObject({ status: 'completed', date_paid: null });
    fake.catalog.setDownloadable(productId, true);
    const digital = await create({
      payment_method: 'stripe',
      set_paid: true,
      line_items: [{ sku: 'PSN-US-50', quantity: 1 }],
    });
    expect(digital.status).toBe('completed');
    expect(digital.date_paid).not.toBeNull();
  });

  it('an unknown SKU gives an empty line; quantity 0 is a 500', async () => {
    const o = await create({ line_items: [{ sku: 'NOPE', quantity: 1 }] });
    expect(o.line_items[0]).toMatchObject({ product_id: 0, name: '', sku: null });
    await expect(create({ line_items: [{ sku: 'PSN-US-50', quantity: 0 }] })).rejects.toMatchObject({
      status: 500,
    });
  });
});

describe('listing', () => {
  it('validates status and per_page, paginates with headers', async () => {
    for (let i = 0; i < 3; i++) fake.placeOrder({ lines: [{ sku: 'PSN-US-50', quantity: 1 }] });
    const res = await client.get<Order[]>('orders', {
      params: { status: 'processing,completed', per_page: 2, page: 2 },
    });
    expect(res.data).toHaveLength(1);
    expect([res.total, res.totalPages]).toEqual([3, 2]);
    await expect(client.get('orders', { params: { status: 'paid' } })).rejects.toMatchObject({
      status: 400,
      code: 'rest_invalid_param',
    });
    await expect(client.get('orders', { params: { per_page: 101 } })).rejects.toMatchObject({ status: 400 });
    await expect(client.get('orders', { params: { modified_after: 'yesterday' } })).rejects.toMatchObject({
      status: 400,
    });
  });
});

describe('updating', () => {
  it('keeps underscore meta with object values, deletes on null, stringifies scalars, bumps date_modified', async () => {
    const o = fake.placeOrder({ lines: [{ sku: 'PSN-US-50', quantity: 1 }] });
    fake.clockSkewMs = 5_000;
    const updated = await put(o.id, {
      meta_data: [
        { key: '_psnb2b_x', value: { a: 1, lines: { '7': 2 }, empty: {} } },
        { key: '_n', value: 5 },
      ],
    });
    expect(updated.date_modified_gmt).not.toBe(o.date_modified_gmt);
    expect(fake.orderMeta(o.id, '_psnb2b_x')).toEqual({ a: 1, lines: { '7': 2 }, empty: [] });
    expect(fake.orderMeta(o.id, '_n')).toBe('5');
    await put(o.id, { meta_data: [{ key: '_n', value: null }] });
    expect(fake.orderMeta(o.id, '_n')).toBeUndefined();
    await expect(put(o.id, { status: null })).rejects.toMatchObject({ status: 400 });
    await expect(put(o.id, { status: 'paid' })).rejects.toMatchObject({ status: 400 });
    await expect(client.get('orders/999999')).rejects.toMatchObject({ status: 404 });
  });
});

describe('notes', () => {
  it('authored WooCommerce, backslashes stripped, customer notes emailed, newest first', async () => {
    const o = fake.placeOrder({ lines: [{ sku: 'PSN-US-50', quantity: 1 }] });
    const res = await client.post<{ note: string; author: string }>(`orders/${o.id}/notes`, {
      note: 'C:\\path',
      customer_note: true,
    });
    expect(res.status).toBe(201);
    expect(res.data).toMatchObject({ note: 'C:path', author: 'WooCommerce', customer_note: true });
    await client.post(`orders/${o.id}/notes`, { note: 'private' });
    const list = await client.get<{ note: string }[]>(`orders/${o.id}/notes`);
    expect(list.data[0]?.note).toBe('private');
    expect(fake.orders.emailsTo(o.id, 'customer_note').map((e) => e.body)).toEqual(['C:path']);
    await expect(client.post(`orders/${o.id}/notes`, {})).rejects.toMatchObject({ status: 400 });
  });
});

describe('refunds', () => {
  it('partial keeps the status, full sets refunded; quantities stay as sold', async () => {
    const o = fake.placeOrder({ lines: [{ sku: 'PSN-US-50', quantity: 2 }] });
    const line = o.line_items[0]?.id as number;
    // A gateway that cannot refund, with api_refund left on: 500.
    const cod = fake.placeOrder({
      lines: [{ sku: 'PSN-US-50', quantity: 1 }],
      paymentMethod: 'cod',
      paid: false,
    });
    await expect(
      client.post(`orders/${cod.id}/refunds`, {
        line_items: [{ id: cod.line_items[0]?.id, quantity: 1, refund_total: 50 }],
      }),
    ).rejects.toMatchObject({ status: 500 });

    await client.post(`orders/${o.id}/refunds`, {
      line_items: [{ id: line, quantity: 1, refund_total: 50 }],
    });
    expect(fake.order(o.id)).toMatchObject({ status: 'processing', refunds: [{ total: '-50.00' }] });
    expect(fake.order(o.id)?.line_items[0]?.quantity).toBe(2);
    const refunds = await client.get<
      { line_items: { quantity: number; meta_data: { key: string; value: unknown }[] }[] }[]
    >(`orders/${o.id}/refunds`);
    expect(refunds.data[0]?.line_items[0]).toMatchObject({
      quantity: -1,
      meta_data: [{ key: '_refunded_item_id', value: String(line) }],
    });
    expect(stock()).toBe(8); // 10 − 2 sold − 1 (cod) + 1 restocked
    await client.post(`orders/${o.id}/refunds`, {
      line_items: [{ id: line, quantity: 1, refund_total: 50 }],
    });
    expect(fake.orderStatus(o.id)).toBe('refunded');
  });
});

describe('webhooks', () => {
  it('keeps the secret write-only and validates the topic', async () => {
    const res = await client.post<Record<string, unknown>>('webhooks', {
      name: 'x',
      topic: 'order.updated',
      delivery_url: 'http://127.0.0.1:9/hook',
      secret: 's3cret-value',
    });
    expect(res.status).toBe(201);
    expect(res.data).not.toHaveProperty('secret');
    expect(fake.orders.pings).toHaveLength(1);
    await expect(
      client.post('webhooks', { topic: 'order.paid', delivery_url: 'http://127.0.0.1:9/hook' }),
    ).rejects.toMatchObject({ status: 400 });
  });
});
