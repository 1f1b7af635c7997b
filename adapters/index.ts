import type { StorefrontConfig } from '../config/schema.js';
import type { StorefrontFactory } from '../src/storefront.js';
import { shopifyFactory } from './shopify/index.js';
import { woocommerceFactory } from './woocommerce/index.js';

/**
 * The registry of shop adapters, keyed by the storefront `type` stored in config and records.
 * Adding a shop means adding its folder and one line here.
 */
export const storefrontFactories: Partial<
  Record<StorefrontConfig['type'], StorefrontFactory<StorefrontConfig>>
> = {
  woocommerce: woocommerceFactory as StorefrontFactory<StorefrontConfig>,
  shopify: shopifyFactory as StorefrontFactory<StorefrontConfig>,
};
