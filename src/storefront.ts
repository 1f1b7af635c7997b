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
  /**
   * The shop price to set with it (`"17.99"`, the store's currency), when `catalog.pricing` is on
   * and the price changed; absent = the price is left alone.
   */
  price?: string;
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

/** What a store shows now for some SKUs: read only, nothing written (`sync --dry-run`, `doctor`). */
export interface StockReading {
  /** Matched SKUs; `quantity` null when the shop does not manage that item's stock (or not at the location). */
  quantities: { sku: string; quantity: number | null }[];
  missing: string[];
  duplicate: string[];
  failed: { sku: string; error: SafeError }[];
  calls: CallCounts;
}

/** The credentials and the right to write, found out without changing anything (`doctor`). */
export interface AccessCheck {
  verdict: 'ok' | 'warn' | 'fail';
  detail: string;
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
  /** Reads what the store shows for these SKUs, writing nothing; throws only for a store that is unreachable. */
  readStock(skus: readonly string[]): Promise<StockReading>;
  /** Are the credentials accepted, and may they write? Changes nothing in the shop. */
  checkAccess(): Promise<AccessCheck>;
  /** Order intake and delivery (fulfillment). Optional until every adapter has it. */
  readonly orders?: ShopOrders;
  /** The shop's clock minus ours, from its last HTTP `Date` header, where the adapter tracks it. */
  readonly clockSkewMs?: number | undefined;
  /** Every HTTP attempt sent to the shop since start, by kind (metrics), jobs and retries included. */
  readonly requests: Readonly<CallCounts>;
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

// ─── Fulfillment: what the core needs of a shop's orders ────────────────────────────────────

export interface ShopOrderLine {
  /** The shop's line-item id (WooCommerce line item id, Shopify LineItem GID), as a string. */
  id: string;
  sku: string | null;
  quantity: number;
  /**
   * Units still ours to deliver, by the shop's own rules (design-notes "Paid, per shop"):
   * WooCommerce quantity − refunded − already delivered by us; Shopify `unfulfilledQuantity`.
   */
  unitsToFulfill: number;
  /**
   * What the buyer paid for one unit, after every discount (coupons, automatic and order-level
   * discounts), before tax, in the order's `currency`, integer cents. WooCommerce: line `total` /
   * `quantity`; Shopify: `discountedUnitPriceAfterAllDiscountsSet.shopMoney`.
   */
  paidUnitCents: number;
}

export interface ShopOrder {
  id: string;
  /** What the merchant and buyer call it (`#1234`), for logs and notes. */
  number: string;
  /** The shop's own last-modified time (ISO 8601, UTC). Intake cursors use it, never our clock. */
  updatedAt: string;
  /** Paid by the shop's rules (WooCommerce: date_paid, status, payment method; Shopify: financial status). */
  paid: boolean;
  /** Cancelled, refunded in full, failed: nothing more is ever delivered. */
  closed: boolean;
  /** A hold the merchant placed (fraud review …): respected, never released by us. */
  merchantHold: boolean;
  /** Our own hold (placed by `hold`) is on. */
  ourHold: boolean;
  /** The buyer's email (WooCommerce billing email, Shopify order email), for the per-buyer spending limit. */
  buyerEmail: string | null;
  /** ISO 4217 code of the order's money (the shop's currency), e.g. `USD`, `EUR`. */
  currency: string;
  lines: ShopOrderLine[];
  /** Delivery ids of our deliveries already recorded in the order (read-back before writing). */
  deliveryIds: string[];
}

export interface DeliveredCode {
  region: string;
  denomination: number;
  /** Face currency (`USD`, `TRY`). */
  currency: string;
  /** Plaintext bearer value: held only in memory for the write, never logged. */
  code: string;
}

export interface Delivery {
  /** Random UUID; its marker in the order makes a repeated write detectable. */
  deliveryId: string;
  orderId: string;
  lines: { lineId: string; codes: DeliveredCode[] }[];
  supplierOrderIds: string[];
  deliveredAt: string;
  /** Every line of the order is ours and now delivered (WooCommerce sets `completed` only then). */
  completesOrder: boolean;
}

/**
 * What the core knows at the start of one attempt at a delivery, so a step reads back only what
 * it cannot know otherwise (the fewest shop calls per order).
 */
export interface DeliveryAttempt {
  /**
   * The order exactly as `getOrder` returned it right before this attempt (the read before
   * delivering). A step may take it as its read-back of what the earlier steps of the attempt
   * do not change; an object the adapter did not return itself is ignored (it reads again).
   */
  readBefore: ShopOrder;
  /**
   * The delivery's recovery point says none of its writes can have left yet (no earlier attempt
   * got as far as sending one): there is nothing of it in the shop to read back.
   */
  nothingWrittenYet: boolean;
}

/** `orders resend`: what the shop did with the same codes again. */
export type ResendOutcome =
  /** The buyer was sent the codes again (WooCommerce: a new customer note, emailed). */
  | { kind: 'resent'; how: string }
  /** The shop's API cannot send them again; `what` tells the merchant how to, in the shop's admin. */
  | { kind: 'merchant'; what: string };

export type WebhookVerdict =
  /** A creation ping or test delivery: answer 200, act on nothing. */
  | { kind: 'ping' }
  /** A signed event about an order: a hint to read that order again. */
  | { kind: 'order'; eventId: string; orderId: string }
  /** Signed, but a topic we do not act on. */
  | { kind: 'ignored'; eventId: string; reason: string }
  /** Unsigned, forged or malformed: answer 401, act on nothing. */
  | { kind: 'rejected'; reason: string };

export interface ShopOrders {
  /**
   * Orders modified at or after `since` (shop time; null = the last day) that may need us:
   * paid ones, and closed ones we may have to stop. Oldest first; `latest` is the newest
   * `updatedAt` seen, from which the caller's next cursor is derived (minus an overlap).
   */
  listChangedOrders(since: string | null): Promise<{ orders: ShopOrder[]; latest: string | null }>;
  /** The order as it is now (read again right before buying and right before delivering). */
  getOrder(orderId: string): Promise<ShopOrder | null>;
  /**
   * The shop writes of one delivery, in order. Each is a recovery point of its own:
   * `runDeliveryStep` reads back first and writes only what is not already there, so a crash
   * between a write and our record of it never sends the buyer a second, different set.
   */
  readonly deliverySteps: readonly string[];
  /**
   * Step names an earlier version recorded, each mapped to the current step it counts as done:
   * a delivery left at one resumes after that step (`runDeliveryStep` reads back, so it is safe).
   */
  readonly retiredSteps?: Readonly<Record<string, string>>;
  runDeliveryStep(step: string, delivery: Delivery, attempt?: DeliveryAttempt): Promise<void>;
  /**
   * `orders resend`: the codes of a delivery already made, in front of the buyer again. Never a
   * second delivery: the same delivery id, so every read-back still sees one delivery.
   */
  resendDelivery(delivery: Delivery): Promise<ResendOutcome>;
  /** Our hold, with a note to the buyer (balance short, supplier out of stock, waiting too long). */
  hold(orderId: string, noteToBuyer: string): Promise<void>;
  /** Releases only a hold we placed. */
  releaseHold(orderId: string): Promise<void>;
  /** Checks a webhook's signature over the raw body; constant-time. */
  verifyWebhook(req: {
    headers: Record<string, string | string[] | undefined>;
    rawBody: Buffer;
  }): WebhookVerdict;
  /** Registers order webhooks at `${publicUrl}/webhooks/<type>/<store>`, idempotently. */
  ensureWebhooks(publicUrl: string): Promise<void>;
}
