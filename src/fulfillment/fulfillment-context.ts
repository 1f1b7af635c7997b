import type { Db } from '../db/open.js';
import type { Logger } from '../log.js';
import type { SkuMapping } from '../sku.js';
import type { ShopOrders, Storefront } from '../storefront.js';
import type { SupplierApi } from '../supplier/psnb2b-client.js';
import type { CodeVault } from './code-vault.js';
import type { MarginRules } from './margin.js';
import type { SpendingLimits } from './spending-limits.js';

/** What every phase of the money path works with. */
export interface FulfillmentContext {
  db: Db;
  supplier: SupplierApi;
  stores: ReadonlyMap<string, Storefront & { orders: ShopOrders }>;
  vault: CodeVault;
  mapping: SkuMapping;
  settings: {
    batchWindowMs: number;
    /** Even spacing of bulk orders within the paced bulk quota (batch-pacing.ts). */
    bulkIntervalMs: number;
    minBalanceCents: number;
    maxWaitMs: number;
    honoursIdempotencyKeys: boolean;
    /** The supplier's per-item quantity limit for one order. */
    maxQtyPerItem: number;
    /** `fulfillment.limits`, in cents: an order over any is held for review. */
    limits: SpendingLimits;
    /** `fulfillment.minMarginPercent`/`onLowMargin` and `catalog.pricing.fxRates`. */
    margin: MarginRules;
    /** Orders delivered side by side per store (`storefronts[].concurrency`); 1 for a store not listed. */
    lanes: ReadonlyMap<string, number>;
  };
  log: Logger;
  now: () => number;
  /**
   * Stores that failed to answer during the current pass (reset at its start): later phases of
   * the same pass skip them instead of waiting out their retries again, so the others move on.
   */
  unreachable: Set<string>;
}

export const LOG = { component: 'fulfillment' } as const;
