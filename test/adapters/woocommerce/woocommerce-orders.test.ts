import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WooCommerceStorefront } from '../../../adapters/woocommerce/woocommerce-adapter.js';
import {
  isClosed,
  isPaid,
  unitsToFulfill,
  type WooOrderFacts,
} from '../../../adapters/woocommerce/woocommerce-paid-rules.js';
import type { WooStoreConfig } from '../../../config/schema.js';
import { FakeWooCommerce } from '../../../fakes/woocommerce/fake-woocommerce.js';
import { toSafeError } from '../../../src/errors.js';
import { nextStepIndex } from '../../../src/fulfillment/delivering.js';
import { createLogger } from '../../../src/log.js';
import type { Delivery, ShopOrders, WebhookVerdict } from '../../../src/storefront.js';
import { MemorySkuCache } from '../../helpers/memory-sku-cache.js';

const SECRET = 'wcwh_test_secret_0123456789';
const CODES = {
  us1: '7QXK-M2PA-R9TD',
  us2: 'B4NM-Q8ZL-K2WV',
  tr1: 'TTRR-9911-AZQX',
  us3: 'ZZ9P-LURA-LPHA',
} as const;
const D1 = '0b6c4f3e-1d2a-4c5b-9e8f-123456789abc';
const D2 = '1c7d5a4f-2e3b-4d6c-8f9a-23456789abcd';

let fake: FakeWooCommerce;
let shop: WooCommerceStorefront;
let orders: ShopOrders;
let logText: string;

function config(overrides: Partial<WooStoreConfig> = {}): WooStoreConfig {
  return {
    name: 'shop-a',
    type: 'woocommerce',
    url: fake.url,
    consumerKey: fake.consumerKey,
    consumerSecret: fake.consumerSecret,
    webhookSecret: SECRET,
    weight: 1,
    unpaidMethods: ['cod'],
    timeoutMs: 5_000,
    concurrency: 2,
    ...overrides,
  };
}

function storefront(overrides: Partial<WooStoreConfig> = {}): WooCommerceStorefront {
  const stream = new Writable({
    write(chunk, _enc, cb) {
      logText += String(chunk);
      cb();
    },
  });
  const log = createLogger({ level: 'debug', format: 'json', stream });
  return new WooCommerceStorefront(
    config(overrides),
    { log, cache: new MemorySkuCache(), missingRecheckMs: 60_000, now: () => Date.now() },
    { retry: { attempts: 2, baseMs: 1, maxMs: 5 } },
  );
}

beforeEach(async () => {
  logText = '';
  // A site east of UTC: `date_*` and `date_*_gmt` differ, so using the wrong one shows.
  fake = new FakeWooCommerce({ utcOffsetMinutes: 180 });
  await fake.start();
  fake.addSimple({ sku: 'PSN-US-50', stock: 20, price: '50' });
  fake.addSimple({ sku: 'PSN-TR-250', stock: 20, price: '12' });
  fake.addSimple({ sku: 'MUG-1', stock: 5, price: '9' });
  shop = storefront();
  orders = shop.orders as ShopOrders;
});
afterEach(async () => {
  await shop.close();
  await fake.stop();
});

const lineId = (orderId: number, sku: string) =>
  String(fake.order(orderId)?.line_items.find((l) => l.sku === sku)?.id);

function delivery(orderId: number, lines: Delivery['lines'], over: Partial<Delivery> = {}): Delivery {
  return {
    deliveryId: D1,
    orderId: String(orderId),
    lines,
    supplierOrderIds: ['so_1'],
    deliveredAt: '2025-06-01T12:00:00.000Z',
    completesOrder: true,
    ...over,
  };
}

const us = (code: string) => ({ region: 'US', denomination: 50, currency: 'USD', code });
const tr = (code: string) => ({ region: 'TR', denomination: 250, currency: 'TRY', code });

async function runAll(d: Delivery): Promise<void> {
  for (const step of orders.deliverySteps) await orders.runDeliveryStep(step, d);
}

