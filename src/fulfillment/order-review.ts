import { raiseAlert } from '../alerts.js';
import { type Db, immediate } from '../db/open.js';
import { describeSafeError, toSafeError, UsageError } from '../errors.js';
import { centsToUsd, formatUsd } from '../money.js';
import type { ShopOrder } from '../storefront.js';
import { type FulfillmentContext, LOG } from './fulfillment-context.js';
import { type LineRow, linesOfOrder, moveLine, poolUndelivered } from './fulfillment-ledger.js';
import { holdLines, orderKey, releaseShopHolds, settleHoldAlerts } from './holds.js';
import { lowMarginLine } from './margin.js';
import { ACTIVE_INTENT_POINTS, REJECTED_ORDER_NOTE } from './recovery-points.js';
import { brokenLimit, type LimitName } from './spending-limits.js';

/**
 * Spending limits at work: every paid order is checked once, right before its first purchase,
 * and one over a limit is held whole as `review` (alert `order-review`) while other orders go on.
 * An operator then approves it (bought as usual) or rejects it (never bought, a note to the
 * buyer, its lines dropped; the merchant refunds). Each check is a row of `order_reviews`.
 */

const DAY_MS = 24 * 3_600_000;
const SPENDING_INTENTS = [...ACTIVE_INTENT_POINTS, 'stored'].map((p) => `'${p}'`).join(', ');

type Verdict = 'passed' | 'held' | 'approved' | 'rejected';
/** What put an order up for review: a spending limit, or (with `onLowMargin: hold`) its margin. */
export type ReviewReason = LimitName | 'minMarginPercent';

interface ReviewRow {
  store: string;
  orderId: string;
  orderNumber: string;
  buyer: string | null;
  valueCents: number;
  verdict: Verdict;
  limit: ReviewReason | null;
  detail: string | null;
  checkedAt: number;
}

const REVIEW_COLUMNS = `store, order_id AS orderId, order_number AS orderNumber, buyer, value_cents AS valueCents,
  verdict, limit_hit AS "limit", detail, checked_at AS checkedAt`;

function getReview(db: Db, store: string, orderId: string): ReviewRow | undefined {
  return db
    .prepare(`SELECT ${REVIEW_COLUMNS} FROM order_reviews WHERE store = ? AND order_id = ?`)
    .get(store, orderId) as ReviewRow | undefined;
}

/** USD at the supplier's current prices of what was bought (or is being bought) since `since`. */
function spentSince(
  db: Db,
  since: number,
  priceCents: ReadonlyMap<string, number>,
  buyer: string | null = null,
): number {
  const rows = db
    .prepare(
      `SELECT il.entry_key AS k, SUM(il.units) AS n
       FROM intent_lines il JOIN purchase_intents pi ON pi.id = il.intent_id
       ${buyer === null ? '' : 'JOIN shop_lines l ON l.id = il.line JOIN order_reviews r ON r.store = l.store AND r.order_id = l.order_id'}
       WHERE pi.state IN (${SPENDING_INTENTS}) AND pi.created_at > ? ${buyer === null ? '' : 'AND r.buyer = ?'}
       GROUP BY il.entry_key`,
    )
    .all(since, ...(buyer === null ? [] : [buyer])) as { k: string; n: number }[];
  return rows.reduce((s, r) => s + r.n * (priceCents.get(r.k) ?? 0), 0);
}

/**
 * Checks every order of these open lines that was never checked (oldest first), counting the
 * orders passed in this batch towards the daily limits. Orders over a limit are held whole.
 */
export async function screenOrders(
  ctx: FulfillmentContext,
  lines: readonly LineRow[],
  orders: ReadonlyMap<string, ShopOrder>,
  priceCents: ReadonlyMap<string, number>,
): Promise<void> {
  const { db } = ctx;
  const now = ctx.now();
  const limits = ctx.settings.limits;
  const toHold: LineRow[] = [];
  let dayCents: number | undefined;
  const buyerCents = new Map<string, number>();
  const seen = new Set<string>();
  for (const first of lines) {
    const k = orderKey(first);
    if (seen.has(k)) continue;
    seen.add(k);
    const ownOpen = lines.filter((l) => orderKey(l) === k);
    const prior = getReview(db, first.store, first.orderId);
    if (prior) {
      // A line added to an order that waits for review waits with it.
      if (prior.verdict === 'held') toHold.push(...ownOpen);
      continue;
    }
    const ours = linesOfOrder(db, first.store, first.orderId).filter(
      (l) => l.state === 'open' || l.state === 'held',
    );
    const valueCents = ours.reduce((s, l) => s + l.units * (priceCents.get(l.entryKey) ?? 0), 0);
    const email = orders.get(k)?.buyerEmail;
    const buyer = email ? email.trim().toLowerCase() : null;
    dayCents ??= spentSince(db, now - DAY_MS, priceCents);
    const buyerDayCents =
      buyer === null ? 0 : (buyerCents.get(buyer) ?? spentSince(db, now - DAY_MS, priceCents, buyer));
    const lowMargin =
      ctx.settings.margin.onLowMargin === 'hold'
        ? lowMarginLine(db, ours, (k) => priceCents.get(k), ctx.settings.margin)
        : null;
    const broken: { limit: ReviewReason; detail: string } | null =
      brokenLimit({ valueCents, maxLineUnits: Math.max(0, ...ours.map((l) => l.units)), buyer }, limits, {
        dayCents,
        buyerDayCents,
      }) ??
      (lowMargin && { limit: 'minMarginPercent', detail: `sold below margin: ${lowMargin.detail}` });
    immediate(db, () => {
      db.prepare(
        `INSERT INTO order_reviews (store, order_id, order_number, buyer, value_cents, verdict, limit_hit, detail, checked_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      ).run(
        first.store,
        first.orderId,
        first.orderNumber,
        buyer,
        valueCents,
        broken ? 'held' : 'passed',
        broken?.limit ?? null,
        broken?.detail ?? null,
        now,
      );
      if (broken) {
        raiseAlert(
          db,
          'order-review',
          `${first.store}/${first.orderId}`,
          `order ${first.orderNumber} in ${first.store} held for review: ${broken.detail}. \`psnb2b-sync orders approve|reject --store ${first.store} --order ${first.orderId}\``,
          now,
        );
      }
    });
    if (broken) {
      ctx.log.warn(`order ${first.orderNumber} in ${first.store} held for review: ${broken.detail}`, {
        ...LOG,
        store: first.store,
      });
      toHold.push(...ownOpen);
      continue;
    }
    dayCents += valueCents;
    if (buyer !== null) buyerCents.set(buyer, buyerDayCents + valueCents);
  }
  await holdLines(ctx, toHold, 'review');
}

