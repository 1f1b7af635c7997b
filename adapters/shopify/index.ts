import type { ShopifyStoreConfig } from '../../config/schema.js';
import type { Storefront, StorefrontContext } from '../../src/storefront.js';
import { ShopifyStorefront } from './shopify-adapter.js';

/**
 * The Shopify adapter as the composition root sees it. Everything Shopify-specific (the
 * `@shopify/shopify-api` library included) stays inside this folder.
 */
export const shopifyFactory = {
  type: 'shopify' as const,
  /** One per store, shared by every job: the store's request queue and pacing live in it. */
  create(config: ShopifyStoreConfig, ctx: StorefrontContext): Storefront {
    return new ShopifyStorefront(config, ctx);
  },
};

export type { ShopifyAdapterOptions, ShopifyRef } from './shopify-adapter.js';
export { ShopifyStorefront } from './shopify-adapter.js';
export type { ShopifyClientOptions, ShopifyRequest } from './shopify-client.js';
export { ShopifyGraphqlClient } from './shopify-client.js';
export { ShopifyOrders } from './shopify-orders.js';
export { OUR_HOLD_HANDLE } from './shopify-paid-rules.js';