describe('paid rules (pure)', () => {
  const base: WooOrderFacts = {
    status: 'processing',
    datePaidGmt: '2025-06-01T10:00:00',
    paymentMethod: 'stripe',
    lines: [{ id: '1', quantity: 3 }],
    refunded: {},
    delivered: {},
    holdMeta: false,
  };
  it.each([
    ['processing + date_paid', {}, true],
    ['completed + date_paid', { status: 'completed' }, true],
    ['processing without date_paid', { datePaidGmt: null }, false],
    ['on-hold with date_paid', { status: 'on-hold' }, false],
    ['cod, even with date_paid', { paymentMethod: 'cod' }, false],
    ['pending', { status: 'pending' }, false],
  ] as const)('%s', (_name, over, paid) => {
    expect(isPaid({ ...base, ...over }, ['cod'])).toBe(paid);
  });
  it('units = quantity − refunded − delivered, never negative; closed when all refunded', () => {
    expect(
      unitsToFulfill({ ...base, refunded: { '1': 1 }, delivered: { '1': 1 } }, { id: '1', quantity: 3 }),
    ).toBe(1);
    expect(
      unitsToFulfill({ ...base, refunded: { '1': 3 }, delivered: { '1': 1 } }, { id: '1', quantity: 3 }),
    ).toBe(0);
    expect(isClosed({ ...base, refunded: { '1': 3 } })).toBe(true);
    expect(isClosed({ ...base, status: 'failed' })).toBe(true);
    expect(isClosed(base)).toBe(false);
  });
});

describe('paid rules, read from the store over HTTP', () => {
  it('card payment: processing with date_paid is paid', async () => {
    const o = fake.placeOrder({ lines: [{ sku: 'PSN-US-50', quantity: 2 }] });
    expect(o.status).toBe('processing');
    const got = await orders.getOrder(String(o.id));
    expect(got).toMatchObject({
      paid: true,
      closed: false,
      merchantHold: false,
      ourHold: false,
      number: `#${o.id}`,
      currency: 'USD',
    });
    // paidUnitCents: the line `total` over its quantity, what the buyer paid for one unit.
    expect(got?.lines).toEqual([
      {
        id: String(o.line_items[0]?.id),
        sku: 'PSN-US-50',
        quantity: 2,
        unitsToFulfill: 2,
        paidUnitCents: 5000,
      },
    ]);
  });

  it('all virtual + downloadable: completed at once, paid', async () => {
    const o = fake.placeOrder({ lines: [{ sku: 'PSN-US-50', quantity: 1 }], virtual: true });
    expect(o.status).toBe('completed');
    expect((await orders.getOrder(String(o.id)))?.paid).toBe(true);
  });

  it('cash on delivery: processing without date_paid, and completed, are never paid', async () => {
    const checkout = fake.placeOrder({
      lines: [{ sku: 'PSN-US-50', quantity: 1 }],
      paymentMethod: 'cod',
      paid: false,
    });
    expect(checkout).toMatchObject({ status: 'processing', date_paid: null });
    expect((await orders.getOrder(String(checkout.id)))?.paid).toBe(false);
    const completed = fake.placeOrder({ lines: [{ sku: 'PSN-US-50', quantity: 1 }], paymentMethod: 'cod' });
    expect(completed.status).toBe('completed');
    expect((await orders.getOrder(String(completed.id)))?.paid).toBe(false);
  });

  it('bank transfer waits on-hold (merchant hold, unpaid) until the merchant confirms it', async () => {
    const o = fake.placeOrder({
      lines: [{ sku: 'PSN-US-50', quantity: 1 }],
      paymentMethod: 'bacs',
      paid: false,
    });
    expect(await orders.getOrder(String(o.id))).toMatchObject({
      paid: false,
      merchantHold: true,
      ourHold: false,
    });
    fake.orders.confirmPayment(o.id);
    expect(await orders.getOrder(String(o.id))).toMatchObject({ paid: true, merchantHold: false });
  });

  it('a partial refund reduces the units, a full one closes the order', async () => {
    const o = fake.placeOrder({
      lines: [
        { sku: 'PSN-US-50', quantity: 3 },
        { sku: 'PSN-TR-250', quantity: 1 },
      ],
    });
    fake.refund(o.id, [{ sku: 'PSN-US-50', quantity: 1 }]);
    const partial = await orders.getOrder(String(o.id));
    expect(partial).toMatchObject({ paid: true, closed: false });
    expect(partial?.lines.map((l) => [l.sku, l.quantity, l.unitsToFulfill])).toEqual([
      ['PSN-US-50', 3, 2],
      ['PSN-TR-250', 1, 1],
    ]);
    fake.refund(o.id, [
      { sku: 'PSN-US-50', quantity: 2 },
      { sku: 'PSN-TR-250', quantity: 1 },
    ]);
    expect(fake.orderStatus(o.id)).toBe('refunded');
    expect(await orders.getOrder(String(o.id))).toMatchObject({ closed: true, paid: false });
  });

  it('cancelled is closed; a missing order is null', async () => {
    const o = fake.placeOrder({ lines: [{ sku: 'PSN-US-50', quantity: 1 }] });
    fake.cancel(o.id);
    expect(await orders.getOrder(String(o.id))).toMatchObject({ closed: true });
    expect(await orders.getOrder('999999')).toBeNull();
  });
});

