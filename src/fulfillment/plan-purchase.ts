import { parseEntryKey } from '../sku.js';
import { nextBulkOrderAt } from './batch-pacing.js';

/**
 * What to do with the units still needed, decided without I/O: take pooled codes first (they
 * were bought for orders that were cancelled after purchase), then batch the rest into one bulk
 * order once the oldest waiting sale is `batchWindowMs` old and one pacing interval has passed
 * since the last bulk order (batch-pacing.ts), capped by what the supplier lists. A sale's age
 * counts from when the shop made it: the time until a poll saw it was waiting already. A shop
 * clock behind ours can only spend the window early; the pacing interval, on our clock, still
 * keeps bulk orders within the quota.
 */

export interface NeedingLine {
  line: number;
  entryKey: string;
  /** Units neither assigned a code nor held by an active intent. */
  need: number;
  receivedAt: number;
  /**
   * When the shop made the sale, by its own clock (the order's last change when we took it in: its
   * payment or later, to the second); the batch window counts from it, never from later than
   * `receivedAt`.
   */
  saleAt?: number;
}

export interface PurchasePlan {
  /** Pooled codes to assign now. */
  fromPool: { line: number; entryKey: string; units: number }[];
  /** The bulk order to place now, or null (nothing due yet). */
  order: {
    items: { region: string; denomination: number; qty: number; entryKey: string }[];
    allocations: { line: number; entryKey: string; units: number }[];
  } | null;
  /** Units that cannot be bought now because the supplier lists too few. */
  short: { line: number; entryKey: string; units: number }[];
}

export interface PurchaseInput {
  lines: readonly NeedingLine[];
  /** entryKey → pooled codes available. */
  pool: ReadonlyMap<string, number>;
  /** entryKey → what the supplier last listed (undefined: not in the catalogue). */
  supplierQty: ReadonlyMap<string, number>;
  now: number;
  batchWindowMs: number;
  /** When the last bulk order went (null: none lately) and the even spacing between two. */
  lastBulkAt?: number | null;
  bulkIntervalMs?: number;
  /** Largest qty of one item in one order (the supplier's limit). */
  maxQtyPerItem: number;
}

export function planPurchase(input: PurchaseInput): PurchasePlan {
  const fromPool: PurchasePlan['fromPool'] = [];
  const pool = new Map(input.pool);
  const toBuy: NeedingLine[] = [];
  // Oldest sale first, everywhere: the first buyer is served first, by our intake clock, since the
  // shops' clocks may differ (only the batch window reads the shop's sale time).
  const lines = [...input.lines]
    .filter((l) => l.need > 0)
    .sort((a, b) => a.receivedAt - b.receivedAt || a.line - b.line);
  for (const l of lines) {
    const pooled = Math.min(pool.get(l.entryKey) ?? 0, l.need);
    if (pooled > 0) {
      fromPool.push({ line: l.line, entryKey: l.entryKey, units: pooled });
      pool.set(l.entryKey, (pool.get(l.entryKey) ?? 0) - pooled);
    }
    if (l.need - pooled > 0) toBuy.push({ ...l, need: l.need - pooled });
  }
  const at = nextBulkOrderAt({
    oldestWaitingAt: oldestSale(toBuy),
    lastBulkAt: input.lastBulkAt ?? null,
    batchWindowMs: input.batchWindowMs,
    intervalMs: input.bulkIntervalMs ?? 0,
  });
  if (at === null || input.now < at) return { fromPool, order: null, short: [] };

  const left = new Map<string, number>();
  for (const [k, q] of input.supplierQty) left.set(k, Math.min(q, input.maxQtyPerItem));
  const allocations: { line: number; entryKey: string; units: number }[] = [];
  const short: PurchasePlan['short'] = [];
  for (const l of toBuy) {
    const available = left.get(l.entryKey) ?? 0;
    const units = Math.min(available, l.need);
    if (units > 0) {
      allocations.push({ line: l.line, entryKey: l.entryKey, units });
      left.set(l.entryKey, available - units);
    }
    if (l.need - units > 0) short.push({ line: l.line, entryKey: l.entryKey, units: l.need - units });
  }
  const qty = new Map<string, number>();
  for (const a of allocations) qty.set(a.entryKey, (qty.get(a.entryKey) ?? 0) + a.units);
  const items = [...qty.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([entryKey, q]) => ({ ...parseEntryKey(entryKey), qty: q, entryKey }));
  return { fromPool, order: items.length ? { items, allocations } : null, short };
}

/** When the oldest of these sales was made (a loop, not a spread: there may be many thousands). */
function oldestSale(lines: readonly NeedingLine[]): number | null {
  let oldest: number | null = null;
  for (const l of lines) {
    const at = Math.min(l.receivedAt, l.saleAt ?? l.receivedAt);
    if (oldest === null || at < oldest) oldest = at;
  }
  return oldest;
}
