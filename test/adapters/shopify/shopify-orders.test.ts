import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { OUR_HOLD_HANDLE, ShopifyStorefront } from '../../../adapters/shopify/index.js';
import type { ShopifyStoreConfig } from '../../../config/schema.js';
import type { FakeShopify } from '../../../fakes/shopify/fake-shopify.js';
import { codeLine, deliveryMarker } from '../../../src/fulfillment/delivery-text.js';
import { createLogger } from '../../../src/log.js';
import type {
  DeliveredCode,
  Delivery,
  ShopOrder,
  ShopOrders,
  WebhookVerdict,
} from '../../../src/storefront.js';
import { rawGraphql, startFake, TEST_SECRET, TEST_TOKEN } from '../../fakes/shopify/fake-shopify-support.js';
import { MemorySkuCache } from '../../helpers/memory-sku-cache.js';
import { findSecrets } from '../../helpers/secret-leak-scan.js';

/**
 * Order intake and delivery against the fake over real HTTP, through the real
 * `@shopify/shopify-api` client. Assertions read the fake's own state (metafield value,
 * fulfillments, outbox, holds, subscriptions), never the adapter's idea of it.
 */

interface Harness {
  fake: FakeShopify;
  store: ShopifyStorefront;
  orders: ShopOrders;
  logs: () => string;
  errors: string[];
}

const open: { fake: FakeShopify; store: ShopifyStorefront; server?: http.Server }[] = [];

async function harness(): Promise<Harness> {
  const fake = await startFake({
    bucket: { maximumAvailable: 2000, restoreRate: 1000 },
    apiSecretKey: TEST_SECRET,
  });
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (c: Buffer) => {
    text += c.toString('utf8');
  });
  const log = createLogger({ level: 'debug', format: 'json', stream });
  const store = new ShopifyStorefront(
    storeConfig(fake),
    { log, cache: new MemorySkuCache(), missingRecheckMs: 60_000, now: Date.now },
    { retry: { attempts: 2, baseMs: 1, maxMs: 2 } },
  );
  open.push({ fake, store });
  return { fake, store, orders: store.orders, logs: () => text, errors: [] };
}

afterEach(async () => {
  for (const { fake, store, server } of open.splice(0)) {
    await store.close();
    await fake.stop();
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  }
});

function storeConfig(fake: FakeShopify): ShopifyStoreConfig {
  return {
    name: 'shop-b',
    type: 'shopify',
    shop: fake.shop,
    accessToken: TEST_TOKEN,
    apiSecretKey: TEST_SECRET,
    weight: 1,
    timeoutMs: 5000,
    concurrency: 4,
  };
}

let codeSeq = 0;
function code(region = 'US', denomination = 50, currency = 'USD'): DeliveredCode {
  codeSeq++;
  const part = () => randomUUID().slice(0, 4).toUpperCase();
  return { region, denomination, currency, code: `${part()}-${part()}-${String(1000 + codeSeq)}` };
}

function delivery(orderId: string, lines: { lineId: string; codes: DeliveredCode[] }[]): Delivery {
  return {
    deliveryId: randomUUID(),
    orderId,
    lines,
    supplierOrderIds: [`sup_${randomUUID()}`],
    deliveredAt: new Date().toISOString(),
    completesOrder: false,
  };
}

async function deliver(orders: ShopOrders, d: Delivery): Promise<void> {
  for (const step of orders.deliverySteps) await orders.runDeliveryStep(step, d);
}

/**
 * One attempt as the core runs it: the order read right before it (`getOrder`), then the steps
 * from `from` on, each given that read; `nothingWrittenYet` as the delivery's recovery point says.
 */
async function attemptSteps(
  orders: ShopOrders,
  d: Delivery,
  opts: { nothingWrittenYet: boolean; from?: string; readBefore?: (o: ShopOrder) => ShopOrder },
): Promise<void> {
  const read = await orders.getOrder(d.orderId);
  if (!read) throw new Error(`order ${d.orderId} not read`);
  const readBefore = opts.readBefore ? opts.readBefore(read) : read;
  const steps = orders.deliverySteps.slice(opts.from ? orders.deliverySteps.indexOf(opts.from) : 0);
  for (const step of steps) {
    await orders.runDeliveryStep(step, d, { readBefore, nothingWrittenYet: opts.nothingWrittenYet });
  }
}

/** Operation names the fake executed since its stats were reset. */
const operations = (fake: FakeShopify) => fake.stats.operations.map((op) => op.name);