describe('intake', () => {
  it('pages every changed order, oldest first, and resumes from a cursor', async () => {
    for (let i = 0; i < 230; i++) fake.placeOrder({ lines: [{ sku: 'PSN-US-50', quantity: 1 }] });
    fake.placeOrder({ lines: [{ sku: 'PSN-US-50', quantity: 1 }], paid: false }); // pending: not listed
    fake.resetCounters();
    const first = await orders.listChangedOrders(null);
    expect(first.orders).toHaveLength(230);
    // Keyset paging re-reads the last second of each page: 3 pages, at most one more call.
    expect(fake.count({ method: 'GET', route: 'orders' })).toBeGreaterThanOrEqual(3);
    expect(fake.count({ method: 'GET', route: 'orders' })).toBeLessThanOrEqual(4);
    expect(new Set(first.orders.map((o) => o.id)).size).toBe(230);
    expect(first.latest).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000Z$/);

    // Later changes, by the shop's clock: only they come back after a later cursor.
    fake.clockSkewMs = 120_000;
    const changed = first.orders[5]?.id as string;
    fake.cancel(Number(changed));
    const cursor = new Date(Date.parse(first.latest as string) + 60_000).toISOString();
    const next = await orders.listChangedOrders(cursor);
    expect(next.orders.map((o) => o.id)).toEqual([changed]);
    expect(next.orders[0]?.closed).toBe(true);
    expect(Date.parse(next.latest as string)).toBeGreaterThan(Date.parse(first.latest as string));
    expect(fake.requests.at(-1)?.status).toBe(200);
  });

  it('includes orders modified in the cursor second itself (modified_after is strict)', async () => {
    const o = fake.placeOrder({ lines: [{ sku: 'PSN-US-50', quantity: 1 }] });
    const at = `${fake.order(o.id)?.date_modified_gmt}Z`;
    const out = await orders.listChangedOrders(new Date(at).toISOString());
    expect(out.orders.map((x) => x.id)).toEqual([String(o.id)]);
  });
});

