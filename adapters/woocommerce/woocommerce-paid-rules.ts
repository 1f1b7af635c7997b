/**
 * WooCommerce's "paid, per shop" rules (design-notes), pure: no I/O, no clock. The order is
 * what `woocommerce-orders.ts` read from the store (the order, its refunds' line items, and our
 * own `_psnb2b_*` meta), already validated.
 */

/** Statuses after which nothing more is ever delivered. */
export const CLOSED_STATUSES: ReadonlySet<string> = new Set(['cancelled', 'refunded', 'failed', 'trash']);
/** The only statuses WooCommerce reaches once a payment is complete. */
const PAID_STATUSES: ReadonlySet<string> = new Set(['processing', 'completed']);

export interface WooOrderLineFacts {
  id: string;
  quantity: number;
}

export interface WooOrderFacts {
  status: string;
  /** `date_paid_gmt`: set by WooCommerce when the payment completed (never for `cod`). */
  datePaidGmt: string | null;
  paymentMethod: string;
  lines: readonly WooOrderLineFacts[];
  /** Units refunded per line item id (from the refunds' negative line items). */
  refunded: Readonly<Record<string, number>>;
  /** Units we delivered per line item id (from `_psnb2b_delivery`). */
  delivered: Readonly<Record<string, number>>;
  /** Our `_psnb2b_hold` meta is present. */
  holdMeta: boolean;
}

/**
 * date_paid set, status processing/completed, and a payment method that is not collected later
 * (`cod` by default: a bearer code cannot be taken back from someone who then does not pay).
 * `on-hold` (bank transfer, cheque) is not paid until the merchant confirms the money.
 */
export function isPaid(order: WooOrderFacts, unpaidMethods: readonly string[]): boolean {
  return (
    order.datePaidGmt !== null &&
    order.datePaidGmt !== '' &&
    PAID_STATUSES.has(order.status) &&
    !unpaidMethods.includes(order.paymentMethod)
  );
}

/** Quantity − refunded − already delivered by us; never negative. */
export function unitsToFulfill(order: WooOrderFacts, line: WooOrderLineFacts): number {
  const refunded = order.refunded[line.id] ?? 0;
  const delivered = order.delivered[line.id] ?? 0;
  return Math.max(0, line.quantity - refunded - delivered);
}

/** Cancelled, refunded, failed, trashed — or every line refunded in full. */
export function isClosed(order: WooOrderFacts): boolean {
  if (CLOSED_STATUSES.has(order.status)) return true;
  return order.lines.length > 0 && order.lines.every((l) => (order.refunded[l.id] ?? 0) >= l.quantity);
}

/** Ours only while our meta is there and the order is still on hold; any other on-hold is the merchant's. */
export function holdState(order: WooOrderFacts): { ourHold: boolean; merchantHold: boolean } {
  const onHold = order.status === 'on-hold';
  return { ourHold: onHold && order.holdMeta, merchantHold: onHold && !order.holdMeta };
}
