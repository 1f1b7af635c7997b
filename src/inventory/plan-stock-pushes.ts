import { type EntryId, entryKey, type SkuMapping, skuKey, skusForEntry } from '../sku.js';
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
}

export interface PlannedPush extends StockTarget {
  entryKey: string;
  /** What the store last acknowledged, or null when it never did. */
  previous: number | null;
}

/** `max(0, supplier qty − reserve − units sold but not yet ordered)`. */
export function publishedTarget(qty: number, reserve: number, soldNotOrdered: number): number {
  return Math.max(0, qty - reserve - soldNotOrdered);
}

export function storeQuantity(target: number, allocation: 'shared' | 'split', weight: number): number {
  return allocation === 'split' ? Math.floor(target * weight + 1e-9) : target;
}

export function planStockPushes(input: PlanInput): PlannedPush[] {
  const out: PlannedPush[] = [];
  const seen = new Set<string>();
  for (const e of input.entries) {
    const key = entryKey(e);
    const target = publishedTarget(e.qty, input.reserve, input.soldNotOrdered.get(key) ?? 0);
    const quantity = storeQuantity(target, input.allocation, input.weight);
    for (const sku of skusForEntry(input.mapping, e)) {
      const k = skuKey(sku);
      // Two entries must never fight over one SKU (an override naming a templated SKU): first wins.
      if (seen.has(k)) continue;
      seen.add(k);
      const previous = input.checkpoint.get(k);
      if (input.full || previous !== quantity) {
        out.push({ sku, quantity, entryKey: key, previous: previous ?? null });
      }
    }
  }
  return out;
}
