import { abandonDelivery, retryDelivery } from './delivery-decisions.js';
import type { FulfillmentContext } from './fulfillment-context.js';
import { approveOrder, rejectOrder } from './order-review.js';
import { resendCodes } from './resend.js';

/**
 * An operator's decisions about one shop order (`orders <decision> --store NAME --order ID`), by
 * name: the CLI, the admin API and its client all read this table. `by` names who asked (the CLI's
 * user, or the admin API) for the decisions that record it.
 */
export const ORDER_DECISIONS = {
  approve: {
    run: approveOrder,
    what: 'buy an order held for review (or refused by the supplier) as usual',
  },
  reject: {
    run: rejectOrder,
    what: 'never buy an order held for review: a note to the buyer, its lines dropped; refund it in the shop',
  },
  'retry-delivery': {
    run: retryDelivery,
    what: 'try a failed delivery again, from the shop write where it stopped',
  },
  'abandon-delivery': {
    run: abandonDelivery,
    what: 'end a failed delivery: its codes to the pool (kept out if a write may have reached the order); its lines held for you',
  },
  resend: {
    run: resendCodes,
    what: 'put the codes already delivered in front of the buyer again; never buys anything',
  },
} as const satisfies Record<
  string,
  {
    run: (ctx: FulfillmentContext, store: string, orderId: string, by: string) => Promise<string>;
    what: string;
  }
>;

export type OrderDecision = keyof typeof ORDER_DECISIONS;
