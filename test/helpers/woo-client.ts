import { expect } from 'vitest';
import { type WooClientOptions, WooCommerceClient } from '../../adapters/woocommerce/woocommerce-client.js';
import type { FakeWooCommerce } from '../../fakes/woocommerce/fake-woocommerce.js';
import { StorefrontError } from '../../src/errors.js';

/** The real WooCommerce client pointed at a running fake with its keys; one try unless told otherwise. */
export function wooClientFor(fake: FakeWooCommerce, opts: Partial<WooClientOptions> = {}): WooCommerceClient {
  return new WooCommerceClient({
    store: 'shop-a',
    url: fake.url,
    consumerKey: fake.consumerKey,
    consumerSecret: fake.consumerSecret,
    timeoutMs: 5_000,
    concurrency: 2,
    retry: { attempts: 1 },
    ...opts,
  });
}

/** The StorefrontError a call rejected with (the test fails if it resolved or threw anything else). */
export async function storefrontRejection(p: Promise<unknown>): Promise<StorefrontError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(StorefrontError);
  return e as StorefrontError;
}
