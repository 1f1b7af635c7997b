import { DEFAULT_WINDOW_MS, pacedLimit } from '../supplier/pacer.js';

/**
 * Batching that stretches with load (design-notes "Throughput under load"). Bulk orders are
 * spread evenly over the minute: one every `windowMs / paced limit` (10/min, paced at 9 → one
 * every 6.67 s). A bulk order goes when the oldest waiting sale has waited the batch window AND
 * one pacing interval has passed since the last bulk order. Under light load the window decides;
 * under heavy load the interval does — the window stretches to it, so a fixed window never asks
 * for more bulk orders than the quota (at 300 sales/min a 5 s window would need 12 a minute),
 * and no sale waits more than one pacing interval (when the window is shorter) for its purchase.
 */

/** The even spacing of bulk orders within the paced quota, in ms. */
export function bulkPacingMs(ordersPerMinute: number, windowMs = DEFAULT_WINDOW_MS): number {
  return Math.ceil(windowMs / pacedLimit(ordersPerMinute));
}

export interface BulkTiming {
  /** When the oldest sale still to be bought was made (plan-purchase.ts); null: none waits. */
  oldestWaitingAt: number | null;
  /** When the last bulk order went (any process); null: none recently. */
  lastBulkAt: number | null;
  batchWindowMs: number;
  intervalMs: number;
}

/** The instant the next bulk order may go; null when nothing waits. */
export function nextBulkOrderAt(t: BulkTiming): number | null {
  if (t.oldestWaitingAt === null) return null;
  return Math.max(
    t.oldestWaitingAt + t.batchWindowMs,
    (t.lastBulkAt ?? Number.NEGATIVE_INFINITY) + t.intervalMs,
  );
}