describe('delivery', () => {
  it('writes exactly one note in the published format, meta without codes, then completes', async () => {
    const o = fake.placeOrder({
      lines: [
        { sku: 'PSN-US-50', quantity: 2 },
        { sku: 'PSN-TR-250', quantity: 1 },
      ],
    });
    const usLine = lineId(o.id, 'PSN-US-50');
    const trLine = lineId(o.id, 'PSN-TR-250');
    const d = delivery(o.id, [
      { lineId: usLine, codes: [us(CODES.us1), us(CODES.us2)] },
      { lineId: trLine, codes: [tr(CODES.tr1)] },
    ]);
    await runAll(d);

    const notes = fake.notesOf(o.id, { customer: true });
    expect(notes).toHaveLength(1);
    expect(notes[0]?.note).toBe(
      [
        'Your PlayStation Network codes:',
        'PSN US 50 USD: 7QXK-M2PA-R9TD',
        'PSN US 50 USD: B4NM-Q8ZL-K2WV',
        'PSN TR 250 TRY: TTRR-9911-AZQX',
        `[psnb2b:${D1}]`,
      ].join('\n'),
    );
    expect(notes[0]?.author).toBe('WooCommerce');
    const meta = fake.orderMeta(o.id, '_psnb2b_delivery');
    expect(meta).toEqual({
      deliveryId: D1,
      supplierOrderIds: ['so_1'],
      deliveredAt: '2025-06-01T12:00:00.000Z',
      lines: { [usLine]: 2, [trLine]: 1 },
      deliveries: [D1],
    });
    for (const c of Object.values(CODES))
      expect(JSON.stringify(fake.order(o.id)?.meta_data)).not.toContain(c);
    expect(fake.orderStatus(o.id)).toBe('completed');
    expect(fake.outbox.filter((e) => e.orderId === o.id).map((e) => e.type)).toEqual([
      'customer_processing_order', // WooCommerce's own, at checkout
      'customer_note',
      'customer_completed_order',
    ]);
    const after = await orders.getOrder(String(o.id));
    expect(after?.lines.map((l) => l.unitsToFulfill)).toEqual([0, 0]);
    expect(after?.deliveryIds).toEqual([D1]);
  });

  it('a delivery is one note and one PUT carrying meta and status together, each after one read-back', async () => {
    const o = fake.placeOrder({ lines: [{ sku: 'PSN-US-50', quantity: 1 }] });
    fake.resetCounters();
    await runAll(delivery(o.id, [{ lineId: lineId(o.id, 'PSN-US-50'), codes: [us(CODES.us1)] }]));
    expect(fake.orderStatus(o.id)).toBe('completed');
    // Was 7 calls (PUT orders/:id x2, GET orders/:id x2, notes GET + POST): now the minimum that
    // keeps a read-back before each write.
    expect(fake.requests.map((r) => `${r.method} ${r.route}`)).toEqual([
      'GET orders/:id/notes',
      'POST orders/:id/notes',
      'GET orders/:id',
      'PUT orders/:id',
    ]);
  });

  it('given the order read before the attempt, a first attempt is one POST and one PUT; a retry reads the notes back', async () => {
    const o = fake.placeOrder({ lines: [{ sku: 'PSN-US-50', quantity: 1 }] });
    const d = delivery(o.id, [{ lineId: lineId(o.id, 'PSN-US-50'), codes: [us(CODES.us1)] }]);
    const readBefore = await orders.getOrder(String(o.id));
    if (!readBefore) throw new Error('order not read');
    fake.resetCounters();
    for (const step of orders.deliverySteps)
      await orders.runDeliveryStep(step, d, { readBefore, nothingWrittenYet: true });
    expect(fake.requests.map((r) => `${r.method} ${r.route}`)).toEqual([
      'POST orders/:id/notes',
      'PUT orders/:id',
    ]);
    expect(fake.orderStatus(o.id)).toBe('completed');
    // A crash after the note, before it was recorded: the retry may have written, so it reads back.
    const again = await orders.getOrder(String(o.id));
    if (!again) throw new Error('order not read');
    fake.resetCounters();
    await orders.runDeliveryStep('note', d, { readBefore: again, nothingWrittenYet: false });
    expect(fake.requests.map((r) => `${r.method} ${r.route}`)).toEqual(['GET orders/:id/notes']);
    expect(fake.notesOf(o.id, { customer: true })).toHaveLength(1);
  });

  it('a delivery recorded as far as its meta by an earlier version resumes and completes the order', async () => {
    const o = fake.placeOrder({ lines: [{ sku: 'PSN-US-50', quantity: 1 }] });
    const d = delivery(o.id, [{ lineId: lineId(o.id, 'PSN-US-50'), codes: [us(CODES.us1)] }]);
    await orders.runDeliveryStep('note', d);
    // The steps after a retired step name: what the core resumes with for such a row.
    expect(
      orders.deliverySteps.slice(
        nextStepIndex(orders.deliverySteps, { id: 'd', step: 'meta' }, orders.retiredSteps),
      ),
    ).toEqual(['record']);
    expect(
      orders.deliverySteps.slice(
        nextStepIndex(orders.deliverySteps, { id: 'd', step: 'complete' }, orders.retiredSteps),
      ),
    ).toEqual([]);
    await orders.runDeliveryStep('record', d);
    expect(fake.orderStatus(o.id)).toBe('completed');
    expect(fake.notesOf(o.id, { customer: true })).toHaveLength(1);
  });

  it('running every step twice (crash between write and record) writes one note and counts once', async () => {
    const o = fake.placeOrder({ lines: [{ sku: 'PSN-US-50', quantity: 2 }] });
    const d = delivery(o.id, [{ lineId: lineId(o.id, 'PSN-US-50'), codes: [us(CODES.us1), us(CODES.us2)] }]);
    fake.resetCounters();
    await runAll(d);
    await runAll(d);
    expect(fake.notesOf(o.id, { customer: true })).toHaveLength(1);
    expect(fake.count({ method: 'POST', route: 'orders/:id/notes' })).toBe(1);
    expect(fake.count({ method: 'PUT', route: 'orders/:id' })).toBe(1); // meta and status together, once
    expect((fake.orderMeta(o.id, '_psnb2b_delivery') as { lines: Record<string, number> }).lines).toEqual({
      [lineId(o.id, 'PSN-US-50')]: 2,
    });
  });

  it('accumulates several deliveries per order and completes only when all units are in', async () => {
    const o = fake.placeOrder({ lines: [{ sku: 'PSN-US-50', quantity: 3 }] });
    const line = lineId(o.id, 'PSN-US-50');
    await runAll(
      delivery(o.id, [{ lineId: line, codes: [us(CODES.us1), us(CODES.us2)] }], { completesOrder: false }),
    );
    expect(fake.orderStatus(o.id)).toBe('processing');
    expect((await orders.getOrder(String(o.id)))?.lines[0]?.unitsToFulfill).toBe(1);
    await runAll(
      delivery(o.id, [{ lineId: line, codes: [us(CODES.us3)] }], {
        deliveryId: D2,
        supplierOrderIds: ['so_2'],
        deliveredAt: '2025-06-01T13:00:00.000Z',
      }),
    );
    expect(fake.orderMeta(o.id, '_psnb2b_delivery')).toEqual({
      deliveryId: D2,
      supplierOrderIds: ['so_2'],
      deliveredAt: '2025-06-01T13:00:00.000Z',
      lines: { [line]: 3 },
      deliveries: [D1, D2],
    });
    expect(fake.notesOf(o.id, { customer: true })).toHaveLength(2);
    expect(fake.orderStatus(o.id)).toBe('completed');
  });

  it('an order with a line that is not ours is never completed', async () => {
    const o = fake.placeOrder({
      lines: [
        { sku: 'PSN-US-50', quantity: 1 },
        { sku: 'MUG-1', quantity: 1 },
      ],
    });
    const lines = [{ lineId: lineId(o.id, 'PSN-US-50'), codes: [us(CODES.us1)] }];
    await runAll(delivery(o.id, lines, { completesOrder: false }));
    expect(fake.orderStatus(o.id)).toBe('processing');
    // Even if told otherwise, the store still shows an undelivered unit: no completion.
    await orders.runDeliveryStep('record', delivery(o.id, lines, { completesOrder: true }));
    expect(fake.orderStatus(o.id)).toBe('processing');
    expect(fake.outbox.filter((e) => e.type === 'customer_completed_order')).toHaveLength(0);
  });

  it('never completes a cancelled order', async () => {
    const o = fake.placeOrder({ lines: [{ sku: 'PSN-US-50', quantity: 1 }] });
    const d = delivery(o.id, [{ lineId: lineId(o.id, 'PSN-US-50'), codes: [us(CODES.us1)] }]);
    await orders.runDeliveryStep('note', d);
    fake.cancel(o.id);
    await orders.runDeliveryStep('record', d);
    expect(fake.orderStatus(o.id)).toBe('cancelled');
  });

  it('refuses a delivery for a line the order does not have, and codes a note cannot carry', async () => {
    const o = fake.placeOrder({ lines: [{ sku: 'PSN-US-50', quantity: 1 }] });
    await expect(
      orders.runDeliveryStep('record', delivery(o.id, [{ lineId: '424242', codes: [us(CODES.us1)] }])),
    ).rejects.toMatchObject({ retryable: false });
    const bad = 'AB\\CD-EFGH';
    const err = await orders
      .runDeliveryStep('note', delivery(o.id, [{ lineId: lineId(o.id, 'PSN-US-50'), codes: [us(bad)] }]))
      .catch((e: unknown) => e);
    expect(String((err as Error).message)).not.toContain(bad);
    expect(fake.notesOf(o.id, { customer: true })).toHaveLength(0);
  });
});

