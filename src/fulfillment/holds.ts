import { openAlerts, resolveAlert } from '../alerts.js';
import { type Db, immediate } from '../db/open.js';
import { describeSafeError, toSafeError } from '../errors.js';
import { type FulfillmentContext, LOG } from './fulfillment-context.js';
import { isOwed, type LineRow, lineById, moveLine } from './fulfillment-ledger.js';
import { HOLD_NOTES, type HoldReason } from './recovery-points.js';

/**
 * Our holds on lines: recorded in SQLite, mirrored in the shop with a note to the buyer where
 * one is due, and each alert about a hold closed only when *its* cause is gone — never by an
 * unrelated success.
 */

export const orderKey = (l: Pick<LineRow, 'store' | 'orderId'>) => `${l.store}\u0000${l.orderId}`;

/** Our hold on lines (recorded), plus the shop's hold with a note for the buyer where one is due. */
export async function holdLines(
  ctx: FulfillmentContext,
  lines: readonly LineRow[],
  reason: HoldReason,
): Promise<void> {
  if (lines.length === 0) return;
  const now = ctx.now();
  immediate(ctx.db, () => {
    // Read again: a line delivered or dropped meanwhile is not held.
    for (const l of lines) {
      const cur = lineById(ctx.db, l.id);
      if (cur && isOwed(cur)) moveLine(ctx.db, cur, 'held', now, { holdReason: reason });
    }
  });
  const note = HOLD_NOTES[reason];
  if (!note) return;
  const orders = new Map(lines.map((l) => [orderKey(l), l]));
  for (const l of orders.values()) {
    const store = ctx.stores.get(l.store);
    try {
      await store?.orders.hold(l.orderId, note);
    } catch (e) {
      ctx.log.warn(
        `could not place our hold on order ${l.orderNumber}: ${describeSafeError(toSafeError(e))}`,
        { ...LOG, store: l.store },
      );
    }
  }
}

/** Lifts our hold in the shop for these orders (our record was changed by the caller). */
export async function releaseShopHolds(ctx: FulfillmentContext, lines: readonly LineRow[]): Promise<void> {
  const orders = new Map(lines.map((l) => [orderKey(l), l]));
  for (const l of orders.values()) {
    try {
      await ctx.stores.get(l.store)?.orders.releaseHold(l.orderId);
    } catch (e) {
      ctx.log.warn(
        `could not release our hold on order ${l.orderNumber}: ${describeSafeError(toSafeError(e))}`,
        LOG,
      );
    }
  }
}

export async function releaseLines(ctx: FulfillmentContext, lines: readonly LineRow[]): Promise<void> {
  if (lines.length === 0) return;
  const now = ctx.now();
  immediate(ctx.db, () => {
    for (const l of lines) {
      const cur = lineById(ctx.db, l.id);
      if (cur?.state === 'held') moveLine(ctx.db, cur, 'open', now, { holdReason: null });
    }
  });
  await releaseShopHolds(ctx, lines);
}

const heldFor = (db: Db, reason: HoldReason, where = '', ...args: unknown[]) =>
  db
    .prepare(`SELECT 1 FROM shop_lines l WHERE l.state = 'held' AND l.hold_reason = ? ${where} LIMIT 1`)
    .get(reason, ...args) !== undefined;

/** Whether the cause of each hold alert is still there, by the alert's kind and subject. */
const CAUSE_OPEN: Record<string, (db: Db, subject: string) => boolean> = {
  balance: (db) => heldFor(db, 'balance'),
  'min-balance': (db) => heldFor(db, 'min-balance'),
  'out-of-stock': (db, entry) => heldFor(db, 'out-of-stock', 'AND l.entry_key = ?', entry),
  'purchase-rejected': (db, intentId) =>
    heldFor(
      db,
      'rejected',
      'AND EXISTS (SELECT 1 FROM intent_lines il WHERE il.line = l.id AND il.intent_id = ?)',
      intentId,
    ),
  'order-review': (db, order) => heldFor(db, 'review', `AND l.store || '/' || l.order_id = ?`, order),
};

/** Closes the hold alerts whose own cause is gone. Call inside a transaction. */
export function settleHoldAlerts(db: Db, now: number): void {
  for (const a of openAlerts(db)) {
    const open = CAUSE_OPEN[a.kind];
    if (open && !open(db, a.subject)) resolveAlert(db, a.kind, a.subject, now);
  }
}