/** An order of 3 units on one line, and two deliveries into it: 2 codes, then 1. */
function twoDeliveries(fake: FakeShopify) {
  const o = fake.placeOrder({ lines: [{ sku: 'PSN-US-50', quantity: 3 }] });
  const first = [code(), code()];
  const second = [code()];
  const d1 = delivery(o.orderId, [{ lineId: o.lineIds[0] as string, codes: first }]);
  const d2 = delivery(o.orderId, [{ lineId: o.lineIds[0] as string, codes: second }]);
  /** The metafield once both are in: merged, in order. */
  const both = [
    ...first.map(codeLine),
    deliveryMarker(d1.deliveryId),
    ...second.map(codeLine),
    deliveryMarker(d2.deliveryId),
  ].join('\n');
  return { o, first, second, d1, d2, both };
}

/** Runs a step, keeping the error's text (to scan for codes) when it throws. */
async function attempt(h: Harness, run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run();
    return undefined;
  } catch (e) {
    h.errors.push(String(e), JSON.stringify(e), (e as Error).stack ?? '');
    return e;
  }
}

function expectNoCodes(h: Harness, codes: DeliveredCode[]): void {
  const secrets = Object.fromEntries(codes.map((c, i) => [`code${i}`, c.code]));
  expect(
    findSecrets(secrets, [
      { label: 'logs', text: h.logs() },
      { label: 'errors', text: h.errors.join('\n') },
    ]),
  ).toEqual([]);
}

describe('ShopifyStorefront.orders — intake', () => {
  it('maps paid / closed / holds / units from the shop, and reads one order', async () => {
    const { fake, orders } = await harness();
    const paid = fake.placeOrder({
      lines: [
        { sku: 'PSN-US-50', quantity: 2 },
        { sku: 'TSHIRT', quantity: 1 },
      ],
    });
    const pending = fake.placeOrder({
      lines: [{ sku: 'PSN-US-50', quantity: 1 }],
      financialStatus: 'PENDING',
    });
    const refunded = fake.placeOrder({ lines: [{ sku: 'PSN-US-50', quantity: 3 }] });
    fake.refund(refunded.orderId, { 'PSN-US-50': 1 });
    const held = fake.placeOrder({ lines: [{ sku: 'PSN-TR-250', quantity: 1 }] });
    fake.merchantHold(held.orderId);

    const a = await orders.getOrder(paid.orderId);
    expect(a).toMatchObject({
      id: paid.orderId,
      number: paid.name,
      paid: true,
      closed: false,
      merchantHold: false,
      ourHold: false,
      deliveryIds: [],
      lines: [
        { id: paid.lineIds[0], sku: 'PSN-US-50', quantity: 2, unitsToFulfill: 2 },
        { id: paid.lineIds[1], sku: 'TSHIRT', quantity: 1, unitsToFulfill: 1 },
      ],
    });
    expect(await orders.getOrder(pending.orderId)).toMatchObject({ paid: false, closed: false });
    expect(await orders.getOrder(refunded.orderId)).toMatchObject({
      paid: true,
      lines: [{ quantity: 3, unitsToFulfill: 2 }],
    });
    expect(await orders.getOrder(held.orderId)).toMatchObject({
      paid: true,
      merchantHold: true,
      ourHold: false,
    });
    fake.cancel(paid.orderId);
    expect(await orders.getOrder(paid.orderId)).toMatchObject({ closed: true });
    expect(await orders.getOrder('gid://shopify/Order/999999')).toBeNull();
  });

  it('pages through every changed order (oldest first), includes cancelled ones, honours the cursor', async () => {
    const { fake, orders } = await harness();
    const placed = Array.from({ length: 40 }, (_v, i) =>
      fake.placeOrder({ lines: [{ sku: `PSN-US-${i}`, quantity: 1 }] }),
    );
    fake.placeOrder({ lines: [{ sku: 'PSN-US-1', quantity: 1 }], financialStatus: 'PENDING' });
    const cancelled = placed[3]?.orderId as string;
    fake.cancel(cancelled);
    fake.resetStats();

    const first = await orders.listChangedOrders(null);
    expect(first.orders).toHaveLength(40);
    expect(first.orders.map((o) => o.updatedAt)).toEqual([...first.orders.map((o) => o.updatedAt)].sort());
    expect(first.orders.find((o) => o.id === cancelled)).toMatchObject({ closed: true });
    expect(first.orders.filter((o) => !o.closed).every((o) => o.paid)).toBe(true);
    expect(first.latest).toBe(first.orders[39]?.updatedAt);
    // 39 open orders at 12 a page = 4 pages, plus one page of closed ones; nothing refused.
    expect(fake.queryFieldCount('orders')).toBe(5);
    expect(fake.stats.rejected).toBe(0);

    // Only what changed at or after the cursor.
    const later = placed[10]?.orderId as string;
    fake.refund(later, { 'PSN-US-10': 1 });
    const again = await orders.listChangedOrders(first.latest);
    expect(again.orders.map((o) => o.id)).toContain(later);
    expect(again.orders.length).toBeLessThanOrEqual(2);
  });

  it('every intake and delivery query stays far under the 1,000-point cap', async () => {
    const { fake, orders } = await harness();
    const { orderId, lineIds } = fake.placeOrder({ lines: [{ sku: 'PSN-US-50', quantity: 1 }] });
    const costs: number[] = [];
    const orig = fake.graphql.bind(fake);
    fake.graphql = async (q, v, n) => {
      const out = await orig(q, v, n);
      const c = (out.extensions as { cost?: { requestedQueryCost?: number } } | undefined)?.cost;
      if (c?.requestedQueryCost !== undefined) costs.push(c.requestedQueryCost);
      return out;
    };
    await orders.listChangedOrders(null);
    await orders.getOrder(orderId);
    await deliver(orders, delivery(orderId, [{ lineId: lineIds[0] as string, codes: [code()] }]));
    await orders.hold(orderId, 'waiting');
    expect(costs.length).toBeGreaterThan(5);
    expect(Math.max(...costs)).toBeLessThan(600);
  });
});