describe('holds', () => {
  it('our hold: on-hold, meta, one note to the buyer; released back to processing', async () => {
    const o = fake.placeOrder({ lines: [{ sku: 'PSN-US-50', quantity: 1 }] });
    const id = String(o.id);
    await orders.hold(id, 'Your codes are delayed; we will deliver them shortly.');
    await orders.hold(id, 'Your codes are delayed; we will deliver them shortly.');
    expect(fake.orderStatus(o.id)).toBe('on-hold');
    expect(fake.orderMeta(o.id, '_psnb2b_hold')).toMatchObject({
      reason: 'Your codes are delayed; we will deliver them shortly.',
    });
    expect(fake.notesOf(o.id, { customer: true }).map((n) => n.note)).toEqual([
      'Your codes are delayed; we will deliver them shortly.',
    ]);
    expect(await orders.getOrder(id)).toMatchObject({ ourHold: true, merchantHold: false, paid: false });
    await orders.releaseHold(id);
    expect(fake.orderStatus(o.id)).toBe('processing');
    expect(fake.orderMeta(o.id, '_psnb2b_hold')).toBeUndefined();
    expect(await orders.getOrder(id)).toMatchObject({ ourHold: false, paid: true });
  });

  it('completing a delivery clears our hold', async () => {
    const o = fake.placeOrder({ lines: [{ sku: 'PSN-US-50', quantity: 1 }] });
    await orders.hold(String(o.id), 'Waiting for stock.');
    await runAll(delivery(o.id, [{ lineId: lineId(o.id, 'PSN-US-50'), codes: [us(CODES.us1)] }]));
    expect(fake.orderStatus(o.id)).toBe('completed');
    expect(fake.orderMeta(o.id, '_psnb2b_hold')).toBeUndefined();
  });

  it("a merchant's own hold is never taken over or released", async () => {
    const o = fake.placeOrder({ lines: [{ sku: 'PSN-US-50', quantity: 1 }] });
    fake.holdByMerchant(o.id);
    const id = String(o.id);
    await orders.hold(id, 'Delayed.');
    await orders.releaseHold(id);
    expect(fake.orderStatus(o.id)).toBe('on-hold');
    expect(fake.orderMeta(o.id, '_psnb2b_hold')).toBeUndefined();
    expect(fake.notesOf(o.id, { customer: true })).toHaveLength(0);
    expect(await orders.getOrder(id)).toMatchObject({ merchantHold: true, ourHold: false });
  });
});

