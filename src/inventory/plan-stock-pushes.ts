import { type EntryId, skuFormatter } from '../../config/sku-template.js';
import { entryKey, overridesByEntry, type SkuMapping, skuKey } from '../sku.js';
import type { StockTarget } from '../storefront.js';

/**
 * What one store must be told, decided without I/O: the published target of every entry,
 * compared with what that store last acknowledged (its checkpoint). Only differences are
 * pushed, unless `full` (a resync) asks for every SKU.
 */

export interface SnapshotEntry extends EntryId {
  currency: string;
  /** Supplier quantity; a discontinued (delisted) entry has 0. */
  qty: number;
}

export interface PlanInput {
  entries: readonly SnapshotEntry[];
  /** skuKey → quantity this store last acknowledged. */
  checkpoint: ReadonlyMap<string, number>;
  mapping: SkuMapping;
  reserve: number;
  allocation: 'shared' | 'split';
  /** This store's share under `split`. */
  weight: number;
  /** entryKey → units sold in any shop but not yet ordered from the supplier. */
  soldNotOrdered: ReadonlyMap<string, number>;
  full?: boolean;
  /**
   * With `catalog.pricing` on: the price text each SKU of an entry should show (null: none can be
   * set), and skuKey → the price this store last acknowledged (its price checkpoint).
   */
  prices?: { of: (e: SnapshotEntry, sku: string) => string | null; checkpoint: ReadonlyMap<string, string> };
}

export interface PlannedPush extends StockTarget {
  entryKey: string;
  /** What the store last acknowledged, or null when it never did. */
  previous: number | null;
  /** The price this store last acknowledged, when `price` changes it. */
  previousPrice?: string | null;
}

/** `max(0, supplier qty − reserve − units sold but not yet ordered)`. */
export function publishedTarget(qty: number, reserve: number, soldNotOrdered: number): number {
  return Math.max(0, qty - reserve - soldNotOrdered);
}

export function storeQuantity(target: number, allocation: 'shared' | 'split', weight: number): number {
  return allocation === 'split' ? Math.floor(target * weight + 1e-9) : target;
}

/**
 * One pass over the entries: every SKU an entry is published under (the template's, then any
 * overrides naming it) is compared with the checkpoint. The template and the overrides are
 * prepared once per plan, not once per entry: at 100,000 entries that is the whole cost.
 */
export function planStockPushes(input: PlanInput): PlannedPush[] {
  const { entries, checkpoint, reserve, allocation, weight, soldNotOrdered, full } = input;
  const format = skuFormatter(input.mapping.template);
  const overrides = overridesByEntry(input.mapping.overrides);
  const out: PlannedPush[] = [];
  // Two entries must never fight over one SKU (an override naming a templated SKU): first wins.
  // Entries are unique (region in upper case + denomination) and the template holds both, so
  // templated SKUs never collide among themselves: only SKUs an override also names are tracked.
  const contested = new Set(Object.keys(input.mapping.overrides).map(skuKey));
  const seen = new Set<string>();
  const consider = (e: SnapshotEntry, sku: string, quantity: number, key: string | undefined) => {
    const k = skuKey(sku);
    if (contested.size > 0 && contested.has(k)) {
      if (seen.has(k)) return;
      seen.add(k);
    }
    const previous = checkpoint.get(k);
    const price = input.prices?.of(e, sku) ?? null;
    const previousPrice = input.prices?.checkpoint.get(k) ?? null;
    const priceChanged = price !== null && (full || previousPrice !== price);
    if (full || previous !== quantity || priceChanged) {
      out.push({
        sku,
        quantity,
        entryKey: key ?? entryKey(e),
        previous: previous ?? null,
        ...(priceChanged && { price, previousPrice }),
      });
    }
  };
  // The entry's key is built only when something is looked up by it, or a push names it: most
  // entries of a cycle need neither, and at 100,000 entries the strings are the cost.
  const byEntry = soldNotOrdered.size > 0 || overrides.size > 0;
  for (const e of entries) {
    const key = byEntry ? entryKey(e) : undefined;
    const target = publishedTarget(e.qty, reserve, key === undefined ? 0 : (soldNotOrdered.get(key) ?? 0));
    const quantity = storeQuantity(target, allocation, weight);
    consider(e, format(e), quantity, key);
    if (key !== undefined) for (const sku of overrides.get(key) ?? []) consider(e, sku, quantity, key);
  }
  return out;
}