describe('ShopifyStorefront.orders — delivery', () => {
  it('writes the codes (exact lines) to psnb2b.codes, then one fulfillment with a shipping confirmation', async () => {
    const h = await harness();
    const { fake, orders } = h;
    const o = fake.placeOrder({
      lines: [
        { sku: 'PSN-US-50', quantity: 2 },
        { sku: 'PSN-TR-250', quantity: 1 },
      ],
    });
    const us = [code(), code()];
    const tr = [code('TR', 250, 'TRY')];
    const d = delivery(o.orderId, [
      { lineId: o.lineIds[0] as string, codes: us },
      { lineId: o.lineIds[1] as string, codes: tr },
    ]);

    await orders.runDeliveryStep('metafield', d);
    const expected = [...us, ...tr].map(codeLine).concat(deliveryMarker(d.deliveryId)).join('\n');
    expect(fake.orderMetafield(o.orderId)).toBe(expected);
    expect(expected.split('\n')[0]).toMatch(/^PSN US 50 USD: [0-9A-F]{4}-/);
    expect(fake.fulfillments(o.orderId)).toHaveLength(0);

    await orders.runDeliveryStep('fulfill', d);
    const fs = fake.fulfillments(o.orderId);
    expect(fs).toHaveLength(1);
    expect(fs[0]).toMatchObject({
      notifyCustomer: true,
      lines: [
        { lineItemId: o.lineIds[0], quantity: 2 },
        { lineItemId: o.lineIds[1], quantity: 1 },
      ],
    });
    // The email went out after the codes were in the order: the template printed them.
    expect(fake.outbox).toHaveLength(1);
    expect(fake.outbox[0]?.codesMetafield).toBe(expected);
    expect(fake.lineState(o.orderId).map((l) => l.unfulfilled)).toEqual([0, 0]);
    expect(await orders.getOrder(o.orderId)).toMatchObject({ deliveryIds: [d.deliveryId] });

    // Running the whole delivery again changes nothing.
    fake.resetStats();
    await deliver(orders, d);
    expect(fake.stats.applied).toEqual({});
    expect(fake.outbox).toHaveLength(1);
    expectNoCodes(h, [...us, ...tr]);
  });

  it.each([
    {
      how: 'no read given',
      first: (o: ShopOrders, d: Delivery) => deliver(o, d),
      again: (o: ShopOrders, d: Delivery) => deliver(o, d),
      reads: ['DeliveryMetafields', 'DeliveryFulfilled', 'OrderFulfillmentOrders', 'DeliveryFulfill'],
    },
    {
      // A first attempt writes from the read before it; the next one may find that write in, so reads back.
      how: 'a first attempt, then a resume',
      first: (o: ShopOrders, d: Delivery) => attemptSteps(o, d, { nothingWrittenYet: true }),
      again: (o: ShopOrders, d: Delivery) => attemptSteps(o, d, { nothingWrittenYet: false }),
      reads: [
        'OrderRead',
        'DeliveryMetafields',
        'DeliveryFulfilled',
        'OrderFulfillmentOrders',
        'DeliveryFulfill',
      ],
    },
  ])(
    'a crash after the metafield write commits ($how), then both steps again: codes once, one fulfillment',
    async ({ first, again, reads }) => {
      const h = await harness();
      const { fake, orders } = h;
      const o = fake.placeOrder({ lines: [{ sku: 'PSN-US-50', quantity: 2 }] });
      const codes = [code(), code()];
      const d = delivery(o.orderId, [{ lineId: o.lineIds[0] as string, codes }]);

      fake.loseAnswerAfterCommit('metafieldsSet');
      const err = await attempt(h, () => first(orders, d));
      expect(err).toBeInstanceOf(Error);
      expect(fake.stats.applied.metafieldsSet).toBe(1);
      expect(fake.fulfillments(o.orderId)).toHaveLength(0);

      fake.resetStats();
      await again(orders, d);
      expect(fake.stats.operations.map((op) => op.name)).toEqual(reads);
      expect(fake.stats.applied.metafieldsSet).toBeUndefined();
      const value = fake.orderMetafield(o.orderId) as string;
      for (const c of codes) expect(value.split(c.code)).toHaveLength(2);
      expect(value.split(deliveryMarker(d.deliveryId))).toHaveLength(2);
      expect(fake.fulfillments(o.orderId).map((f) => f.lines)).toEqual([
        [{ lineItemId: o.lineIds[0], quantity: 2 }],
      ]);
      expect(fake.outbox).toHaveLength(1);
      expectNoCodes(h, codes);
    },
  );

  it('a crash after fulfillmentCreate commits (partial line): the re-run does not fulfil or email again', async () => {
    const h = await harness();
    const { fake, orders } = h;
    const o = fake.placeOrder({ lines: [{ sku: 'PSN-US-50', quantity: 3 }] });
    const codes = [code()];
    const d = delivery(o.orderId, [{ lineId: o.lineIds[0] as string, codes }]);

    fake.loseAnswerAfterCommit('fulfillmentCreate', 'http503');
    expect(await attempt(h, () => deliver(orders, d))).toBeInstanceOf(Error);
    // The client did not re-send it blindly after the 503.
    expect(fake.mutationCount('fulfillmentCreate')).toBe(1);
    await deliver(orders, d);
    expect(fake.fulfillments(o.orderId)).toHaveLength(1);
    expect(fake.lineState(o.orderId)[0]).toMatchObject({ fulfilled: 1, unfulfilled: 2 });
    expect(fake.outbox).toHaveLength(1);
    expectNoCodes(h, codes);
  });

  it('a second delivery merges: earlier lines kept, only its own units fulfilled', async () => {
    const h = await harness();
    const { fake, orders } = h;
    const { o, first, second, d1, d2, both } = twoDeliveries(fake);

    await deliver(orders, d1);
    expect(fake.lineState(o.orderId)[0]).toMatchObject({ fulfilled: 2, unfulfilled: 1 });
    await deliver(orders, d2);
    expect(fake.orderMetafield(o.orderId)).toBe(both);
    expect(fake.fulfillments(o.orderId).map((f) => f.lines[0]?.quantity)).toEqual([2, 1]);
    expect(fake.outbox).toHaveLength(2);
    expect(await orders.getOrder(o.orderId)).toMatchObject({
      deliveryIds: [d1.deliveryId, d2.deliveryId],
      lines: [{ unitsToFulfill: 0 }],
    });
    // Re-running the first delivery after the second does not fulfil anything more.
    await deliver(orders, d1);
    expect(fake.fulfillments(o.orderId)).toHaveLength(2);
    expectNoCodes(h, [...first, ...second]);
  });

  it('a stale compareDigest (the merchant edited the field meanwhile) is re-read and merged', async () => {
    const h = await harness();
    const { fake, orders } = h;
    const o = fake.placeOrder({ lines: [{ sku: 'PSN-US-50', quantity: 1 }] });
    fake.setOrderMetafield(o.orderId, 'psnb2b', 'codes', 'multi_line_text_field', 'Note from the shop');
    const codes = [code()];
    const d = delivery(o.orderId, [{ lineId: o.lineIds[0] as string, codes }]);
    // Between our read and our write, the merchant edits the field again.
    const orig = fake.graphql.bind(fake);
    let edited = false;
    fake.graphql = async (q, v, n) => {
      if (!edited && q.includes('metafieldsSet(')) {
        edited = true;
        fake.setOrderMetafield(
          o.orderId,
          'psnb2b',
          'codes',
          'multi_line_text_field',
          'Note from the shop, edited',
        );
      }
      return orig(q, v, n);
    };

    await orders.runDeliveryStep('metafield', d);
    expect(fake.mutationCount('metafieldsSet')).toBe(2);
    expect(fake.stats.applied.metafieldsSet).toBe(1);
    expect(fake.orderMetafield(o.orderId)).toBe(
      ['Note from the shop, edited', codeLine(codes[0] as DeliveredCode), deliveryMarker(d.deliveryId)].join(
        '\n',
      ),
    );
    expectNoCodes(h, codes);
  });

  it('partial: only the delivered quantities of the delivered lines are fulfilled', async () => {
    const { fake, orders } = await harness();
    const o = fake.placeOrder({
      lines: [
        { sku: 'PSN-US-50', quantity: 3 },
        { sku: 'PSN-TR-250', quantity: 2 },
        { sku: 'TSHIRT', quantity: 1 },
      ],
    });
    await deliver(orders, delivery(o.orderId, [{ lineId: o.lineIds[0] as string, codes: [code(), code()] }]));
    expect(fake.lineState(o.orderId).map((l) => l.fulfilled)).toEqual([2, 0, 0]);
    expect(fake.fulfillments(o.orderId)[0]?.lines).toEqual([{ lineItemId: o.lineIds[0], quantity: 2 }]);
  });

  it('an order of 120 lines with 60 fulfillments is paged, not refused: every line gets exactly its code', async () => {
    const h = await harness();
    const { fake, orders } = h;
    const skus = ['PSN-US-50', 'PSN-TR-250', 'PSN-GB-10'];
    const o = fake.placeOrder({
      lines: Array.from({ length: 120 }, (_v, i) => ({ sku: skus[i % 3] as string, quantity: 1 })),
    });
    const read = await orders.getOrder(o.orderId);
    expect(read?.lines.map((l) => l.unitsToFulfill)).toEqual(Array(120).fill(1));

    const codes = o.lineIds.map(() => code());
    const one = (i: number) => ({ lineId: o.lineIds[i] as string, codes: [codes[i] as DeliveredCode] });
    // 60 deliveries of one line each: 60 fulfillments on the order.
    const singles = Array.from({ length: 60 }, (_v, i) => delivery(o.orderId, [one(i)]));
    for (const d of singles) await deliver(orders, d);
    expect(fake.fulfillments(o.orderId)).toHaveLength(60);
    // Then the other 60 lines in one delivery: the read-back pages through all 60 fulfillments.
    const rest = delivery(
      o.orderId,
      Array.from({ length: 60 }, (_v, i) => one(60 + i)),
    );
    await deliver(orders, rest);
    expect(fake.fulfillments(o.orderId)).toHaveLength(61);
    expect(fake.lineState(o.orderId).map((l) => [l.fulfilled, l.unfulfilled])).toEqual(
      Array(120).fill([1, 0]),
    );
    const text = fake.orderMetafield(o.orderId) ?? '';
    for (const c of codes) expect(text.split(`: ${c.code}\n`)).toHaveLength(2);
    expect(text.split('\n').filter((l) => l.startsWith('PSN '))).toHaveLength(120);

    // Re-running the first and the last delivery (a crash before we recorded them) changes nothing.
    fake.resetStats();
    await deliver(orders, singles[0] as Delivery);
    await deliver(orders, rest);
    expect(fake.stats.applied).toEqual({});
    expect(fake.outbox).toHaveLength(61);
    expect(fake.stats.rejected).toBe(0);
    expectNoCodes(h, codes);
  }, 120_000);

  it('a merchant hold stops the fulfil step; our own hold is released by it', async () => {
    const { fake, orders } = await harness();
    const o = fake.placeOrder({ lines: [{ sku: 'PSN-US-50', quantity: 1 }] });
    const d = delivery(o.orderId, [{ lineId: o.lineIds[0] as string, codes: [code()] }]);
    await orders.hold(o.orderId, 'Waiting for stock');
    await deliver(orders, d);
    expect(fake.fulfillments(o.orderId)).toHaveLength(1);
    expect(fake.holds(o.orderId)).toEqual([]);

    const p = fake.placeOrder({ lines: [{ sku: 'PSN-US-50', quantity: 1 }] });
    fake.merchantHold(p.orderId);
    const e = delivery(p.orderId, [{ lineId: p.lineIds[0] as string, codes: [code()] }]);
    await orders.runDeliveryStep('metafield', e);
    await expect(orders.runDeliveryStep('fulfill', e)).rejects.toMatchObject({ code: 'MERCHANT_HOLD' });
    expect(fake.fulfillments(p.orderId)).toHaveLength(0);
    expect(fake.holds(p.orderId)).toHaveLength(1);
  });
});

