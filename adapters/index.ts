import type { StorefrontConfig } from '../config/schema.js';
import type { StorefrontFactory } from '../src/storefront.js';

/**
 * The registry of shop adapters, keyed by the storefront `type` stored in config and records.
 * Adding a shop means adding its folder and one line here. Each adapter is loaded only when a
 * store of its type is configured: a shop's client library costs start-up time (Shopify's
 * alone about 0.6 s) that a daemon without such a store should not pay.
 */
export const storefrontFactories: Record<
  StorefrontConfig['type'],
  () => Promise<StorefrontFactory<StorefrontConfig>>
> = {
  woocommerce: async () =>
    (await import('./woocommerce/index.js')).woocommerceFactory as StorefrontFactory<StorefrontConfig>,
  shopify: async () =>
    (await import('./shopify/index.js')).shopifyFactory as StorefrontFactory<StorefrontConfig>,
};