describe('webhooks', () => {
  let receiver: http.Server;
  let publicUrl: string;
  const verdicts: WebhookVerdict[] = [];

  beforeEach(async () => {
    verdicts.length = 0;
    receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const v = orders.verifyWebhook({ headers: req.headers, rawBody: Buffer.concat(chunks) });
        verdicts.push(v);
        res.writeHead(v.kind === 'rejected' ? 401 : 200).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    publicUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`;
  });
  afterEach(async () => {
    await new Promise((r) => receiver.close(r));
  });

  it('registers two webhooks once, answers their pings, and verifies deliveries', async () => {
    await orders.ensureWebhooks(publicUrl);
    await orders.ensureWebhooks(publicUrl);
    const hooks = fake.orders.webhookList();
    expect(hooks.map((h) => h.topic).sort()).toEqual(['order.created', 'order.updated']);
    expect(
      hooks.every((h) => h.delivery_url === `${publicUrl}webhooks/woocommerce/shop-a` && h.secret === SECRET),
    ).toBe(true);
    expect(verdicts).toEqual([{ kind: 'ping' }, { kind: 'ping' }]);

    const o = fake.placeOrder({ lines: [{ sku: 'PSN-US-50', quantity: 1 }] });
    const [sent] = await fake.deliverWebhooks();
    expect(sent?.response).toBe(200);
    expect(verdicts.at(-1)).toEqual({ kind: 'order', eventId: sent?.deliveryId, orderId: String(o.id) });
    // The same delivery again: the same event id (deduplication is the core's job).
    await fake.orders.redeliver(sent?.deliveryId as string);
    expect(verdicts.at(-1)).toEqual({ kind: 'order', eventId: sent?.deliveryId, orderId: String(o.id) });
    fake.cancel(o.id);
    const [update] = await fake.deliverWebhooks();
    expect(update?.topic).toBe('order.updated');
    expect(JSON.parse(update?.body as string).status).toBe('cancelled');
  });

  it('rejects forged and unsigned deliveries, ignores other topics', () => {
    const body = Buffer.from(JSON.stringify({ id: 1001 }));
    const sign = (secret: string) => createHmac('sha256', secret).update(body).digest('base64');
    const headers = (signature?: string, topic = 'order.updated') => ({
      'x-wc-webhook-topic': topic,
      'x-wc-webhook-delivery-id': 'abc123',
      ...(signature && { 'x-wc-webhook-signature': signature }),
    });
    expect(orders.verifyWebhook({ headers: headers(sign(SECRET)), rawBody: body })).toEqual({
      kind: 'order',
      eventId: 'abc123',
      orderId: '1001',
    });
    expect(orders.verifyWebhook({ headers: headers(sign('wrong-secret')), rawBody: body }).kind).toBe(
      'rejected',
    );
    expect(orders.verifyWebhook({ headers: headers(), rawBody: body }).kind).toBe('rejected');
    expect(
      orders.verifyWebhook({
        headers: headers(sign(SECRET)),
        rawBody: Buffer.from(JSON.stringify({ id: 1002 })),
      }).kind,
    ).toBe('rejected');
    expect(
      orders.verifyWebhook({ headers: headers(sign(SECRET), 'product.updated'), rawBody: body }),
    ).toMatchObject({
      kind: 'ignored',
      eventId: 'abc123',
    });
    expect(orders.verifyWebhook({ headers: {}, rawBody: Buffer.from('webhook_id=7') })).toEqual({
      kind: 'ping',
    });
  });

  it('rejects everything signed when no secret is configured', async () => {
    const bare = storefront({ webhookSecret: undefined });
    const body = Buffer.from('{"id":1}');
    const v = bare.orders?.verifyWebhook({
      headers: { 'x-wc-webhook-signature': createHmac('sha256', SECRET).update(body).digest('base64') },
      rawBody: body,
    });
    expect(v?.kind).toBe('rejected');
    await bare.close();
  });
});

describe('no code ever leaks', () => {
  it('not in logs, and not in the error of a failed delivery write', async () => {
    const o = fake.placeOrder({ lines: [{ sku: 'PSN-US-50', quantity: 1 }] });
    const d = delivery(o.id, [{ lineId: lineId(o.id, 'PSN-US-50'), codes: [us(CODES.us1)] }]);
    await fake.setDown('503');
    const err = await orders.runDeliveryStep('note', d).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'storefront', retryable: true });
    await fake.setDown(false);
    await runAll(d);
    await runAll(d);
    const texts = [String((err as Error).message), JSON.stringify(toSafeError(err)), logText];
    expect(logText).toContain('delivery note written');
    for (const t of texts) for (const c of Object.values(CODES)) expect(t).not.toContain(c);
  });
});