describe('ShopifyStorefront.orders — delivery from the read before delivering (issue 13)', () => {
  it('a first attempt is the read, one metafieldsSet, one fulfillmentCreate; a second delivery counts the first one’s fulfillment', async () => {
    const h = await harness();
    const { fake, orders } = h;
    const { o, first, second, d1, d2, both } = twoDeliveries(fake);
    const minimum = ['OrderRead', 'DeliveryMetafieldsSet', 'DeliveryFulfill'];

    fake.resetStats();
    await attemptSteps(orders, d1, { nothingWrittenYet: true });
    expect(operations(fake)).toEqual(minimum);
    fake.resetStats();
    await attemptSteps(orders, d2, { nothingWrittenYet: true });
    expect(operations(fake)).toEqual(minimum);

    expect(fake.orderMetafield(o.orderId)).toBe(both);
    expect(JSON.parse(fake.orderMetafield(o.orderId, 'psnb2b', 'deliveries') ?? '')).toEqual({
      [d1.deliveryId]: { [o.lineIds[0] as string]: 2 },
      [d2.deliveryId]: { [o.lineIds[0] as string]: 1 },
    });
    // Exactly the delivered units, each once, one shipping confirmation per delivery.
    expect(fake.fulfillments(o.orderId).map((f) => f.lines)).toEqual([
      [{ lineItemId: o.lineIds[0], quantity: 2 }],
      [{ lineItemId: o.lineIds[0], quantity: 1 }],
    ]);
    expect(fake.outbox).toHaveLength(2);
    expect(fake.outbox[1]?.codesMetafield).toBe(fake.orderMetafield(o.orderId));
    expect(fake.stats.operations.find((op) => op.name === 'OrderRead')?.requestedCost).toBe(376);
    expectNoCodes(h, [...first, ...second]);
  });

  it('fulfillmentCreate landed but the attempt crashed before recording it: the resume at fulfill fulfils nothing again', async () => {
    const h = await harness();
    const { fake, orders } = h;
    const o = fake.placeOrder({ lines: [{ sku: 'PSN-US-50', quantity: 3 }] });
    const d = delivery(o.orderId, [{ lineId: o.lineIds[0] as string, codes: [code()] }]);

    fake.loseAnswerAfterCommit('fulfillmentCreate', 'http503');
    expect(await attempt(h, () => attemptSteps(orders, d, { nothingWrittenYet: true }))).toBeInstanceOf(
      Error,
    );
    await attemptSteps(orders, d, { nothingWrittenYet: false, from: 'fulfill' });
    expect(fake.mutationCount('fulfillmentCreate')).toBe(1);
    expect(fake.lineState(o.orderId)[0]).toMatchObject({ fulfilled: 1, unfulfilled: 2 });
    expect(fake.outbox).toHaveLength(1);
  });

  it('a stale compareDigest between the read and the write is re-read and merged; the fulfil then reads back', async () => {
    const h = await harness();
    const { fake, orders } = h;
    const o = fake.placeOrder({ lines: [{ sku: 'PSN-US-50', quantity: 1 }] });
    const codes = [code()];
    const d = delivery(o.orderId, [{ lineId: o.lineIds[0] as string, codes }]);
    const read = await orders.getOrder(o.orderId);
    if (!read) throw new Error('not read');
    // The merchant writes into the field after our read, before our write.
    fake.setOrderMetafield(o.orderId, 'psnb2b', 'codes', 'multi_line_text_field', 'Note from the shop');

    fake.resetStats();
    await attemptSteps(orders, d, { nothingWrittenYet: true, readBefore: () => read });
    expect(fake.mutationCount('metafieldsSet')).toBe(2);
    expect(fake.stats.applied.metafieldsSet).toBe(1);
    expect(fake.orderMetafield(o.orderId)).toBe(
      ['Note from the shop', codeLine(codes[0] as DeliveredCode), deliveryMarker(d.deliveryId)].join('\n'),
    );
    // The order moved since the read: the fulfil step does not take it as its read-back.
    expect(operations(fake)).toContain('DeliveryFulfilled');
    expect(fake.fulfillments(o.orderId).map((f) => f.lines)).toEqual([
      [{ lineItemId: o.lineIds[0], quantity: 1 }],
    ]);
    expect(fake.outbox).toHaveLength(1);
    expectNoCodes(h, codes);
  });

  it('our hold is released before fulfilling; a merchant’s hold is respected', async () => {
    const { fake, orders } = await harness();
    const o = fake.placeOrder({ lines: [{ sku: 'PSN-US-50', quantity: 1 }] });
    await orders.hold(o.orderId, 'Waiting for stock');
    await attemptSteps(orders, delivery(o.orderId, [{ lineId: o.lineIds[0] as string, codes: [code()] }]), {
      nothingWrittenYet: true,
    });
    expect(fake.holds(o.orderId)).toEqual([]);
    expect(fake.fulfillments(o.orderId).map((f) => f.lines)).toEqual([
      [{ lineItemId: o.lineIds[0], quantity: 1 }],
    ]);

    const p = fake.placeOrder({ lines: [{ sku: 'PSN-US-50', quantity: 1 }] });
    fake.merchantHold(p.orderId);
    const e = delivery(p.orderId, [{ lineId: p.lineIds[0] as string, codes: [code()] }]);
    await expect(attemptSteps(orders, e, { nothingWrittenYet: true })).rejects.toMatchObject({
      code: 'MERCHANT_HOLD',
    });
    expect(fake.fulfillments(p.orderId)).toHaveLength(0);
    expect(fake.holds(p.orderId)).toHaveLength(1);
  });

  it('an order object the adapter did not read itself is no read-back: every step reads', async () => {
    const { fake, orders } = await harness();
    const o = fake.placeOrder({ lines: [{ sku: 'PSN-US-50', quantity: 1 }] });
    const d = delivery(o.orderId, [{ lineId: o.lineIds[0] as string, codes: [code()] }]);
    fake.resetStats();
    await attemptSteps(orders, d, { nothingWrittenYet: true, readBefore: (read) => ({ ...read }) });
    expect(operations(fake)).toEqual([
      'OrderRead',
      'DeliveryMetafields',
      'DeliveryMetafieldsSet',
      'DeliveryFulfilled',
      'OrderFulfillmentOrders',
      'DeliveryFulfill',
    ]);
    expect(fake.fulfillments(o.orderId)).toHaveLength(1);
  });
});

