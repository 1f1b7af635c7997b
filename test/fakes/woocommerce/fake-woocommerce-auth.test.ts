import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WooCommerceClient } from '../../../adapters/woocommerce/woocommerce-client.js';
import { FakeWooCommerce, signOAuthUrl } from '../../../fakes/woocommerce/fake-woocommerce.js';
import { storefrontRejection, wooClientFor } from '../../helpers/woo-client.js';

/** The fake must refuse what a real WooCommerce over plain http refuses, or it proves nothing. */

let fake: FakeWooCommerce;
let home: string;

beforeEach(async () => {
  fake = new FakeWooCommerce();
  home = await fake.start();
  fake.addSimple({ sku: 'PSN-US-50', stock: 3 });
});
afterEach(async () => {
  await fake.stop();
});

function client(overrides: { consumerKey?: string; consumerSecret?: string; url?: string } = {}) {
  return wooClientFor(fake, { url: home, ...overrides });
}

const productsUrl = () => `${home}/wp-json/wc/v3/products?sku=PSN-US-50`;
const signed = (extra: Partial<Parameters<typeof signOAuthUrl>[0]> = {}) =>
  signOAuthUrl({
    method: 'GET',
    url: productsUrl(),
    consumerKey: fake.consumerKey,
    consumerSecret: fake.consumerSecret,
    ...extra,
  });

describe('OAuth 1.0a over http', () => {
  it('accepts the real client library (HMAC-SHA256, signed query string) and sends a Date header', async () => {
    const c = client();
    const res = await c.get<{ sku: string }[]>('products', { params: { sku: 'psn-us-50 ', per_page: 100 } });
    expect(res.data.map((p) => p.sku)).toEqual(['PSN-US-50']);
    expect(c.clockSkewMs).toBeDefined();
    expect(Math.abs(c.clockSkewMs ?? Number.POSITIVE_INFINITY)).toBeLessThan(5_000);
    await c.close();
  });

  it('accepts HMAC-SHA1 and rejects other signature methods', async () => {
    expect((await fetch(signed({ signatureMethod: 'HMAC-SHA1' }))).status).toBe(200);
    const plaintext = signed().replace(
      'oauth_signature_method=HMAC-SHA256',
      'oauth_signature_method=PLAINTEXT',
    );
    const res = await fetch(plaintext);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({
      code: 'woocommerce_rest_authentication_error',
      message: 'Invalid signature - signature method is invalid.',
      data: { status: 401 },
    });
  });

  it('rejects a wrong consumer secret without leaking it', async () => {
    const secret = `cs_${'9'.repeat(40)}`;
    const c = client({ consumerSecret: secret });
    const e = await storefrontRejection(c.get('products'));
    expect(e.status).toBe(401);
    expect(e.code).toBe('woocommerce_rest_authentication_error');
    expect(e.message).toContain('Invalid signature - provided signature does not match.');
    expect(e.path).toBe('/wp-json/wc/v3/products');
    const everything = JSON.stringify({ ...e, message: e.message, stack: e.stack });
    expect(everything).not.toContain(secret);
    expect(everything).not.toContain('oauth_signature');
    await c.close();
  });

  it('rejects an unknown consumer key', async () => {
    const c = client({ consumerKey: `ck_${'1'.repeat(40)}` });
    const e = await storefrontRejection(c.get('products'));
    expect(e.status).toBe(401);
    expect(e.message).toContain('Consumer key is invalid.');
    await c.close();
  });

  it('ignores Basic auth over http: the request is anonymous', async () => {
    const basic = Buffer.from(`${fake.consumerKey}:${fake.consumerSecret}`).toString('base64');
    const res = await fetch(productsUrl(), { headers: { Authorization: `Basic ${basic}` } });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({
      code: 'woocommerce_rest_cannot_view',
      message: 'Sorry, you cannot list resources.',
      data: { status: 401 },
    });
    const write = await fetch(`${home}/wp-json/wc/v3/products/batch`, {
      method: 'POST',
      headers: { Authorization: `Basic ${basic}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ update: [] }),
    });
    expect(((await write.json()) as { code: string }).code).toBe('woocommerce_rest_cannot_batch');
  });

  it('rejects a replayed nonce', async () => {
    const url = signed({ nonce: 'fixed-nonce-123' });
    expect((await fetch(url)).status).toBe(200);
    const replay = await fetch(url);
    expect(replay.status).toBe(401);
    expect(((await replay.json()) as { message: string }).message).toBe(
      'Invalid nonce - nonce has already been used.',
    );
  });

  it('rejects a timestamp outside ±15 minutes', async () => {
    const stale = await fetch(signed({ timestamp: Math.floor(Date.now() / 1000) - 16 * 60 }));
    expect(stale.status).toBe(401);
    expect(((await stale.json()) as { message: string }).message).toBe('Invalid timestamp.');
    expect((await fetch(signed({ timestamp: Math.floor(Date.now() / 1000) - 14 * 60 }))).status).toBe(200);

    // The same through the real client, against a shop whose clock runs 20 minutes ahead.
    fake.clockSkewMs = 20 * 60_000;
    const c = client();
    const e = await storefrontRejection(c.get('products'));
    expect(e.message).toContain('Invalid timestamp.');
    await c.close();
  });

  it('builds the base string from the home URL: another host or scheme does not verify', async () => {
    const port = new URL(home).port;
    const res = await fetch(signed({ signAs: `http://localhost:${port}` }));
    expect(res.status).toBe(401);
    expect(((await res.json()) as { message: string }).message).toBe(
      'Invalid signature - provided signature does not match.',
    );
    // The client library signs with the URL it is given: a store configured as localhost fails too.
    const c = client({ url: `http://localhost:${port}` });
    expect((await storefrontRejection(c.get('products'))).status).toBe(401);
    await c.close();
  });

  it('does not sign the body, but does sign the query', async () => {
    const url = signOAuthUrl({
      method: 'POST',
      url: `${home}/wp-json/wc/v3/products/batch`,
      consumerKey: fake.consumerKey,
      consumerSecret: fake.consumerSecret,
    });
    const ok = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ update: [] }),
    });
    expect(ok.status).toBe(200);
    const tampered = await fetch(`${signed()}&per_page=5`);
    expect(tampered.status).toBe(401);
  });

  it('reports missing OAuth parameters and key permissions', async () => {
    const res = await fetch(`${productsUrl()}&oauth_consumer_key=${fake.consumerKey}`);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({
      code: 'woocommerce_rest_authentication_missing_parameter',
      message:
        'Missing OAuth parameters oauth_timestamp, oauth_nonce, oauth_signature, oauth_signature_method',
    });

    fake.addKey({
      consumerKey: 'ck_readonly_key',
      consumerSecret: 'cs_readonly_secret',
      permissions: 'read',
    });
    const ro = new WooCommerceClient({
      store: 'ro',
      url: home,
      consumerKey: 'ck_readonly_key',
      consumerSecret: 'cs_readonly_secret',
      timeoutMs: 5_000,
      concurrency: 1,
      retry: { attempts: 1 },
    });
    expect((await ro.get('products')).status).toBe(200);
    const e = await storefrontRejection(ro.post('products/batch', { update: [] }));
    expect(e.message).toContain('The API key provided does not have write permissions.');
    await ro.close();
  });
});
