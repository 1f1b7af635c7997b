import type { WooStoreConfig } from '../../config/schema.js';
import type { StorefrontFactory } from '../../src/storefront.js';
import { WooCommerceStorefront } from './woocommerce-adapter.js';

/** Create one per store and share it: the store's request queue is shared by every job anyway. */
export const woocommerceFactory: StorefrontFactory<WooStoreConfig> = {
  type: 'woocommerce',
  create: (config, ctx) => new WooCommerceStorefront(config, ctx),
};

export type { WooCommerceAdapterOptions, WooRef } from './woocommerce-adapter.js';
export { WooCommerceStorefront } from './woocommerce-adapter.js';
export type { WooOrdersOptions } from './woocommerce-orders.js';
export { WooCommerceOrders } from './woocommerce-orders.js';
export type { WooOrderFacts } from './woocommerce-paid-rules.js';
export { holdState, isClosed, isPaid, unitsToFulfill } from './woocommerce-paid-rules.js';
