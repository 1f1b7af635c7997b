import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ShopifyGraphqlClient } from '../../../adapters/shopify/shopify-client.js';
import { type FakeShopify, fuzzySkuMatch } from '../../../fakes/shopify/fake-shopify.js';
import { QUERY_REFUSED, StorefrontError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/log.js';
import { asDeliveryWork } from '../../../src/request-class.js';
import { rawGraphql, startFake, TEST_SECRET, TEST_TOKEN } from './fake-shopify-support.js';

/** What the fake refuses, proved with raw HTTP (what Shopify would answer) and through the real client. */

type Json = Record<string, unknown>;
const errorsOf = (json: Json) => (json.errors ?? []) as { message: string; extensions?: { code?: string } }[];
const codeOf = (json: Json) => errorsOf(json)[0]?.extensions?.code;

const SET = `mutation Set($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { changes(quantityNames: ["available"]) { name delta quantityAfterChange item { id } } }
    userErrors { field message code }
  }
}`;

describe('FakeShopify', () => {
  let fake: FakeShopify;
  let item: string;
  let loc: string;

  beforeAll(async () => {
    fake = await startFake();
    fake.addProducts(['PSN-US-50', 'PSN-US-500', 'psn-us-50-old', 'US-PSN-50', 'PSN-GB-10']);
    fake.addProduct({ variants: [{ sku: 'PSN-DE-25', stockedAt: [] }] });
    item = fake.variantBySku('PSN-US-50').inventoryItemId;
    loc = fake.primaryLocationId;
  });
  afterAll(() => fake.stop());
  beforeEach(() => fake.setBucket({ maximumAvailable: 2000, restoreRate: 100, currentlyAvailable: 2000 }));

  const setInput = (quantities: unknown[]) => ({
    name: 'available',
    reason: 'correction',
    referenceDocumentUri: 'gid://psnb2b-sync/Test/1',
    quantities,
  });

  describe('validation against the real schema', () => {
    it('refuses a field Shopify does not have, as a 200 with errors', async () => {
      const { status, json } = await rawGraphql(fake, { query: '{ shop { name noSuchField } }' });
      expect(status).toBe(200);
      expect(codeOf(json)).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(errorsOf(json)[0]?.message).toContain('noSuchField');
      expect(json.data).toBeUndefined();
    });

    it('refuses variables of the wrong type or missing', async () => {
      const query = 'query Q($n: Int!) { productVariants(first: $n) { nodes { id } } }';
      const bad = await rawGraphql(fake, { query, variables: { n: 'ten' } });
      expect(codeOf(bad.json)).toBe('INVALID_VARIABLE');
      const missing = await rawGraphql(fake, { query, variables: {} });
      expect(codeOf(missing.json)).toBe('INVALID_VARIABLE');
    });

    it('refuses an input field that does not exist (ignoreCompareQuantity is gone in 2026-10)', async () => {
      const { json } = await rawGraphql(fake, {
        query: SET,
        variables: {
          key: 'k-ignore',
          input: { ...setInput([]), ignoreCompareQuantity: true },
        },
      });
      expect(codeOf(json)).toBe('INVALID_VARIABLE');
    });

    it('answers 401 to a wrong or missing token', async () => {
      const wrong = await rawGraphql(fake, { query: '{ shop { name } }' }, 'shpat_wrong');
      expect(wrong.status).toBe(401);
      const none = await fetch(fake.graphqlUrl, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ query: '{ shop { name } }' }),
      });
      expect(none.status).toBe(401);
    });

    it('names a field it does not implement instead of inventing a value', async () => {
      const { json } = await rawGraphql(fake, { query: '{ shop { name } }' });
      expect(codeOf(json)).toBe('NOT_IMPLEMENTED_IN_FAKE');
    });
  });

  describe('cost and limits', () => {
    it('computes the requested cost from the document and the actual cost from the answer', async () => {
      const { json } = await rawGraphql(fake, {
        query:
          '{ productVariants(first: 250, query: "sku:\\"PSN-GB-10\\"") { nodes { id sku inventoryItem { id } } } }',
      });
      const cost = (json.extensions as { cost: Json }).cost;
      // 2 + 250 × (variant 1 + inventoryItem 1); one variant came back: 2 + 1 × 2.
      expect(cost.requestedQueryCost).toBe(502);
      expect(cost.actualQueryCost).toBe(4);
      expect(cost.throttleStatus).toEqual({
        maximumAvailable: 2000,
        currentlyAvailable: expect.any(Number),
        restoreRate: 100,
      });
    });

    it('refuses a query over 1,000 points with MAX_COST_EXCEEDED', async () => {
      const { status, json } = await rawGraphql(fake, {
        query:
          '{ productVariants(first: 250) { nodes { inventoryItem { inventoryLevels(first: 10) { nodes { id } } } } } }',
      });
      expect(status).toBe(200);
      expect(codeOf(json)).toBe('MAX_COST_EXCEEDED');
    });

    it('costs a plain list that takes first like a connection of that size (design-notes)', async () => {
      // The read-back the adapter sent before issue 9: 50 fulfillments × (1 + 2 + 50 lines × 2).
      const { json } = await rawGraphql(fake, {
        query: `query Old($id: ID!) { order(id: $id) { id
          ledger: metafield(namespace: "psnb2b", key: "deliveries") { value }
          fulfillments(first: 50) { status fulfillmentLineItems(first: 50) { nodes { quantity lineItem { id } } } } } }`,
        variables: { id: 'gid://shopify/Order/1' },
      });
      expect(codeOf(json)).toBe('MAX_COST_EXCEEDED');
      // order 1 + metafield 1 + fulfillments (2 + 50 × 103 = 5,152).
      expect(errorsOf(json)[0]?.extensions).toMatchObject({ cost: 5154 });
      // Omitted `first` is the worst case Shopify could mean: 250 items.
      const bare = await rawGraphql(fake, {
        query: 'query L($id: ID!) { order(id: $id) { fulfillments { id } } }',
        variables: { id: 'gid://shopify/Order/1' },
      });
      expect((bare.json.extensions as { cost: Json }).cost.requestedQueryCost).toBe(1 + 2 + 250);
      // A list without `first` (holds, supported actions) still costs like one object.
      const holds = await rawGraphql(fake, {
        query: 'query H($id: ID!) { fulfillmentOrder(id: $id) { fulfillmentHolds { id } } }',
        variables: { id: 'gid://shopify/FulfillmentOrder/1' },
      });
      expect((holds.json.extensions as { cost: Json }).cost.requestedQueryCost).toBe(2);
    });

    it('caps page sizes at 250 and requires first or last', async () => {
      const big = await rawGraphql(fake, { query: '{ productVariants(first: 251) { nodes { id } } }' });
      expect(codeOf(big.json)).toBe('MAX_PAGE_SIZE_EXCEEDED');
      const none = await rawGraphql(fake, { query: '{ productVariants { nodes { id } } }' });
      expect(codeOf(none.json)).toBe('PAGE_SIZE_REQUIRED');
    });

    it('caps input arrays at 250', async () => {
      const ids = Array.from({ length: 251 }, (_v, i) => `gid://shopify/ProductVariant/${i + 1}`);
      const { json } = await rawGraphql(fake, {
        query: 'query N($ids: [ID!]!) { nodes(ids: $ids) { id } }',
        variables: { ids },
      });
      expect(codeOf(json)).toBe('MAX_INPUT_SIZE_EXCEEDED');
    });

    it('answers THROTTLED (HTTP 200) when the bucket lacks the cost, and refills at the restore rate', async () => {
      fake.setBucket({ maximumAvailable: 100, restoreRate: 50, currentlyAvailable: 0 });
      const before = fake.stats.throttled;
      const query = '{ productVariants(first: 10) { nodes { id } } }';
      const first = await rawGraphql(fake, { query });
      expect(first.status).toBe(200);
      expect(codeOf(first.json)).toBe('THROTTLED');
      const cost = (first.json.extensions as { cost: { throttleStatus: Json } }).cost;
      expect(cost.throttleStatus.maximumAvailable).toBe(100);
      expect(fake.stats.throttled).toBe(before + 1);
      await new Promise((r) => setTimeout(r, 300));
      const second = await rawGraphql(fake, { query });
      expect(second.json.errors).toBeUndefined();
    });
  });

  describe('search', () => {
    it('is fuzzy like Shopify: prefix, case and token matches come back too', async () => {
      const { json } = await rawGraphql(fake, {
        query: '{ productVariants(first: 50, query: "sku:\\"PSN-US-50\\"") { nodes { sku } } }',
      });
      const skus = ((json.data as Json).productVariants as { nodes: { sku: string }[] }).nodes.map(
        (n) => n.sku,
      );
      expect(skus.sort()).toEqual(['PSN-US-50', 'PSN-US-500', 'US-PSN-50', 'psn-us-50-old'].sort());
      expect(fuzzySkuMatch('PSN-US-5', 'PSN-US-50')).toBe(false);
    });
  });

  describe('inventorySetQuantities', () => {
    it('requires @idempotent (2026-04+)', async () => {
      const { json } = await rawGraphql(fake, {
        query: SET.replace(' @idempotent(key: $key)', '').replace(', $key: String!', ''),
        variables: {
          input: setInput([{ inventoryItemId: item, locationId: loc, quantity: 1, changeFromQuantity: 0 }]),
        },
      });
      expect(codeOf(json)).toBe('BAD_REQUEST');
      expect(errorsOf(json)[0]?.message).toContain('@idempotent');
    });

    it('requires changeFromQuantity on every quantity; an explicit null skips the check', async () => {
      const omitted = await rawGraphql(fake, {
        query: SET,
        variables: {
          key: 'k-omit',
          input: setInput([{ inventoryItemId: item, locationId: loc, quantity: 1 }]),
        },
      });
      const payload = (omitted.json.data as Json).inventorySetQuantities as {
        userErrors: { code: string }[];
      };
      expect(payload.userErrors[0]?.code).toBe('COMPARE_QUANTITY_REQUIRED');

      const skipped = await rawGraphql(fake, {
        query: SET,
        variables: {
          key: 'k-null',
          input: setInput([
            { inventoryItemId: item, locationId: loc, quantity: 7, changeFromQuantity: null },
          ]),
        },
      });
      expect(
        ((skipped.json.data as Json).inventorySetQuantities as { userErrors: unknown[] }).userErrors,
      ).toEqual([]);
      expect(fake.quantity('PSN-US-50')).toBe(7);
    });

    it('is compare-and-set, all or nothing', async () => {
      const other = fake.variantBySku('PSN-GB-10').inventoryItemId;
      const before = fake.quantity('PSN-GB-10');
      const { json } = await rawGraphql(fake, {
        query: SET,
        variables: {
          key: 'k-stale',
          input: setInput([
            { inventoryItemId: other, locationId: loc, quantity: 3, changeFromQuantity: before },
            { inventoryItemId: item, locationId: loc, quantity: 9, changeFromQuantity: 999 },
          ]),
        },
      });
      const payload = (json.data as Json).inventorySetQuantities as {
        inventoryAdjustmentGroup: unknown;
        userErrors: { code: string; field: string[] }[];
      };
      expect(payload.inventoryAdjustmentGroup).toBeNull();
      expect(payload.userErrors).toEqual([
        expect.objectContaining({
          code: 'CHANGE_FROM_QUANTITY_STALE',
          field: ['input', 'quantities', '1', 'changeFromQuantity'],
        }),
      ]);
      expect(fake.quantity('PSN-GB-10')).toBe(before);
      // The key of a failed attempt cannot be used again.
      const again = await rawGraphql(fake, {
        query: SET,
        variables: {
          key: 'k-stale',
          input: setInput([
            { inventoryItemId: other, locationId: loc, quantity: 3, changeFromQuantity: before },
            { inventoryItemId: item, locationId: loc, quantity: 9, changeFromQuantity: 999 },
          ]),
        },
      });
      const code = ((again.json.data as Json).inventorySetQuantities as { userErrors: { code: string }[] })
        .userErrors[0]?.code;
      expect(code).toBe('IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED');
    });

    it('replays the first answer for a repeated key, and refuses the key with other parameters', async () => {
      const current = fake.quantity('PSN-US-500') as number;
      const it500 = fake.variantBySku('PSN-US-500').inventoryItemId;
      const input = setInput([
        { inventoryItemId: it500, locationId: loc, quantity: current + 4, changeFromQuantity: current },
      ]);
      const applied = fake.stats.applied.inventorySetQuantities ?? 0;
      const first = await rawGraphql(fake, { query: SET, variables: { key: 'k-replay', input } });
      const second = await rawGraphql(fake, { query: SET, variables: { key: 'k-replay', input } });
      expect(second.json.data).toEqual(first.json.data);
      expect(fake.quantity('PSN-US-500')).toBe(current + 4);
      expect(fake.stats.applied.inventorySetQuantities).toBe(applied + 1);
      const changed = await rawGraphql(fake, {
        query: SET,
        variables: { key: 'k-replay', input: { ...input, reason: 'restock' } },
      });
      const code = ((changed.json.data as Json).inventorySetQuantities as { userErrors: { code: string }[] })
        .userErrors[0]?.code;
      expect(code).toBe('IDEMPOTENCY_KEY_PARAMETER_MISMATCH');
    });

    it('refuses an item not stocked at the location until inventoryActivate', async () => {
      const de = fake.variantBySku('PSN-DE-25').inventoryItemId;
      const { json } = await rawGraphql(fake, {
        query: SET,
        variables: {
          key: 'k-unstocked',
          input: setInput([{ inventoryItemId: de, locationId: loc, quantity: 2, changeFromQuantity: 0 }]),
        },
      });
      const errors = ((json.data as Json).inventorySetQuantities as { userErrors: { message: string }[] })
        .userErrors;
      expect(errors[0]?.message).toMatch(/not stocked/);
      const activate = await rawGraphql(fake, {
        query: `mutation A($i: ID!, $l: ID!) { inventoryActivate(inventoryItemId: $i, locationId: $l, available: 2) @idempotent(key: "k-act") {
          inventoryLevel { quantities(names: ["available"]) { quantity } } userErrors { message } } }`,
        variables: { i: de, l: loc },
      });
      expect(activate.json.errors).toBeUndefined();
      expect(fake.quantity('PSN-DE-25')).toBe(2);
    });
  });

  describe('faults', () => {
    it('answers 503 while down', async () => {
      fake.setDown(true);
      try {
        const { status } = await rawGraphql(fake, { query: '{ location { id } }' });
        expect(status).toBe(503);
      } finally {
        fake.setDown(false);
      }
    });
  });

  describe('through the real @shopify/shopify-api client', () => {
    const client = (attempts = 2, backoffMs = 1) =>
      new ShopifyGraphqlClient({
        store: 'shop-b',
        shop: fake.shop,
        accessToken: TEST_TOKEN,
        apiSecretKey: TEST_SECRET,
        timeoutMs: 5000,
        log: silentLogger(),
        retry: { attempts, baseMs: backoffMs, maxMs: 2 * backoffMs },
      });

    it('reads, and learns the bucket from extensions.cost', async () => {
      const c = client();
      const data = await c.request<{ location: { id: string } }>({
        operation: 'Primary',
        query: '{ location { id } }',
        cost: 1,
        kind: 'read',
      });
      expect(data.location.id).toBe(fake.primaryLocationId);
      expect(c.throttleStatus?.maximumAvailable).toBe(2000);
      expect(c.counts).toEqual({ reads: 1, writes: 0 });
      await c.close();
    });

    it('turns a validation error into a non-retryable StorefrontError', async () => {
      const c = client();
      const err = await c
        .request({ operation: 'Bad', query: '{ shop { noSuchField } }', cost: 1, kind: 'read' })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StorefrontError);
      expect((err as StorefrontError).code).toBe(QUERY_REFUSED);
      expect((err as StorefrontError).message).toMatch(
        /Bad: refused by Shopify \(GRAPHQL_VALIDATION_FAILED\)/,
      );
      expect((err as StorefrontError).retryable).toBe(false);
      await c.close();
    });

    it('a document refused for its cost is sent once, never again: a non-retryable error naming it', async () => {
      const c = client();
      fake.resetStats();
      const heavy = {
        operation: 'Heavy',
        query:
          'query Heavy { productVariants(first: 250) { nodes { inventoryItem { inventoryLevels(first: 10) { nodes { id } } } } } }',
        cost: 1,
        kind: 'read' as const,
      };
      const first = (await c.request(heavy).catch((e: unknown) => e)) as StorefrontError;
      expect(first).toBeInstanceOf(StorefrontError);
      expect(first.code).toBe(QUERY_REFUSED);
      expect(first.retryable).toBe(false);
      expect(first.message).toMatch(/Heavy: refused by Shopify \(MAX_COST_EXCEEDED\)/);
      const again = (await c.request(heavy).catch((e: unknown) => e)) as StorefrontError;
      expect(again.code).toBe(QUERY_REFUSED);
      expect(again.message).toContain('Heavy');
      // Exactly one request reached the shop; the client remembered the refusal.
      expect(fake.stats.rejected).toBe(1);
      expect(fake.stats.requests).toBe(1);
      expect(c.counts.reads).toBe(1);
      // Other documents still go out.
      await c.request({ operation: 'Primary', query: '{ location { id } }', cost: 1, kind: 'read' });
      expect(fake.stats.requests).toBe(2);
      await c.close();
    });

    it('turns a wrong token into UNAUTHORIZED without the token in the message', async () => {
      const c = new ShopifyGraphqlClient({
        store: 'shop-b',
        shop: fake.shop,
        accessToken: 'shpat_wrong_token_abcdef123456',
        apiSecretKey: TEST_SECRET,
        timeoutMs: 5000,
        log: silentLogger(),
      });
      const err = (await c
        .request({ operation: 'Primary', query: '{ location { id } }', cost: 1, kind: 'read' })
        .catch((e: unknown) => e)) as StorefrontError;
      expect(err.code).toBe('UNAUTHORIZED');
      expect(err.status).toBe(401);
      expect(err.message).not.toContain('shpat_wrong_token_abcdef123456');
      await c.close();
    });

    it('one call at a time: a general call waiting goes before the delivery calls queued ahead of it', async () => {
      // A stock push or an order listing never waits out every queued delivery (a late push to zero oversells).
      const c = client();
      const answered: string[] = [];
      const call = (name: string) =>
        c.request({ operation: name, query: '{ location { id } }', cost: 1, kind: 'read' }).then(() => {
          answered.push(name);
        });
      const deliveries = asDeliveryWork(() =>
        Promise.all([call('delivery1'), call('delivery2'), call('delivery3')]),
      );
      await Promise.all([deliveries, call('push')]);
      expect(answered).toEqual(['delivery1', 'push', 'delivery2', 'delivery3']);
      await c.close();
    });

    it('a failing delivery call gives the slot up between attempts: a push waiting goes in before its retry', async () => {
      // Only one attempt at a time holds the store's one slot, never the backoff between attempts.
      const c = client(3);
      fake.resetStats();
      fake.failOperation('Delivery', 2);
      const call = (name: string) =>
        c.request({ operation: name, query: `query ${name} { location { id } }`, cost: 1, kind: 'read' });
      await Promise.all([asDeliveryWork(() => call('Delivery')), call('Push')]);
      // The push ran before the delivery's last attempt (4 requests: two 503s, the push, the delivery).
      expect(fake.stats.operations.map((o) => o.name)).toEqual(['Push', 'Delivery']);
      expect(fake.stats.requests).toBe(4);
      await c.close();
    });

    it("a 503 holds the store's other calls while the told call backs off", async () => {
      // Backoff 1–2 s: the push, asked for right after the 503, must not reach the shop before it.
      const c = client(2, 2_000);
      fake.resetStats();
      fake.failOperation('Delivery', 1);
      const call = (name: string) =>
        c.request({ operation: name, query: `query ${name} { location { id } }`, cost: 1, kind: 'read' });
      const delivery = asDeliveryWork(() => call('Delivery'));
      await vi.waitFor(() => expect(fake.stats.requests).toBe(1));
      const push = call('Push');
      await new Promise((r) => setTimeout(r, 300));
      expect(fake.stats.requests).toBe(1);
      await Promise.all([delivery, push]);
      expect(fake.stats.operations.map((o) => o.name)).toEqual(['Push', 'Delivery']);
      await c.close();
    });

    it('retries a 503 and gives up with a retryable error', async () => {
      const c = client();
      fake.setDown(true);
      try {
        const err = (await c
          .request({ operation: 'Primary', query: '{ location { id } }', cost: 1, kind: 'read' })
          .catch((e: unknown) => e)) as StorefrontError;
        expect(err.status).toBe(503);
        expect(err.retryable).toBe(true);
        expect(c.counts.reads).toBe(2);
      } finally {
        fake.setDown(false);
        await c.close();
      }
    });
  });
});

describe('a shop with a worker cap', () => {
  it('serves at most `workers` requests at once and answers every one', async () => {
    const fake = await startFake({ latencyMs: 30, workers: 2 });
    try {
      const answers = await Promise.all(
        Array.from({ length: 5 }, () => rawGraphql(fake, { query: '{ shop { name } }' })),
      );
      expect(answers.every((a) => a.status === 200)).toBe(true);
      expect(fake.pace.maxInFlight).toBe(2);
    } finally {
      await fake.stop();
    }
  });
});
