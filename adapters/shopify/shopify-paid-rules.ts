/**
 * Shopify's "paid, per shop" rules (design-notes), pure so they can be tested as a table:
 * - paid: `displayFinancialStatus` PAID or PARTIALLY_REFUNDED (a refund of some units leaves the
 *   rest paid); PENDING, AUTHORIZED (not captured), PARTIALLY_PAID, EXPIRED are not;
 * - units: `unfulfilledQuantity` (refunded and already fulfilled units are out of it);
 * - closed: cancelled, or REFUNDED/VOIDED in full — nothing more is ever delivered;
 * - holds: a hold whose handle is ours and that our app placed is ours; any other hold on a
 *   fulfillment order (fraud review, a merchant's manual hold, another app) is the merchant's.
 */

/** The handle of every hold we place; with `heldByRequestingApp` it tells ours from anyone else's. */
export const OUR_HOLD_HANDLE = 'psnb2b-sync';

const PAID = new Set(['PAID', 'PARTIALLY_REFUNDED']);
const CLOSED = new Set(['REFUNDED', 'VOIDED']);
/** Fulfillment orders still waiting for fulfilment (holds sit on ON_HOLD ones). */
const LIVE_FO = new Set(['OPEN', 'IN_PROGRESS', 'ON_HOLD', 'SCHEDULED']);

export interface HoldFacts {
  handle: string | null;
  heldByRequestingApp: boolean;
}

export interface FulfillmentOrderFacts {
  status: string;
  fulfillmentHolds: HoldFacts[];
}

export interface OrderFacts {
  displayFinancialStatus: string | null;
  cancelledAt: string | null;
  fulfillmentOrders: FulfillmentOrderFacts[];
}

export function isPaid(o: Pick<OrderFacts, 'displayFinancialStatus'>): boolean {
  return o.displayFinancialStatus !== null && PAID.has(o.displayFinancialStatus);
}

export function isClosed(o: Pick<OrderFacts, 'displayFinancialStatus' | 'cancelledAt'>): boolean {
  return (
    o.cancelledAt !== null || (o.displayFinancialStatus !== null && CLOSED.has(o.displayFinancialStatus))
  );
}

export function unitsToFulfill(line: { unfulfilledQuantity: number }): number {
  return Number.isSafeInteger(line.unfulfilledQuantity) ? Math.max(0, line.unfulfilledQuantity) : 0;
}

export function isOurHold(h: HoldFacts): boolean {
  return h.heldByRequestingApp && h.handle === OUR_HOLD_HANDLE;
}

export function holdState(o: Pick<OrderFacts, 'fulfillmentOrders'>): {
  merchantHold: boolean;
  ourHold: boolean;
} {
  const holds = o.fulfillmentOrders
    .filter((fo) => LIVE_FO.has(fo.status))
    .flatMap((fo) => fo.fulfillmentHolds);
  return { merchantHold: holds.some((h) => !isOurHold(h)), ourHold: holds.some(isOurHold) };
}

/**
 * The intake search (shopify/NOTES.md): paid or partly refunded, something left to fulfil, still
 * open; plus the cursor. Dates are quoted so the colons in the time stay inside the value.
 */
export function intakeQuery(since: string): string {
  return `(financial_status:paid OR financial_status:partially_refunded) (fulfillment_status:unfulfilled OR fulfillment_status:partial) status:open updated_at:>='${since}'`;
}

/** Orders that stopped being ours to deliver (cancelled, refunded, voided) since the cursor. */
export function closedQuery(since: string): string {
  return `(status:cancelled OR financial_status:refunded OR financial_status:voided) updated_at:>='${since}'`;
}

/** `X-Shopify-Topic` (`orders/paid`) or the GraphQL enum (`ORDERS_PAID`) to the enum. */
export function topicEnum(topic: string): string {
  return topic.trim().replace(/\//g, '_').toUpperCase();
}

/** Topics that are a hint to read one order again. */
export const ORDER_TOPICS = new Set(['ORDERS_PAID', 'ORDERS_UPDATED', 'ORDERS_CANCELLED']);
/** What `ensureWebhooks` subscribes: paid is the fast path, updated carries refunds, cancels and releases. */
export const SUBSCRIBED_TOPICS = ['ORDERS_PAID', 'ORDERS_UPDATED'] as const;