describe('ShopifyStorefront.orders — holds', () => {
  it('hold places ours (by handle); release removes only ours, never the merchant’s', async () => {
    const { fake, orders } = await harness();
    const o = fake.placeOrder({ lines: [{ sku: 'PSN-US-50', quantity: 1 }] });
    await orders.hold(o.orderId, 'Your code is delayed; we will email it soon.');
    expect(fake.holds(o.orderId)).toMatchObject([
      {
        handle: OUR_HOLD_HANDLE,
        byApp: true,
        reason: 'OTHER',
        reasonNotes: 'Your code is delayed; we will email it soon.',
      },
    ]);
    expect(await orders.getOrder(o.orderId)).toMatchObject({ ourHold: true, merchantHold: false });
    // Holding again is a no-op.
    await orders.hold(o.orderId, 'again');
    expect(fake.holds(o.orderId)).toHaveLength(1);

    fake.merchantHold(o.orderId);
    expect(await orders.getOrder(o.orderId)).toMatchObject({ ourHold: true, merchantHold: true });
    await orders.releaseHold(o.orderId);
    expect(fake.holds(o.orderId)).toMatchObject([{ byApp: false, reason: 'HIGH_RISK_OF_FRAUD' }]);
    expect(fake.fulfillmentOrderStatus(o.fulfillmentOrderIds[0] as string)).toBe('ON_HOLD');
    expect(await orders.getOrder(o.orderId)).toMatchObject({ ourHold: false, merchantHold: true });

    // Nothing of ours left: release does nothing at all.
    fake.resetStats();
    await orders.releaseHold(o.orderId);
    expect(fake.stats.mutations).toEqual({});
    expect(fake.holds(o.orderId)).toHaveLength(1);
  });
});

