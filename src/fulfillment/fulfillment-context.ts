import type { Db } from '../db/open.js';
import type { Logger } from '../log.js';
import type { SkuMapping } from '../sku.js';
import type { ShopOrders, Storefront } from '../storefront.js';
import type { SupplierApi } from '../supplier/psnb2b-client.js';
import type { CodeVault } from './code-vault.js';
import type { DeliveryRunner } from './delivery-runner.js';
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
   * Stores that failed to answer since the current pass began (reset at its start): later phases,
   * and the deliveries waiting in that store's lanes, skip them instead of waiting out their
   * retries again, so the others move on; the next pass tries the store again.
   */
  unreachable: Set<string>;
  /** This process's deliveries, running in the background across passes (delivery-runner.ts). */
  deliveries: DeliveryRunner;
}

export const LOG = { component: 'fulfillment' } as const;
