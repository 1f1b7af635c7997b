import type { SafeError } from './errors.js';
import type { Logger } from './log.js';

/**
 * The port every shop adapter implements. The core speaks only in SKUs and quantities; how a
 * SKU becomes a product, a variation or an inventory item is the adapter's business, kept in
 * its own opaque `ref` in the SKU cache.
 */

/** The quantity a store should show for one SKU. 0 means not purchasable. */
export interface StockTarget {
  sku: string;
  quantity: number;
}

export type SkuState = 'matched' | 'missing' | 'duplicate';

export interface CachedSku {
  /** The SKU as the shop spells it (first seen). */
  sku: string;
  state: SkuState;
  /** Adapter-specific locator (product id, parent id, inventory item id …). */
  ref: unknown;
  checkedAt: number;
}

/** Per-store persistent SKU resolution cache (SQLite), keyed by the SKU without case. */
export interface SkuCache {
  get(sku: string): CachedSku | undefined;
  set(entries: CachedSku[]): void;
  delete(sku: string): void;
}

export interface CallCounts {
  reads: number;
  writes: number;
}

export interface PushOutcome {
  /** Targets the store confirmed; the core advances the checkpoint to exactly these. */
  acknowledged: StockTarget[];
  /** No product carries this SKU: reported, never created. */
  missing: string[];
  /** More than one product or variation carries this SKU: never published. */
  duplicate: string[];
  /** The store refused or failed: the checkpoint keeps the old value, the next run retries. */
  failed: { sku: string; error: SafeError }[];
  calls: CallCounts;
}

export interface PushOptions {
  /** Called after each write call with the number of targets settled so far. */
  onProgress?: (settled: number, total: number) => void;
}

export interface Storefront {
  readonly name: string;
  readonly type: string;
  /** Write these stock targets; never throws for per-SKU trouble, only for a store that is unreachable. */
  pushStock(targets: StockTarget[], options?: PushOptions): Promise<PushOutcome>;
  close(): Promise<void>;
}

export interface StorefrontContext {
  log: Logger;
  cache: SkuCache;
  /** How long a `missing` SKU is trusted before the shop is asked again (a product may be added). */
  missingRecheckMs: number;
  now: () => number;
}

/**
 * How the composition root finds an adapter: by the storefront `type` stored in config and on
 * records. Each adapter folder exports one; `adapters/index.ts` lists them.
 */
export interface StorefrontFactory<C extends { type: string; name: string }> {
  readonly type: C['type'];
  create(config: C, ctx: StorefrontContext): Storefront;
}
