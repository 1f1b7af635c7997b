/**
 * The money path as data: every row of `purchase_intents` and `shop_lines` sits at one of these
 * named points, written in the same transaction as the work that reached it; a delivery's points
 * are its `step`s, one per shop write (delivering.ts). After a crash the pipeline re-enters each
 * row exactly where its point says. The tests seed a row at each point and check the resume
 * (test/fulfillment/recovery-points.test.ts).
 */

export const INTENT_POINTS = {
  /** Items frozen, idempotency key chosen; the supplier has not been called. Resume: send. */
  created: { terminal: false, resume: 'send the order' },
  /** The request may have left. Resume: an unknown outcome — same key if the supplier honours keys, else park. */
  sending: { terminal: false, resume: 'unknown outcome: retry under the same key, or park' },
  /** The supplier accepted (201) and gave an order id. Resume: follow it to delivered, then fetch the codes. */
  ordered: { terminal: false, resume: 'poll the supplier order; fetch codes when delivered' },
  /** Unknown outcome with keys not honoured: an operator decides (`orders resolve`). */
  parked: { terminal: false, resume: 'wait for an operator' },
  /** Codes stored encrypted and assigned; nothing more to do at the supplier. */
  stored: { terminal: true, resume: 'none' },
  /** The supplier refused (402/409/4xx): its lines are free to join a new intent. */
  rejected: { terminal: true, resume: 'none' },
  /** Failed at the supplier, or replaced by an operator's re-buy: a newer intent took its lines. */
  superseded: { terminal: true, resume: 'none' },
  /** An operator abandoned it; its lines are held for the operator. */
  abandoned: { terminal: true, resume: 'none' },
} as const;

export type IntentPoint = keyof typeof INTENT_POINTS;

/** Intents whose units count as ordered at the supplier (they leave "sold but not ordered"). */
export const ACCEPTED_INTENT_POINTS: readonly IntentPoint[] = ['ordered', 'stored'];
/** Intents that still hold their lines' units (those units are not free to buy again). */
export const ACTIVE_INTENT_POINTS: readonly IntentPoint[] = ['created', 'sending', 'ordered', 'parked'];

export const LINE_POINTS = {
  /** Received and owed; the pipeline buys, assigns and delivers its units. */
  open: { terminal: false },
  /** Our hold (balance, stock, unknown entry, waiting too long, abandoned purchase): counted as sold, not bought. */
  held: { terminal: false },
  /** Every owed unit delivered into the shop order. */
  delivered: { terminal: true },
  /** Cancelled or refunded before any code was bought for it. */
  dropped: { terminal: true },
} as const;

export type LinePoint = keyof typeof LINE_POINTS;

export type HoldReason =
  | 'balance'
  | 'min-balance'
  | 'out-of-stock'
  | 'unknown-entry'
  | 'duplicate-sku'
  | 'max-wait'
  | 'abandoned';

/** What the buyer reads in the note that comes with our hold. */
export const HOLD_NOTES: Record<HoldReason, string | null> = {
  balance: 'Your order is confirmed; your codes are being prepared and will arrive shortly.',
  'min-balance': 'Your order is confirmed; your codes are being prepared and will arrive shortly.',
  'out-of-stock':
    'Your order is confirmed; this card is being restocked and your codes will follow as soon as it is.',
  'unknown-entry': null,
  'duplicate-sku': null,
  'max-wait':
    'Sorry for the wait: your codes are delayed. We are on it and will deliver them as soon as possible.',
  abandoned: null,
};