/** Lines of the order an operator may release: held for review, or refused by the supplier. */
function operatorHeld(db: Db, store: string, orderId: string): LineRow[] {
  return linesOfOrder(db, store, orderId).filter(
    (l) => l.state === 'held' && (l.holdReason === 'review' || l.holdReason === 'rejected'),
  );
}

/** `orders approve`: the order is bought as usual (its review, or a supplier refusal, is settled). */
export async function approveOrder(ctx: FulfillmentContext, store: string, orderId: string): Promise<string> {
  const { db } = ctx;
  const released = immediate(db, () => {
    // Checked inside the transaction that acts on it: the pipeline may have moved meanwhile.
    const lines = operatorHeld(db, store, orderId);
    if (lines.length === 0)
      throw new UsageError(`order ${orderId} in ${store} is not held for review or refused by the supplier`);
    const now = ctx.now();
    db.prepare(
      `UPDATE order_reviews SET verdict = 'approved', decided_at = ? WHERE store = ? AND order_id = ? AND verdict = 'held'`,
    ).run(now, store, orderId);
    for (const l of lines) moveLine(db, l, 'open', now, { holdReason: null });
    settleHoldAlerts(db, now);
    return lines;
  });
  await releaseShopHolds(ctx, released);
  return `order ${released[0]?.orderNumber} in ${store} approved: ${released.length} line(s) will be bought as usual`;
}

/** `orders reject`: never bought; its lines are dropped and the buyer gets a note. The merchant refunds. */
export async function rejectOrder(ctx: FulfillmentContext, store: string, orderId: string): Promise<string> {
  const { db } = ctx;
  const shop = ctx.stores.get(store);
  if (!shop) throw new UsageError(`no store named "${store}"`);
  const dropped = immediate(db, () => {
    const review = getReview(db, store, orderId);
    const lines = operatorHeld(db, store, orderId);
    if (review?.verdict !== 'held' || lines.length === 0)
      throw new UsageError(`order ${orderId} in ${store} is not held for review`);
    const now = ctx.now();
    db.prepare(
      `UPDATE order_reviews SET verdict = 'rejected', decided_at = ? WHERE store = ? AND order_id = ?`,
    ).run(now, store, orderId);
    for (const l of lines) {
      // Held for review means nothing was bought for it; a pooled code it was given goes back.
      poolUndelivered(db, l.id, l.units);
      moveLine(db, l, 'dropped', now, { holdReason: null });
    }
    settleHoldAlerts(db, now);
    return lines;
  });
  const number = dropped[0]?.orderNumber ?? orderId;
  try {
    await shop.orders.hold(orderId, REJECTED_ORDER_NOTE);
  } catch (e) {
    const why = describeSafeError(toSafeError(e));
    ctx.log.warn(`order ${number} in ${store}: rejected, but the note to the buyer failed: ${why}`, LOG);
    return `order ${number} in ${store} rejected: nothing will be bought; the note to the buyer could not be written (${why}): tell them yourself and refund`;
  }
  return `order ${number} in ${store} rejected: nothing will be bought; the buyer was told; refund the order in the shop`;
}

export interface ReviewListing {
  store: string;
  orderId: string;
  orderNumber: string;
  buyer: string | null;
  valueUsd: number;
  limit: ReviewReason | null;
  detail: string | null;
  since: string;
}

/** Orders held for review (whose lines still wait for a decision), oldest first. */
export function reviewListing(db: Db): ReviewListing[] {
  const rows = db
    .prepare(
      `SELECT ${REVIEW_COLUMNS} FROM order_reviews r WHERE verdict = 'held'
         AND EXISTS (SELECT 1 FROM shop_lines l WHERE l.store = r.store AND l.order_id = r.order_id
                     AND l.state = 'held' AND l.hold_reason = 'review')
       ORDER BY checked_at, store, order_id`,
    )
    .all() as ReviewRow[];
  return rows.map((r) => ({
    store: r.store,
    orderId: r.orderId,
    orderNumber: r.orderNumber,
    buyer: r.buyer,
    valueUsd: centsToUsd(r.valueCents),
    limit: r.limit,
    detail: r.detail,
    since: new Date(r.checkedAt).toISOString(),
  }));
}

export function formatReviewListing(rows: readonly ReviewListing[]): string {
  const out = [
    `held for review (\`orders approve|reject --store NAME --order ID\`): ${rows.length}`,
    ...rows.map(
      (r) =>
        `  ${r.store}  order ${r.orderId} (${r.orderNumber})  buyer ${r.buyer ?? '-'}  ${formatUsd(Math.round(r.valueUsd * 100))} USD  limit ${r.limit ?? '-'}  since ${r.since}`,
    ),
  ];
  return out.join('\n');
}