describe('ShopifyStorefront.orders — webhooks', () => {
  async function receiver(h: Harness): Promise<{ url: string; verdicts: WebhookVerdict[] }> {
    const verdicts: WebhookVerdict[] = [];
    const server = http.createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const v = h.orders.verifyWebhook({ headers: req.headers, rawBody: Buffer.concat(chunks) });
      verdicts.push(v);
      res.writeHead(v.kind === 'rejected' ? 401 : 200).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    (open[open.length - 1] as { server?: http.Server }).server = server;
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, verdicts };
  }

  it('ensureWebhooks registers ORDERS_PAID and ORDERS_UPDATED once; signed deliveries verify, redeliveries keep their id', async () => {
    const h = await harness();
    const { fake, orders } = h;
    const { url, verdicts } = await receiver(h);
    await orders.ensureWebhooks(`${url}/`);
    await orders.ensureWebhooks(url);
    const subs = fake.webhookSubscriptionList();
    expect(subs.map((s) => [s.topic, s.uri]).sort()).toEqual([
      ['ORDERS_PAID', `${url}/webhooks/shopify/shop-b`],
      ['ORDERS_UPDATED', `${url}/webhooks/shopify/shop-b`],
    ]);
    expect(fake.mutationCount('webhookSubscriptionCreate')).toBe(2);

    const o = fake.placeOrder({ lines: [{ sku: 'PSN-US-50', quantity: 1 }] });
    const [sent] = await fake.triggerWebhook('ORDERS_PAID', o.orderId);
    expect(sent?.status).toBe(200);
    await fake.redeliverWebhook(sent?.webhookId as string);
    expect(verdicts).toEqual([
      { kind: 'order', eventId: sent?.webhookId, orderId: o.orderId },
      { kind: 'order', eventId: sent?.webhookId, orderId: o.orderId },
    ]);
  });

  it('forged, tampered, unsigned or header-less webhooks are rejected; other topics ignored', async () => {
    const { fake, orders } = await harness();
    const o = fake.placeOrder({ lines: [{ sku: 'PSN-US-50', quantity: 1 }] });
    const good = fake.signedWebhook('ORDERS_UPDATED', o.orderId);
    expect(orders.verifyWebhook(good)).toMatchObject({ kind: 'order', orderId: o.orderId });

    const tampered = Buffer.from(good.rawBody.toString('utf8').replace('"name":"#', '"name":"X'));
    expect(orders.verifyWebhook({ headers: good.headers, rawBody: tampered })).toMatchObject({
      kind: 'rejected',
    });
    const forged = { ...good.headers, 'X-Shopify-Hmac-Sha256': Buffer.alloc(32, 7).toString('base64') };
    expect(orders.verifyWebhook({ headers: forged, rawBody: good.rawBody })).toMatchObject({
      kind: 'rejected',
    });
    const { 'X-Shopify-Hmac-Sha256': _h, ...unsigned } = good.headers;
    expect(orders.verifyWebhook({ headers: unsigned, rawBody: good.rawBody })).toMatchObject({
      kind: 'rejected',
    });
    const { 'X-Shopify-Webhook-Id': _w, ...noId } = good.headers;
    expect(orders.verifyWebhook({ headers: noId, rawBody: good.rawBody })).toEqual({
      kind: 'rejected',
      reason: 'missing headers: x-shopify-webhook-id',
    });
    const other = { ...good.headers, 'X-Shopify-Topic': 'products/update' };
    expect(orders.verifyWebhook({ headers: other, rawBody: good.rawBody })).toMatchObject({
      kind: 'ignored',
    });
  });
});

