import '@shopify/shopify-api/adapters/node';
import { setAbstractFetchFunc } from '@shopify/shopify-api/runtime';
import { FakeShopify, type FakeShopifyOptions } from '../../../fakes/shopify/fake-shopify.js';

/**
 * How the tests reach the fake: the real `@shopify/shopify-api` client always speaks https to
 * `https://<shop>/admin/api/…`; the fake serves plain http on 127.0.0.1, so (tests only) the
 * library's fetch is swapped for one that rewrites the scheme of the fakes' own hosts and
 * leaves every other URL alone. Production code knows nothing of this.
 */

export const TEST_TOKEN = 'shpat_test_token_0123456789abcdef';
export const TEST_SECRET = 'shpss_test_secret_0123456789abcdef';

const plainHttpHosts = new Set<string>();
let installed = false;

function installFetchRewrite(): void {
  if (installed) return;
  installed = true;
  // Set after the node adapter import (which sets globalThis.fetch) and before any client is built.
  setAbstractFetchFunc(async (input, init) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    if (url.protocol === 'https:' && plainHttpHosts.has(url.host)) url.protocol = 'http:';
    return fetch(url, init);
  });
}

export async function startFake(opts: Partial<FakeShopifyOptions> = {}): Promise<FakeShopify> {
  installFetchRewrite();
  const fake = await new FakeShopify({ accessToken: TEST_TOKEN, ...opts }).start();
  plainHttpHosts.add(fake.shop);
  return fake;
}

/** A raw POST to the fake, bypassing every client: what Shopify itself would answer. */
export async function rawGraphql(
  fake: FakeShopify,
  body: unknown,
  token: string = TEST_TOKEN,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(fake.graphqlUrl, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Shopify-Access-Token': token },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}
