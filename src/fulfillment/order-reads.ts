import type { ShopOrder } from '../storefront.js';
import type { FulfillmentContext } from './fulfillment-context.js';

/**
 * The orders each shop showed us lately, with when we read them. A listing (or a webhook's read)
 * this recent IS the read right before buying (design-notes: "the shop order is read again just
 * before buying"): a second GET seconds later would only cost the shop a call. Older than
 * FRESH_MS, or never seen by this process (after a restart), the order is read again. Memory
 * only: nothing here is a recovery point.
 */

export const FRESH_MS = 60_000;

interface Read {
  order: ShopOrder;
  at: number;
}

const reads = new WeakMap<FulfillmentContext, Map<string, Read>>();

const key = (store: string, orderId: string) => `${store}\u0000${orderId}`;

function readsOf(ctx: FulfillmentContext): Map<string, Read> {
  let m = reads.get(ctx);
  if (!m) {
    m = new Map();
    reads.set(ctx, m);
  }
  return m;
}

/** Records what a shop showed at `at` (our clock, taken before the call); an older snapshot never replaces a newer one. */
export function rememberRead(ctx: FulfillmentContext, store: string, order: ShopOrder, at: number): void {
  const m = readsOf(ctx);
  const k = key(store, order.id);
  const had = m.get(k);
  if (had && Date.parse(had.order.updatedAt) > Date.parse(order.updatedAt)) return;
  m.set(k, { order, at });
}

/** The order as read less than FRESH_MS ago, if it was. */
export function freshRead(ctx: FulfillmentContext, store: string, orderId: string): ShopOrder | undefined {
  const r = readsOf(ctx).get(key(store, orderId));
  return r && ctx.now() - r.at < FRESH_MS ? r.order : undefined;
}

/** Drops what is too old to be used (called once a poll, so the map stays as small as a minute of orders). */
export function forgetStaleReads(ctx: FulfillmentContext): void {
  const m = readsOf(ctx);
  const now = ctx.now();
  for (const [k, r] of m) if (now - r.at >= FRESH_MS) m.delete(k);
}