describe('FakeShopify orders — strict where Shopify is', () => {
  it('refuses over-fulfilment, a stale or missing-must-not-exist digest, and http webhook addresses', async () => {
    const { fake } = await harness();
    const o = fake.placeOrder({ lines: [{ sku: 'PSN-US-50', quantity: 1 }] });
    const fo = await rawGraphql(fake, {
      query: `query($id: ID!) { order(id: $id) { fulfillmentOrders(first: 1) { nodes { id lineItems(first: 5) { nodes { id } } } } } }`,
      variables: { id: o.orderId },
    });
    const node = (
      fo.json.data as {
        order: { fulfillmentOrders: { nodes: { id: string; lineItems: { nodes: { id: string }[] } }[] } };
      }
    ).order.fulfillmentOrders.nodes[0];
    const over = await rawGraphql(fake, {
      query: `mutation($f: FulfillmentInput!) { fulfillmentCreate(fulfillment: $f) { fulfillment { id } userErrors { message } } }`,
      variables: {
        f: {
          notifyCustomer: true,
          lineItemsByFulfillmentOrder: [
            {
              fulfillmentOrderId: node?.id,
              fulfillmentOrderLineItems: [{ id: node?.lineItems.nodes[0]?.id, quantity: 2 }],
            },
          ],
        },
      },
    });
    expect(JSON.stringify(over.json)).toContain('Invalid fulfillment order line item quantity requested.');
    expect(fake.fulfillments(o.orderId)).toHaveLength(0);

    fake.setOrderMetafield(o.orderId, 'psnb2b', 'codes', 'multi_line_text_field', 'x');
    const set = (compareDigest: string | null) =>
      rawGraphql(fake, {
        query: `mutation($m: [MetafieldsSetInput!]!) { metafieldsSet(metafields: $m) { metafields { id } userErrors { code } } }`,
        variables: {
          m: [
            {
              ownerId: o.orderId,
              namespace: 'psnb2b',
              key: 'codes',
              type: 'multi_line_text_field',
              value: 'y',
              compareDigest,
            },
          ],
        },
      });
    expect(JSON.stringify((await set(null)).json)).toContain('STALE_OBJECT');
    expect(JSON.stringify((await set('0'.repeat(64))).json)).toContain('STALE_OBJECT');
    expect(fake.orderMetafield(o.orderId)).toBe('x');

    const hook = await rawGraphql(fake, {
      query: `mutation { webhookSubscriptionCreate(topic: ORDERS_PAID, webhookSubscription: { uri: "http://example.com/h" }) { userErrors { message } } }`,
    });
    expect(JSON.stringify(hook.json)).toContain('Address protocol http:// is not supported');
  });
});
